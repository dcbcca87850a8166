"""Guessing emailed codes (issue 16, docs/adr/0016) on both storages.

Every attempt at a code is counted per user and code kind in the shared store; the
`PYTRUE_OTP_MAX_FAILED_ATTEMPTS`-th wrong one (5 by default) spends the code, so the real code then
answers like an expired one (`403 otp_expired`). A new code starts a new count. Guesses at an
unknown address answer the same.
"""

from __future__ import annotations

from typing import Any

from contract.email_flows import START, confirmed_user
from support.http import assert_error

from pytrue.adapters.system import FixedClock

GUESS_ENV = {"GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_SMTP_MAX_FREQUENCY": "1ms"}
TARGET = "target@example.com"


def wrong_codes(real: str, count: int) -> list[str]:
    return [code for code in (f"{n:06d}" for n in range(count + 1)) if code != real][:count]


async def guess(api: Any, code: str, email: str = TARGET, kind: str = "signup") -> Any:
    return await api.client.post("/verify", json={"type": kind, "email": email, "token": code}, headers=api.headers())


async def test_code_is_spent_after_five_wrong_guesses(make_api: Any) -> None:
    api = await make_api(GUESS_ENV)
    await api.signup(TARGET)
    real = api.mail(TARGET, "confirmation").otp
    before = await api.counts()
    for code in wrong_codes(real, 4):
        assert_error(await guess(api, code), 403, "otp_expired", "Token has expired or is invalid")
    assert await api.counts() == before and (await api.user())["confirmation_token"]
    assert_error(await guess(api, wrong_codes(real, 5)[-1]), 403, "otp_expired", "Token has expired or is invalid")
    row = await api.user()
    assert row["confirmation_token"] == "" and (await api.counts())["one_time_tokens"] == 0
    assert_error(await guess(api, real), 403, "otp_expired", "Token has expired or is invalid")
    assert (await api.user())["email_confirmed_at"] is None


async def test_four_wrong_guesses_leave_the_code_working(make_api: Any) -> None:
    api = await make_api(GUESS_ENV)
    await api.signup(TARGET)
    real = api.mail(TARGET, "confirmation").otp
    for code in wrong_codes(real, 4):
        assert_error(await guess(api, code), 403, "otp_expired")
    response = await guess(api, real)
    assert response.status_code == 200, response.text


async def test_a_new_code_starts_a_new_count(make_api: Any) -> None:
    api = await make_api(GUESS_ENV)
    await confirmed_user(api, TARGET)
    assert (await api.client.post("/otp", json={"email": TARGET}, headers=api.headers())).status_code == 200
    first = api.mail(TARGET, "magic_link").otp
    for code in wrong_codes(first, 5):
        assert_error(await guess(api, code, kind="magiclink"), 403, "otp_expired")
    assert_error(await guess(api, first, kind="magiclink"), 403, "otp_expired")
    assert (await api.client.post("/otp", json={"email": TARGET}, headers=api.headers())).status_code == 200
    second = api.mail(TARGET, "magic_link").otp
    for code in wrong_codes(second, 4):
        assert_error(await guess(api, code, kind="email"), 403, "otp_expired")
    response = await guess(api, second, kind="email")
    assert response.status_code == 200, response.text


async def test_the_limit_is_configurable(make_api: Any) -> None:
    api = await make_api({**GUESS_ENV, "PYTRUE_OTP_MAX_FAILED_ATTEMPTS": "2"})
    await api.signup(TARGET)
    real = api.mail(TARGET, "confirmation").otp
    for code in wrong_codes(real, 2):
        assert_error(await guess(api, code), 403, "otp_expired")
    assert (await api.user())["confirmation_token"] == ""
    assert_error(await guess(api, real), 403, "otp_expired")


async def test_the_confirmation_link_dies_with_its_guessed_code(make_api: Any) -> None:
    api = await make_api(GUESS_ENV)
    await api.signup(TARGET)
    mail = api.mail(TARGET, "confirmation")
    for code in wrong_codes(mail.otp, 5):
        await guess(api, code)
    response = await api.client.post(
        "/verify", json={"type": "signup", "token_hash": mail.token_hash}, headers=api.headers()
    )
    assert_error(response, 403, "otp_expired", "Email link is invalid or has expired")


async def test_guesses_at_an_unknown_address_answer_like_guesses_at_a_real_one(make_api: Any) -> None:
    api = await make_api(GUESS_ENV)
    await api.signup(TARGET)
    real = api.mail(TARGET, "confirmation").otp
    before = await api.counts()
    answers = []
    for email in (TARGET, "nobody@example.com"):
        for code in wrong_codes(real, 7):
            response = await guess(api, code, email=email)
            answers.append((response.status_code, response.json(), response.headers.get("x-sb-error-code")))
    assert len(set(map(repr, answers))) == 1, answers[0]
    after = await api.counts()
    assert after["one_time_tokens"] == before["one_time_tokens"] - 1
    assert {k: v for k, v in after.items() if k != "one_time_tokens"} == {
        k: v for k, v in before.items() if k != "one_time_tokens"
    }


async def test_reauthentication_nonce_is_spent_after_five_wrong_guesses(make_api: Any) -> None:
    clock = FixedClock(START)
    api = await make_api(
        {**GUESS_ENV, "GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION": "true"}, clock=clock
    )
    session = await confirmed_user(api, TARGET)
    clock.advance(hours=25)
    headers = api.headers((await api.refresh(session["refresh_token"])).json()["access_token"])
    assert (await api.client.get("/reauthenticate", headers=headers)).status_code == 200
    real = api.mail(TARGET, "reauthentication").otp
    stored = (await api.user())["encrypted_password"]
    for code in wrong_codes(real, 5):
        response = await api.client.put("/user", json={"password": "another-pass", "nonce": code}, headers=headers)
        assert_error(response, 422, "reauthentication_not_valid", "Nonce has expired or is invalid")
    response = await api.client.put("/user", json={"password": "another-pass", "nonce": real}, headers=headers)
    assert_error(response, 422, "reauthentication_not_valid", "Nonce has expired or is invalid")
    assert (await api.user())["encrypted_password"] == stored
    assert (await api.counts())["one_time_tokens"] == 0


async def test_attempt_counters_are_shared_and_never_refuse(make_rate_limiters: Any) -> None:
    first, second = await make_rate_limiters(2)
    counted = [await (first, second)[n % 2].count("otp:test:a", START) for n in range(7)]
    assert counted == [1, 2, 3, 4, 5, 6, 7]
    assert await second.count("otp:test:b", START) == 1
