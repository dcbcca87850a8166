"""Send-rate budgets (config.md §6): parsing and the pure fixed-window / token-bucket algorithms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytrue.domain.rate import Rate, RateState, take

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("30", Rate(30.0)),
        ("0", Rate(0.0)),
        ("2.5", Rate(2.5)),
        ("1e3", Rate(1000.0)),
        ("+4", Rate(4.0)),
        (".5", Rate(0.5)),
        ("10/1m", Rate(10.0, timedelta(minutes=1), bucket=True)),
        ("1/10s", Rate(1.0, timedelta(seconds=10), bucket=True)),
        ("360/1h30m", Rate(360.0, timedelta(hours=1, minutes=30), bucket=True)),
        ("0/1m", Rate(0.0, timedelta(minutes=1), bucket=True)),
        ("5/1.5s", Rate(5.0, timedelta(seconds=1.5), bucket=True)),
    ],
)
def test_parse(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize(
    "text",
    ["", " ", "abc", "-1", "30 ", " 30", "inf", "nan", "1_000", "0x10", "10/", "/1m", "10/1m/2", "10/0", "10/-1m",
     "10/1", "10/1 m", "10/ 1m", "10/1y", "-5/1m", "1,5"],
)  # fmt: skip
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        Rate.parse(text)


def test_limit_is_the_whole_part() -> None:
    assert Rate(2.9).limit == 2
    assert Rate.parse("0.9").limit == 0


def test_invalid_rates_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        Rate(-1)
    with pytest.raises(ValueError):
        Rate(float("nan"))
    with pytest.raises(ValueError):
        Rate(1, timedelta(0))


def _run(rate: Rate, offsets: list[float]) -> list[tuple[datetime, bool]]:
    state: RateState | None = None
    out = []
    for offset in sorted(offsets):
        now = T0 + timedelta(seconds=offset)
        allowed, new = take(rate, state, now)
        if not allowed:
            assert new == state  # refused: nothing taken
        state = new
        out.append((now, allowed))
    return out


def test_zero_refuses_everything() -> None:
    for rate in (Rate.parse("0"), Rate.parse("0/1s"), Rate.parse("0.5")):
        assert not any(allowed for _, allowed in _run(rate, [0, 1, 3600, 7200, 10**6]))


def test_window_resets_each_whole_period_from_the_first_event() -> None:
    rate = Rate.parse("2")
    results = _run(rate, [100, 101, 102, 3699, 3700, 3701, 3702, 3 * 3600 + 150])
    assert [allowed for _, allowed in results] == [True, True, False, False, True, True, False, True]


def test_bucket_starts_full_and_refills_one_per_period() -> None:
    rate = Rate.parse("3/10s")
    results = _run(rate, [0, 0, 0, 0, 9.999, 10, 10.001, 40, 40, 40, 40])
    assert [allowed for _, allowed in results] == [True, True, True, False, False, True, False, True, True, True, False]


def test_state_of_another_kind_is_not_reused() -> None:
    window, bucket = Rate.parse("1"), Rate.parse("1/1h")
    _, state = take(window, None, T0)
    assert take(window, state, T0 + timedelta(seconds=1))[0] is False
    assert take(bucket, state, T0 + timedelta(seconds=1))[0] is True


def test_a_clock_behind_the_stored_state_does_not_grant_more() -> None:
    rate = Rate.parse("1")
    _, state = take(rate, None, T0)
    assert take(rate, state, T0 - timedelta(minutes=5))[0] is False
    bucket = Rate.parse("1/1m")
    _, state = take(bucket, None, T0)
    assert take(bucket, state, T0 - timedelta(minutes=5))[0] is False


def test_huge_buckets_do_not_overflow() -> None:
    rate = Rate(1e15, timedelta(hours=1), bucket=True)
    state = None
    for _ in range(3):
        allowed, state = take(rate, state, T0)
        assert allowed


offsets = st.lists(st.floats(min_value=0, max_value=20_000, allow_nan=False), min_size=1, max_size=80)
events = st.integers(min_value=0, max_value=6)
periods = st.sampled_from([1, 7, 60, 3600])


@settings(max_examples=300, deadline=None)
@given(events, periods, offsets)
def test_window_never_allows_more_than_n_per_window(n: int, period: int, times: list[float]) -> None:
    rate = Rate(n, timedelta(seconds=period))
    results = _run(rate, times)
    start = results[0][0]
    per_window: dict[int, int] = {}
    for now, allowed in results:
        if allowed:
            index = (now - start) // timedelta(seconds=period)
            per_window[index] = per_window.get(index, 0) + 1
    assert all(count <= n for count in per_window.values())
    # and the budget is not withheld: the first n calls of every window are allowed
    seen: dict[int, int] = {}
    for now, allowed in results:
        index = (now - start) // timedelta(seconds=period)
        seen[index] = seen.get(index, 0) + 1
        assert allowed is (seen[index] <= n)


@settings(max_examples=300, deadline=None)
@given(events, periods, offsets)
def test_bucket_never_exceeds_burst_plus_refill(burst: int, period: int, times: list[float]) -> None:
    rate = Rate(burst, timedelta(seconds=period), bucket=True)
    allowed_at = [now for now, allowed in _run(rate, times) if allowed]
    # in any interval [a, b]: at most burst + (b - a) / period events
    for i, first in enumerate(allowed_at):
        for j in range(i, len(allowed_at)):
            span = (allowed_at[j] - first) / timedelta(seconds=period)
            assert j - i + 1 <= burst + span + 1e-9


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=6), periods, st.integers(min_value=1, max_value=5))
def test_bucket_refills_one_token_per_period(burst: int, period: int, waits: int) -> None:
    rate = Rate(burst, timedelta(seconds=period), bucket=True)
    state = None
    for _ in range(burst):
        allowed, state = take(rate, state, T0)
        assert allowed
    assert take(rate, state, T0)[0] is False
    later = T0 + waits * timedelta(seconds=period)
    granted = 0
    while True:
        allowed, state = take(rate, state, later)
        if not allowed:
            break
        granted += 1
    assert granted == min(waits, burst)
