"""GOTRUE_SMTP_LOGGING_ENABLED over a real SMTP server (aiosmtpd), and notices surviving an SMTP outage.

The `pytrue.smtp` lines show each command with the server's reply and GoTrue's `mail.send`
line (type, From, To, Message-ID, outcome); never the credentials, the subject or the body.
"""

from __future__ import annotations

import base64
import logging
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from support.api import MemoryApi
from support.app import make_settings
from support.smtp import SmtpServer, TlsPair, free_port, self_signed_tls, text_part

from pytrue.adapters.mail.smtp import SmtpTransport
from pytrue.adapters.mail.template_mailer import TemplateMailer
from pytrue.application.ports import MAIL_PASSWORD_CHANGED, MAIL_REAUTHENTICATION, Mail, MailDeliveryFailed
from pytrue.domain.user import User
from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app

PASSWORD = f"smtp-pw-{uuid.uuid4().hex}"
LOGIN = f"login-{uuid.uuid4().hex[:12]}"
CODE = "424242"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def tls() -> TlsPair:
    return self_signed_tls()


def reauthentication(to: str = "ada@example.com") -> Mail:
    """Its subject ("424242 is your verification code") and body both carry the code."""
    user = User(id=uuid.uuid4(), email=to, created_at=NOW, updated_at=NOW)
    return Mail.for_user(user, kind=MAIL_REAUTHENTICATION, to=to, otp=CODE)


def mailer(port: int, *, logging_on: bool = True, login: bool = False, **transport: Any) -> TemplateMailer:
    env = {
        "GOTRUE_SMTP_HOST": "127.0.0.1",
        "GOTRUE_SMTP_PORT": str(port),
        "GOTRUE_SMTP_ADMIN_EMAIL": "admin@example.com",
    }
    if logging_on:
        env["GOTRUE_SMTP_LOGGING_ENABLED"] = "true"
    if login:
        env.update(GOTRUE_SMTP_USER=LOGIN, GOTRUE_SMTP_PASS=PASSWORD)
    built = build_container(make_settings(env)).core.mailer()
    assert isinstance(built, TemplateMailer) and isinstance(built.transport, SmtpTransport)
    for name, value in transport.items():
        setattr(built.transport, name, value)
    return built


def smtp_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "pytrue.smtp"]


def assert_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    logged = caplog.text + "\n".join(smtp_lines(caplog))
    secrets = [
        PASSWORD, LOGIN, CODE, "verification code", "Your verification code",
        base64.b64encode(f"\0{LOGIN}\0{PASSWORD}".encode()).decode(),
        base64.b64encode(LOGIN.encode()).decode(), base64.b64encode(PASSWORD.encode()).decode(),
    ]
    for secret in secrets:
        assert secret not in logged, secret


async def test_logging_shows_the_conversation_and_envelope_without_credentials_or_body(
    tls: TlsPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pytrue.smtp")
    with SmtpServer(tls=tls, starttls=True, users={LOGIN: PASSWORD}) as smtp:
        await mailer(smtp.port, login=True, tls_context=tls.client).send(reauthentication())
        message = smtp.wait_for("ada@example.com")
    assert CODE in message["Subject"] and CODE in text_part(message)  # what must not be logged did travel
    lines = smtp_lines(caplog)
    peer = f"smtp 127.0.0.1:{smtp.port}: "
    expected = [
        "(greeting) -> 220",
        "EHLO localhost -> 250",
        "STARTTLS -> 220",
        "EHLO localhost -> 250",
        "AUTH PLAIN -> 235",
        "MAIL FROM:<admin@example.com>",
        "RCPT TO:<ada@example.com> -> 250",
        "DATA -> 354",
        "(end of data) -> 250 Message accepted",
        "QUIT -> 221",
    ]
    conversation = [line.removeprefix(peer) for line in lines[:-1]]
    assert all(line.startswith(peer) for line in lines[:-1]), lines
    assert len(conversation) == len(expected), conversation
    for line, start in zip(conversation, expected):
        assert line.startswith(start), (line, start)
    assert lines[-1] == (
        f"mail.send mail_type=reauthentication mail_from=admin@example.com mail_to=ada@example.com "
        f"message_id={message['Message-ID']} status=sent"
    )
    [summary] = [r for r in caplog.records if r.name == "pytrue.smtp" and r.getMessage().startswith("mail.send")]
    assert summary.levelno == logging.INFO and summary.__dict__["event"] == "mail.send"
    assert summary.__dict__["message_id"] == message["Message-ID"]
    assert_no_secrets(caplog)


async def test_login_auth_hides_both_responses(tls: TlsPair, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pytrue.smtp")
    with SmtpServer(tls=tls, starttls=True, users={LOGIN: PASSWORD}, auth_exclude=("PLAIN",)) as smtp:
        await mailer(smtp.port, login=True, tls_context=tls.client).send(reauthentication())
        smtp.wait_for("ada@example.com")
    auth = [line.split(": ", 1)[1] for line in smtp_lines(caplog) if "AUTH" in line or "(auth response)" in line]
    assert auth == ["AUTH LOGIN -> 334", "(auth response) -> 334", "(auth response) -> 235"]
    assert smtp.auth_attempts == [("LOGIN", LOGIN)]
    assert_no_secrets(caplog)


async def test_nothing_is_logged_when_smtp_logging_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with SmtpServer() as smtp:
        await mailer(smtp.port, logging_on=False).send(reauthentication())
        smtp.wait_for("ada@example.com")
    assert smtp_lines(caplog) == []


async def test_a_refused_recipient_is_logged_as_failed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pytrue.smtp")
    with SmtpServer(refuse=["ada@example.com"]) as smtp:
        with pytest.raises(MailDeliveryFailed):
            await mailer(smtp.port).send(reauthentication())
    lines = smtp_lines(caplog)
    assert any(line.endswith("RCPT TO:<ada@example.com> -> 550 5.1.1 mailbox unavailable") for line in lines), lines
    assert lines[-1].startswith("mail.send mail_type=reauthentication mail_from=admin@example.com mail_to=ada@example.com")
    assert "status=failed (SMTP delivery failed at send: recipient refused)" in lines[-1]
    assert_no_secrets(caplog)


async def test_a_wrong_password_is_logged_as_failed_without_it(tls: TlsPair, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pytrue.smtp")
    with SmtpServer(tls=tls, starttls=True, users={LOGIN: "the-right-one"}) as smtp:
        with pytest.raises(MailDeliveryFailed):
            await mailer(smtp.port, login=True, tls_context=tls.client).send(reauthentication())
    lines = smtp_lines(caplog)
    assert any(line.endswith("AUTH PLAIN -> 535") for line in lines), lines
    assert "status=failed (SMTP delivery failed at auth: server replied 535)" in lines[-1]
    assert_no_secrets(caplog)


async def test_a_server_that_is_down_is_logged_as_failed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pytrue.smtp")
    with pytest.raises(MailDeliveryFailed):
        await mailer(free_port()).send(reauthentication())
    [line] = smtp_lines(caplog)
    assert line.endswith("status=failed (SMTP delivery failed at connect: ConnectionRefusedError)")


class _Collected(logging.Handler):
    """Records of one logger, kept even when the app's logging setup replaces the root's handlers (caplog's)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.INFO)
        self.logger = logging.getLogger(name)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")

    def __enter__(self) -> _Collected:
        self.level_before = self.logger.level
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level_before)


async def test_smtp_down_the_password_change_stands_and_its_notice_is_retried_from_the_outbox() -> None:
    with _Collected("pytrue") as logs:
        message = await _password_change_while_smtp_is_down()
    assert message["Subject"] == "Your password was changed"
    assert "The password for your account was recently changed." in text_part(message)
    sent = [line.removeprefix("pytrue.smtp: ") for line in logs.lines if line.startswith("pytrue.smtp: mail.send")]
    assert sent[0].endswith("status=failed (SMTP delivery failed at connect: ConnectionRefusedError)")
    assert sent[-1] == (
        f"mail.send mail_type={MAIL_PASSWORD_CHANGED} mail_from=admin@example.com mail_to=grace@example.com "
        f"message_id={message['Message-ID']} status=sent"
    )
    assert any("pytrue.smtp: smtp 127.0.0.1:" in line and "(end of data) -> 250" in line for line in logs.lines)
    assert any(line.startswith("pytrue.mail: mail outbox: could not deliver password_changed_notification") for line in logs.lines)
    everything = "\n".join(logs.lines)
    assert "n3w-secret-pass" not in everything and "s3cret-pass" not in everything
    assert "recently changed" not in everything  # the body


async def _password_change_while_smtp_is_down() -> Any:
    port = free_port()  # nothing listens there yet
    settings = make_settings(
        {
            "GOTRUE_SMTP_HOST": "127.0.0.1",
            "GOTRUE_SMTP_PORT": str(port),
            "GOTRUE_SMTP_ADMIN_EMAIL": "admin@example.com",
            "GOTRUE_SMTP_LOGGING_ENABLED": "true",
            "GOTRUE_MAILER_NOTIFICATIONS_PASSWORD_CHANGED_ENABLED": "true",
            "PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL": "20ms",
        }
    )
    container = build_container(settings)
    async with AsyncTestClient(app=create_app(container)) as client:
        api = MemoryApi(client, container)
        session = (await api.signup("grace@example.com", "s3cret-pass")).json()
        changed = await client.put("/user", json={"password": "n3w-secret-pass"}, headers=api.headers(session["access_token"]))
        assert changed.status_code == 200, changed.text
        assert (await api.password_grant("grace@example.com", "n3w-secret-pass")).status_code == 200
        api.settle_mail()
        [queued] = await api.outbox()
        assert queued["kind"] == MAIL_PASSWORD_CHANGED and queued["attempts"] >= 1
        assert "connect: ConnectionRefusedError" in queued["last_error"]

        with SmtpServer(port=port) as smtp:
            await api.drain_mail()
            return smtp.wait_for("grace@example.com")


async def test_implicit_tls_is_logged_the_same_way(tls: TlsPair, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pytrue.smtp")
    with SmtpServer(tls=tls, implicit_tls=True) as smtp:
        await mailer(smtp.port, tls_context=tls.client, implicit_tls=True).send(reauthentication())
        message = smtp.wait_for("ada@example.com")
    lines = smtp_lines(caplog)
    assert "(greeting) -> 220" in lines[0]
    assert not any("STARTTLS" in line for line in lines)
    assert lines[-1].endswith(f"message_id={message['Message-ID']} status=sent")
    assert_no_secrets(caplog)
