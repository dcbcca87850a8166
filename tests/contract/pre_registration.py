"""Pre-registration takeover (issue 16, docs/adr/0015) on both storages.

An attacker signs up with the victim's address, a password of their own and metadata. Whatever
the victim then does to prove the address - sign up again and confirm, magic link, email OTP,
recovery - the attacker's password must not sign in afterwards and their metadata must be gone.
The honest user who signs up twice ends up with the password of the sign-up they confirmed.
"""

from __future__ import annotations

from typing import Any

from contract.email_flows import follow, fragment
from support.http import assert_error

VICTIM = "victim@example.com"
ATTACKER_PASSWORD = "attacker-pass-1"
VICTIM_PASSWORD = "victim-pass-22"
ATTACKER_DATA = {"planted_by": "attacker", "avatar_url": "https://evil.example/x.png"}
PRE_REG_ENV = {"GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_SMTP_MAX_FREQUENCY": "1ms"}


async def _attacker_signs_up(api: Any) -> str:
    response = await api.signup(VICTIM, ATTACKER_PASSWORD, data=ATTACKER_DATA)
    assert response.status_code == 200, response.text
    assert_error(await api.password_grant(VICTIM, ATTACKER_PASSWORD), 400, "email_not_confirmed")
    return str(response.json()["id"])


async def _attacker_is_locked_out(api: Any, user_id: str) -> dict[str, Any]:
    """The attacker's password does not sign in, and none of their metadata is left; returns the stored row."""
    before = await api.counts()
    assert_error(await api.password_grant(VICTIM, ATTACKER_PASSWORD), 400, "invalid_credentials")
    assert await api.counts() == before
    row = await api.user()
    assert row["id"] == user_id and row["email_confirmed_at"] is not None
    assert not set(ATTACKER_DATA) & set(row["user_metadata"]), row["user_metadata"]
    assert row["user_metadata"]["email_verified"] is True
    return row


async def _session_user(api: Any, access_token: str) -> dict[str, Any]:
    me = await api.client.get("/user", headers=api.headers(access_token))
    assert me.status_code == 200, me.text
    body: dict[str, Any] = me.json()
    assert not set(ATTACKER_DATA) & set(body["user_metadata"])
    for identity in body.get("identities") or []:
        assert not set(ATTACKER_DATA) & set(identity["identity_data"]), identity
    return body


async def test_pre_registration_victim_signs_up_again_and_confirms(make_api: Any) -> None:
    api = await make_api(PRE_REG_ENV)
    user_id = await _attacker_signs_up(api)
    again = await api.signup(VICTIM, VICTIM_PASSWORD, data={"name": "victim"})
    assert again.status_code == 200 and again.json()["id"] == user_id
    assert again.json()["user_metadata"]["name"] == "victim"
    response = await follow(api, api.mail(VICTIM, "confirmation").link)
    assert response.status_code == 303
    session = fragment(response.headers["location"])
    assert (await _session_user(api, session["access_token"]))["user_metadata"]["name"] == "victim"
    await _attacker_is_locked_out(api, user_id)
    assert (await api.password_grant(VICTIM, VICTIM_PASSWORD)).status_code == 200


async def test_pre_registration_victim_uses_a_magic_link(make_api: Any) -> None:
    api = await make_api(PRE_REG_ENV)
    user_id = await _attacker_signs_up(api)
    sent = await api.client.post("/magiclink", json={"email": VICTIM}, headers=api.headers())
    assert sent.status_code == 200, sent.text
    response = await follow(api, api.mail(VICTIM).link)
    assert response.status_code == 303
    session = fragment(response.headers["location"])
    await _session_user(api, session["access_token"])
    await _attacker_is_locked_out(api, user_id)


async def test_pre_registration_victim_types_an_email_otp(make_api: Any) -> None:
    api = await make_api(PRE_REG_ENV)
    user_id = await _attacker_signs_up(api)
    sent = await api.client.post("/otp", json={"email": VICTIM}, headers=api.headers())
    assert sent.status_code == 200, sent.text
    verified = await api.client.post(
        "/verify", json={"type": "email", "email": VICTIM, "token": api.mail(VICTIM).otp}, headers=api.headers()
    )
    assert verified.status_code == 200, verified.text
    await _session_user(api, verified.json()["access_token"])
    await _attacker_is_locked_out(api, user_id)


async def test_pre_registration_victim_recovers_the_password(make_api: Any) -> None:
    api = await make_api(PRE_REG_ENV)
    user_id = await _attacker_signs_up(api)
    sent = await api.client.post("/recover", json={"email": VICTIM}, headers=api.headers())
    assert sent.status_code == 200, sent.text
    response = await follow(api, api.mail(VICTIM, "recovery").link)
    assert response.status_code == 303
    session = fragment(response.headers["location"])
    assert session["type"] == "recovery"
    await _session_user(api, session["access_token"])
    row = await _attacker_is_locked_out(api, user_id)
    assert row["encrypted_password"] == ""
    # the recovery session sets the victim's own password without knowing a current one
    changed = await api.client.put(
        "/user", json={"password": VICTIM_PASSWORD}, headers=api.headers(session["access_token"])
    )
    assert changed.status_code == 200, changed.text
    assert (await api.password_grant(VICTIM, VICTIM_PASSWORD)).status_code == 200


async def test_pre_registration_repeated_sign_up_under_autoconfirm(make_api: Any) -> None:
    """Autoconfirm switched on later: the repeated sign-up is the proof, its password is the one in force."""
    api = await make_api(PRE_REG_ENV)
    user_id = await _attacker_signs_up(api)
    autoconfirm = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "true"}, share_with=api)
    response = await autoconfirm.signup(VICTIM, VICTIM_PASSWORD)
    assert response.status_code == 200, response.text
    await _session_user(autoconfirm, response.json()["access_token"])
    await _attacker_is_locked_out(autoconfirm, user_id)
    assert (await autoconfirm.password_grant(VICTIM, VICTIM_PASSWORD)).status_code == 200


async def test_honest_double_sign_up_keeps_the_confirmed_sign_ups_password(make_api: Any) -> None:
    api = await make_api(PRE_REG_ENV)
    first = await api.signup(VICTIM, "forgotten-pass-1", data={"name": "me", "lang": "fr"})
    first_link = api.mail(VICTIM, "confirmation").link
    second = await api.signup(VICTIM, VICTIM_PASSWORD, data={"name": "me again"})
    assert second.json()["id"] == first.json()["id"]
    stale = await follow(api, first_link)
    assert fragment(stale.headers["location"])["error_code"] == "otp_expired"
    response = await follow(api, api.mail(VICTIM, "confirmation").link)
    session = fragment(response.headers["location"])
    body = await _session_user(api, session["access_token"])
    assert body["user_metadata"]["name"] == "me again" and "lang" not in body["user_metadata"]
    assert_error(await api.password_grant(VICTIM, "forgotten-pass-1"), 400, "invalid_credentials")
    assert (await api.password_grant(VICTIM, VICTIM_PASSWORD)).status_code == 200


async def test_single_sign_up_confirmed_keeps_its_password_and_data(make_api: Any) -> None:
    api = await make_api(PRE_REG_ENV)
    await api.signup(VICTIM, VICTIM_PASSWORD, data={"name": "me"})
    response = await follow(api, api.mail(VICTIM, "confirmation").link)
    session = fragment(response.headers["location"])
    body = await _session_user(api, session["access_token"])
    assert body["user_metadata"]["name"] == "me"
    assert (await api.password_grant(VICTIM, VICTIM_PASSWORD)).status_code == 200


async def test_confirmed_account_is_untouched_by_a_repeated_sign_up(make_api: Any) -> None:
    api = await make_api(PRE_REG_ENV)
    await api.signup(VICTIM, VICTIM_PASSWORD, data={"name": "me"})
    await follow(api, api.mail(VICTIM, "confirmation").link)
    before_row = await api.user()
    before = await api.counts()
    again = await api.signup(VICTIM, ATTACKER_PASSWORD, data=ATTACKER_DATA)
    assert again.status_code == 200 and again.json()["id"] != before_row["id"]  # obfuscated, as GoTrue
    after_row = await api.user()
    assert after_row["encrypted_password"] == before_row["encrypted_password"]
    assert after_row["user_metadata"] == before_row["user_metadata"]
    counts = await api.counts()
    assert counts["audit_log_entries"] == before["audit_log_entries"] + 1  # user_repeated_signup
    assert {k: v for k, v in counts.items() if k != "audit_log_entries"} == {
        k: v for k, v in before.items() if k != "audit_log_entries"
    }
    assert_error(await api.password_grant(VICTIM, ATTACKER_PASSWORD), 400, "invalid_credentials")
