"""The in-memory unit of work: holds the store's lock, rolls back through the undo log."""

from __future__ import annotations

from types import TracebackType

from pytrue.adapters.memory.repositories import (
    InMemoryAuditLog,
    InMemoryFlowStateRepository,
    InMemoryOneTimeTokenRepository,
    InMemoryRefreshTokenRepository,
    InMemorySessionRepository,
    InMemoryUserRepository,
)
from pytrue.adapters.memory.store import InMemoryStore, Undo


class InMemoryUnitOfWork:
    """Serialisable by construction: one unit of work at a time owns the whole store."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._undo: list[Undo] = []
        self.users = InMemoryUserRepository(store, self._undo)
        self.sessions = InMemorySessionRepository(store, self._undo)
        self.refresh_tokens = InMemoryRefreshTokenRepository(store, self._undo)
        self.one_time_tokens = InMemoryOneTimeTokenRepository(store, self._undo)
        self.flow_states = InMemoryFlowStateRepository(store, self._undo)
        self.audit = InMemoryAuditLog(store, self._undo)

    async def __aenter__(self) -> InMemoryUnitOfWork:
        await self._store.lock.acquire()
        self._undo.clear()
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


class InMemoryUnitOfWorkFactory:
    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store or InMemoryStore()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)
