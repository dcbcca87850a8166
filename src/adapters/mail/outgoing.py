"""A rendered message on its way out, and the transports that carry it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    """What the template mailer produced for one recipient.

    `otp`, `token_hash`, `link`, `link_type`, `redirect_to` and `locale` travel along for the
    development inbox only; the SMTP transport sends nothing but the headers and the parts.
    """

    kind: str
    to: str
    subject: str
    text: str
    html: str
    headers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    otp: str = ""
    token_hash: str = ""
    link: str = ""
    link_type: str = ""
    redirect_to: str = ""
    locale: str = ""  # the locale of the localised body ("" for the default one; docs/adr/0035)


class Transport(Protocol):
    async def deliver(self, message: OutgoingMessage) -> None:
        """Hand the message over; `MailDeliveryFailed` when that is impossible."""
        ...
