"""The PostgreSQL unit of work: one pooled connection, one transaction."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pytrue.adapters.postgres.repositories import (
    PgAuditLog,
    PgFlowStateRepository,
    PgOneTimeTokenRepository,
    PgRefreshTokenRepository,
    PgSessionRepository,
    PgUserRepository,
)
from pytrue.application.ports import StorageUnavailable


class PgUnitOfWork:
    """Takes a connection on entry; leaving without `commit()` rolls back and returns it."""

    def __init__(self, pool: AsyncConnectionPool, schema: str) -> None:
        self._pool = pool
        self._schema = schema
        self._conn: AsyncConnection[Any] | None = None

    async def __aenter__(self) -> PgUnitOfWork:
        try:
            self._conn = await self._pool.getconn()
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise StorageUnavailable(type(exc).__name__) from exc
        self.users = PgUserRepository(self._conn, self._schema)
        self.sessions = PgSessionRepository(self._conn, self._schema)
        self.refresh_tokens = PgRefreshTokenRepository(self._conn, self._schema)
        self.one_time_tokens = PgOneTimeTokenRepository(self._conn, self._schema)
        self.flow_states = PgFlowStateRepository(self._conn, self._schema)
        self.audit = PgAuditLog(self._conn, self._schema)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if not conn.closed:
                    await conn.rollback()
            except psycopg.Error:
                pass
            finally:
                await self._pool.putconn(conn)
        if isinstance(exc, psycopg.OperationalError):
            raise StorageUnavailable(type(exc).__name__) from exc

    async def commit(self) -> None:
        assert self._conn is not None
        try:
            await self._conn.commit()
        except psycopg.OperationalError as exc:
            raise StorageUnavailable(type(exc).__name__) from exc


class PgUnitOfWorkFactory:
    def __init__(self, pool: AsyncConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema

    def __call__(self) -> PgUnitOfWork:
        return PgUnitOfWork(self.pool, self.schema)
