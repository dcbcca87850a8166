"""The development inbox: every message sent without SMTP, readable by the operator and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class SentMail:
    """One delivered message, with the parts a person would read and the codes it carried."""

    kind: str
    to: str
    subject: str = ""
    text: str = ""
    html: str = ""
    otp: str = ""
    token_hash: str = ""
    link: str = ""
    link_type: str = ""
    redirect_to: str = ""
    locale: str = ""  # the localised body's locale, "" for the default body


@dataclass(slots=True)
class DevInbox:
    """The newest `size` messages, oldest first."""

    messages: list[SentMail] = field(default_factory=list)
    size: int = 100

    def add(self, mail: SentMail) -> None:
        self.messages.append(mail)
        del self.messages[: -self.size]

    def latest(self, to: str, kind: str | None = None) -> SentMail | None:
        for mail in reversed(self.messages):
            if mail.to == to and (kind is None or mail.kind == kind):
                return mail
        return None
