"""Per-IP buckets do not pile up: the PostgreSQL limiter forgets the ones unused for a day."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from pytrue.adapters.postgres import rate_limiter as module
from pytrue.adapters.postgres.rate_limiter import PgRateLimiter
from pytrue.domain.rate import Rate

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


async def test_stale_per_ip_rows_are_pruned_and_budgets_kept(migrated_db: Any, monkeypatch: Any) -> None:
    pool = AsyncConnectionPool(migrated_db.dsn, min_size=1, max_size=2, open=False)
    await pool.open()
    try:
        limiter = PgRateLimiter(pool)
        for key in ("ip:verify:203.0.113.1", "ip:verify:203.0.113.2", "email_sent"):
            assert await limiter.consume(key, Rate(5), NOW)
        with psycopg.connect(migrated_db.dsn, autocommit=True) as conn:
            conn.execute(
                "update auth.pytrue_rate_limits set updated_at = now() - interval '2 days' "
                "where key in ('ip:verify:203.0.113.1', 'email_sent')"
            )
        monkeypatch.setattr(module, "PRUNE_EVERY", 4)
        assert await limiter.consume("ip:verify:203.0.113.2", Rate(5), NOW)  # the 4th call prunes first
        with psycopg.connect(migrated_db.dsn) as conn:
            keys = sorted(row[0] for row in conn.execute("select key from auth.pytrue_rate_limits"))
        assert keys == ["email_sent", "ip:verify:203.0.113.2"]
    finally:
        await pool.close()
