"""Send-rate budgets in process memory (`GOTRUE_DB_DRIVER=memory`: one process, one limit)."""

from __future__ import annotations

import threading
from datetime import datetime

from pytrue.domain.rate import Rate, RateState, take


class InMemoryRateLimiter:
    """`RateLimiter` over a dict; the read-decide-write step runs under a lock (no await inside)."""

    def __init__(self) -> None:
        self._states: dict[str, RateState] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every bucket and counter (pytrue.testing's `reset`)."""
        with self._lock:
            self._states.clear()
            self._counts.clear()

    async def consume(self, key: str, rate: Rate, now: datetime) -> bool:
        with self._lock:
            allowed, state = take(rate, self._states.get(key), now)
            if allowed and state is not None:
                self._states[key] = state
            return allowed

    async def count(self, key: str, now: datetime) -> int:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]
