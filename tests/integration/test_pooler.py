"""Behind PgBouncer in transaction mode: migrations, an unannounced pooler, and bad conditions.

Bad conditions are made on a PgBouncer of the test's own (two server connections, so that it
saturates): its pool held by other clients, PgBouncer restarted under load, PostgreSQL restarted
behind it. While it lasts, answers are GoTrue's generic 503 body, quickly, with nothing about the
database in them; nothing is half-written; service comes back without rebuilding the app.
docs/adr/0014-transaction-mode-poolers-and-a-connection-budget.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import httpx
from pgcluster import Databases, PgDatabase, PgRoute, PgServer, start_bouncer
from support.api import PostgresApi
from support.app import make_settings

from pytrue.adapters.postgres.bouncer import LocalPgBouncer
from pytrue.adapters.postgres.cluster import AUTH_ADMIN_ROLE, DEFAULT_PASSWORD, ClusterError, LocalCluster
from pytrue.adapters.postgres.migrate import load_migrations, migrate, schema_status
from pytrue.entrypoints import containers
from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app

TIMEOUTS = {"PYTRUE_DB_TRANSACTION_TIMEOUT": "1s", "PYTRUE_DB_POOL_TIMEOUT": "1s"}
QUICK_SECONDS = 4.0  # a deadline of 1 s, a pool wait of 1 s, and slack for a busy machine
RECOVERY_SECONDS = 30.0
LEAKS = ("Traceback", "psycopg", "pgbouncer", "OperationalError", "PoolTimeout", 'File "', AUTH_ADMIN_ROLE, "127.0.0.1")


def _assert_unavailable(response: Any, elapsed: float) -> None:
    assert 500 <= response.status_code < 600 and response.status_code != 500, (response.status_code, response.text)
    assert elapsed < QUICK_SECONDS, elapsed
    body = response.json()
    assert body.get("error_code", body.get("code")) == "unexpected_failure", body
    for leak in LEAKS:
        assert leak not in response.text, (leak, response.text)


async def _timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def _until_ok(call: Any) -> Any:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        response = await call()
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        _assert_unavailable(response, 0.0)
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def _app(dsn: str, env: dict[str, str] | None = None) -> AsyncIterator[PostgresApi]:
    overrides = {"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": dsn, **(env or {})}
    container = build_container(make_settings(overrides))
    app = create_app(container)
    await containers.start(container)  # on this loop: requests run concurrently, as in a server
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            yield PostgresApi(client, container)  # type: ignore[arg-type]
    finally:
        await containers.stop(container)


def _users_without_identity(admin_dsn: str) -> list[str]:
    with psycopg.connect(admin_dsn) as conn:
        rows = conn.execute(
            "select email from auth.users u where not exists (select from auth.identities i where i.user_id = u.id)"
        ).fetchall()
    return [str(row[0]) for row in rows]


# --- the route itself ---------------------------------------------------------------------------


async def test_apps_on_the_pgbouncer_route_connect_through_pgbouncer(api: PostgresApi, pg_route: PgRoute) -> None:
    url = api.container.settings().db.url
    if pg_route.bouncer is None:
        assert api.container.settings().db.pool_mode == "session"
        return
    assert f":{pg_route.bouncer.port}/" in url
    assert api.container.settings().db.pool_mode == "transaction"
    assert (await api.signup("routed@example.com")).status_code == 200


async def test_migrations_run_through_the_pooler_once_under_concurrency(
    fresh_db: PgDatabase, pg_bouncer: LocalPgBouncer
) -> None:
    dsn = pg_bouncer.dsn(fresh_db.dsn)
    applied = await asyncio.gather(migrate(dsn), migrate(dsn), migrate(dsn))
    names = [name for each in applied for name in each]
    assert sorted(names) == [m.name for m in load_migrations()]  # each applied once, by one of them
    assert (await schema_status(dsn)).ready
    assert await migrate(dsn) == []


# --- a pooler nobody announced ------------------------------------------------------------------


@pytest.fixture
def own_database(warm_templates: Databases) -> Iterator[PgDatabase]:
    database = warm_templates.create(migrated=True)
    yield database
    warm_templates.drop(database)


@pytest.fixture
def small_bouncer(pg_server: PgServer) -> Iterator[LocalPgBouncer]:
    """Two server connections, handed out in turn: consecutive transactions change server connection."""
    bouncer = start_bouncer(
        pg_server, pool_size=2, settings={"server_round_robin": "1", "reserve_pool_size": "0"}
    )
    yield bouncer
    bouncer.close()


async def test_an_unannounced_transaction_pooler_is_detected_and_never_answers_500(
    own_database: PgDatabase, small_bouncer: LocalPgBouncer
) -> None:
    async with _app(small_bouncer.dsn(own_database.dsn)) as api:  # PYTRUE_DB_POOL_MODE not set
        signup = await _until_ok(lambda: api.signup("seen@example.com"))
        assert signup.status_code == 200, signup.text
        access = (await _until_ok(lambda: api.password_grant("seen@example.com"))).json()["access_token"]
        statuses: list[int] = []
        for _ in range(30):
            responses = await asyncio.gather(
                api.password_grant("seen@example.com"),
                api.client.get("/user", headers=api.headers(access)),
                api.client.get("/user", headers=api.headers(access)),
            )
            statuses += [r.status_code for r in responses]
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[-30:] == [200] * 30, statuses
        assert api.container.adapters.policy().unprepared  # switched off, with a warning naming the variable


# --- bad conditions -----------------------------------------------------------------------------


async def _hold_server_connections(dsn: str, count: int) -> list[psycopg.AsyncConnection[Any]]:
    """Other clients, each in a transaction: in transaction mode each keeps a server connection."""
    holders = []
    for _ in range(count):
        conn = await psycopg.AsyncConnection.connect(dsn, prepare_threshold=None)
        await conn.execute("select 1")  # BEGIN is implicit: the transaction stays open
        holders.append(conn)
    return holders


async def test_a_saturated_pooler_gets_quick_503s_and_service_returns_by_itself(
    own_database: PgDatabase, small_bouncer: LocalPgBouncer
) -> None:
    dsn = small_bouncer.dsn(own_database.dsn)
    async with _app(dsn, {"PYTRUE_DB_POOL_MODE": "transaction", **TIMEOUTS}) as api:
        body = (await api.signup("before@example.com")).json()
        access, refresh = body["access_token"], body["refresh_token"]

        holders = await _hold_server_connections(dsn, 2)
        calls = {
            "password grant": lambda: api.password_grant("before@example.com"),
            "signup": lambda: api.signup("during@example.com"),
            "refresh": lambda: api.refresh(refresh),
            "get user": lambda: api.client.get("/user", headers=api.headers(access)),
            "admin list": lambda: api.client.get("/admin/users", headers=api.admin()),
        }
        try:
            for name, call in calls.items():
                response, elapsed = await _timed(call())
                try:
                    _assert_unavailable(response, elapsed)
                except AssertionError as exc:
                    raise AssertionError(f"{name}: {exc}") from exc
        finally:
            for conn in holders:
                await conn.close()

        assert (await _until_ok(lambda: api.refresh(refresh))).status_code == 200
        assert (await api.client.get("/user", headers=api.headers(access))).status_code == 200
        assert (await api.signup("during@example.com")).status_code == 200  # nothing was kept of the first try
    assert _users_without_identity(own_database.admin_dsn) == []


async def test_more_clients_than_the_poolers_pool_are_served_in_turn(
    own_database: PgDatabase, small_bouncer: LocalPgBouncer
) -> None:
    dsn = small_bouncer.dsn(own_database.dsn)
    env = {"PYTRUE_DB_POOL_MODE": "transaction", "GOTRUE_DB_MAX_POOL_SIZE": "12"}
    async with _app(dsn, env) as first, _app(dsn, env) as second:
        responses = await asyncio.gather(
            *((first if i % 2 else second).signup(f"crowd{i}@example.com") for i in range(40))
        )
        statuses = [r.status_code for r in responses]
        assert statuses == [200] * 40, [r.text for r in responses if r.status_code != 200][:3]


async def _load(api: PostgresApi, stop: asyncio.Event, prefix: str) -> list[tuple[str, int]]:
    """Sign-ups and sign-ins in a loop until `stop`: (email, status) of every sign-up."""
    results: list[tuple[str, int]] = []
    number = 0
    while not stop.is_set():
        number += 1
        email = f"{prefix}{number}@example.com"
        response = await api.signup(email)
        results.append((email, response.status_code))
        if response.status_code != 200:
            _assert_unavailable(response, 0.0)
        grant = await api.password_grant("load0@example.com")
        if grant.status_code != 200:
            _assert_unavailable(grant, 0.0)
    return results


async def test_a_pooler_restart_mid_load_costs_503s_only_while_it_is_down(
    own_database: PgDatabase, small_bouncer: LocalPgBouncer
) -> None:
    async with _app(small_bouncer.dsn(own_database.dsn), {"PYTRUE_DB_POOL_MODE": "transaction", **TIMEOUTS}) as api:
        assert (await api.signup("load0@example.com")).status_code == 200
        stop = asyncio.Event()
        workers = [asyncio.create_task(_load(api, stop, f"load{n}-")) for n in range(4)]
        await asyncio.sleep(1.0)
        await asyncio.to_thread(small_bouncer.restart)
        await asyncio.sleep(2.0)
        stop.set()
        results = [item for worker in workers for item in await worker]
        assert (await _until_ok(lambda: api.password_grant("load0@example.com"))).status_code == 200
        assert (await api.signup(f"after-{uuid.uuid4().hex[:6]}@example.com")).status_code == 200
    with psycopg.connect(own_database.admin_dsn) as conn:
        stored = {str(row[0]) for row in conn.execute("select email from auth.users").fetchall()}
    assert all(email in stored for email, status in results if status == 200)
    assert _users_without_identity(own_database.admin_dsn) == []
    assert any(status == 200 for _, status in results)


@pytest.fixture
def cluster_behind_bouncer(tmp_path: Path) -> Iterator[tuple[LocalCluster, LocalPgBouncer, str]]:
    pg = LocalCluster(tmp_path / "pg", persistent=True)
    try:
        pg.start()
    except ClusterError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"cannot start a dedicated PostgreSQL: {exc}")
    try:
        dsn = pg.provision(password=DEFAULT_PASSWORD)
        with LocalPgBouncer(pg.dsn, {AUTH_ADMIN_ROLE: DEFAULT_PASSWORD}, pool_size=4) as bouncer:
            yield pg, bouncer, bouncer.dsn(dsn)
    finally:
        pg.stop(force=True)


async def test_postgres_restarted_behind_the_pooler(
    cluster_behind_bouncer: tuple[LocalCluster, LocalPgBouncer, str],
) -> None:
    pg, _, dsn = cluster_behind_bouncer
    async with _app(dsn, {"PYTRUE_DB_POOL_MODE": "transaction", **TIMEOUTS}) as api:
        body = (await api.signup("before@example.com")).json()
        access, refresh = body["access_token"], body["refresh_token"]
        await asyncio.to_thread(pg.stop)
        for call in (
            lambda: api.password_grant("before@example.com"),
            lambda: api.signup("during@example.com"),
            lambda: api.client.get("/user", headers=api.headers(access)),
        ):
            response, elapsed = await _timed(call())
            _assert_unavailable(response, elapsed)
        await asyncio.to_thread(pg.start)
        assert (await _until_ok(lambda: api.password_grant("before@example.com"))).status_code == 200
        assert (await api.refresh(refresh)).status_code == 200
        assert (await api.signup("during@example.com")).status_code == 200
