"""Send-rate budgets: GoTrue's `N` (per hour, fixed window) or `N/duration` (token bucket)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Rate:
    """`events` allowed per `per`; `bucket` = token bucket (burst `events`), else a fixed window."""

    events: float
    per: timedelta = timedelta(hours=1)
    bucket: bool = False
