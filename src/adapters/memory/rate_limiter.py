"""Provisional in-process send budget (fixed window); replaced by the shared limiter."""

from __future__ import annotations

from datetime import datetime

from pytrue.domain.rate import Rate


class InMemoryRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[datetime, float]] = {}

    async def consume(self, key: str, rate: Rate, now: datetime) -> bool:
        start, used = self._windows.get(key, (now, 0.0))
        if now - start >= rate.per:
            start, used = now, 0.0
        if used + 1 > rate.events:
            return False
        self._windows[key] = (start, used + 1)
        return True
