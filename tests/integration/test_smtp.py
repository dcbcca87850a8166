"""The template mailer over a real SMTP server (aiosmtpd on a local port).

Checks what a mail client would see (From/To/Subject, both parts, link and code), the
custom subject and headers, STARTTLS, implicit TLS, AUTH, and every failure mode turning
into `MailDeliveryFailed` without the password in the message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from support.api import MemoryApi
from support.app import make_settings
from support.smtp import SmtpServer, TlsPair, extract_link, extract_otp, free_port, html_part, self_signed_tls, text_part

from pytrue.adapters.mail.smtp import SmtpTransport
from pytrue.adapters.mail.template_mailer import TemplateMailer
from pytrue.application.ports import MAIL_CONFIRMATION, MAIL_EMAIL_CHANGE, MAIL_REAUTHENTICATION, Mail, MailDeliveryFailed
from pytrue.domain.one_time_token import token_hash
from pytrue.domain.user import User
from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app

PASSWORD = f"smtp-pw-{uuid.uuid4().hex}"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def user(email: str = "ada@example.com", **metadata: Any) -> User:
    return User(id=uuid.uuid4(), email=email, user_metadata=dict(metadata), created_at=NOW, updated_at=NOW)


def confirmation(to: str = "ada@example.com", otp: str = "123456", **metadata: Any) -> Mail:
    return Mail.for_user(
        user(to, **metadata),
        kind=MAIL_CONFIRMATION,
        to=to,
        otp=otp,
        token_hash=token_hash(to, otp),
        link_type="signup",
        redirect_to="http://localhost:3000/welcome",
    )


def mailer(port: int, env: dict[str, str] | None = None, **transport: Any) -> TemplateMailer:
    settings = make_settings(
        {
            "GOTRUE_SMTP_HOST": "127.0.0.1",
            "GOTRUE_SMTP_PORT": str(port),
            "GOTRUE_SMTP_ADMIN_EMAIL": "admin@example.com",
            "GOTRUE_SMTP_SENDER_NAME": "Example Auth",
            **(env or {}),
        }
    )
    built = build_container(settings).core.mailer()
    assert isinstance(built, TemplateMailer) and isinstance(built.transport, SmtpTransport)
    for name, value in transport.items():
        setattr(built.transport, name, value)
    return built


@pytest.fixture(scope="module")
def tls() -> TlsPair:
    return self_signed_tls()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


async def test_confirmation_arrives_with_both_parts_link_and_code(smtp: SmtpServer) -> None:
    await mailer(smtp.port).send(confirmation())

    message = smtp.wait_for("ada@example.com")
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Example Auth", "admin@example.com")
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Confirm your email address"
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] and message["Date"]
    expected = (
        "http://localhost:9999/verify?token=" + token_hash("ada@example.com", "123456")
        + "&type=signup&redirect_to=http://localhost:3000/welcome"
    )
    assert expected in text_part(message)
    assert expected.replace("&", "&amp;") in html_part(message)
    assert extract_link(message) == expected
    assert extract_otp(message) == "123456"
    mail_from, recipients, authenticated = smtp.envelopes[-1]
    assert (mail_from, recipients, authenticated) == ("admin@example.com", ["ada@example.com"], False)


async def test_custom_subject_url_path_and_headers(smtp: SmtpServer) -> None:
    env = {
        "GOTRUE_MAILER_SUBJECTS_CONFIRMATION": "{{ if .Data.name }}Welcome {{ .Data.name }}{{ else }}Welcome{{ end }}",
        "GOTRUE_MAILER_URLPATHS_CONFIRMATION": "/auth/v1/verify",
        "GOTRUE_SMTP_HEADERS": '{"X-Mail-Kind": ["gotrue-$messageType"], "X-Tags": ["a", "b"]}',
    }
    await mailer(smtp.port, env).send(confirmation(name="Ada <3"))

    message = smtp.wait_for("ada@example.com")
    assert message["Subject"] == "Welcome Ada <3"
    assert message["X-Mail-Kind"] == "gotrue-confirmation"
    assert message.get_all("X-Tags") == ["a", "b"]
    assert extract_link(message).startswith("http://localhost:9999/auth/v1/verify?token=")


async def test_reauthentication_carries_the_code_only(smtp: SmtpServer) -> None:
    mail = Mail.for_user(user(), kind=MAIL_REAUTHENTICATION, to="ada@example.com", otp="654321")
    await mailer(smtp.port, {"GOTRUE_SMTP_HEADERS": '{"X-Kind": ["$messageType"]}'}).send(mail)

    message = smtp.wait_for("ada@example.com")
    assert message["Subject"] == "654321 is your verification code"
    assert message["X-Kind"] == "reauthenticate"
    assert extract_otp(message) == "654321"
    assert "token=" not in text_part(message) and "href" not in html_part(message)


async def test_email_change_copy_names_both_addresses(smtp: SmtpServer) -> None:
    mail = Mail.for_user(
        user("old@example.com"),
        kind=MAIL_EMAIL_CHANGE,
        to="new@example.com",
        otp="111222",
        token_hash=token_hash("new@example.com", "111222"),
        link_type="email_change",
        redirect_to="http://localhost:3000/?a=1&b=2",
        new_email="new@example.com",
    )
    await mailer(smtp.port).send(mail)

    message = smtp.wait_for("new@example.com")
    assert message["Subject"] == "Confirm your new email address"
    text = text_part(message)
    assert "old@example.com" in text and "new@example.com" in text
    assert extract_link(message).endswith(
        "&type=email_change&redirect_to=http%3A%2F%2Flocalhost%3A3000%2F%3Fa%3D1%26b%3D2"
    )


async def test_starttls_is_used_when_offered(tls: TlsPair) -> None:
    with SmtpServer(tls=tls, starttls=True) as smtp:
        await mailer(smtp.port, tls_context=tls.client).send(confirmation())
        assert extract_otp(smtp.wait_for("ada@example.com")) == "123456"


async def test_starttls_with_an_untrusted_certificate_fails(tls: TlsPair) -> None:
    with SmtpServer(tls=tls, starttls=True) as smtp:
        with pytest.raises(MailDeliveryFailed, match="starttls"):
            await mailer(smtp.port).send(confirmation())
        assert smtp.messages == []


async def test_implicit_tls(tls: TlsPair) -> None:
    with SmtpServer(tls=tls, implicit_tls=True) as smtp:
        await mailer(smtp.port, tls_context=tls.client, implicit_tls=True).send(confirmation())
        assert extract_otp(smtp.wait_for("ada@example.com")) == "123456"


async def test_auth_over_starttls_with_the_right_password(tls: TlsPair) -> None:
    with SmtpServer(tls=tls, starttls=True, users={"mailer": PASSWORD}) as smtp:
        env = {"GOTRUE_SMTP_USER": "mailer", "GOTRUE_SMTP_PASS": PASSWORD}
        await mailer(smtp.port, env, tls_context=tls.client).send(confirmation())
        smtp.wait_for("ada@example.com")
        assert smtp.auth_attempts == [("PLAIN", "mailer")]
        assert smtp.envelopes[-1][2] is True


async def test_auth_falls_back_to_login_when_plain_is_not_offered(tls: TlsPair) -> None:
    with SmtpServer(tls=tls, starttls=True, users={"mailer": PASSWORD}, auth_exclude=("PLAIN",)) as smtp:
        env = {"GOTRUE_SMTP_USER": "mailer", "GOTRUE_SMTP_PASS": PASSWORD}
        await mailer(smtp.port, env, tls_context=tls.client).send(confirmation())
        smtp.wait_for("ada@example.com")
        assert smtp.auth_attempts == [("LOGIN", "mailer")]


def test_port_465_means_implicit_tls() -> None:
    assert SmtpTransport(host="smtp.example.com", port=465)._implicit is True
    assert SmtpTransport(host="smtp.example.com", port=587)._implicit is False


async def test_auth_on_loopback_without_tls() -> None:
    with SmtpServer(users={"mailer": PASSWORD}) as smtp:
        env = {"GOTRUE_SMTP_USER": "mailer", "GOTRUE_SMTP_PASS": PASSWORD}
        await mailer(smtp.port, env).send(confirmation())
        assert smtp.wait_for("ada@example.com")["To"] == "ada@example.com"


async def test_wrong_password_fails_without_revealing_it(tls: TlsPair, caplog: pytest.LogCaptureFixture) -> None:
    with SmtpServer(tls=tls, starttls=True, users={"mailer": "the-right-one"}) as smtp:
        env = {"GOTRUE_SMTP_USER": "mailer", "GOTRUE_SMTP_PASS": PASSWORD}
        with pytest.raises(MailDeliveryFailed) as failure:
            await mailer(smtp.port, env, tls_context=tls.client).send(confirmation())
        assert "535" in str(failure.value) and "auth" in str(failure.value)
        assert PASSWORD not in str(failure.value) and failure.value.__cause__ is None
        assert PASSWORD not in caplog.text
        assert smtp.messages == []


async def test_credentials_are_not_sent_in_clear_to_a_remote_host() -> None:
    transport = SmtpTransport(host="192.0.2.1", port=25, user="u", password=PASSWORD, sender="a@example.com")
    client = _FakeClient()
    with pytest.raises(MailDeliveryFailed, match="without TLS"):
        transport._login(client, encrypted=False)  # type: ignore[arg-type]
    assert client.auth_calls == 0


class _FakeClient:
    esmtp_features = {"auth": "PLAIN LOGIN"}

    def __init__(self) -> None:
        self.auth_calls = 0

    def has_extn(self, name: str) -> bool:
        return name in self.esmtp_features

    def auth(self, *args: Any, **kwargs: Any) -> None:
        self.auth_calls += 1


async def test_server_down_fails() -> None:
    with pytest.raises(MailDeliveryFailed, match="connect: ConnectionRefusedError"):
        await mailer(free_port()).send(confirmation())


async def test_refused_recipient_fails() -> None:
    with SmtpServer(refuse=["ada@example.com"]) as smtp:
        with pytest.raises(MailDeliveryFailed, match="550|refused"):
            await mailer(smtp.port).send(confirmation())
        assert smtp.messages == []


async def test_signup_over_http_delivers_the_confirmation_by_smtp(smtp: SmtpServer) -> None:
    settings = make_settings(
        {
            "GOTRUE_MAILER_AUTOCONFIRM": "false",
            "GOTRUE_SMTP_HOST": "127.0.0.1",
            "GOTRUE_SMTP_PORT": str(smtp.port),
            "GOTRUE_SMTP_ADMIN_EMAIL": "admin@example.com",
        }
    )
    container = build_container(settings)
    async with AsyncTestClient(app=create_app(container)) as client:
        response = await MemoryApi(client, container).signup("grace@example.com")
    assert response.status_code == 200, response.text

    message = smtp.wait_for("grace@example.com")
    code = extract_otp(message)
    assert extract_link(message).startswith(
        f"http://localhost:9999/verify?token={token_hash('grace@example.com', code)}&type=signup&redirect_to="
    )
    assert container.core.dev_inbox().messages == []  # SMTP only: nothing kept in memory
