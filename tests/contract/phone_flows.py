"""Phone flows over HTTP on both storages, with a real provider adapter talking to a local stand-in.

Sign-up, /otp, /verify (sms, phone_change), /resend, PUT /user, /reauthenticate, admin and the
password grant; test numbers, Twilio Verify and the send-SMS hook (signature checked); wrong,
expired, reused and foreign codes, brute force, races, frequency and budget limits; provider and
hook failures leave the database as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import standardwebhooks
from support.fake_http import FakeHttpServer, Reply, Seen
from support.http import assert_error
from support.sms_providers import TwilioApi, TwilioVerifyApi, twilio_error

from pytrue.adapters.hooks.config import parse_hook_secrets
from pytrue.adapters.hooks.http import HttpHook
from pytrue.adapters.system import FixedClock

START = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
PHONE = "15555550100"
OTHER = "15555550199"
PASSWORD = "s3cret-pass"
BAD_NUMBER = "Invalid phone number format (E.164 required)"
CODE_EXPIRED = "Token has expired or is invalid"
HOOK_KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="  # base64, 32+ characters
PHONE_ON = {"GOTRUE_EXTERNAL_PHONE_ENABLED": "true"}


def sha224(phone: str, otp: str) -> str:
    return hashlib.sha224((phone + otp).encode()).hexdigest()


def twilio_env(twilio: TwilioApi, **extra: str) -> dict[str, str]:
    """What a process needs to text through the Twilio stand-in."""
    return {
        **PHONE_ON,
        "GOTRUE_SMS_PROVIDER": "twilio",
        "GOTRUE_SMS_TWILIO_ACCOUNT_SID": twilio.account_sid,
        "GOTRUE_SMS_TWILIO_AUTH_TOKEN": twilio.auth_token,
        "GOTRUE_SMS_TWILIO_MESSAGE_SERVICE_SID": "+15550001111",
        "PYTRUE_SMS_TWILIO_API_URL": twilio.url,
        **extra,
    }


def verify_env(verify: TwilioVerifyApi, **extra: str) -> dict[str, str]:
    return {
        **PHONE_ON,
        "GOTRUE_SMS_PROVIDER": "twilio_verify",
        "GOTRUE_SMS_TWILIO_VERIFY_ACCOUNT_SID": verify.account_sid,
        "GOTRUE_SMS_TWILIO_VERIFY_AUTH_TOKEN": verify.auth_token,
        "GOTRUE_SMS_TWILIO_VERIFY_MESSAGE_SERVICE_SID": verify.service_sid,
        "PYTRUE_SMS_TWILIO_VERIFY_API_URL": verify.url,
        **extra,
    }


@pytest.fixture
def twilio_api() -> Iterator[TwilioApi]:
    with TwilioApi() as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def verify_api() -> Iterator[TwilioVerifyApi]:
    with TwilioVerifyApi() as api:
        yield api  # type: ignore[misc]


def texts(twilio: TwilioApi) -> list[dict[str, str]]:
    return [seen.form for seen in twilio.server.requests]


def last_code(twilio: TwilioApi, phone: str = PHONE) -> str:
    """The code in the newest text Twilio accepted for `phone`."""
    for form in reversed(texts(twilio)):
        if form["To"].removeprefix("whatsapp:") == "+" + phone:
            match = re.fullmatch(r"Your code is ([0-9]+)", form["Body"])
            assert match, form
            return match.group(1)
    raise AssertionError(f"no text to {phone}")


async def post(api: Any, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    return await api.client.post(path, json=body, headers=api.headers(token))


async def verify(api: Any, token: str, phone: str = PHONE, type: str = "sms") -> Any:
    return await post(api, "/verify", {"type": type, "phone": phone, "token": token})


async def snapshot(api: Any) -> tuple[Any, ...]:
    return await api.counts(), await api.phone_rows(), await api.one_time_token_rows()


async def signed_in_by_phone(api: Any, twilio: TwilioApi, phone: str = PHONE) -> dict[str, Any]:
    assert (await post(api, "/otp", {"phone": "+" + phone})).status_code == 200
    response = await verify(api, last_code(twilio, phone), phone)
    assert response.status_code == 200, response.text
    return response.json()


# --- sign-up and /verify ------------------------------------------------------------------------


async def test_phone_signup_texts_a_code_and_verifying_it_signs_in(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api), clock=FixedClock(START))
    response = await post(api, "/signup", {"phone": "+1 555 555 0100", "password": PASSWORD, "data": {"lang": "fr"}})
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["phone"] == PHONE and "message_id" not in user and "access_token" not in user
    assert user["user_metadata"] == {"sub": user["id"], "email_verified": False, "phone_verified": False, "lang": "fr"}
    [form] = texts(twilio_api)
    assert form["To"] == "+" + PHONE and form["From"] == "+15550001111"
    otp = last_code(twilio_api)
    assert len(otp) == 6
    [row] = await api.phone_rows()
    assert row["phone"] == PHONE and row["phone_confirmed_at"] is None
    assert row["confirmation_token"] == sha224(PHONE, otp) and row["confirmation_sent_at"] == START
    assert await api.one_time_token_rows() == [
        {"user_id": user["id"], "token_type": "confirmation_token", "token_hash": sha224(PHONE, otp), "relates_to": PHONE}
    ]
    [identity] = await api.identity_rows()
    assert identity["provider"] == "phone" and identity["provider_id"] == user["id"]
    assert "phone" not in identity["identity_data"]  # GoTrue's sign-up identity names no number

    session = await verify(api, otp, "+" + PHONE)
    assert session.status_code == 200, session.text
    body = session.json()
    assert body["user"]["phone_confirmed_at"] and body["refresh_token"] and "type" not in body
    [row] = await api.phone_rows()
    assert row["confirmation_token"] == "" and row["phone_confirmed_at"] == START
    assert await api.one_time_token_rows() == []
    grant = await api.client.post(
        "/token?grant_type=password", json={"phone": "+" + PHONE, "password": PASSWORD}, headers=api.headers()
    )
    assert grant.status_code == 200, grant.text


async def test_phone_signup_with_autoconfirm_signs_in_without_a_text(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api, GOTRUE_SMS_AUTOCONFIRM="true"))
    response = await post(api, "/signup", {"phone": PHONE, "password": PASSWORD})
    assert response.status_code == 200 and response.json()["access_token"]
    assert texts(twilio_api) == []


async def test_unconfirmed_phone_cannot_use_the_password_grant(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api))
    await post(api, "/signup", {"phone": PHONE, "password": PASSWORD})
    grant = await api.client.post(
        "/token?grant_type=password", json={"phone": PHONE, "password": PASSWORD}, headers=api.headers()
    )
    assert_error(grant, 400, "phone_not_confirmed", "Phone not confirmed")


# --- /otp -----------------------------------------------------------------------------------------


async def test_otp_signs_up_an_unknown_number_then_texts_sign_in_codes(make_api: Any, twilio_api: TwilioApi) -> None:
    clock = FixedClock(START)
    api = await make_api(twilio_env(twilio_api), clock=clock)
    first = await post(api, "/otp", {"phone": PHONE, "data": {"plan": "pro"}})
    assert first.status_code == 200 and first.json() == {}
    session = (await verify(api, last_code(twilio_api))).json()
    assert session["user"]["user_metadata"]["plan"] == "pro"
    clock.advance(seconds=61)
    again = await post(api, "/otp", {"phone": PHONE, "create_user": False})
    assert again.status_code == 200 and again.json() == {}
    [row] = await api.phone_rows()
    otp = last_code(twilio_api)
    assert row["confirmation_token"] == sha224(PHONE, otp) and row["confirmation_sent_at"] == START + timedelta(seconds=61)
    assert "user_recovery_requested" in await api.audit_actions()
    second = await verify(api, otp)
    assert second.status_code == 200
    [row] = await api.phone_rows()
    assert row["phone_confirmed_at"] == START + timedelta(seconds=61)  # GoTrue re-confirms on each sign-in


@pytest.mark.parametrize("phone", ["+15555550177", "not-a-number", "", "0" * 3])
async def test_otp_without_create_user_refuses_unknown_and_malformed_numbers_alike(
    make_api: Any, twilio_api: TwilioApi, phone: str
) -> None:
    api = await make_api(twilio_env(twilio_api))
    before = await snapshot(api)
    response = await post(api, "/otp", {"phone": phone, "create_user": False})
    if phone:
        assert_error(response, 422, "otp_disabled", "Signups not allowed for otp")
    else:
        assert_error(response, 400, "validation_failed")
    assert await snapshot(api) == before and texts(twilio_api) == []


async def test_otp_over_whatsapp_and_unknown_channels(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api))
    assert (await post(api, "/otp", {"phone": PHONE, "channel": "whatsapp"})).status_code == 200
    assert texts(twilio_api)[-1]["To"] == "whatsapp:+" + PHONE
    before = await snapshot(api)
    response = await post(api, "/otp", {"phone": OTHER, "channel": "telegram"})
    assert_error(response, 400, "validation_failed")
    assert "Invalid channel" in response.json()["msg"]
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    "phone", ["abc", "+1555abc0100", "1" * 100, "+0155555501", "+1 (555) 555-0100", "1", "١٢٣٤٥٦٧٨"]
)
async def test_malformed_numbers_are_refused_everywhere_and_nothing_is_written(
    make_api: Any, twilio_api: TwilioApi, phone: str
) -> None:
    api = await make_api(twilio_env(twilio_api))
    before = await snapshot(api)
    for path, body in (
        ("/otp", {"phone": phone}),
        ("/signup", {"phone": phone, "password": PASSWORD}),
        ("/verify", {"type": "sms", "phone": phone, "token": "123456"}),
        ("/resend", {"type": "sms", "phone": phone}),
    ):
        assert_error(await post(api, path, body), 400, "validation_failed", BAD_NUMBER)
    assert await snapshot(api) == before and texts(twilio_api) == []


async def test_phone_provider_disabled_answers_gotrues_messages(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api, GOTRUE_EXTERNAL_PHONE_ENABLED="false"))
    assert_error(await post(api, "/otp", {"phone": PHONE}), 400, "phone_provider_disabled", "Unsupported phone provider")
    assert_error(
        await post(api, "/signup", {"phone": PHONE, "password": PASSWORD}),
        400,
        "phone_provider_disabled",
        "Phone signups are disabled",
    )
    assert texts(twilio_api) == []


# --- wrong, expired, reused, foreign codes; brute force; races -----------------------------------


async def test_wrong_expired_reused_and_foreign_codes_are_refused_without_changes(
    make_api: Any, twilio_api: TwilioApi
) -> None:
    clock = FixedClock(START)
    api = await make_api(twilio_env(twilio_api), clock=clock)
    await post(api, "/otp", {"phone": PHONE})
    await post(api, "/otp", {"phone": OTHER})
    mine, theirs = last_code(twilio_api, PHONE), last_code(twilio_api, OTHER)
    before = await snapshot(api)
    wrong = "000000" if mine != "000000" else "111111"
    for token, phone in ((wrong, PHONE), (theirs if theirs != mine else wrong, PHONE), (mine, "15555550123"),
                         ("", PHONE), ("12ab56", PHONE)):
        response = await verify(api, token, phone)
        assert response.status_code in (400, 403), response.text
    assert (await snapshot(api))[0] == before[0]
    clock.advance(seconds=61)  # GOTRUE_SMS_OTP_EXP: 60 s
    assert_error(await verify(api, mine), 403, "otp_expired", CODE_EXPIRED)
    assert_error(await verify(api, theirs, OTHER), 403, "otp_expired", CODE_EXPIRED)
    assert (await snapshot(api))[0] == before[0]

    await post(api, "/otp", {"phone": PHONE})
    fresh = last_code(twilio_api)
    assert (await verify(api, fresh)).status_code == 200
    assert_error(await verify(api, fresh), 403, "otp_expired", CODE_EXPIRED)


async def test_a_code_guessed_wrong_too_often_is_spent(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api, PYTRUE_OTP_MAX_FAILED_ATTEMPTS="3"))
    await post(api, "/otp", {"phone": PHONE})
    otp = last_code(twilio_api)
    wrong = [f"{(int(otp) + n) % 10**6:06d}" for n in (1, 2, 3)]
    for guess in wrong:
        assert_error(await verify(api, guess), 403, "otp_expired", CODE_EXPIRED)
    assert_error(await verify(api, otp), 403, "otp_expired", CODE_EXPIRED)
    [row] = await api.phone_rows()
    assert row["phone_confirmed_at"] is None


async def test_one_code_one_session_under_concurrent_verifies(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api))
    await post(api, "/otp", {"phone": PHONE})
    otp = last_code(twilio_api)
    responses = await asyncio.gather(*(verify(api, otp) for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [200] + [403] * 5
    assert (await api.counts())["sessions"] == 1


# --- limits -------------------------------------------------------------------------------------


async def test_per_user_frequency_and_the_global_budget(make_api: Any, twilio_api: TwilioApi) -> None:
    clock = FixedClock(START)
    api = await make_api(twilio_env(twilio_api, GOTRUE_RATE_LIMIT_SMS_SENT="2/1h"), clock=clock)
    assert (await post(api, "/otp", {"phone": PHONE})).status_code == 200
    before = await snapshot(api)
    too_soon = await post(api, "/otp", {"phone": PHONE})
    assert_error(too_soon, 429, "over_sms_send_rate_limit", "For security purposes, you can only request this after 60 seconds.")
    clock.advance(seconds=60)  # the instant the interval ends is still too early for SMS
    assert_error(await post(api, "/otp", {"phone": PHONE}), 429, "over_sms_send_rate_limit")
    assert await snapshot(api) == before and len(texts(twilio_api)) == 1
    assert (await post(api, "/otp", {"phone": OTHER})).status_code == 200
    spent = await snapshot(api)
    assert_error(await post(api, "/otp", {"phone": "15555550142"}), 429, "over_sms_send_rate_limit", "SMS rate limit exceeded")
    assert await snapshot(api) == spent and len(texts(twilio_api)) == 2


async def test_test_numbers_get_their_fixed_code_and_skip_the_budget(make_api: Any, twilio_api: TwilioApi) -> None:
    clock = FixedClock(START)
    env = twilio_env(
        twilio_api, GOTRUE_SMS_TEST_OTP=f"+{PHONE}:424242,{OTHER}:515151", GOTRUE_RATE_LIMIT_SMS_SENT="1/1h"
    )
    api = await make_api(env, clock=clock)
    for phone in (PHONE, OTHER):  # unknown numbers are signed up: GoTrue answers {} there
        response = await post(api, "/otp", {"phone": phone})
        assert response.status_code == 200 and response.json() == {}
    assert texts(twilio_api) == []
    assert_error(await post(api, "/otp", {"phone": PHONE}), 429, "over_sms_send_rate_limit")  # frequency still applies
    clock.advance(minutes=10)  # well past GOTRUE_SMS_OTP_EXP: a test code does not age
    assert_error(await verify(api, "515151"), 403, "otp_expired")  # another number's code
    assert (await verify(api, "424242")).status_code == 200
    assert (await verify(api, "515151", OTHER)).status_code == 200
    again = await post(api, "/otp", {"phone": PHONE})
    assert again.status_code == 200 and again.json() == {"message_id": "test-otp"}
    assert (await verify(api, "424242")).status_code == 200
    assert (await post(api, "/otp", {"phone": "15555550142"})).status_code == 200  # the budget's one real text
    assert_error(await post(api, "/otp", {"phone": "15555550143"}), 429, "over_sms_send_rate_limit", "SMS rate limit exceeded")
    assert len(texts(twilio_api)) == 1


# --- provider failures ----------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (twilio_error(400, 21211, "The 'To' number is not a valid phone number."), "The 'To' number is not a valid phone number."),
        (Reply(503, "<html>down</html>", {"Content-Type": "text/html"}), "unexpected response"),
        (Reply(201, {"sid": "SM1"}, delay=1.5), "no answer within"),
        (None, "could not reach the provider"),
    ],
    ids=["4xx", "5xx", "timeout", "refused"],
)
async def test_a_provider_failure_answers_sms_send_failed_and_writes_nothing(
    make_api: Any, twilio_api: TwilioApi, answer: Reply | None, detail: str
) -> None:
    clock = FixedClock(START)
    env = twilio_env(twilio_api, GOTRUE_INTERNAL_HTTP_TIMEOUT="500ms")
    if answer is None:
        env["PYTRUE_SMS_TWILIO_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    api = await make_api(env, clock=clock)
    twilio_api.answer = answer
    before = await snapshot(api)
    failed = await post(api, "/signup", {"phone": PHONE, "password": PASSWORD})
    body = assert_error(failed, 422, "sms_send_failed")
    assert body["msg"].startswith("Error sending confirmation OTP to provider: ") and detail in body["msg"]
    assert twilio_api.auth_token not in failed.text
    assert await snapshot(api) == before


async def test_a_failed_resend_keeps_the_earlier_code(make_api: Any, twilio_api: TwilioApi) -> None:
    clock = FixedClock(START)
    api = await make_api(twilio_env(twilio_api), clock=clock)
    await post(api, "/signup", {"phone": PHONE, "password": PASSWORD})
    otp = last_code(twilio_api)
    clock.advance(seconds=30)
    assert_error(await post(api, "/resend", {"type": "sms", "phone": PHONE}), 429, "over_sms_send_rate_limit")
    clock.advance(seconds=31)
    twilio_api.answer = twilio_error(429, 20429, "Too Many Requests")
    before = await snapshot(api)
    assert_error(await post(api, "/resend", {"type": "sms", "phone": PHONE}), 422, "sms_send_failed")
    assert await snapshot(api) == before
    clock.advance(seconds=-55)  # still within the first code's minute
    assert (await verify(api, otp)).status_code == 200


# --- /resend ------------------------------------------------------------------------------------


async def test_resend_sms_replaces_the_code_and_answers_nothing_when_none_is_pending(
    make_api: Any, twilio_api: TwilioApi
) -> None:
    clock = FixedClock(START)
    api = await make_api(twilio_env(twilio_api), clock=clock)
    await post(api, "/signup", {"phone": PHONE, "password": PASSWORD})
    first = last_code(twilio_api)
    clock.advance(seconds=61)
    response = await post(api, "/resend", {"type": "sms", "phone": PHONE, "code_challenge": "ignored-for-phones"})
    assert response.status_code == 200 and response.json() == {}
    second = last_code(twilio_api)
    if second != first:
        assert_error(await verify(api, first), 403, "otp_expired")
    assert (await verify(api, second)).status_code == 200
    sent = len(texts(twilio_api))
    for phone in (PHONE, "15555550142"):  # confirmed now; unknown
        done = await post(api, "/resend", {"type": "sms", "phone": phone})
        assert done.status_code == 200 and done.json() == {}
    assert len(texts(twilio_api)) == sent


# --- PUT /user: a new number ----------------------------------------------------------------------


async def test_changing_the_phone_texts_the_new_number_and_verifying_moves_it(
    make_api: Any, twilio_api: TwilioApi
) -> None:
    clock = FixedClock(START)
    api = await make_api(twilio_env(twilio_api), clock=clock)
    session = await signed_in_by_phone(api, twilio_api)
    token = session["access_token"]
    response = await api.client.put("/user", json={"phone": "+" + OTHER}, headers=api.headers(token))
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["phone"] == PHONE and user["new_phone"] == OTHER and user["phone_change_sent_at"]
    otp = last_code(twilio_api, OTHER)
    [row] = await api.phone_rows()
    assert row["phone_change"] == OTHER and row["phone_change_token"] == sha224(OTHER, otp)
    assert {"token_type": "phone_change_token", "relates_to": OTHER} in [
        {"token_type": r["token_type"], "relates_to": r["relates_to"]} for r in await api.one_time_token_rows()
    ]
    clock.advance(seconds=61)
    assert (await post(api, "/resend", {"type": "phone_change", "phone": PHONE})).status_code == 200
    otp = last_code(twilio_api, OTHER)
    assert_error(await verify(api, otp, PHONE, "phone_change"), 403, "otp_expired")
    moved = await verify(api, otp, OTHER, "phone_change")
    assert moved.status_code == 200, moved.text
    assert moved.json()["user"]["phone"] == OTHER
    [row] = await api.phone_rows()
    assert row["phone"] == OTHER and row["phone_change"] == "" and row["phone_change_token"] == ""
    [identity] = await api.identity_rows()
    assert identity["identity_data"]["phone"] == OTHER and identity["identity_data"]["phone_verified"] is True


async def test_changing_to_a_taken_phone_is_phone_exists(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api))
    await signed_in_by_phone(api, twilio_api, OTHER)
    session = await signed_in_by_phone(api, twilio_api, PHONE)
    before = await snapshot(api)
    response = await api.client.put("/user", json={"phone": OTHER}, headers=api.headers(session["access_token"]))
    assert_error(response, 422, "phone_exists", "A user with this phone number has already been registered")
    assert await snapshot(api) == before


async def test_with_sms_autoconfirm_a_new_phone_replaces_the_old_at_once(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api, GOTRUE_SMS_AUTOCONFIRM="true"))
    session = (await post(api, "/signup", {"phone": PHONE, "password": PASSWORD})).json()
    response = await api.client.put("/user", json={"phone": OTHER}, headers=api.headers(session["access_token"]))
    assert response.status_code == 200 and response.json()["phone"] == OTHER and "new_phone" not in response.json()
    assert texts(twilio_api) == []


# --- /reauthenticate ------------------------------------------------------------------------------


async def test_a_phone_only_user_reauthenticates_by_text(make_api: Any, twilio_api: TwilioApi) -> None:
    clock = FixedClock(START)
    env = twilio_env(twilio_api, GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION="true")
    api = await make_api(env, clock=clock)
    await post(api, "/signup", {"phone": PHONE, "password": PASSWORD})
    session = (await verify(api, last_code(twilio_api))).json()
    clock.advance(hours=25)
    refreshed = (await api.refresh(session["refresh_token"])).json()
    token = refreshed["access_token"]
    response = await api.client.get("/reauthenticate", headers=api.headers(token))
    assert response.status_code == 200 and response.json() == {}
    nonce = last_code(twilio_api)
    [row] = await api.phone_rows()
    assert row["reauthentication_token"] == sha224(PHONE, nonce)
    wrong = await api.client.put("/user", json={"password": "n3w-pass-word", "nonce": "000"}, headers=api.headers(token))
    assert_error(wrong, 422, "reauthentication_not_valid")
    changed = await api.client.put("/user", json={"password": "n3w-pass-word", "nonce": nonce}, headers=api.headers(token))
    assert changed.status_code == 200, changed.text


# --- Twilio Verify ------------------------------------------------------------------------------


async def test_twilio_verify_checks_the_code_it_sent(make_api: Any, verify_api: TwilioVerifyApi) -> None:
    api = await make_api(verify_env(verify_api))
    assert (await post(api, "/otp", {"phone": PHONE})).status_code == 200
    assert verify_api.server.requests[-1].path.endswith("/Verifications")
    code = verify_api.pending["+" + PHONE]
    wrong = "000000" if code != "000000" else "111111"
    assert_error(await verify(api, wrong), 403, "otp_expired", CODE_EXPIRED)
    ok = await verify(api, code)
    assert ok.status_code == 200, ok.text
    [row] = await api.phone_rows()
    assert row["phone_confirmed_at"] is not None
    assert_error(await verify(api, code), 403, "otp_expired")


async def test_twilio_verify_checks_a_phone_only_users_reauthentication_nonce(
    make_api: Any, verify_api: TwilioVerifyApi
) -> None:
    clock = FixedClock(START)
    api = await make_api(verify_env(verify_api, GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION="true"), clock=clock)
    await post(api, "/signup", {"phone": PHONE, "password": PASSWORD})
    session = (await verify(api, verify_api.pending["+" + PHONE])).json()
    clock.advance(hours=25)
    token = (await api.refresh(session["refresh_token"])).json()["access_token"]
    assert (await api.client.get("/reauthenticate", headers=api.headers(token))).status_code == 200
    nonce = verify_api.pending["+" + PHONE]
    wrong = "000000" if nonce != "000000" else "111111"
    refused = await api.client.put("/user", json={"password": "n3w-pass-word", "nonce": wrong}, headers=api.headers(token))
    assert_error(refused, 403, "otp_expired", CODE_EXPIRED)
    changed = await api.client.put("/user", json={"password": "n3w-pass-word", "nonce": nonce}, headers=api.headers(token))
    assert changed.status_code == 200, changed.text


# --- the send-SMS hook ------------------------------------------------------------------------------


class HookReceiver:
    """A send-SMS hook endpoint that refuses (401) what does not carry a good Standard Webhooks signature."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply(200, {})]
        self.verifier = standardwebhooks.Webhook("whsec_" + HOOK_KEY)
        self.payloads: list[dict[str, Any]] = []
        self.server = FakeHttpServer(self._handle)

    def _handle(self, seen: Seen) -> Reply:
        headers = {n: seen.headers.get(n, "") for n in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        try:
            self.payloads.append(self.verifier.verify(seen.body, headers))
        except standardwebhooks.webhooks.WebhookVerificationError:
            return Reply(401, {"error": "bad signature"})
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def env(self) -> dict[str, str]:
        return {
            **PHONE_ON,
            "GOTRUE_HOOK_SEND_SMS_ENABLED": "true",
            "GOTRUE_HOOK_SEND_SMS_URI": self.server.url + "/sms",
            "GOTRUE_HOOK_SEND_SMS_SECRETS": "v1,whsec_" + HOOK_KEY,
        }


@pytest.fixture
def sms_hook() -> Iterator[HookReceiver]:
    receiver = HookReceiver()
    with receiver.server:
        yield receiver


async def test_the_send_sms_hook_receives_the_user_and_code_signed(make_api: Any, sms_hook: HookReceiver) -> None:
    api = await make_api(sms_hook.env())
    response = await post(api, "/otp", {"phone": PHONE, "channel": "carrier-pigeon"})  # the hook takes any channel
    assert response.status_code == 200, response.text
    [payload] = sms_hook.payloads
    assert payload["metadata"]["name"] == "send-sms" and payload["metadata"]["uuid"]
    assert payload["user"]["phone"] == PHONE and payload["user"]["id"]
    assert payload["sms"]["phone"] == PHONE and len(payload["sms"]["otp"]) == 6
    assert (await verify(api, payload["sms"]["otp"])).status_code == 200


async def test_a_hook_refusal_or_a_slow_hook_writes_nothing(make_api: Any, sms_hook: HookReceiver) -> None:
    api = await make_api(sms_hook.env())
    sms_hook.replies = [Reply(200, {"error": {"http_code": 429, "message": "slow down, carrier"}})]
    before = await snapshot(api)
    refused = await post(api, "/otp", {"phone": PHONE})
    assert_error(refused, 429, "unknown", "slow down, carrier")
    assert await snapshot(api) == before

    codes = api.container.use_cases.sms_codes()
    codes.hook = HttpHook(
        client=api.container.core.outbound().client,
        uri=sms_hook.server.url + "/sms",
        secrets=parse_hook_secrets("v1,whsec_" + HOOK_KEY),
        timeout=0.3,
    )
    sms_hook.replies = [Reply(200, {}, delay=1.0)]
    slow = await post(api, "/otp", {"phone": PHONE})
    assert slow.status_code == 422 and slow.json()["error_code"].startswith("hook_timeout"), slow.text
    assert await snapshot(api) == before


# --- admin -------------------------------------------------------------------------------------


async def test_admin_creates_and_updates_phone_users_as_gotrue_does(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api))
    created = await api.client.post(
        "/admin/users", json={"phone": "+" + PHONE, "password": PASSWORD, "phone_confirm": True}, headers=api.admin()
    )
    assert created.status_code == 200, created.text
    user = created.json()
    assert user["phone"] == PHONE and user["phone_confirmed_at"]
    [identity] = await api.identity_rows()
    assert identity["identity_data"]["phone"] == PHONE and identity["identity_data"]["phone_verified"] is False
    grant = await api.client.post(
        "/token?grant_type=password", json={"phone": PHONE, "password": PASSWORD}, headers=api.headers()
    )
    assert grant.status_code == 200
    taken = await api.client.post("/admin/users", json={"phone": PHONE}, headers=api.admin())
    assert_error(taken, 422, "phone_exists")
    updated = await api.client.put(f"/admin/users/{user['id']}", json={"phone": OTHER}, headers=api.admin())
    assert updated.status_code == 200 and updated.json()["phone"] == OTHER
    [identity] = await api.identity_rows()
    assert identity["identity_data"]["phone"] == OTHER and identity["identity_data"]["phone_verified"] is False
    assert texts(twilio_api) == []


# --- message_id for test numbers; the template; the hook on a phone change ------------------------


async def test_test_numbers_answer_test_otp_on_resend_and_reauthenticate(make_api: Any, twilio_api: TwilioApi) -> None:
    clock = FixedClock(START)
    api = await make_api(twilio_env(twilio_api, GOTRUE_SMS_TEST_OTP=f"{PHONE}:424242,{OTHER}:515151"), clock=clock)
    await post(api, "/otp", {"phone": PHONE})
    token = (await verify(api, "424242")).json()["access_token"]
    reauth = await api.client.get("/reauthenticate", headers=api.headers(token))
    assert reauth.status_code == 200 and reauth.json() == {"message_id": "test-otp"}
    [row] = await api.phone_rows()
    assert row["reauthentication_token"] == sha224(PHONE, "424242")
    changed = await api.client.put("/user", json={"phone": OTHER}, headers=api.headers(token))
    assert changed.status_code == 200 and "message_id" not in changed.json()
    clock.advance(seconds=61)
    resent = await post(api, "/resend", {"type": "phone_change", "phone": PHONE})
    assert resent.status_code == 200 and resent.json() == {"message_id": "test-otp"}
    assert (await verify(api, "515151", OTHER, "phone_change")).status_code == 200
    assert texts(twilio_api) == []


async def test_the_sms_template_shapes_the_text(make_api: Any, twilio_api: TwilioApi) -> None:
    api = await make_api(twilio_env(twilio_api, GOTRUE_SMS_TEMPLATE="Acme: {{ .Code }} (do not share)"))
    await post(api, "/otp", {"phone": PHONE})
    body = texts(twilio_api)[-1]["Body"]
    assert re.fullmatch(r"Acme: [0-9]{6} \(do not share\)", body), body


async def test_the_hook_sees_the_pending_number_on_a_phone_change(make_api: Any, sms_hook: HookReceiver) -> None:
    api = await make_api(sms_hook.env())
    await post(api, "/otp", {"phone": PHONE})
    token = (await verify(api, sms_hook.payloads[-1]["sms"]["otp"])).json()["access_token"]
    response = await api.client.put("/user", json={"phone": OTHER}, headers=api.headers(token))
    assert response.status_code == 200, response.text
    payload = sms_hook.payloads[-1]
    assert payload["sms"]["phone"] == OTHER and payload["user"]["phone"] == PHONE
    assert payload["user"]["new_phone"] == OTHER
    assert (await verify(api, payload["sms"]["otp"], OTHER, "phone_change")).status_code == 200
