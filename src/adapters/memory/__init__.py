"""In-memory adapters: a real storage for tests, scripts and `GOTRUE_DB_DRIVER=memory`."""

from pytrue.adapters.memory.store import InMemoryStore
from pytrue.adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory

__all__ = ["InMemoryStore", "InMemoryUnitOfWork", "InMemoryUnitOfWorkFactory"]
