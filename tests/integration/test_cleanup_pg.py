"""Database cleanup on PostgreSQL: it never blocks a refresh, skips what a refresh holds, and its CLI.

"Blocked" and "not blocked" are told apart without timing: a refresh that met a row the cleanup
holds would retry on `RowLocked` (recorded here) until it answers 409; a cleanup step that waited
for a row would fail with `lock_timeout` instead of returning its count. The only clock is a
generous `wait_for` so that a regression hangs no longer than that.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
from pgcluster import PgDatabase
from psycopg_pool import AsyncConnectionPool
from support.api import PostgresApi
from support.app import JWT_SECRET

from pytrue.adapters.postgres.cleanup import PgStaleRowCleaner, statement
from pytrue.adapters.postgres.repositories import PgRefreshTokenRepository
from pytrue.adapters.postgres.uow import PgUnitOfWorkFactory
from pytrue.application.ports import RowLocked
from pytrue.domain.cleanup import CleanupRule, StaleRows, cleanup_rules

Cluster = Callable[..., Awaitable[list[PostgresApi]]]
GENEROUS = 10.0
SCHEMA = '"auth"'


def _rule(kind: StaleRows) -> CleanupRule:
    return next(rule for rule in cleanup_rules() if rule.kind is kind)


def _sql(dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def _session_of(body: dict[str, Any]) -> str:
    claims = jwt.decode(
        body["access_token"], JWT_SECRET, algorithms=["HS256"], audience="authenticated", options={"verify_exp": False}
    )
    return str(claims["session_id"])


@pytest.fixture
def lock_misses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every `RowLocked` a refresh meets."""
    misses: list[str] = []
    original = PgRefreshTokenRepository.lock

    async def lock(self: PgRefreshTokenRepository, token: str) -> Any:
        try:
            return await original(self, token)
        except RowLocked:
            misses.append(token)
            raise

    monkeypatch.setattr(PgRefreshTokenRepository, "lock", lock)
    return misses


async def _session_with_old_revoked_tokens(api: PostgresApi, dsn: str, email: str, count: int) -> tuple[str, str]:
    """A signed-in session whose `count` used tokens were revoked two days ago; its live token."""
    body = (await api.signup(email, "s3cret-pass")).json()
    token = body["refresh_token"]
    for _ in range(count):
        response = await api.refresh(token)
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
    session = _session_of(body)
    _sql(
        dsn,
        "UPDATE auth.refresh_tokens SET updated_at = now() - interval '2 days' WHERE session_id = %s AND revoked",
        (session,),
    )
    return session, token


async def test_a_refresh_is_not_blocked_by_an_open_cleanup_step(
    apps: Cluster, database: PgDatabase, lock_misses: list[str]
) -> None:
    (api,) = await apps(1)
    session, live = await _session_with_old_revoked_tokens(api, database.dsn, "busy@example.com", 5)
    other_session, _ = await _session_with_old_revoked_tokens(api, database.dsn, "ended@example.com", 1)
    _sql(database.dsn, "UPDATE auth.sessions SET not_after = now() - interval '4 days' WHERE id = %s", (other_session,))
    now = datetime.now(timezone.utc)

    async with await psycopg.AsyncConnection.connect(database.dsn) as cleanup:  # a transaction, left open
        held = {}
        for kind in (StaleRows.REVOKED_REFRESH_TOKENS, StaleRows.ENDED_SESSIONS):
            rule = _rule(kind)
            cur = await cleanup.execute(
                statement(kind, SCHEMA), {"batch": rule.batch, "cutoff": rule.cutoff(now), "now": now}, prepare=False
            )
            held[kind] = cur.rowcount
        assert held == {StaleRows.REVOKED_REFRESH_TOKENS: 6, StaleRows.ENDED_SESSIONS: 1}

        # the refresh rotates in the very session whose old tokens the cleanup is deleting
        response = await asyncio.wait_for(api.refresh(live), GENEROUS)
        assert response.status_code == 200, response.text
        assert lock_misses == []
        await cleanup.commit()

    tokens = _sql(database.dsn, "SELECT token, revoked FROM auth.refresh_tokens WHERE session_id = %s", (session,))
    assert sorted(tokens, key=lambda t: t[1]) == [(response.json()["refresh_token"], False), (live, True)]
    assert _sql(database.dsn, "SELECT id FROM auth.sessions WHERE id = %s", (other_session,)) == []


async def test_rows_a_refresh_holds_are_skipped_not_waited_for(apps: Cluster, database: PgDatabase) -> None:
    (api,) = await apps(1)
    session, _ = await _session_with_old_revoked_tokens(api, database.dsn, "held@example.com", 3)
    old_tokens = [row[0] for row in _sql(
        database.dsn, "SELECT token FROM auth.refresh_tokens WHERE session_id = %s AND revoked ORDER BY id", (session,)
    )]
    _sql(database.dsn, "UPDATE auth.sessions SET not_after = now() - interval '4 days' WHERE id = %s", (session,))
    pools = [AsyncConnectionPool(database.dsn, min_size=1, max_size=1, open=False, kwargs={"autocommit": True})
             for _ in range(2)]
    for pool in pools:
        await pool.open()
    try:
        cleaner = PgStaleRowCleaner(pools[0], SCHEMA)
        now = datetime.now(timezone.utc)
        # a refresh presenting an old token takes its locks (token and session) and is still deciding
        async with PgUnitOfWorkFactory(pools[1], SCHEMA)() as refresh:
            locked = await refresh.refresh_tokens.lock(old_tokens[0])
            assert locked is not None

            revoked = await asyncio.wait_for(cleaner.clean(_rule(StaleRows.REVOKED_REFRESH_TOKENS), now), GENEROUS)
            ended = await asyncio.wait_for(cleaner.clean(_rule(StaleRows.ENDED_SESSIONS), now), GENEROUS)
            assert (revoked, ended) == (2, 0)  # the held token and the held session were skipped
            waiting = _sql(database.dsn, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            assert waiting == [(0,)]
        # once the refresh is over the next steps take them
        assert await cleaner.clean(_rule(StaleRows.REVOKED_REFRESH_TOKENS), now) == 1
        assert await cleaner.clean(_rule(StaleRows.ENDED_SESSIONS), now) == 1
    finally:
        for pool in pools:
            await pool.close()
    assert _sql(database.dsn, "SELECT count(*) FROM auth.refresh_tokens WHERE session_id = %s", (session,)) == [(0,)]


async def test_a_schema_without_a_table_turns_its_rule_off(database: PgDatabase, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pytrue.cleanup")
    _sql(database.dsn, "DROP TABLE auth.webauthn_challenges")
    pool = AsyncConnectionPool(database.dsn, min_size=1, max_size=1, open=False, kwargs={"autocommit": True})
    async with pool:
        cleaner = PgStaleRowCleaner(pool, SCHEMA)
        rule = _rule(StaleRows.WEBAUTHN_CHALLENGES)
        assert await cleaner.clean(rule, datetime.now(timezone.utc)) == 0
        assert await cleaner.clean(rule, datetime.now(timezone.utc)) == 0
    assert caplog.text.count("webauthn_challenges turned off") == 1


# --- the command ---------------------------------------------------------------------------------


def _seed_stale_rows(dsn: str) -> None:
    """Old rows of every kind the cleanup knows, and one fresh row of each that must stay."""
    old, fresh = "now() - interval '40 days'", "now()"
    user, anonymous = uuid.uuid4(), uuid.uuid4()
    statements = [
        "INSERT INTO auth.users (id, aud, role, email, created_at, updated_at, is_anonymous) VALUES "
        f"('{user}', 'authenticated', 'authenticated', 'seed@example.com', {old}, {old}, false), "
        f"('{anonymous}', 'authenticated', 'authenticated', null, {old}, {old}, true)",
        f"INSERT INTO auth.sessions (id, user_id, created_at, updated_at, not_after) VALUES "
        f"(gen_random_uuid(), '{user}', {old}, {old}, {old}), (gen_random_uuid(), '{user}', {fresh}, {fresh}, null)",
        "INSERT INTO auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, session_id) "
        f"SELECT 'seed' || n, '{user}', true, {old}, {old}, (SELECT id FROM auth.sessions WHERE not_after IS NULL) "
        "FROM generate_series(1, 105) AS n",
        "INSERT INTO auth.flow_state (id, provider_type, authentication_method, created_at) VALUES "
        f"(gen_random_uuid(), 'email', 'email/signup', {old}), (gen_random_uuid(), 'email', 'email/signup', {fresh})",
        f"INSERT INTO auth.oauth_client_states (id, provider_type, created_at) VALUES (gen_random_uuid(), 'github', {old})",
        "INSERT INTO auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at) VALUES "
        f"(gen_random_uuid(), '{user}', 'totp', 'unverified', {old}, {old}), "
        f"('00000000-0000-0000-0000-00000000f00d', '{user}', 'totp', 'verified', {old}, {old})",
        "INSERT INTO auth.mfa_challenges (id, factor_id, created_at, ip_address) VALUES "
        f"(gen_random_uuid(), '00000000-0000-0000-0000-00000000f00d', {old}, '127.0.0.1')",
        "INSERT INTO auth.sso_providers (id, created_at) VALUES ('00000000-0000-0000-0000-0000000055a0', now())",
        "INSERT INTO auth.saml_relay_states (id, sso_provider_id, request_id, created_at) VALUES "
        f"(gen_random_uuid(), '00000000-0000-0000-0000-0000000055a0', 'r1', {old})",
        "INSERT INTO auth.webauthn_challenges (challenge_type, session_data, created_at, expires_at) VALUES "
        "('registration', '{}', now() - interval '2 minutes', now() - interval '1 minute'), "
        "('registration', '{}', now(), now() + interval '5 minutes')",
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for query in statements:
            conn.execute(query)  # type: ignore[arg-type]


def _cleanup_cli(dsn: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOTRUE_") and k != "DATABASE_URL"}
    base.update(GOTRUE_DB_DRIVER="postgres", DATABASE_URL=dsn, **env)
    return subprocess.run(
        [sys.executable, "-m", "pytrue", "cleanup", *args], cwd=cwd, env=base, capture_output=True, text=True, timeout=60
    )


def test_the_cleanup_command_runs_steps_until_nothing_is_left(migrated_db: PgDatabase, tmp_path: Path) -> None:
    _seed_stale_rows(migrated_db.dsn)

    one = _cleanup_cli(migrated_db.dsn, tmp_path, "--steps", "1")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == {"steps": 1, "rows": 100, "by_kind": {"revoked_refresh_tokens": 100}}

    done = _cleanup_cli(migrated_db.dsn, tmp_path, GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED="true")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["by_kind"] == {
        "revoked_refresh_tokens": 5,
        "ended_sessions": 1,
        "saml_relay_states": 1,
        "flow_states": 1,
        "oauth_client_states": 1,
        "mfa_challenges": 1,
        "unverified_factors": 1,
        "webauthn_challenges": 1,
        "anonymous_users": 1,
    }
    assert report["rows"] == 13
    counts = _sql(
        migrated_db.dsn,
        "SELECT (SELECT count(*) FROM auth.users), (SELECT count(*) FROM auth.sessions), "
        "(SELECT count(*) FROM auth.refresh_tokens), (SELECT count(*) FROM auth.flow_state), "
        "(SELECT count(*) FROM auth.mfa_factors), (SELECT count(*) FROM auth.webauthn_challenges)",
    )
    assert counts == [(1, 1, 0, 1, 1, 1)]

    again = _cleanup_cli(migrated_db.dsn, tmp_path)
    assert json.loads(again.stdout) == {"steps": len(cleanup_rules()), "rows": 0, "by_kind": {}}


def test_the_cleanup_command_reports_a_failure_without_the_dsn(tmp_path: Path) -> None:
    dsn = "postgresql://auth:hunter2@127.0.0.1:1/auth"
    failed = _cleanup_cli(dsn, tmp_path, PYTRUE_SKIP_MIGRATIONS="1")
    assert failed.returncode == 1
    assert "cleanup failed" in failed.stderr and "hunter2" not in failed.stderr + failed.stdout


async def test_a_step_deletes_no_more_than_its_batch_whatever_plan_the_planner_picks(migrated_db: PgDatabase) -> None:
    """With joins forced to a nested-loop semi join, the LIMITed subquery on its inner side and no
    materialisation, `IN (subquery)` runs the subquery again for every outer row (rows the
    statement already deleted are skipped by its row lock, so each run yields new ones) and
    deletes past its batch (104 rows for a batch of 100 were seen in
    CI once statistics changed); the batch must hold under any plan."""
    _seed_stale_rows(migrated_db.dsn)
    planner = " ".join(
        f"-c enable_{plan}=off" for plan in ("hashjoin", "mergejoin", "hashagg", "sort", "material", "indexscan", "bitmapscan")
    )
    pool = AsyncConnectionPool(
        migrated_db.dsn, min_size=1, max_size=1, open=False, kwargs={"autocommit": True, "options": planner}
    )
    async with pool:
        cleaner = PgStaleRowCleaner(pool, SCHEMA)
        rule = _rule(StaleRows.REVOKED_REFRESH_TOKENS)
        now = datetime.now(timezone.utc)
        assert [await cleaner.clean(rule, now) for _ in range(3)] == [100, 5, 0]
