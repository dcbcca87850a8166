"""The template mailer without SMTP: links, template data, the development inbox and its mbox file."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from support.app import make_settings
from support.smtp import extract_link, extract_otp, read_mbox

from pytrue.adapters.mail.dev import DevTransport
from pytrue.adapters.mail.inbox import DevInbox
from pytrue.adapters.mail.template_mailer import TemplateMailer, action_link, html_to_text
from pytrue.domain.links import encode_redirect
from pytrue.application.ports import (
    MAIL_CONFIRMATION,
    MAIL_EMAIL_CHANGE,
    MAIL_INVITE,
    MAIL_MAGIC_LINK,
    MAIL_REAUTHENTICATION,
    MAIL_RECOVERY,
    Mail,
)
from pytrue.domain.user import User
from pytrue.entrypoints.containers import build_container

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
HASH = "0123abcd" * 7


def dev_mailer(env: dict[str, str] | None = None) -> tuple[TemplateMailer, DevInbox]:
    container = build_container(make_settings(env))
    built = container.core.mailer()
    assert isinstance(built, TemplateMailer) and isinstance(built.transport, DevTransport)
    inbox = container.core.dev_inbox()
    assert built.transport.inbox is inbox
    return built, inbox


def mail(kind: str, link_type: str = "", **fields: Any) -> Mail:
    user = User(
        id=uuid.uuid4(),
        email=fields.pop("email", "ada@example.com"),
        user_metadata=fields.pop("metadata", {}),
        created_at=NOW,
        updated_at=NOW,
    )
    values: dict[str, Any] = {
        "to": user.email,
        "otp": "123456",
        "token_hash": HASH if link_type else "",
        "redirect_to": "http://localhost:3000" if link_type else "",
    }
    values.update(fields)
    return Mail.for_user(user, kind=kind, link_type=link_type, **values)


@pytest.mark.parametrize(
    ("external", "path", "expected"),
    [
        ("http://localhost:9999", "/verify", "http://localhost:9999/verify"),
        ("https://abc.supabase.co/auth/v1", "/verify", "https://abc.supabase.co/verify"),
        ("https://abc.supabase.co/auth/v1", "/auth/v1/verify", "https://abc.supabase.co/auth/v1/verify"),
        ("https://abc.supabase.co/auth/v1/", "verify", "https://abc.supabase.co/auth/v1/verify"),
        ("https://abc.supabase.co/auth/v1", "https://links.example.com/go", "https://links.example.com/go"),
        ("http://localhost:9999", "/verify?x=1#frag", "http://localhost:9999/verify"),
    ],
)
def test_link_target_resolution(external: str, path: str, expected: str) -> None:
    assert action_link(external, path, HASH, "signup", "http://a") == (
        f"{expected}?token={HASH}&type=signup&redirect_to=http://a"
    )


@pytest.mark.parametrize(
    ("redirect_to", "encoded"),
    [
        ("http://localhost:3000/welcome", "http://localhost:3000/welcome"),
        ("http://localhost:3000/a b?c", "http://localhost:3000/a b?c"),
        ("http://localhost:3000/?a=1&b=2", "http%3A%2F%2Flocalhost%3A3000%2F%3Fa%3D1%26b%3D2"),
        ("http://x/#frag", "http%3A%2F%2Fx%2F%23frag"),
        ("http://x/?q=a b~", "http%3A%2F%2Fx%2F%3Fq%3Da+b~"),
    ],
)
def test_redirect_to_is_verbatim_unless_it_holds_query_characters(redirect_to: str, encoded: str) -> None:
    assert encode_redirect(redirect_to) == encoded


@pytest.mark.parametrize(
    ("kind", "link_type", "path_variable", "subject"),
    [
        (MAIL_CONFIRMATION, "signup", "GOTRUE_MAILER_URLPATHS_CONFIRMATION", "Confirm your email address"),
        (MAIL_INVITE, "invite", "GOTRUE_MAILER_URLPATHS_INVITE", "You've been invited"),
        (MAIL_RECOVERY, "recovery", "GOTRUE_MAILER_URLPATHS_RECOVERY", "Reset your password"),
        (MAIL_MAGIC_LINK, "magiclink", "GOTRUE_MAILER_URLPATHS_RECOVERY", "Your sign-in link"),
        (MAIL_EMAIL_CHANGE, "email_change", "GOTRUE_MAILER_URLPATHS_EMAIL_CHANGE", "Confirm your new email address"),
    ],
)
async def test_each_kind_uses_its_url_path_and_default_subject(
    kind: str, link_type: str, path_variable: str, subject: str
) -> None:
    mailer, inbox = dev_mailer({path_variable: "/custom/" + kind})
    await mailer.send(mail(kind, link_type, new_email="new@example.com"))

    sent = inbox.latest("ada@example.com", kind)
    assert sent is not None
    link = f"http://localhost:9999/custom/{kind}?token={HASH}&type={link_type}&redirect_to=http://localhost:3000"
    assert sent.link == link
    assert sent.subject == subject
    assert (sent.otp, sent.token_hash, sent.link_type, sent.redirect_to) == (
        "123456",
        HASH,
        link_type,
        "http://localhost:3000",
    )
    assert link in sent.text and link.replace("&", "&amp;") in sent.html
    assert "123456" in sent.text and "123456" in sent.html


async def test_reauthentication_has_the_code_and_no_link() -> None:
    mailer, inbox = dev_mailer()
    await mailer.send(mail(MAIL_REAUTHENTICATION, otp="987654"))
    sent = inbox.latest("ada@example.com")
    assert sent is not None
    assert sent.subject == "987654 is your verification code"
    assert sent.link == "" and "href" not in sent.html and "987654" in sent.text


async def test_email_change_template_data() -> None:
    template = "{{ .Email }}|{{ .NewEmail }}|{{ .SendingTo }}|{{ .TokenHash }}|{{ .RedirectTo }}|{{ .SiteURL }}"
    mailer, inbox = dev_mailer({"GOTRUE_MAILER_SUBJECTS_EMAIL_CHANGE": template})
    await mailer.send(
        mail(MAIL_EMAIL_CHANGE, "email_change", email="old@example.com", to="new@example.com", new_email="new@example.com")
    )
    sent = inbox.latest("new@example.com")
    assert sent is not None
    assert sent.subject == f"old@example.com|new@example.com|new@example.com|{HASH}|http://localhost:3000|http://localhost:3000"


async def test_user_metadata_reaches_templates_escaped_in_html() -> None:
    mailer, inbox = dev_mailer({"GOTRUE_MAILER_SUBJECTS_CONFIRMATION": "Hi {{ .Data.name }}\r\nBcc: x@example.com"})
    await mailer.send(mail(MAIL_CONFIRMATION, "signup", metadata={"name": "<b>Ada</b>"}))
    sent = inbox.latest("ada@example.com")
    assert sent is not None
    assert sent.subject == "Hi <b>Ada</b> Bcc: x@example.com"  # one line, never a header break


async def test_dev_inbox_logs_the_link(caplog: pytest.LogCaptureFixture) -> None:
    mailer, _ = dev_mailer()
    with caplog.at_level(logging.INFO, logger="pytrue.mail"):
        await mailer.send(mail(MAIL_RECOVERY, "recovery"))
    assert f"token={HASH}&type=recovery" in caplog.text


async def test_dev_inbox_file_is_an_mbox_an_operator_can_read(tmp_path: Path) -> None:
    path = tmp_path / "inbox" / "dev.mbox"
    mailer, inbox = dev_mailer({"PYTRUE_DEV_INBOX_FILE": str(path), "GOTRUE_SMTP_ADMIN_EMAIL": "auth@example.com"})
    await mailer.send(mail(MAIL_CONFIRMATION, "signup"))
    await mailer.send(mail(MAIL_REAUTHENTICATION, email="bob@example.com", otp="555111"))

    first, second = read_mbox(path)
    assert first["To"] == "ada@example.com" and first["From"] == "auth@example.com"
    assert first["Subject"] == "Confirm your email address"
    assert extract_link(first) == inbox.messages[0].link
    assert extract_otp(first) == "123456"
    assert second["To"] == "bob@example.com" and extract_otp(second) == "555111"


def test_html_to_text_writes_links_out() -> None:
    html = (
        "<style>p{color:red}</style><h2>Title</h2>\n\n<p>Open   the link:</p>"
        '<p><a href="http://x/?a=1&amp;b=2">Confirm</a></p><p><a href="http://y">http://y</a></p>'
    )
    assert html_to_text(html) == "Title\n\nOpen the link:\n\nConfirm: http://x/?a=1&b=2\n\nhttp://y\n"
