"""Phone MFA factors on either storage (api.md §17): the code goes out by SMS through the real Twilio
adapter to a local stand-in; GoTrue's refusals (frequency, wrong codes, disabled, bad numbers,
provider failures) leave nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from contract.mfa_factors import IP, claims
from contract.phone_flows import last_code, texts, twilio_env
from support.sms_providers import TwilioApi, twilio_error

PHONE = "15555550100"
MFA_PHONE = {"GOTRUE_MFA_PHONE_ENROLL_ENABLED": "true", "GOTRUE_MFA_PHONE_VERIFY_ENABLED": "true"}


@pytest.fixture
def mfa_twilio() -> Iterator[TwilioApi]:
    with TwilioApi() as api:
        yield api  # type: ignore[misc]


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users(), await api.audit_actions()


async def _phone_user(api: Any, phone: str = "+" + PHONE) -> tuple[dict[str, Any], str]:
    session = (await api.signup()).json()
    enrolled = await api.client.post(
        "/factors", json={"factor_type": "phone", "phone": phone, "friendly_name": "mobile"}, headers=api.headers(session["access_token"])
    )
    assert enrolled.status_code == 200, enrolled.text
    return session, enrolled.json()["id"]


async def _challenge(api: Any, token: str, factor_id: str, **body: Any) -> Any:
    return await api.client.post(f"/factors/{factor_id}/challenge", json=body, headers=api.headers(token, **IP))


async def _verify(api: Any, token: str, factor_id: str, challenge_id: str, code: str, ip: str = IP["X-Forwarded-For"]) -> Any:
    return await api.client.post(
        f"/factors/{factor_id}/verify", json={"challenge_id": challenge_id, "code": code},
        headers=api.headers(token, **{"X-Forwarded-For": ip}),
    )  # fmt: skip


async def test_a_phone_factor_is_verified_with_the_texted_code(make_api: Any, mfa_twilio: TwilioApi) -> None:
    api = await make_api(twilio_env(mfa_twilio, **MFA_PHONE))
    session, factor_id = await _phone_user(api)
    token = session["access_token"]
    me = (await api.client.get("/user", headers=api.headers(token))).json()
    assert [(f["factor_type"], f["phone"], f["status"]) for f in me["factors"]] == [("phone", PHONE, "unverified")]

    challenge = await _challenge(api, token, factor_id)
    assert challenge.status_code == 200, challenge.text
    assert challenge.json()["type"] == "phone"
    assert texts(mfa_twilio)[-1]["To"] == "+" + PHONE
    code = last_code(mfa_twilio)

    wrong = await _verify(api, token, factor_id, challenge.json()["id"], "000000" if code != "000000" else "111111")
    assert wrong.status_code == 422 and wrong.json()["msg"] == "Invalid MFA Phone code entered"
    elsewhere = await _verify(api, token, factor_id, challenge.json()["id"], code, ip="198.51.100.1")
    assert elsewhere.status_code == 422 and elsewhere.json()["msg"] == "Challenge and verify IP addresses mismatch"

    verified = await _verify(api, token, factor_id, challenge.json()["id"], code)
    assert verified.status_code == 200, verified.text
    jwt = claims(verified.json()["access_token"])
    assert jwt["aal"] == "aal2" and jwt["amr"][0]["method"] == "mfa/phone"
    assert [f["status"] for f in verified.json()["user"]["factors"]] == ["verified"]


async def test_challenges_are_limited_by_the_phone_frequency(make_api: Any, mfa_twilio: TwilioApi) -> None:
    api = await make_api(twilio_env(mfa_twilio, **MFA_PHONE))
    session, factor_id = await _phone_user(api)
    token = session["access_token"]
    assert (await _challenge(api, token, factor_id)).status_code == 200
    sent = len(texts(mfa_twilio))
    before = await _snapshot(api)
    again = await _challenge(api, token, factor_id)
    assert again.status_code == 429 and again.json()["error_code"] == "over_sms_send_rate_limit"
    assert again.json()["msg"].startswith("For security purposes, you can only request this after ")
    assert len(texts(mfa_twilio)) == sent and await _snapshot(api) == before


async def test_a_provider_failure_leaves_no_challenge(make_api: Any, mfa_twilio: TwilioApi) -> None:
    api = await make_api(twilio_env(mfa_twilio, **MFA_PHONE))
    session, factor_id = await _phone_user(api)
    token = session["access_token"]
    mfa_twilio.answer = twilio_error(400, 21211, "The 'To' number is not a valid phone number.")
    before = await _snapshot(api)
    failed = await _challenge(api, token, factor_id)
    assert failed.status_code == 500 and failed.json()["error_code"] == "unexpected_failure"
    assert "21211" not in failed.text and mfa_twilio.auth_token not in failed.text
    assert await _snapshot(api) == before
    mfa_twilio.answer = None
    assert (await _challenge(api, token, factor_id)).status_code == 200  # the frequency timer did not start


async def test_phone_enrolment_refusals(make_api: Any, mfa_twilio: TwilioApi) -> None:
    api = await make_api(twilio_env(mfa_twilio, **MFA_PHONE))
    session, factor_id = await _phone_user(api)
    token = session["access_token"]
    challenge = (await _challenge(api, token, factor_id)).json()
    stepped = (await _verify(api, token, factor_id, challenge["id"], last_code(mfa_twilio))).json()
    token = stepped["access_token"]
    before = await _snapshot(api)
    for body, code, message in (
        ({}, "validation_failed", "Phone number required to enroll Phone factor"),
        ({"phone": "+0123 not a number"}, "validation_failed", "Invalid phone number format (E.164 required)"),
        ({"phone": "+" + PHONE, "friendly_name": "again"}, "mfa_verified_factor_exists",
         "A verified phone factor already exists, unenroll the existing factor to continue"),
    ):  # fmt: skip
        refused = await api.client.post("/factors", json={"factor_type": "phone", **body}, headers=api.headers(token))
        assert refused.json().get("error_code") == code and refused.json()["msg"] == message, refused.text
    assert await _snapshot(api) == before


async def test_an_unverified_phone_factor_for_the_same_number_gives_way(make_api: Any, mfa_twilio: TwilioApi) -> None:
    api = await make_api(twilio_env(mfa_twilio, **MFA_PHONE))
    session, first = await _phone_user(api)
    again = await api.client.post(
        "/factors", json={"factor_type": "phone", "phone": "+" + PHONE, "friendly_name": "other name"},
        headers=api.headers(session["access_token"]),
    )  # fmt: skip
    assert again.status_code == 200, again.text
    me = (await api.client.get("/user", headers=api.headers(session["access_token"]))).json()
    assert [f["id"] for f in me["factors"]] == [again.json()["id"]] and first != again.json()["id"]


async def test_phone_verification_can_be_switched_off(make_api: Any, mfa_twilio: TwilioApi) -> None:
    api = await make_api(twilio_env(mfa_twilio, GOTRUE_MFA_PHONE_ENROLL_ENABLED="true"))
    session, factor_id = await _phone_user(api)
    refused = await _challenge(api, session["access_token"], factor_id)
    assert refused.status_code == 422 and refused.json()["error_code"] == "mfa_phone_verify_not_enabled"
    assert refused.json()["msg"] == "MFA verification is disabled for Phone"
    assert texts(mfa_twilio) == []
