"""The development SMS transport used when no provider is configured: log the text, keep it in memory.

The text is logged with its code (a developer needs it; this mode is never active when a
provider is configured), as the development mail inbox logs links.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

from pytrue.application.ports import SMS_CHANNEL, WHATSAPP_CHANNEL

log = logging.getLogger("pytrue.sms")


@dataclass(frozen=True, slots=True, kw_only=True)
class SentSms:
    """One text as it would have left, with the code it carried and the id it was given."""

    phone: str
    message: str
    channel: str = SMS_CHANNEL
    otp: str = ""
    message_id: str = ""


@dataclass(slots=True)
class DevSmsOutbox:
    """The newest `size` texts, oldest first."""

    messages: list[SentSms] = field(default_factory=list)
    size: int = 100

    def add(self, sms: SentSms) -> None:
        self.messages.append(sms)
        del self.messages[: -self.size]

    def latest(self, phone: str, channel: str | None = None) -> SentSms | None:
        for sms in reversed(self.messages):
            if sms.phone == phone and (channel is None or sms.channel == channel):
                return sms
        return None


@dataclass(slots=True, kw_only=True)
class LoggingSmsSender:
    """Sends nothing: every text is logged on `pytrue.sms` and kept in the `DevSmsOutbox`."""

    outbox: DevSmsOutbox = field(default_factory=DevSmsOutbox)
    channels: frozenset[str] = frozenset({SMS_CHANNEL, WHATSAPP_CHANNEL})
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        message_id = f"dev-sms-{next(self._ids)}"
        self.outbox.add(SentSms(phone=phone, message=message, channel=channel, otp=otp, message_id=message_id))
        log.info(
            "development SMS outbox: %s to +%s: %s", channel, phone, message,
            extra={"dev_delivery": True},  # the code is the point: not scrubbed (entrypoints/json_logs.py)
        )
        return message_id
