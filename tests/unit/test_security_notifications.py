"""Security notifications below HTTP: the switches, the outbox payload, the template data, and what
the SMTP conversation log shows (docs/adr/0031). The flows themselves: tests/contract/security_notifications.py."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

import pytest
from support.app import make_settings

from pytrue.adapters.mail.smtp import Conversation
from pytrue.adapters.mail.template_mailer import TemplateMailer
from pytrue.application.ports import (
    MAIL_EMAIL_CHANGED,
    MAIL_IDENTITY_UNLINKED,
    MAIL_MFA_FACTOR_ENROLLED,
    MAIL_PASSWORD_CHANGED,
    MAIL_PHONE_CHANGED,
    NOTIFICATION_KINDS,
    Mail,
)
from pytrue.domain.user import User
from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.settings import SettingsError

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def switch(kind: str) -> str:
    return f"GOTRUE_MAILER_NOTIFICATIONS_{kind.removesuffix('_notification').upper()}_ENABLED"


def test_every_kind_is_off_by_default_and_has_its_own_switch() -> None:
    assert len(NOTIFICATION_KINDS) == 7
    defaults = make_settings().mailer.notifications
    assert not any(defaults.enabled(kind) for kind in NOTIFICATION_KINDS)
    for kind in NOTIFICATION_KINDS:
        notifications = make_settings({switch(kind): "true"}).mailer.notifications
        assert [k for k in NOTIFICATION_KINDS if notifications.enabled(k)] == [kind]
    assert not defaults.enabled("confirmation") and not defaults.enabled("no_such_notification")


@pytest.mark.parametrize("value", ["maybe", "yes please", "2", "on"])
def test_a_switch_that_is_no_boolean_stops_the_start(value: str) -> None:
    name = switch(MAIL_PASSWORD_CHANGED)
    with pytest.raises(SettingsError, match=name):
        make_settings({name: value})


def test_smtp_logging_is_off_by_default_and_a_bad_value_is_refused() -> None:
    assert make_settings().smtp.logging_enabled is False
    assert make_settings({"GOTRUE_SMTP_LOGGING_ENABLED": "true"}).smtp.logging_enabled is True
    with pytest.raises(SettingsError, match="GOTRUE_SMTP_LOGGING_ENABLED"):
        make_settings({"GOTRUE_SMTP_LOGGING_ENABLED": "loud"})


def test_the_payload_keeps_what_changed_and_reads_rows_written_before_it_existed() -> None:
    mail = Mail(kind=MAIL_PHONE_CHANGED, to="a@example.com", email="a@example.com", phone="15550002", old_phone="15550001")
    payload = mail.payload()
    assert payload["phone"] == "15550002" and payload["old_phone"] == "15550001" and "provider" not in payload
    assert Mail.from_payload(payload) == mail
    old_row = {"kind": "recovery", "to": "a@example.com", "otp": "123456", "data": {}}
    assert Mail.from_payload(old_row).old_email == "" and "old_email" not in Mail.from_payload(old_row).payload()


def mailer() -> TemplateMailer:
    built = build_container(make_settings()).core.mailer()
    assert isinstance(built, TemplateMailer)
    return built


def test_template_data_is_gotrues_per_kind_without_code_or_link() -> None:
    user = User(id=uuid.uuid4(), email="new@example.com", user_metadata={"name": "Ada"}, created_at=NOW, updated_at=NOW)
    base = {"SiteURL": "http://localhost:3000", "Email": "new@example.com", "Data": {"name": "Ada"}}
    changed = Mail.for_user(user, kind=MAIL_EMAIL_CHANGED, to="old@example.com", old_email="old@example.com")
    assert mailer().data(changed, "") == {**base, "OldEmail": "old@example.com"}
    enrolled = Mail.for_user(user, kind=MAIL_MFA_FACTOR_ENROLLED, to="new@example.com", factor_type="webauthn")
    assert mailer().data(enrolled, "") == {**base, "FactorType": "webauthn"}
    assert mailer().data(Mail.for_user(user, kind=MAIL_PASSWORD_CHANGED, to="new@example.com"), "") == base
    unlinked = Mail(kind=MAIL_IDENTITY_UNLINKED, to="old@example.com", email="old@example.com", provider="github")
    assert mailer().data(unlinked, "") == {**base, "Email": "old@example.com", "Data": {}, "Provider": "github"}
    assert mailer().link(changed) == ""


def conversation_lines(caplog: pytest.LogCaptureFixture, exchange: list[tuple[str, str, int, bytes]]) -> list[str]:
    caplog.set_level(logging.INFO, logger="pytrue.smtp")
    talk = Conversation("mx.example.com:587")
    for cmd, args, code, reply in exchange:
        if cmd:
            talk.sent(cmd, args)
        talk.replied(code, reply)
    return [r.getMessage().removeprefix("smtp mx.example.com:587: ") for r in caplog.records if r.name == "pytrue.smtp"]


def test_the_conversation_hides_auth_data_and_unknown_commands(caplog: pytest.LogCaptureFixture) -> None:
    lines = conversation_lines(
        caplog,
        [
            ("", "", 220, b"mx.example.com ESMTP ready"),
            ("ehlo", "localhost", 250, b"mx.example.com\nAUTH PLAIN LOGIN\nSTARTTLS"),
            ("AUTH", "LOGIN", 334, b"VXNlcm5hbWU6"),
            ("dXNlcg==", "", 334, b"UGFzc3dvcmQ6"),
            ("c2VjcmV0", "", 235, b"2.7.0 Authentication successful"),
            ("AUTH", "PLAIN AHVzZXIAc2VjcmV0", 503, b"already authenticated"),
            ("XCLIENT", "ADDR=10.0.0.1", 250, b"ok"),
            ("mail", "FROM:<admin@example.com>", 250, b"2.1.0 Ok"),
            ("data", "", 354, b"go ahead"),
            ("", "", 250, b"2.0.0 Ok: queued as ABC123"),
        ],
    )
    assert lines == [
        "(greeting) -> 220 mx.example.com ESMTP ready",
        "EHLO localhost -> 250 mx.example.com",
        "AUTH LOGIN -> 334",
        "(auth response) -> 334",
        "(auth response) -> 235",
        "AUTH PLAIN -> 503",
        "(command) -> 250 ok",
        "MAIL FROM:<admin@example.com> -> 250 2.1.0 Ok",
        "DATA -> 354 go ahead",
        "(end of data) -> 250 2.0.0 Ok: queued as ABC123",
    ]
    logged = "\n".join(lines)
    for secret in ("dXNlcg==", "c2VjcmV0", "AHVzZXIAc2VjcmV0", "VXNlcm5hbWU6", "UGFzc3dvcmQ6", "10.0.0.1"):
        assert secret not in logged
