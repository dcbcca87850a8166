"""RateLimiter contract: GoTrue's fixed window and token bucket, nothing taken on refusal, and one
budget shared by every handle (on PostgreSQL: several pools, as several processes have)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from pytrue.domain.rate import Rate

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
MakeLimiters = Callable[[int], Any]


def _key() -> str:
    return f"test-{uuid.uuid4().hex}"


async def _consume_many(limiter: Any, key: str, rate: Rate, now: datetime, count: int) -> list[bool]:
    return [await limiter.consume(key, rate, now) for _ in range(count)]


async def test_fixed_window_allows_n_per_window(make_rate_limiters: MakeLimiters) -> None:
    (limiter,) = await make_rate_limiters(1)
    key, rate = _key(), Rate.parse("3")
    assert await _consume_many(limiter, key, rate, T0, 5) == [True, True, True, False, False]
    assert await limiter.consume(key, rate, T0 + timedelta(minutes=59, seconds=59)) is False
    assert await _consume_many(limiter, key, rate, T0 + timedelta(hours=1), 4) == [True, True, True, False]
    assert await _consume_many(limiter, key, rate, T0 + timedelta(hours=5, minutes=30), 4) == [True, True, True, False]


async def test_token_bucket_bursts_then_refills_one_per_period(make_rate_limiters: MakeLimiters) -> None:
    (limiter,) = await make_rate_limiters(1)
    key, rate = _key(), Rate.parse("2/1m")
    assert await _consume_many(limiter, key, rate, T0, 3) == [True, True, False]
    assert await limiter.consume(key, rate, T0 + timedelta(seconds=59)) is False
    assert await _consume_many(limiter, key, rate, T0 + timedelta(minutes=1), 2) == [True, False]
    assert await _consume_many(limiter, key, rate, T0 + timedelta(hours=1), 3) == [True, True, False]


async def test_zero_refuses_every_send(make_rate_limiters: MakeLimiters) -> None:
    (limiter,) = await make_rate_limiters(1)
    for rate in (Rate.parse("0"), Rate.parse("0/1s")):
        key = _key()
        assert await _consume_many(limiter, key, rate, T0, 2) == [False, False]
        assert await limiter.consume(key, rate, T0 + timedelta(days=1)) is False


async def test_keys_are_independent(make_rate_limiters: MakeLimiters) -> None:
    (limiter,) = await make_rate_limiters(1)
    rate, email, sms = Rate.parse("1"), _key(), _key()
    assert await limiter.consume(email, rate, T0) is True
    assert await limiter.consume(email, rate, T0) is False
    assert await limiter.consume(sms, rate, T0) is True


async def test_a_refusal_takes_nothing(make_rate_limiters: MakeLimiters) -> None:
    (limiter,) = await make_rate_limiters(1)
    key, rate = _key(), Rate.parse("1/10s")
    assert await limiter.consume(key, rate, T0) is True
    for second in range(1, 10):
        assert await limiter.consume(key, rate, T0 + timedelta(seconds=second)) is False
    assert await limiter.consume(key, rate, T0 + timedelta(seconds=10)) is True


async def test_changing_the_kind_of_rate_starts_afresh(make_rate_limiters: MakeLimiters) -> None:
    (limiter,) = await make_rate_limiters(1)
    key = _key()
    assert await limiter.consume(key, Rate.parse("1"), T0) is True
    assert await limiter.consume(key, Rate.parse("1"), T0) is False
    assert await limiter.consume(key, Rate.parse("1/1m"), T0) is True


async def test_handles_share_one_budget(make_rate_limiters: MakeLimiters) -> None:
    first, second = await make_rate_limiters(2)
    key, rate = _key(), Rate.parse("2")
    assert await first.consume(key, rate, T0) is True
    assert await second.consume(key, rate, T0) is True
    assert await first.consume(key, rate, T0) is False
    assert await second.consume(key, rate, T0) is False


async def test_concurrent_consumers_never_overspend(make_rate_limiters: MakeLimiters) -> None:
    limiters = await make_rate_limiters(3)
    for rate, budget in ((Rate.parse("7"), 7), (Rate.parse("5/1h"), 5)):
        key = _key()
        calls = [limiters[i % len(limiters)].consume(key, rate, T0) for i in range(30)]
        results = await asyncio.gather(*calls)
        assert results.count(True) == budget
        # and the budget is really spent, for every handle
        assert not any([await limiter.consume(key, rate, T0) for limiter in limiters])
