"""Whether mail delivery is in an outage, as this process's outbox sender has seen it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(slots=True)
class MailHealth:
    """An outage starts with a failed delivery that was not the recipient's fault and ends with
    the next delivery that succeeds (or when nothing is left to deliver)."""

    failing_since: datetime | None = None
    last_error: str = ""

    def failed(self, now: datetime, error: str) -> None:
        if self.failing_since is None:
            self.failing_since = now
        self.last_error = error

    def recovered(self) -> None:
        self.failing_since = None
        self.last_error = ""

    def outage(self, now: datetime, longer_than: timedelta | None) -> bool:
        """True when delivery has been failing for longer than `longer_than` (never when it is None)."""
        return longer_than is not None and self.failing_since is not None and now - self.failing_since >= longer_than
