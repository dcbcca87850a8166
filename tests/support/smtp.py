"""A real SMTP server (aiosmtpd) on a local port, for tests that check delivered mail.

    with SmtpServer() as smtp:
        settings = make_settings({"GOTRUE_SMTP_HOST": "127.0.0.1", "GOTRUE_SMTP_PORT": str(smtp.port), ...})
        ...
        message = smtp.wait_for("user@example.com", timeout=5)
        link, code = extract_link(message), extract_otp(message)

Without SMTP, `read_mbox(path)` reads the development inbox file (`PYTRUE_DEV_INBOX_FILE`).

Options: `refuse` (recipients answered with 550), `users` ({login: password}, enables AUTH),
`tls` (a `TlsPair` from `self_signed_tls()`): `starttls=True` requires STARTTLS,
`implicit_tls=True` wraps the whole connection (port-465 style); `auth_exclude` hides AUTH
mechanisms (e.g. `("PLAIN",)`); `port` listens on a given port (e.g. a server that comes back);
`delay` (seconds) makes every accepted message that much slower, like a distant server.
"""

from __future__ import annotations

import asyncio
import datetime
import html
import ipaddress
import mailbox
import re
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class TlsPair:
    """A self-signed certificate for 127.0.0.1/localhost: the server context and a client one trusting it."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def self_signed_tls() -> TlsPair:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode("ascii"))
    return TlsPair(server=server, client=client)


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.lower() in self.owner.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.owner.delay:
            await asyncio.sleep(self.owner.delay)
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.owner.condition:
            self.owner.messages.append(message)
            self.owner.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), bool(session.authenticated)))
            self.owner.condition.notify_all()
        return "250 Message accepted"


class SmtpServer:
    """aiosmtpd in a background thread; `messages` are the parsed `EmailMessage`s, in arrival order."""

    def __init__(
        self,
        *,
        refuse: Iterable[str] = (),
        users: Mapping[str, str] | None = None,
        tls: TlsPair | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        auth_exclude: Iterable[str] = (),
        port: int | None = None,
        delay: float = 0.0,
    ) -> None:
        self.port = port or free_port()
        self.delay = delay
        self.refuse = {address.lower() for address in refuse}
        self.users = dict(users or {})
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str], bool]] = []
        self.auth_attempts: list[tuple[str, str]] = []
        self.condition = threading.Condition()
        options: dict[str, Any] = {}
        if self.users:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=bool(tls),
                auth_exclude_mechanism=list(auth_exclude),
            )
        if tls is not None and starttls:
            options.update(tls_context=tls.server, require_starttls=True)
        if tls is not None and implicit_tls:
            options.update(ssl_context=tls.server, server_hostname="localhost")
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **options)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.auth_attempts.append((mechanism, login))
        return AuthResult(success=login in self.users and self.users[login] == password, handled=False)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def wait_for(self, to: str, timeout: float = 5.0, count: int | None = None) -> EmailMessage:
        """The newest message to `to` (or, with `count`, the count-th one), waiting up to `timeout` seconds.

        Mail leaves pytrue after the response (docs/adr/0017): to read the message a later request
        sent, pass how many messages that address should have received by then."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                received = [message for message in self.messages if addressed_to(message, to)]
                if received and (count is None or len(received) >= count):
                    return received[-1] if count is None else received[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no message #{count or 1} for {to} within {timeout} s (got {len(received)} of {len(self.messages)})"
                    )
                self.condition.wait(remaining)


def addressed_to(message: EmailMessage, to: str) -> bool:
    header = message.get("To")
    addresses = getattr(header, "addresses", ())
    return any(address.addr_spec.lower() == to.lower() for address in addresses) or (
        not addresses and to.lower() in str(header or "").lower()
    )


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


_LINK = re.compile(r"https?://[^\s\"'<>]+[?&]token=[^\s\"'<>]+")
_URL = re.compile(r"https?://\S+")
_ADDRESS = re.compile(r"\S+@\S+")
_CODE = re.compile(r"(?<![\w])\d{6,10}(?![\w])")


def extract_link(message: EmailMessage) -> str:
    """The first verify link (a URL with `token=`) of the message, HTML entities decoded."""
    for body in (text_part(message), html_part(message)):
        match = _LINK.search(html.unescape(body))
        if match:
            return match.group(0)
    raise AssertionError("no link in the message")


def extract_otp(message: EmailMessage) -> str:
    """The first 6–10 digit code outside any URL or email address of the message."""
    for body in (text_part(message), html_part(message)):
        text = _URL.sub(" ", html.unescape(re.sub(r"<[^>]+>", " ", body)))
        match = _CODE.search(_ADDRESS.sub(" ", text))
        if match:
            return match.group(0)
    raise AssertionError("no code in the message")


def read_mbox(path: str | Path) -> list[EmailMessage]:
    """The messages of a development inbox file (`PYTRUE_DEV_INBOX_FILE`), oldest first.

    Useful when pytrue runs as a separate process (e2e) without SMTP.
    """
    if not Path(path).exists():
        return []
    parsed = [message_from_bytes(raw.as_bytes(), policy=policy.default) for raw in mailbox.mbox(str(path))]
    return [message for message in parsed if isinstance(message, EmailMessage)]
