"""The in-memory unit of work: holds the store's lock, rolls back through the undo log."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from pytrue.adapters.memory.repositories import (
    InMemoryAuditLog,
    InMemoryFactorRepository,
    InMemoryFlowStateRepository,
    InMemoryOAuthClientStateRepository,
    InMemoryOneTimeTokenRepository,
    InMemoryRefreshTokenRepository,
    InMemorySessionRepository,
    InMemoryUserRepository,
)
from pytrue.adapters.memory.outbox import InMemoryOutbox
from pytrue.adapters.memory.user_imports import InMemoryUserImports
from pytrue.adapters.memory.store import InMemoryStore, Undo
from pytrue.application.ports import HookFailed
from pytrue.domain.audit import AuditLogEntry

AuditListener = Callable[[list[AuditLogEntry]], None]


class NoHookFunctions:
    """The in-memory store has no database functions: a pg-functions hook is refused when the
    configuration is read (GOTRUE_DB_DRIVER=memory), so this is never reached in a served app."""

    async def call(self, function: str, payload: Mapping[str, Any], *, timeout_ms: int) -> Any:
        raise HookFailed("Error running hook URI: pg-functions hooks need PostgreSQL storage")


class InMemoryUnitOfWork:
    """Serialisable by construction: one unit of work at a time owns the whole store."""

    def __init__(
        self, store: InMemoryStore, on_mail_queued: Callable[[], None] | None = None, on_audit: AuditListener | None = None
    ) -> None:
        self._store = store
        self._undo: list[Undo] = []
        self._queued: list[int] = []
        self._audited: list[AuditLogEntry] = []
        self._on_mail_queued = on_mail_queued
        self._on_audit = on_audit
        self.users = InMemoryUserRepository(store, self._undo)
        self.sessions = InMemorySessionRepository(store, self._undo)
        self.refresh_tokens = InMemoryRefreshTokenRepository(store, self._undo)
        self.one_time_tokens = InMemoryOneTimeTokenRepository(store, self._undo)
        self.flow_states = InMemoryFlowStateRepository(store, self._undo)
        self.oauth_client_states = InMemoryOAuthClientStateRepository(store, self._undo)
        self.factors = InMemoryFactorRepository(store, self._undo)
        self.audit = InMemoryAuditLog(store, self._undo, self._audited)
        self.outbox = InMemoryOutbox(store, self._undo, self._queued)
        self.hook_functions = NoHookFunctions()
        self.user_imports = InMemoryUserImports(store, self._undo)

    async def __aenter__(self) -> InMemoryUnitOfWork:
        await self._store.lock.acquire()
        self._undo.clear()
        self._queued.clear()
        self._audited.clear()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()
        finally:
            self._store.lock.release()

    async def commit(self) -> None:
        self._undo.clear()
        if self._audited:
            entries = list(self._audited)
            self._audited.clear()
            if self._on_audit is not None:
                self._on_audit(entries)
        if self._queued and self._on_mail_queued is not None:
            self._on_mail_queued()
        self._queued.clear()


class InMemoryUnitOfWorkFactory:
    """`on_mail_queued` is called after a commit that queued mail (it wakes the outbox sender);
    `on_audit`, when set, with the audit entries a commit wrote (they are logged: docs/adr/0029)."""

    on_audit: AuditListener | None = None

    def __init__(self, store: InMemoryStore | None = None, on_mail_queued: Callable[[], None] | None = None) -> None:
        self.store = store or InMemoryStore()
        self.on_mail_queued = on_mail_queued

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store, self.on_mail_queued, self.on_audit)
