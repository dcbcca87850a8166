"""Account enumeration by body and status (timing is pinned elsewhere): known and unknown addresses answer alike."""

from __future__ import annotations

from typing import Any

from contract.email_flows import test_recover_answers_known_and_unknown_addresses_alike  # noqa: F401
from contract.http_signup import test_repeated_signup_of_confirmed_email_is_obfuscated_without_autoconfirm  # noqa: F401


async def test_wrong_password_and_unknown_user_are_the_same_error(api: Any) -> None:
    await api.signup("known@example.com", "s3cret-pass")
    wrong = await api.password_grant("known@example.com", "not-the-password")
    unknown = await api.password_grant("nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    assert wrong.json()["error_code"] == "invalid_credentials"


async def test_magic_link_answers_known_and_unknown_addresses_alike(api: Any) -> None:
    await api.signup("known@example.com", "s3cret-pass")
    known = await api.client.post("/magiclink", json={"email": "known@example.com"}, headers=api.headers())
    unknown = await api.client.post("/magiclink", json={"email": "fresh@example.com"}, headers=api.headers())
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == {}
