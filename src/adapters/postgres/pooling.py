"""What pytrue's connections may keep between transactions, and how they give up and recover.

Behind a transaction-mode pooler (PgBouncer, Supavisor) two transactions of one client
connection may run on two different server connections, so nothing may outlive a transaction.
pytrue keeps nothing at session level (no `SET`, no session advisory lock, no `LISTEN`, no
temporary table) except what psycopg adds by itself: server-side prepared statements, which it
creates for a statement run five times on a connection. They are off (`prepare_threshold=None`)
when `PYTRUE_DB_POOL_MODE=transaction`, and turned off for good, with a warning, the first time a
prepared statement is found missing or already present (a pooler the configuration did not
announce). docs/adr/0014-transaction-mode-poolers-and-a-connection-budget.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import Any

import psycopg
from psycopg import AsyncConnection, errors
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("pytrue.postgres")

# psycopg's own statements; pytrue never names one itself.
_PREPARED_STATEMENT_ERRORS = (errors.InvalidSqlStatementName, errors.DuplicatePreparedStatement)
_CHECK_EVERY_SECONDS = 1.0
_CONNECT_TIMEOUT_SECONDS = 5


def is_pooler_symptom(exc: BaseException) -> bool:
    """A prepared statement missing or already there: the server connection changed under us."""
    return isinstance(exc, _PREPARED_STATEMENT_ERRORS)


class ConnectionPolicy:
    """How the pools' connections are used: prepared statements or not, and how long a
    transaction may hold one (`transaction_timeout`, after which its connection is cut off)."""

    def __init__(self, *, transaction_pooler: bool, transaction_timeout: float) -> None:
        self.transaction_pooler = transaction_pooler
        self.transaction_timeout = transaction_timeout
        self.unprepared = transaction_pooler
        self._pools: list[AsyncConnectionPool] = []
        self._last_check = 0.0

    def connection_kwargs(self) -> dict[str, Any]:
        """The pools' `kwargs` (a callable: psycopg_pool asks again for each new connection)."""
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT_SECONDS}
        if self.unprepared:
            kwargs["prepare_threshold"] = None
        return kwargs

    def watch(self, pool: AsyncConnectionPool) -> AsyncConnectionPool:
        self._pools.append(pool)
        return pool

    def adopt(self, conn: AsyncConnection[Any]) -> None:
        """Called with each connection taken from a pool (cheap unless prepared statements were turned off)."""
        if self.unprepared and conn.prepare_threshold is not None:
            conn.prepare_threshold = None

    def observe(self, exc: BaseException) -> bool:
        """Learn from a failure; True when it means the database (or the pooler) is unavailable."""
        if is_pooler_symptom(exc):
            if not self.unprepared:
                self.unprepared = True
                log.warning(
                    "a prepared statement went missing (%s): DATABASE_URL seems to go through a transaction-mode "
                    "pooler; prepared statements are now off. Set PYTRUE_DB_POOL_MODE=transaction.",
                    type(exc).__name__,
                )
            return True
        if isinstance(exc, psycopg.OperationalError):
            self._check_pools()
            return True
        return False

    def _check_pools(self) -> None:
        """After a lost connection, test the idle ones in the background: a restarted server (or
        pooler) leaves every pooled connection dead, and each would otherwise fail one request."""
        now = time.monotonic()
        if now - self._last_check < _CHECK_EVERY_SECONDS:
            return
        self._last_check = now
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for pool in self._pools:
                task = loop.create_task(_check(pool))
                _background.add(task)
                task.add_done_callback(_background.discard)

    def deadline(self, conn: AsyncConnection[Any]) -> Deadline:
        return Deadline(conn, self.transaction_timeout)


_background: set[asyncio.Task[None]] = set()


async def _check(pool: AsyncConnectionPool) -> None:
    with contextlib.suppress(Exception):
        await pool.check()


class Deadline:
    """Cuts `conn` off (shuts its socket down) if still held after `seconds`.

    Whatever statement is waiting then fails at once with a lost connection, which the pool
    discards: the transaction is rolled back by the server (or by the pooler), and the caller
    answers 503 instead of waiting behind a saturated pooler. Cancelling the task instead would
    make psycopg send a cancel request and wait up to ten seconds more for it.
    """

    __slots__ = ("_handle", "expired")

    def __init__(self, conn: AsyncConnection[Any], seconds: float) -> None:
        self.expired = False
        self._handle = asyncio.get_running_loop().call_later(seconds, self._expire, conn)

    def _expire(self, conn: AsyncConnection[Any]) -> None:
        self.expired = True
        sever(conn)

    def cancel(self) -> None:
        self._handle.cancel()


def sever(conn: AsyncConnection[Any]) -> None:
    """Shut the connection's socket down without touching psycopg's state (it notices on its next read)."""
    with contextlib.suppress(OSError, psycopg.Error):
        if conn.closed:
            return
        duplicate = os.dup(conn.pgconn.socket)
        with socket.socket(fileno=duplicate) as sock:
            sock.shutdown(socket.SHUT_RDWR)
