"""The mail outbox in `<namespace>.pytrue_mail_outbox` (pytrue-owned; docs/adr/0017).

The unit of work queues the insert with its other writes (one round trip at COMMIT). The
sender's statements are single autocommit statements on a pool connection: no transaction is
held while a message travels, no session state, so any pooler mode works. A claim moves the
row's `next_attempt_at` past the lease; another sender skips it meanwhile (SKIP LOCKED for the
instant of the claim, the lease afterwards), and a sender that dies leaves it due again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pytrue.adapters.postgres.migrate import validate_namespace
from pytrue.adapters.postgres.repositories import Transaction, _Repository
from pytrue.application.ports import Mail, OutboxStats, QueuedMail, StorageUnavailable

TABLE = "pytrue_mail_outbox"

_CLAIM = """
update {table} o set next_attempt_at = %s, attempts = o.attempts + 1
from (select id from {table} where next_attempt_at <= %s order by next_attempt_at, id limit %s
      for update skip locked) due
where o.id = due.id
returning o.id, o.payload, o.created_at, o.attempts
"""
_DELIVERED = "delete from {table} where id = %s"
_FAILED = "update {table} set next_attempt_at = %s, last_error = %s where id = %s"
_STATS = """
select count(*), count(*) filter (where last_error <> ''), min(created_at),
       (select last_error from {table} where last_error <> '' order by next_attempt_at desc limit 1)
from {table}
"""


class PgOutbox(_Repository):
    def __init__(self, conn: AsyncConnection[Any], schema: str, tx: Transaction, queued: Callable[[], None]) -> None:
        super().__init__(conn, schema, tx)
        self._queued = queued

    async def add(self, mail: Mail, now: datetime) -> None:
        await self._defer(
            "INSERT INTO {s}.pytrue_mail_outbox (kind, payload, created_at, next_attempt_at) VALUES (%s, %s, %s, %s)",
            (mail.kind, Json(mail.payload()), now, now),
        )
        self._queued()


class PgMailQueue:
    """`MailQueue` over `pytrue_mail_outbox`, shared by every worker and replica."""

    def __init__(self, pool: AsyncConnectionPool, namespace: str = "auth") -> None:
        self._pool = pool
        table = sql.Identifier(validate_namespace(namespace), TABLE)
        self._claim = sql.SQL(_CLAIM).format(table=table)
        self._delivered = sql.SQL(_DELIVERED).format(table=table)
        self._failed = sql.SQL(_FAILED).format(table=table)
        self._stats = sql.SQL(_STATS).format(table=table)

    async def _execute(self, query: sql.Composed, params: list[Any]) -> list[tuple[Any, ...]]:
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(query, params, prepare=False)  # pooler-safe, whatever the mode
                return list(await cur.fetchall()) if cur.description else []
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[QueuedMail]:
        rows = await self._execute(self._claim, [now + lease, now, limit])
        return sorted(
            (QueuedMail(id=int(i), mail=Mail.from_payload(payload), created_at=created, attempts=int(attempts))
             for i, payload, created, attempts in rows),
            key=lambda queued: queued.id,
        )  # fmt: skip

    async def delivered(self, message_id: int) -> None:
        await self._execute(self._delivered, [message_id])

    async def failed(self, message_id: int, retry_at: datetime, error: str) -> None:
        await self._execute(self._failed, [retry_at, error[:500], message_id])

    async def stats(self) -> OutboxStats:
        rows = await self._execute(self._stats, [])
        depth, failing, oldest, last_error = rows[0]
        return OutboxStats(depth=int(depth), failing=int(failing), oldest_created_at=oldest, last_error=last_error or "")
