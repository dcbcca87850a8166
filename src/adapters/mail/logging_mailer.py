"""A mailer for setups without SMTP: every message goes to the log and the development inbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import quote

from pytrue.adapters.mail.inbox import DevInbox, SentMail
from pytrue.application.ports import Mail

log = logging.getLogger("pytrue.mail")


@dataclass(slots=True, kw_only=True)
class LoggingMailer:
    """Writes each message to the `pytrue.mail` log and keeps it in `inbox`.

    It is a development stand-in: the log carries the link, so it is never used when SMTP
    is configured.
    """

    api_external_url: str
    site_url: str
    inbox: DevInbox = field(default_factory=DevInbox)

    async def send(self, mail: Mail) -> None:
        link = self._link(mail.token_hash, mail.link_type, mail.redirect_to or self.site_url) if mail.link_type else ""
        self.inbox.add(
            SentMail(
                kind=mail.kind,
                to=mail.to,
                otp=mail.otp,
                token_hash=mail.token_hash,
                link=link,
                link_type=mail.link_type,
                redirect_to=mail.redirect_to,
            )
        )
        log.info("development inbox: %s message for %s: %s", mail.kind, mail.to, link or "(code only)")

    def _link(self, token_hash: str, kind: str, redirect_to: str) -> str:
        base = self.api_external_url.rstrip("/")
        return f"{base}/verify?token={token_hash}&type={kind}&redirect_to={quote(redirect_to, safe=':/')}"
