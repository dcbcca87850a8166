"""Delivery over SMTP with the standard library, run in a worker thread.

Port 465 means implicit TLS; on any other port STARTTLS is used when the server offers it.
Credentials (PLAIN, else LOGIN) are only sent over TLS or to a loopback server, as Go's
net/smtp does. Every failure becomes `MailDeliveryFailed` with a message that names the
step and the error class, never the credentials; the password is never logged.

With `GOTRUE_SMTP_LOGGING_ENABLED` each exchange is logged at INFO on `pytrue.smtp`: one line
per command with the server's reply, then GoTrue's `mail.send` line (type, From, To,
Message-ID, outcome). Only the envelope shows: an AUTH line names the mechanism and hides
what follows it, and neither the subject (a reauthentication subject holds the code) nor
the body (links, codes) is ever written.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from pytrue.adapters.mail.outgoing import OutgoingMessage
from pytrue.application.ports import MailDeliveryFailed

log = logging.getLogger("pytrue.mail")
smtp_log = logging.getLogger("pytrue.smtp")

IMPLICIT_TLS_PORT = 465
DEFAULT_TIMEOUT_SECONDS = 10.0
HELO_NAME = "localhost"  # as Go's net/smtp; avoids a reverse-DNS look-up of our own name
# Headers the mailer owns; GOTRUE_SMTP_HEADERS cannot replace them.
RESERVED_HEADERS = frozenset(
    {"from", "to", "subject", "date", "message-id", "mime-version", "content-type", "content-transfer-encoding"}
)


def build_email(message: OutgoingMessage, sender: str, sender_name: str = "") -> EmailMessage:
    """The MIME message: multipart/alternative with the plain text first, then the HTML."""
    email = EmailMessage()
    email["From"] = formataddr((sender_name, sender)) if sender_name else sender
    email["To"] = message.to
    email["Subject"] = " ".join(message.subject.split())
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    for name, values in message.headers.items():  # after the parts: set_content drops Content-* headers
        if name.lower() in RESERVED_HEADERS:
            continue
        for value in values:
            email[name] = value
    return email


# Commands shown as sent (their arguments are envelope data); AUTH shows its mechanism only,
# and any other line (an AUTH continuation carries credentials) is never shown.
_SHOWN_COMMANDS = frozenset({"EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT"})
_MAX_REPLY = 120


@dataclass(slots=True)
class Conversation:
    """One SMTP exchange as it may be logged: each command (credentials hidden) and its reply."""

    peer: str
    _command: str = ""
    _last: str = ""
    _in_auth: bool = False

    def sent(self, cmd: str, args: str) -> None:
        name = cmd.strip().upper()
        if self._in_auth:
            shown = "(auth response)"
        elif name == "AUTH":
            shown = "AUTH " + (args.split(maxsplit=1)[0].upper() if args.strip() else "")
            self._in_auth = True
        elif name in _SHOWN_COMMANDS:
            shown = f"{name} {args}".strip()
        else:
            shown = "(command)"
        self._command = shown

    def replied(self, code: int, message: bytes) -> None:
        shown = self._command or ("(end of data)" if self._last == "DATA" else "(greeting)")
        text = ""
        if message and not self._in_auth:  # an AUTH exchange's replies are challenges: code only
            text = message.decode("utf-8", "replace").splitlines()[0][:_MAX_REPLY]
        smtp_log.info("smtp %s: %s -> %s", self.peer, shown, f"{code} {text}".rstrip())
        if self._in_auth and code != 334:
            self._in_auth = False
        self._last, self._command = shown, ""


def _logged(base: type[smtplib.SMTP], conversation: Conversation) -> type[smtplib.SMTP]:
    """`base` reporting each command and reply to `conversation` (the body is sent without either)."""

    class LoggedSMTP(base):  # type: ignore[misc, valid-type]
        def putcmd(self, cmd: str, args: str = "") -> None:
            conversation.sent(cmd, args)
            super().putcmd(cmd, args)

        def getreply(self) -> tuple[int, bytes]:
            code, message = super().getreply()
            conversation.replied(code, message)
            return code, message

    return LoggedSMTP


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(slots=True, kw_only=True)
class SmtpTransport:
    """One SMTP connection per message (GoTrue does the same)."""

    host: str
    port: int = 587
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""
    sender_name: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    tls_context: ssl.SSLContext | None = field(default=None, repr=False)
    implicit_tls: bool | None = None  # None: only on port 465
    logging_enabled: bool = False  # GOTRUE_SMTP_LOGGING_ENABLED

    @property
    def _implicit(self) -> bool:
        return self.port == IMPLICIT_TLS_PORT if self.implicit_tls is None else self.implicit_tls

    async def deliver(self, message: OutgoingMessage) -> None:
        email = build_email(message, self.sender, self.sender_name)
        if not self.logging_enabled:
            await asyncio.to_thread(self._send, email, message.to)
            return
        outcome = "sent"
        try:
            await asyncio.to_thread(self._send, email, message.to, Conversation(f"{self.host}:{self.port}"))
        except MailDeliveryFailed as failure:
            outcome = f"failed ({failure})"
            raise
        finally:  # GoTrue's mail.send line, whatever the outcome
            smtp_log.info(
                "mail.send mail_type=%s mail_from=%s mail_to=%s message_id=%s status=%s",
                message.kind, self.sender, message.to, email["Message-ID"], outcome,
                extra={
                    "event": "mail.send", "mail_type": message.kind, "mail_from": self.sender,
                    "mail_to": message.to, "message_id": email["Message-ID"], "status": outcome,
                },
            )

    def _context(self) -> ssl.SSLContext:
        return self.tls_context or ssl.create_default_context()

    def _send(self, email: EmailMessage, to: str, conversation: Conversation | None = None) -> None:
        step = "connect"
        try:
            client: smtplib.SMTP
            if self._implicit:
                ssl_class = smtplib.SMTP_SSL if conversation is None else _logged(smtplib.SMTP_SSL, conversation)
                client = ssl_class(self.host, self.port, HELO_NAME, timeout=self.timeout, context=self._context())  # type: ignore[call-arg]
            else:
                plain_class = smtplib.SMTP if conversation is None else _logged(smtplib.SMTP, conversation)
                client = plain_class(self.host, self.port, HELO_NAME, timeout=self.timeout)
            with client:
                step = "hello"
                client.ehlo()
                encrypted = self._implicit
                if not encrypted and client.has_extn("starttls"):
                    step = "starttls"
                    client.starttls(context=self._context())
                    client.ehlo()
                    encrypted = True
                if self.user:
                    step = "auth"
                    self._login(client, encrypted)
                step = "send"
                refused = client.send_message(email, from_addr=self.sender, to_addrs=[to])
                if refused:
                    raise MailDeliveryFailed("SMTP delivery failed at send: recipient refused", recipient=True)
        except MailDeliveryFailed:
            raise
        except smtplib.SMTPResponseException as error:
            raise MailDeliveryFailed(f"SMTP delivery failed at {step}: server replied {error.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused:
            raise MailDeliveryFailed(f"SMTP delivery failed at {step}: recipient refused", recipient=True) from None
        except (smtplib.SMTPException, ssl.SSLError, socket.timeout, OSError, ValueError) as error:
            raise MailDeliveryFailed(f"SMTP delivery failed at {step}: {type(error).__name__}") from None

    def _login(self, client: smtplib.SMTP, encrypted: bool) -> None:
        if not encrypted and not _is_loopback(self.host):
            raise MailDeliveryFailed("SMTP delivery failed at auth: refusing to send credentials without TLS")
        if not client.has_extn("auth"):
            raise MailDeliveryFailed("SMTP delivery failed at auth: the server offers no authentication")
        offered = client.esmtp_features.get("auth", "").upper().split()
        client.user, client.password = self.user, self.password
        try:
            if "PLAIN" in offered:
                client.auth("PLAIN", client.auth_plain)
            elif "LOGIN" in offered:
                client.auth("LOGIN", client.auth_login, initial_response_ok=False)
            else:
                raise MailDeliveryFailed("SMTP delivery failed at auth: no PLAIN or LOGIN mechanism offered")
        finally:
            client.user = client.password = ""
