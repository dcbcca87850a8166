"""A mailer for setups without SMTP: every message goes to the log and a readable inbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import quote

from pytrue.application.ports import Mail

log = logging.getLogger("pytrue.mail")


@dataclass(frozen=True, slots=True, kw_only=True)
class DevMessage:
    to: str
    kind: str
    otp: str
    token_hash: str
    link: str


@dataclass(slots=True, kw_only=True)
class LoggingMailer:
    """Writes each message to the `pytrue.mail` log and keeps the last ones in `inbox`.

    It is a development stand-in: the log carries the link, so it is never used when SMTP
    is configured.
    """

    api_external_url: str
    site_url: str
    inbox: list[DevMessage] = field(default_factory=list)
    inbox_size: int = 100

    async def send(self, mail: Mail) -> None:
        link = self._link(mail.token_hash, mail.link_type, mail.redirect_to or self.site_url) if mail.link_type else ""
        self._deliver(DevMessage(to=mail.to, kind=mail.kind, otp=mail.otp, token_hash=mail.token_hash, link=link))

    def _link(self, token_hash: str, kind: str, redirect_to: str) -> str:
        base = self.api_external_url.rstrip("/")
        return f"{base}/verify?token={token_hash}&type={kind}&redirect_to={quote(redirect_to, safe=':/')}"

    def _deliver(self, message: DevMessage) -> None:
        self.inbox.append(message)
        del self.inbox[: -self.inbox_size]
        log.info("development inbox: %s message for %s: %s", message.kind, message.to, message.link)
