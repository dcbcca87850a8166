"""Send-rate budgets in PostgreSQL, shared by every pytrue process using the database.

State lives in `<namespace>.pytrue_rate_limits` (pytrue-owned; docs/adr/0007). One short
transaction per call on its own pool connection, never inside a use case's unit of work: the
upsert locks the key's row (creating it when missing), `pytrue.domain.rate.take` decides, and the
new state is written only when an event was taken. Concurrent callers on other connections wait on
the row lock, so the budget is never overspent.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pytrue.adapters.postgres.migrate import validate_namespace
from pytrue.adapters.postgres.pooling import ConnectionPolicy
from pytrue.application.ports import StorageUnavailable
from pytrue.domain.rate import Rate, RateState, take

TABLE = "pytrue_rate_limits"

_LOCK = """
insert into {table} (key) values (%s)
on conflict (key) do update set key = excluded.key
returning kind, stamp, used
"""
_COUNT = """
insert into {table} as t (key, kind, stamp, used) values (%s, 'count', %s, 1)
on conflict (key) do update set used = t.used + 1, updated_at = now()
returning used
"""
_STORE = "update {table} set kind = %s, stamp = %s, used = %s, updated_at = now() where key = %s"
# Per-IP keys come and go with clients; a bucket untouched for a day is full again anyway
# (per-IP buckets refill within an hour), so its row can go.
# Attempt counters (`otp:` keys) belong to one code each; a code guessed `limit` times is spent at
# once, so forgetting an idle counter gives nothing back.
_PRUNE = (
    "delete from {table} where (key like 'ip:%%' or key like 'otp:%%') and updated_at < now() - interval '1 day'"
)
PRUNE_EVERY = 1000


class PgRateLimiter:
    """`RateLimiter` over `pytrue_rate_limits`."""

    def __init__(self, pool: AsyncConnectionPool, namespace: str = "auth", policy: ConnectionPolicy | None = None) -> None:
        self._pool = pool
        self._policy = policy or ConnectionPolicy(transaction_pooler=False, transaction_timeout=5.0)
        table = sql.Identifier(validate_namespace(namespace), TABLE)
        self._lock = sql.SQL(_LOCK).format(table=table)
        self._store = sql.SQL(_STORE).format(table=table)
        self._prune = sql.SQL(_PRUNE).format(table=table)
        self._count = sql.SQL(_COUNT).format(table=table)
        self._calls = 0

    async def consume(self, key: str, rate: Rate, now: datetime) -> bool:
        self._calls += 1
        try:
            if self._calls % PRUNE_EVERY == 0:
                await self.prune()
            return await self._consume(key, rate, now)
        except PoolTimeout as exc:
            raise StorageUnavailable(type(exc).__name__) from exc
        except psycopg.Error as exc:
            if self._policy.observe(exc):
                raise StorageUnavailable(type(exc).__name__) from exc
            raise

    async def count(self, key: str, now: datetime) -> int:
        """One statement: create the counter at 1 or add one, under the row lock, and read it back."""
        try:
            async with self._pool.connection() as conn:
                self._policy.adopt(conn)
                cur = await conn.execute(self._count, [key, now])
                row = await cur.fetchone()
                assert row is not None
                return int(row[0])
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise StorageUnavailable(type(exc).__name__) from exc
        except psycopg.Error as exc:
            if self._policy.observe(exc):
                raise StorageUnavailable(type(exc).__name__) from exc
            raise

    async def prune(self) -> None:
        """Forget per-IP buckets nobody used for a day."""
        async with self._pool.connection() as conn:
            self._policy.adopt(conn)
            await conn.execute(self._prune)

    async def _consume(self, key: str, rate: Rate, now: datetime) -> bool:
        async with self._pool.connection() as conn:
            self._policy.adopt(conn)
            deadline = self._policy.deadline(conn)
            try:
                async with conn.transaction():
                    cur = await conn.execute(self._lock, [key])
                    row = await cur.fetchone()
                    assert row is not None  # the upsert always returns the row
                    kind, stamp, used = row
                    state = RateState(kind, stamp, int(used)) if stamp is not None else None
                    allowed, new = take(rate, state, now)
                    if allowed and new is not None:
                        await conn.execute(self._store, [new.kind, new.stamp, new.used, key])
                    return allowed
            finally:
                deadline.cancel()
