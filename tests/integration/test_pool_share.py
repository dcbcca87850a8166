"""Each worker's pools fit its share of GOTRUE_DB_MAX_POOL_SIZE and of the server's `max_connections` (ADRs 0009, 0014)."""

from __future__ import annotations

import psycopg
import pytest
from support.app import make_settings

from pytrue.entrypoints import serving
from pytrue.entrypoints.postgres_container import LIMITER_POOL_SIZE
from pytrue.entrypoints.containers import build_container, start, stop


def _server_limits(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.mark.parametrize(("budget", "workers"), [(0, 2), (500, 4), (500, 1), (12, 3)])
async def test_pools_share_the_budget_within_the_servers_limit(
    migrated_db: object, monkeypatch: pytest.MonkeyPatch, budget: int, workers: int
) -> None:
    dsn = migrated_db.dsn  # type: ignore[attr-defined]
    max_connections, reserved = _server_limits(dsn)
    monkeypatch.setenv(serving.WORKERS_ENV, str(workers))
    settings = make_settings({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": dsn, "GOTRUE_DB_MAX_POOL_SIZE": str(budget)})
    container = build_container(settings)
    await start(container)
    try:
        server_share = (max_connections - reserved - serving.RESERVED_CONNECTIONS) // workers
        per_worker = container.adapters.pool().max_size + container.adapters.limiter_pool().max_size
        wanted = budget // workers if budget else serving.DEFAULT_POOL_SIZE + LIMITER_POOL_SIZE
        assert per_worker == min(wanted, server_share)
        assert workers * per_worker <= max_connections - reserved
        if budget:
            assert workers * per_worker <= budget
    finally:
        await stop(container)


async def test_a_one_connection_pool_still_sends_mail(make_api: object) -> None:
    """The rate limiter has its own connections: a unit of work holding the only pooled one can mail."""
    api = await make_api({"GOTRUE_DB_MAX_POOL_SIZE": "1", "GOTRUE_MAILER_AUTOCONFIRM": "false"})  # type: ignore[operator]
    response = await api.signup("one@example.com")
    assert response.status_code == 200, response.text
    assert api.mail("one@example.com", "confirmation").otp
