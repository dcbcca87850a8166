"""The PostgreSQL unit of work: one pooled connection, one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pytrue.adapters.postgres.hook_functions import PgHookFunctions
from pytrue.adapters.postgres.outbox import PgOutbox
from pytrue.adapters.postgres.pooling import ConnectionPolicy, Deadline
from pytrue.adapters.postgres.user_imports import PgUserImports
from pytrue.adapters.postgres.repositories import (
    PgAuditLog,
    PgFlowStateRepository,
    PgOAuthClientStateRepository,
    PgFactorRepository,
    PgOneTimeTokenRepository,
    PgRefreshTokenRepository,
    PgSessionRepository,
    PgUserRepository,
)
from pytrue.application.ports import StorageUnavailable
from pytrue.domain.audit import AuditLogEntry

AuditListener = Callable[[list[AuditLogEntry]], None]


class PgUnitOfWork:
    """Takes a connection on entry; leaving without `commit()` rolls back and returns it.

    The pool's connections are in autocommit mode and the transaction starts lazily, with the
    first statement that is not a plain SELECT (`repositories.reads_only`). Under READ COMMITTED
    a plain SELECT sees the same rows inside a transaction as outside one and locks nothing, so
    this changes no outcome; it saves read-only units of work (`GET /user`, the look-ups before a
    password check) a BEGIN and a ROLLBACK round trip each.

    BEGIN and the writes whose results nobody reads (audit rows, session and amr inserts, ...)
    are queued in `pending` and sent in one pipeline with the next statement that is read, or
    with COMMIT: a sign-in's or a refresh's writes cost one round trip instead of one each.
    Leaving without `commit()` drops what is still queued and rolls back what was sent.

    Nothing outlives the transaction on the connection (a transaction-mode pooler may hand the
    next one to another server connection: adapters/postgres/pooling.py), and a unit of work
    holding its connection longer than the policy's `transaction_timeout` has it cut off.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        schema: str,
        policy: ConnectionPolicy | None = None,
        on_mail_queued: Callable[[], None] | None = None,
        on_audit: AuditListener | None = None,
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._policy = policy or _DEFAULT_POLICY
        self._on_mail_queued = on_mail_queued
        self._on_audit = on_audit
        self.audited: list[AuditLogEntry] = []
        self._mail_queued = False
        self._conn: AsyncConnection[Any] | None = None
        self._deadline: Deadline | None = None
        self.begun = False
        self.pending: list[tuple[str, Any]] = []
        self.stored_amr: dict[UUID, set[tuple[str, datetime]]] = {}
        self.on_connection: Callable[[AsyncConnection[Any]], None] | None = None

    async def begin(self) -> None:
        assert self._conn is not None
        self.pending.append(("BEGIN", None))
        self.begun = True

    async def __aenter__(self) -> PgUnitOfWork:
        try:
            self._conn = await self._pool.getconn()
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise StorageUnavailable(type(exc).__name__) from exc
        conn, schema = self._conn, self._schema
        if self.on_connection is not None:
            self.on_connection(conn)
        self._policy.adopt(conn)
        self._deadline = self._policy.deadline(conn)
        self.users = PgUserRepository(conn, schema, self)
        self.sessions = PgSessionRepository(conn, schema, self)
        self.refresh_tokens = PgRefreshTokenRepository(conn, schema, self)
        self.one_time_tokens = PgOneTimeTokenRepository(conn, schema, self)
        self.flow_states = PgFlowStateRepository(conn, schema, self)
        self.oauth_client_states = PgOAuthClientStateRepository(conn, schema, self)
        self.factors = PgFactorRepository(conn, schema, self)
        self.audit = PgAuditLog(conn, schema, self)
        self.outbox = PgOutbox(conn, schema, self, self._queued)
        self.hook_functions = PgHookFunctions(conn, schema, self)
        self.user_imports = PgUserImports(conn, schema, self)
        return self

    def _queued(self) -> None:
        self._mail_queued = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        self.pending.clear()  # never sent: nothing to undo
        self.audited.clear()
        if self._deadline is not None:
            self._deadline.cancel()
        if conn is not None:
            try:
                status = conn.info.transaction_status
                if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                    await conn.execute("ROLLBACK")
                elif status == TransactionStatus.ACTIVE:
                    await conn.close()  # interrupted mid-statement: its state is unknown
            except psycopg.Error:
                pass
            finally:
                await self._pool.putconn(conn)
        if exc is not None and self._policy.observe(exc):
            raise StorageUnavailable(type(exc).__name__) from exc

    async def commit(self) -> None:
        assert self._conn is not None
        if not self.begun:
            return
        try:
            await self.users._rows("COMMIT")  # noqa: SLF001 - sends what is queued in the same pipeline
        except psycopg.OperationalError as exc:
            self._policy.observe(exc)
            raise StorageUnavailable(type(exc).__name__) from exc
        self.begun = False
        if self.audited:
            entries, self.audited = self.audited, []
            if self._on_audit is not None:
                self._on_audit(entries)
        if self._mail_queued and self._on_mail_queued is not None:
            self._on_mail_queued()
        self._mail_queued = False


_DEFAULT_POLICY = ConnectionPolicy(transaction_pooler=False, transaction_timeout=5.0)


class PgUnitOfWorkFactory:
    """`on_mail_queued` is called after a commit that queued mail (it wakes the outbox sender);
    `on_audit`, when set, with the audit entries a commit wrote (they are logged: docs/adr/0029)."""

    on_audit: AuditListener | None = None
    on_connection: Callable[[AsyncConnection[Any]], None] | None = None  # tracing's, when enabled (docs/adr/0030)

    def __init__(
        self,
        pool: AsyncConnectionPool,
        schema: str,
        policy: ConnectionPolicy | None = None,
        on_mail_queued: Callable[[], None] | None = None,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.policy = policy or _DEFAULT_POLICY
        self.on_mail_queued = on_mail_queued

    def __call__(self) -> PgUnitOfWork:
        uow = PgUnitOfWork(self.pool, self.schema, self.policy, self.on_mail_queued, self.on_audit)
        uow.on_connection = self.on_connection
        return uow
