"""Issue 16, part 1: account pre-registration takeover (docs/adr/0015).

The contract suite (four proof paths, autoconfirm, the honest double sign-up) runs here on the
in-memory adapters; the same suite runs on PostgreSQL from tests/integration.
"""

from __future__ import annotations

from typing import Any

from contract.email_flows import follow, fragment
from contract.pre_registration import *  # noqa: F403
from contract.pre_registration import ATTACKER_PASSWORD, PRE_REG_ENV, VICTIM


async def test_attacker_who_signs_up_after_every_proof_path_still_cannot_sign_in(make_api: Any) -> None:
    """The issue's exact report: after any proof by the victim, `grant_type=password` with the
    attacker's password never returns a session, and repeating the attack afterwards changes nothing."""
    api = await make_api(PRE_REG_ENV)
    await api.signup(VICTIM, ATTACKER_PASSWORD, data={"planted": True})
    await api.client.post("/recover", json={"email": VICTIM}, headers=api.headers())
    await follow(api, api.mail(VICTIM, "recovery").link)
    again = await api.signup(VICTIM, ATTACKER_PASSWORD, data={"planted": True})
    assert again.status_code == 200 and again.json()["id"] != (await api.user())["id"]
    grant = await api.password_grant(VICTIM, ATTACKER_PASSWORD)
    assert grant.status_code == 400 and "access_token" not in grant.json()
    assert "planted" not in (await api.user())["user_metadata"]


async def test_confirmation_link_of_the_attackers_sign_up_dies_when_the_victim_signs_up(make_api: Any) -> None:
    api = await make_api(PRE_REG_ENV)
    await api.signup(VICTIM, ATTACKER_PASSWORD)
    attackers_link = api.mail(VICTIM, "confirmation").link
    await api.signup(VICTIM, "victim-pass-22")
    response = await follow(api, attackers_link)
    assert fragment(response.headers["location"])["error_code"] == "otp_expired"
    assert (await api.user())["email_confirmed_at"] is None
