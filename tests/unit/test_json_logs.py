"""The JSON log lines (GoTrue's logrus JSON), the redaction filter, GOTRUE_LOG_FILE and the log level.

HTTP request lines are pinned in tests/contract/request_logs.py, the whole-flow secret scan in
tests/security/test_secrets_in_logs.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from pytrue.domain.audit import Actor, AuditLogEntry
from pytrue.entrypoints import json_logs as observability
from pytrue.entrypoints.json_logs import (
    REDACTED,
    JsonFormatter,
    Redaction,
    RequestLog,
    configure_logging,
    configured_secrets,
    log_audit_entries,
)
from support.app import BASE_ENV, JWT_SECRET, make_settings
from support.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PSR5sokaEkVc"


def record(msg: str, *args: Any, level: int = logging.INFO, name: str = "pytrue.http", **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord(name, level, __file__, 1, msg, args or None, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def line(rec: logging.LogRecord, redaction: Redaction | None = None) -> dict[str, Any]:
    if redaction is not None:
        assert redaction.filter(rec) is True  # scrubs, never drops
    text = JsonFormatter().format(rec)
    assert "\n" not in text
    return json.loads(text)


# --- the formatter ------------------------------------------------------------------------------


def test_a_line_has_gotrues_keys_sorted_with_an_rfc3339_utc_time() -> None:
    rec = record("hello %s", "world", fields={"status": 200, "path": "/user"})
    rec.created = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc).timestamp()
    text = JsonFormatter().format(rec)
    assert json.loads(text) == {
        "component": "api", "level": "info", "msg": "hello world", "path": "/user", "status": 200,
        "time": "2026-01-02T03:04:05Z",
    }  # fmt: skip
    assert list(json.loads(text)) == sorted(json.loads(text))


@pytest.mark.parametrize(
    ("level", "name"),
    [(50, "fatal"), (40, "error"), (30, "warning"), (20, "info"), (10, "debug"), (5, "trace")],
)
def test_levels_carry_logrus_names(level: int, name: str) -> None:
    assert line(record("x", level=level))["level"] == name


@pytest.mark.parametrize(
    ("logger", "component"),
    [("pytrue", "api"), ("pytrue.http", "api"), ("pytrue.mail", "mail"), ("pytrue.postgres", "postgres"), ("granian", "granian")],
)
def test_the_component_comes_from_the_logger_unless_a_field_names_it(logger: str, component: str) -> None:
    assert line(record("x", name=logger))["component"] == component
    assert line(record("x", name=logger, fields={"component": "sql"}))["component"] == "sql"


def test_a_line_logged_during_a_request_carries_its_request_id() -> None:
    token = observability.current.set(RequestLog("req-42"))
    try:
        assert line(record("inside"))["request_id"] == "req-42"
    finally:
        observability.current.reset(token)
    assert "request_id" not in line(record("outside"))


def test_an_exception_becomes_error_and_stack_fields() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("pytrue", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    out = line(rec, Redaction())
    assert out["error"] == "ValueError: boom" and "Traceback" in out["stack"] and out["msg"] == "failed"


def test_values_json_cannot_hold_are_written_as_text() -> None:
    out = line(record("x", fields={"id": UUID(int=1), "at": datetime(2026, 1, 1, tzinfo=timezone.utc), "obj": object()}))
    assert out["id"] == "00000000-0000-0000-0000-000000000001" and out["at"].startswith("2026-01-01T00:00:00")
    assert out["obj"].startswith("<object")


# --- redaction ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"token {JWT} seen", "token [REDACTED] seen"),
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer [REDACTED]"),
        ("Authorization: bearer opaque-credential-123", "Authorization: bearer [REDACTED]"),
        ("GET /verify?token=abc123def&type=signup", "GET /verify?token=[REDACTED]&type=signup"),
        ("/callback?code=4f1c2a&state=xyz", "/callback?code=[REDACTED]&state=xyz"),
        ("body password=hunter22 refresh_token=r3fr3sh", "body password=[REDACTED] refresh_token=[REDACTED]"),
        ('{"password": "hunter22", "email": "a@b.c"}', '{"password": "[REDACTED]", "email": "a@b.c"}'),
        ("{'token_hash': 'abc', 'type': 'email'}", "{'token_hash': '[REDACTED]', 'type': 'email'}"),
        ("error_code=bad_jwt status=403", "error_code=bad_jwt status=403"),  # not a secret key
        ("nothing to see", "nothing to see"),
    ],
)
def test_the_filter_scrubs_secrets_out_of_the_message(text: str, kept: str) -> None:
    assert line(record(text), Redaction())["msg"] == kept


def test_the_filter_scrubs_arguments_too() -> None:
    out = line(record("verify %s with %s", f"token={JWT[:20]}", JWT), Redaction())
    assert out["msg"] == f"verify token={REDACTED} with {REDACTED}"


def test_fields_under_secret_keys_are_redacted_at_any_depth() -> None:
    fields = {
        "password": "hunter22",
        "status": 400,
        "auth_event": {"action": "login", "traits": {"refresh_token": "r3fr3sh", "provider": "email", "client_secret": "s"}},
        "referer": "http://localhost:3000/cb?code=abc123",
        "items": [{"otp": "123456"}, JWT],
        "empty_token": "",
    }
    out = line(record("x", fields=fields), Redaction())
    assert out["password"] == REDACTED and out["status"] == 400
    assert out["auth_event"] == {"action": "login", "traits": {"refresh_token": REDACTED, "provider": "email", "client_secret": REDACTED}}
    assert out["referer"] == f"http://localhost:3000/cb?code={REDACTED}"
    assert out["items"] == [{"otp": REDACTED}, REDACTED]
    assert out["empty_token"] == ""


def test_configured_secrets_are_scrubbed_wherever_they_appear() -> None:
    hook_key = "c2VjcmV0LWhvb2sta2V5LWZvci10ZXN0cy0xMjM0NTY="
    settings = make_settings(
        {
            "DATABASE_URL": "postgres://auth:db-pass-9876@db.example/postgres",
            "GOTRUE_SMTP_PASS": "smtp-pass-5555",
            "GOTRUE_HOOK_SEND_SMS_ENABLED": "true",
            "GOTRUE_HOOK_SEND_SMS_URI": "https://hooks.example/send",
            "GOTRUE_HOOK_SEND_SMS_SECRETS": f"v1,whsec_{hook_key}",
        }
    )
    secrets = configured_secrets(settings)
    assert {JWT_SECRET, "db-pass-9876", "smtp-pass-5555", hook_key} <= secrets
    redaction = Redaction(secrets)
    text = f"jwt {JWT_SECRET} dsn postgres://auth:db-pass-9876@db.example smtp smtp-pass-5555 hook {hook_key}"
    out = line(record(text, fields={"note": f"again {JWT_SECRET}"}), redaction)
    for secret in (JWT_SECRET, "db-pass-9876", "smtp-pass-5555", hook_key):
        assert secret not in json.dumps(out)
    assert out["note"] == f"again {REDACTED}"


def test_the_development_transports_keep_their_links_but_lose_jwts_and_configured_secrets() -> None:
    redaction = Redaction({JWT_SECRET})
    text = f"development inbox: recovery message for a@b.c: http://x/verify?token=abc123&type=recovery {JWT} {JWT_SECRET}"
    out = line(record(text, dev_delivery=True), redaction)
    assert out["msg"] == f"development inbox: recovery message for a@b.c: http://x/verify?token=abc123&type=recovery {REDACTED} {REDACTED}"


def test_an_exception_message_is_scrubbed() -> None:
    try:
        raise RuntimeError(f"failed with password=hunter22 and {JWT}")
    except RuntimeError:
        rec = logging.LogRecord("pytrue", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    out = line(rec, Redaction())
    assert "hunter22" not in json.dumps(out) and JWT not in json.dumps(out)
    assert out["error"] == f"RuntimeError: failed with password={REDACTED} and {REDACTED}"


# --- audit events -------------------------------------------------------------------------------


def test_each_committed_audit_entry_is_an_audit_event_line_and_the_request_keeps_the_last(caplog: Any) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    actor = Actor(id=UUID(int=7), username="a@example.com", name="Ann")
    entries = [
        AuditLogEntry.record(entry_id=UUID(int=1), actor=actor, action="token_revoked", now=now, ip_address="10.0.0.1"),
        AuditLogEntry.record(entry_id=UUID(int=2), actor=actor, action="token_refreshed", now=now, ip_address="10.0.0.1"),
    ]
    request = RequestLog("req-7", "agent/1.0")
    token = observability.current.set(request)
    try:
        with caplog.at_level(logging.INFO, logger="pytrue.audit"):
            log_audit_entries(entries)
    finally:
        observability.current.reset(token)
    events = [r.fields["auth_audit_event"] for r in caplog.records if r.getMessage() == "audit_event"]
    assert [e["action"] for e in events] == ["token_revoked", "token_refreshed"]
    assert events[1] == {
        "actor_id": str(UUID(int=7)), "actor_username": "a@example.com", "actor_via_sso": False, "actor_name": "Ann",
        "action": "token_refreshed", "log_type": "token", "audit_log_id": str(UUID(int=2)), "ip_address": "10.0.0.1",
        "created_at": now, "request_id": "req-7", "user_agent": "agent/1.0",
    }  # fmt: skip
    assert request.auth_event == entries[1].payload


def test_no_audit_line_is_built_when_info_is_filtered_out(caplog: Any) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    entry = AuditLogEntry.record(entry_id=UUID(int=1), actor=Actor(id=UUID(int=7), username="a"), action="login", now=now)
    with caplog.at_level(logging.WARNING, logger="pytrue.audit"):
        log_audit_entries([entry])
    assert caplog.records == []


# --- configure_logging, GOTRUE_LOG_FILE, GOTRUE_LOG_LEVEL ---------------------------------------------


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(text) for text in path.read_text().splitlines()]


def test_log_file_appends_json_lines_and_a_second_configuration_replaces_the_handler(tmp_path: Path, restore_root: None) -> None:
    path = tmp_path / "auth.log"
    path.write_text('{"earlier":"line"}\n')
    settings = make_settings({"LOG_FILE": str(path), "GOTRUE_LOG_LEVEL": "warn"})
    assert settings.logging.file == str(path)
    configure_logging(settings)
    logging.getLogger("pytrue.mail").info("dropped: under the level")
    logging.getLogger("pytrue.mail").warning("kept with password=hunter22 and %s", JWT_SECRET)
    configure_logging(settings)  # again: still one handler of ours
    logging.getLogger("pytrue").error("second")
    lines = read_lines(path)
    assert lines[0] == {"earlier": "line"}
    assert [(x["level"], x["msg"], x["component"]) for x in lines[1:]] == [
        ("warning", f"kept with password={REDACTED} and {REDACTED}", "mail"),
        ("error", "second", "api"),
    ]
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_pytrue", False)]
    assert len(ours) == 1


def test_log_file_in_a_missing_directory_fails_to_configure(tmp_path: Path, restore_root: None) -> None:
    with pytest.raises(OSError):
        configure_logging(make_settings({"GOTRUE_LOG_FILE": str(tmp_path / "missing" / "auth.log")}))


def test_disable_colors_is_accepted(restore_root: None) -> None:
    assert make_settings({"GOTRUE_LOG_DISABLE_COLORS": "true"}).logging.disable_colors is True
    assert make_settings().logging.disable_colors is False


def serve_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOTRUE_", "PYTRUE_"))}
    env.update(BASE_ENV)
    env.update(extra)
    return env


def test_serve_refuses_to_start_when_the_log_file_cannot_be_opened(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "auth.log"
    done = subprocess.run(
        [sys.executable, "-m", "pytrue", "serve"], env=serve_env(GOTRUE_LOG_FILE=str(missing)),
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "GOTRUE_LOG_FILE" in done.stderr and str(missing) in done.stderr


def test_serve_writes_its_json_lines_to_the_log_file(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    port = free_port()
    env = serve_env(GOTRUE_LOG_FILE=str(path), GOTRUE_API_PORT=str(port), GOTRUE_API_REQUEST_ID_HEADER="X-Request-Id")
    server = subprocess.Popen(
        [sys.executable, "-m", "pytrue", "serve", "--host", "127.0.0.1", "--workers", "1"], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/settings", headers={"X-Request-Id": "from-the-proxy"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "pytrue serve did not answer within 60 s"
                time.sleep(0.2)
        assert response.status_code == 200 and response.headers["x-request-id"] == "from-the-proxy"
        while not any(x.get("msg") == "request completed" for x in read_lines(path)):
            assert time.monotonic() < deadline, path.read_text()
            time.sleep(0.1)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
    lines = read_lines(path)
    assert any(re.match(r"pytrue listening on http://127\.0\.0\.1:\d+", x["msg"]) for x in lines), lines
    (done,) = [x for x in lines if x.get("msg") == "request completed"]
    assert done["path"] == "/settings" and done["request_id"] == "from-the-proxy" and done["status"] == 200
    assert done["remote_addr"] == "127.0.0.1" and done["level"] == "info" and done["component"] == "api"
    assert b'"msg"' not in stderr  # the lines went to the file, not to standard error
