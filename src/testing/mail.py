"""What the test server would have emailed or texted: read-only views over its development inbox
and SMS outbox, with the link and code of each message already extracted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pytrue.adapters.mail.inbox import SentMail as Email
from pytrue.adapters.sms.dev import SentSms as Sms

if TYPE_CHECKING:
    from pytrue.adapters.mail.inbox import DevInbox
    from pytrue.adapters.sms.dev import DevSmsOutbox

__all__ = ["Email", "Inbox", "Outbox", "Sms"]


def _same_address(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def _same_phone(a: str, b: str) -> bool:
    return a.lstrip("+").replace(" ", "") == b.lstrip("+").replace(" ", "")


class Inbox:
    """Every email the server sent, oldest first. `kind` is GoTrue's mail type: `confirmation`,
    `invite`, `magic_link`, `recovery`, `email_change`, `reauthentication`, or a security
    notification (`password_changed_notification`, ...)."""

    def __init__(self, inbox: DevInbox) -> None:
        self._inbox = inbox

    def all(self, to: str | None = None, kind: str | None = None) -> list[Email]:
        """The messages to `to` (any address when None) of `kind` (any when None), oldest first."""
        return [
            mail
            for mail in self._inbox.messages
            if (to is None or _same_address(mail.to, to)) and (kind is None or mail.kind == kind)
        ]

    def latest(self, to: str, kind: str | None = None) -> Email:
        """The newest message to `to` (of `kind`); `LookupError` when there is none."""
        found = self.all(to, kind)
        if not found:
            what = f"{kind} email" if kind else "email"
            raise LookupError(f"no {what} was sent to {to}")
        return found[-1]

    def clear(self) -> None:
        self._inbox.messages.clear()

    def __len__(self) -> int:
        return len(self._inbox.messages)

    def __iter__(self) -> Iterator[Email]:
        return iter(list(self._inbox.messages))


class Outbox:
    """Every text message the server sent (no SMS provider is called), oldest first."""

    def __init__(self, outbox: DevSmsOutbox) -> None:
        self._outbox = outbox

    def all(self, to: str | None = None) -> list[Sms]:
        return [sms for sms in self._outbox.messages if to is None or _same_phone(sms.phone, to)]

    def latest(self, to: str) -> Sms:
        """The newest text to the phone number `to` (with or without `+`); `LookupError` when none."""
        found = self.all(to)
        if not found:
            raise LookupError(f"no text message was sent to {to}")
        return found[-1]

    def clear(self) -> None:
        self._outbox.messages.clear()

    def __len__(self) -> int:
        return len(self._outbox.messages)

    def __iter__(self) -> Iterator[Sms]:
        return iter(list(self._outbox.messages))
