"""Guesses at one code spread over two pytrue instances on one PostgreSQL share one count (ADR 0016)."""

from __future__ import annotations

import asyncio
from typing import Any

from contract.code_attempts import GUESS_ENV, TARGET, guess, wrong_codes
from support.http import assert_error


async def test_guesses_over_two_instances_share_one_count(apps: Any) -> None:
    first, second = await apps(2, GUESS_ENV)
    assert (await first.signup(TARGET)).status_code == 200
    real = first.mail(TARGET, "confirmation").otp
    for index, code in enumerate(wrong_codes(real, 5)):
        assert_error(await guess((first, second)[index % 2], code), 403, "otp_expired")
    assert (await first.user())["confirmation_token"] == ""
    for api in (first, second):
        assert_error(await guess(api, real), 403, "otp_expired", "Token has expired or is invalid")


async def test_a_burst_of_concurrent_guesses_compares_at_most_the_limit(apps: Any) -> None:
    """40 guesses at once over two instances, the real code among the last: the count is atomic,
    so only five attempts are ever compared and the real one is refused."""
    first, second = await apps(2, GUESS_ENV)
    await first.signup(TARGET)
    real = first.mail(TARGET, "confirmation").otp
    codes = wrong_codes(real, 39) + [real]
    responses = await asyncio.gather(*(guess((first, second)[i % 2], code) for i, code in enumerate(codes)))
    assert all(r.status_code == 403 for r in responses[:-1])
    row = await first.user()
    assert row["email_confirmed_at"] is None and row["confirmation_token"] == ""
