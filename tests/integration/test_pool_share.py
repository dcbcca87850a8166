"""Each worker's pool fits its share of the server's `max_connections` (docs/adr/0009)."""

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


@pytest.mark.parametrize(("configured", "workers"), [(0, 2), (500, 4), (500, 1)])
async def test_pool_is_the_configured_size_within_the_workers_share(
    migrated_db: object, monkeypatch: pytest.MonkeyPatch, configured: int, workers: int
) -> None:
    dsn = migrated_db.dsn  # type: ignore[attr-defined]
    max_connections, reserved = _server_limits(dsn)
    monkeypatch.setenv(serving.WORKERS_ENV, str(workers))
    settings = make_settings(
        {"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": dsn, "GOTRUE_DB_MAX_POOL_SIZE": str(configured)}
    )
    container = build_container(settings)
    await start(container)
    try:
        share = (max_connections - reserved - serving.RESERVED_CONNECTIONS) // workers - LIMITER_POOL_SIZE
        expected = min(configured or serving.DEFAULT_POOL_SIZE, share)
        assert container.adapters.pool().max_size == expected
        per_worker = container.adapters.pool().max_size + container.adapters.limiter_pool().max_size
        assert workers * per_worker <= max_connections - reserved
    finally:
        await stop(container)


async def test_a_one_connection_pool_still_sends_mail(make_api: object) -> None:
    """The rate limiter has its own connections: a unit of work holding the only pooled one can mail."""
    api = await make_api({"GOTRUE_DB_MAX_POOL_SIZE": "1", "GOTRUE_MAILER_AUTOCONFIRM": "false"})  # type: ignore[operator]
    response = await api.signup("one@example.com")
    assert response.status_code == 200, response.text
    assert api.mail("one@example.com", "confirmation").otp
