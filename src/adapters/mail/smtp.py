"""Delivery over SMTP with the standard library, run in a worker thread.

Port 465 means implicit TLS; on any other port STARTTLS is used when the server offers it.
Credentials (PLAIN, else LOGIN) are only sent over TLS or to a loopback server, as Go's
net/smtp does. Every failure becomes `MailDeliveryFailed` with a message that names the
step and the error class, never the credentials; the password is never logged.
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
    for name, values in message.headers.items():
        if name.lower() in RESERVED_HEADERS:
            continue
        for value in values:
            email[name] = value
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    return email


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

    @property
    def _implicit(self) -> bool:
        return self.port == IMPLICIT_TLS_PORT if self.implicit_tls is None else self.implicit_tls

    async def deliver(self, message: OutgoingMessage) -> None:
        email = build_email(message, self.sender, self.sender_name)
        await asyncio.to_thread(self._send, email, message.to)

    def _context(self) -> ssl.SSLContext:
        return self.tls_context or ssl.create_default_context()

    def _send(self, email: EmailMessage, to: str) -> None:
        step = "connect"
        try:
            client: smtplib.SMTP
            if self._implicit:
                client = smtplib.SMTP_SSL(
                    self.host, self.port, HELO_NAME, timeout=self.timeout, context=self._context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, HELO_NAME, timeout=self.timeout)
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
