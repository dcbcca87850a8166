"""Faults: PostgreSQL going away and coming back, and use cases interrupted half-way.

A dedicated persistent LocalCluster is stopped under a running app: requests must fail fast
with GoTrue's generic 5xx error body (nothing about the DSN, the password or the stack), and
succeed again once the server is back, without rebuilding the app. A use case that fails
inside its unit of work must leave no row behind.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from support.api import PostgresApi
from support.app import make_settings

from pytrue.adapters.postgres.cluster import AUTH_ADMIN_ROLE, ClusterError, LocalCluster
from pytrue.adapters.postgres.repositories import PgAuditLog, PgSessionRepository
from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app

PASSWORD = f"pw-{uuid.uuid4().hex}"
FAIL_FAST_SECONDS = 10.0
RECOVERY_SECONDS = 60.0
LEAKS = ("Traceback", "psycopg", "OperationalError", "PoolTimeout", "File \"", AUTH_ADMIN_ROLE, PASSWORD)


# --- PostgreSQL unavailable ------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[LocalCluster, str]]:
    pg = LocalCluster(tmp_path / "pg", persistent=True)
    try:
        pg.start()
    except ClusterError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"cannot start a dedicated PostgreSQL: {exc}")
    try:
        dsn = pg.provision(password=PASSWORD)
        yield pg, dsn
    finally:
        pg.stop(force=True)


@pytest.fixture
async def cluster_api(cluster: tuple[LocalCluster, str]) -> AsyncIterator[PostgresApi]:
    _, dsn = cluster
    container = build_container(make_settings({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": dsn}))
    async with AsyncTestClient(app=create_app(container)) as client:
        yield PostgresApi(client, container)


def _assert_generic_failure(response: Any, dsn: str, elapsed: float) -> None:
    assert elapsed < FAIL_FAST_SECONDS, elapsed
    assert 500 <= response.status_code < 600, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body.get("error_code", body.get("code")) == "unexpected_failure", body
    text = response.text
    for leak in (*LEAKS, dsn):
        assert leak not in text, (leak, text)
    host = psycopg.conninfo.conninfo_to_dict(dsn).get("host")
    if host:
        assert str(host) not in text, (host, text)


async def _timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def test_requests_fail_fast_while_postgres_is_down_and_recover_after(
    cluster: tuple[LocalCluster, str], cluster_api: PostgresApi
) -> None:
    pg, dsn = cluster
    api = cluster_api
    signup = await api.signup("before@example.com")
    assert signup.status_code == 200, signup.text
    access, refresh = signup.json()["access_token"], signup.json()["refresh_token"]
    assert (await api.password_grant("before@example.com")).status_code == 200

    pg.stop()
    assert not pg.is_running()

    calls = {
        "password grant": lambda: api.password_grant("before@example.com"),
        "signup": lambda: api.signup("during@example.com"),
        "refresh": lambda: api.refresh(refresh),
        "get user": lambda: api.client.get("/user", headers=api.headers(access)),
        "admin list": lambda: api.client.get("/admin/users", headers=api.admin()),
    }
    for name, call in calls.items():
        response, elapsed = await _timed(call())
        try:
            _assert_generic_failure(response, dsn, elapsed)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc

    pg.start()

    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        response = await api.password_grant("before@example.com")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        _assert_generic_failure(response, dsn, 0.0)
        await asyncio.sleep(0.5)
    assert response.status_code == 200, response.text
    assert (await api.refresh(refresh)).status_code == 200
    assert (await api.client.get("/user", headers=api.headers(access))).status_code == 200
    later = await api.signup("after@example.com")
    assert later.status_code == 200, later.text
    counts = await api.counts()
    assert counts["users"] == 2  # nothing from the failed signup


async def test_app_over_an_unreachable_server_fails_at_startup_without_hanging() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dsn = f"postgresql://{AUTH_ADMIN_ROLE}:{PASSWORD}@127.0.0.1:{port}/postgres"
    container = build_container(make_settings({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": dsn}))
    started = time.monotonic()
    with pytest.raises(Exception) as caught:  # noqa: PT011 - whatever the lifespan raises, it must raise
        async with AsyncTestClient(app=create_app(container)):
            pass
    assert time.monotonic() - started < 30.0
    assert PASSWORD not in str(caught.value)


# --- use cases interrupted mid-transaction -----------------------------------------------------


class ExplodingMailer:
    def __init__(self) -> None:
        self.calls = 0

    async def send(self, mail: Any) -> None:
        self.calls += 1
        raise RuntimeError("SMTP server said no")


@pytest.fixture(params=["inline", "outbox"])
async def exploding_mailer_api(
    warm_templates: Any, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[PostgresApi, ExplodingMailer]]:
    database = warm_templates.create(migrated=True)
    mailer = ExplodingMailer()
    settings = make_settings(
        {
            "GOTRUE_DB_DRIVER": "postgres",
            "DATABASE_URL": database.dsn,
            "GOTRUE_MAILER_AUTOCONFIRM": "false",
            "PYTRUE_MAILER_DELIVERY": request.param,
        }
    )
    container = build_container(settings)
    container.core.mailer.override(providers.Object(mailer))
    try:
        async with AsyncTestClient(app=create_app(container)) as client:
            yield PostgresApi(client, container), mailer
    finally:
        warm_templates.drop(database)


async def test_signup_whose_confirmation_mail_fails_leaves_nothing_behind(
    exploding_mailer_api: tuple[PostgresApi, ExplodingMailer],
) -> None:
    api, mailer = exploding_mailer_api
    before = await api.counts()

    response = await api.signup("mailfail@example.com")
    if api.container.settings().mailer.delivery == "outbox":
        # after the response: the request succeeded, the message waits for a mailer that works
        assert response.status_code == 200, response.text
        api.settle_mail()
        assert mailer.calls == 1
        assert [(row["kind"], row["last_error"]) for row in await api.outbox()] == [
            ("confirmation", "RuntimeError while sending")
        ]
        return

    assert mailer.calls == 1
    assert response.status_code == 500, response.text
    body = response.json()
    assert body.get("error_code", body.get("code")) == "unexpected_failure"
    assert "SMTP" not in response.text and "Traceback" not in response.text
    assert await api.counts() == before
    # and the address is still free: a second attempt fails the same way rather than "already registered"
    again = await api.signup("mailfail@example.com")
    assert again.status_code == 500 and mailer.calls == 2
    assert await api.counts() == before


async def test_signup_failing_after_the_user_row_is_written_rolls_back(
    make_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = await make_api()

    async def broken_audit(self: PgAuditLog, entry: Any) -> None:
        raise RuntimeError("audit table exploded")

    monkeypatch.setattr(PgAuditLog, "add", broken_audit)
    before = await api.counts()

    response = await api.signup("halfway@example.com")

    assert response.status_code == 500, response.text
    assert await api.counts() == before
    monkeypatch.undo()
    assert (await api.signup("halfway@example.com")).status_code == 200


async def test_refresh_failing_after_rotation_keeps_the_presented_token_live(
    make_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = await make_api()
    signup = await api.signup("rotate@example.com")
    assert signup.status_code == 200, signup.text
    token = signup.json()["refresh_token"]
    before = await api.counts()

    async def broken_update(self: PgSessionRepository, session: Any) -> None:
        raise RuntimeError("session update exploded")

    monkeypatch.setattr(PgSessionRepository, "update", broken_update)
    response = await api.refresh(token)
    assert response.status_code == 500, response.text
    assert await api.counts() == before
    dsn = api.container.settings().db.url
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT revoked FROM auth.refresh_tokens WHERE token = %s", (token,))
        assert await cur.fetchone() == (False,)

    monkeypatch.undo()
    retry = await api.refresh(token)
    assert retry.status_code == 200, retry.text
