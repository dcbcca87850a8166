"""The `pytrue` CLI reuses the use cases on a real database: migrate, create, list, ban."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from pgcluster import PgDatabase

SECRET = "cli-test-secret-that-is-long-enough-0123456789"


def _pytrue(database: PgDatabase, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOTRUE_") and k != "DATABASE_URL"}
    env.update(
        GOTRUE_SITE_URL="http://localhost:3000",
        API_EXTERNAL_URL="http://localhost:9999",
        GOTRUE_JWT_SECRET=SECRET,
        GOTRUE_JWT_AUD="authenticated",
        GOTRUE_JWT_DEFAULT_GROUP_NAME="authenticated",
        GOTRUE_DB_DRIVER="postgres",
        DATABASE_URL=database.dsn,
        GOTRUE_PASSWORD_HASH_ARGON2_MEMORY="64",
        GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "pytrue", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cli_migrates_creates_lists_and_bans(fresh_db: PgDatabase, tmp_path: Path) -> None:
    migrated = _pytrue(fresh_db, tmp_path, "migrate")
    assert migrated.returncode == 0 and "0001_auth_schema" in migrated.stdout, migrated.stderr
    assert "up to date" in _pytrue(fresh_db, tmp_path, "migrate").stdout
    created = _json(
        _pytrue(fresh_db, tmp_path, "users", "create", "--email", "Ops@Example.com", "--password", "ops-pass", "--confirm")
    )
    assert created["email"] == "ops@example.com" and created["email_confirmed_at"]
    listed = _json(_pytrue(fresh_db, tmp_path, "users", "list"))
    assert listed["total"] == 1 and listed["users"][0]["id"] == created["id"]
    banned = _json(_pytrue(fresh_db, tmp_path, "users", "ban", created["id"], "--duration", "1h"))
    assert banned["banned_until"]
    lifted = _json(_pytrue(fresh_db, tmp_path, "users", "ban", created["id"], "--duration", "none"))
    assert "banned_until" not in lifted
    duplicate = _pytrue(fresh_db, tmp_path, "users", "create", "--email", "ops@example.com")
    assert duplicate.returncode == 1 and "email_exists" in duplicate.stderr


def test_cli_outbox_shows_what_waits_and_fails_while_mail_is_failing(fresh_db: PgDatabase, tmp_path: Path) -> None:
    assert _pytrue(fresh_db, tmp_path, "migrate").returncode == 0
    empty = _json(_pytrue(fresh_db, tmp_path, "outbox"))
    assert empty == {"queued": 0, "failing": 0, "oldest_age_seconds": 0.0, "last_error": ""}
    with psycopg.connect(fresh_db.dsn, autocommit=True) as conn:
        conn.execute(
            "insert into auth.pytrue_mail_outbox (kind, payload, created_at, next_attempt_at, attempts, last_error) "
            "values ('recovery', '{}', now() - interval '90 seconds', now(), 3, "
            "'SMTP delivery failed at connect: ConnectionRefusedError')"
        )
    failing = _pytrue(fresh_db, tmp_path, "outbox")
    assert failing.returncode == 1, failing.stderr
    status = json.loads(failing.stdout)
    assert (status["queued"], status["failing"], status["last_error"]) == (
        1, 1, "SMTP delivery failed at connect: ConnectionRefusedError"
    )  # fmt: skip
    assert status["oldest_age_seconds"] >= 90
