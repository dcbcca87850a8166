"""The development transport used when no SMTP host is configured.

Each message is logged (kind, recipient and link: a developer needs the link, and this mode
is never active when SMTP is configured), kept in the `DevInbox`, and, when a file is
configured (`PYTRUE_DEV_INBOX_FILE`), appended to that mbox file for the operator to read.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
from dataclasses import dataclass, field
from pathlib import Path

from pytrue.adapters.mail.inbox import DevInbox, SentMail
from pytrue.adapters.mail.outgoing import OutgoingMessage
from pytrue.adapters.mail.smtp import build_email
from pytrue.application.ports import MailDeliveryFailed

log = logging.getLogger("pytrue.mail")

DEV_SENDER = "pytrue@localhost"


@dataclass(slots=True, kw_only=True)
class DevTransport:
    inbox: DevInbox = field(default_factory=DevInbox)
    mbox_path: str = ""
    sender: str = ""
    sender_name: str = ""

    async def deliver(self, message: OutgoingMessage) -> None:
        if self.mbox_path:
            await asyncio.to_thread(self._append, message)
        self.inbox.add(
            SentMail(
                kind=message.kind,
                to=message.to,
                subject=message.subject,
                text=message.text,
                html=message.html,
                otp=message.otp,
                token_hash=message.token_hash,
                link=message.link,
                link_type=message.link_type,
                redirect_to=message.redirect_to,
                locale=message.locale,
            )
        )
        log.info(
            "development inbox: %s message for %s: %s", message.kind, message.to, message.link or "(code only)",
            extra={"dev_delivery": True},  # the link is the point: not scrubbed (entrypoints/json_logs.py)
        )

    def _append(self, message: OutgoingMessage) -> None:
        email = build_email(message, self.sender or DEV_SENDER, self.sender_name)
        try:
            Path(self.mbox_path).parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.mbox(self.mbox_path)
            box.lock()
            try:
                box.add(email)
                box.flush()
            finally:
                box.unlock()
                box.close()
        except (OSError, mailbox.Error) as error:
            raise MailDeliveryFailed(f"development inbox file unavailable: {type(error).__name__}") from None
