"""Send-rate budgets: GoTrue's `N` (per hour, fixed window) or `N/duration` (token bucket).

The algorithms are pure (`take`: rule, stored state and time in; decision and new state out), so
the in-memory and the PostgreSQL limiter apply exactly the same arithmetic and differ only in how
they keep the state and make the read-decide-write step atomic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pytrue.domain.values import parse_go_duration

_NUMBER = re.compile(r"^\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_MICROSECOND = timedelta(microseconds=1)
# A bucket deeper than this is treated as this deep (keeps the arrival time inside datetime's range).
_MAX_DEPTH = timedelta(days=36500) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class Rate:
    """`events` allowed per `per`; `bucket` = token bucket (burst `events`), else a fixed window.

    As in GoTrue the budget is the whole part of `events` (`2.5` allows 2); `0` refuses everything.
    """

    events: float
    per: timedelta = timedelta(hours=1)
    bucket: bool = False

    def __post_init__(self) -> None:
        if not self.events >= 0 or self.events == float("inf"):
            raise ValueError(f"rate events must be a finite number >= 0, got {self.events!r}")
        if self.per <= timedelta(0):
            raise ValueError(f"rate period must be positive, got {self.per}")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """config.md §6: `N` → N per hour (fixed window); `N/duration` → token bucket, one token
        back every `duration`, burst N (`10/1m`). ValueError on anything else."""
        events, slash, duration = text.partition("/")
        if not _NUMBER.fullmatch(events) or "/" in duration:
            raise ValueError(f"expected a rate such as 30 or 10/1m, got {text!r}")
        if not slash:
            return cls(float(events))
        try:
            per = parse_go_duration(duration) if duration.strip() == duration else None
        except ValueError:
            per = None
        if per is None or per <= timedelta(0):
            raise ValueError(f"expected a rate such as 10/1m (a positive duration after '/'), got {text!r}")
        return cls(float(events), per, bucket=True)

    @classmethod
    def per_ip(cls, events: float, window: timedelta, burst: float) -> Rate:
        """GoTrue's per-IP request limiters (tollbooth): `events` per `window`, at most `burst` at once.

        A token bucket of depth `burst` refilled at `events / window`; `events <= 0` refuses all.
        """
        if events <= 0:
            return cls(0)
        # a huge rate (often set to mean "no limit") refills every microsecond rather than never
        return cls(burst, max(window / events, _MICROSECOND), bucket=True)

    @property
    def limit(self) -> int:
        """Events per window, or the bucket's burst."""
        return int(self.events)

    @property
    def kind(self) -> str:
        """Identifies the algorithm and period: state kept under another kind is not reused."""
        period = self.per // _MICROSECOND
        return f"bucket/{period}us" if self.bucket else f"window/{period}us"


@dataclass(frozen=True, slots=True)
class RateState:
    """What a limiter stores per key.

    Fixed window: `stamp` = start of the current window, `used` = events taken in it.
    Token bucket (GCRA form): `stamp` = the theoretical arrival time; `used` is 0. The bucket holds
    `burst - (stamp - now) / per` tokens, so one timestamp is the whole state and the arithmetic is
    exact (microseconds, no floating-point tokens).
    """

    kind: str
    stamp: datetime
    used: int = 0


def take(rate: Rate, state: RateState | None, now: datetime) -> tuple[bool, RateState | None]:
    """Try to take one event at `now`: (True, state to store) or (False, `state` unchanged)."""
    if state is not None and state.kind != rate.kind:
        state = None
    if rate.bucket:
        return _take_bucket(rate, state, now)
    return _take_window(rate, state, now)


def _take_window(rate: Rate, state: RateState | None, now: datetime) -> tuple[bool, RateState | None]:
    # GoTrue's IntervalLimiter: the window starts at the first event and advances by whole periods.
    if state is None:
        current = RateState(rate.kind, now, 0)
    elif now - state.stamp >= rate.per:
        periods = (now - state.stamp) // rate.per
        current = RateState(rate.kind, state.stamp + periods * rate.per, 0)
    else:
        current = state  # also when `now` is before the window (another process's clock is ahead)
    if current.used >= rate.limit:
        return False, state
    return True, RateState(rate.kind, current.stamp, current.used + 1)


def _take_bucket(rate: Rate, state: RateState | None, now: datetime) -> tuple[bool, RateState | None]:
    # x/time/rate's token bucket (starts full, one token back per `per`, at most `limit` tokens).
    arrival = max(state.stamp, now) if state is not None else now
    after = arrival + rate.per
    depth = min(rate.limit * (rate.per // _MICROSECOND), _MAX_DEPTH)
    if (after - now) // _MICROSECOND > depth:
        return False, state
    return True, RateState(rate.kind, after, 0)
