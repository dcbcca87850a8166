"""The PostgreSQL adapter set: a psycopg pool opened (and migrated) in the app lifespan."""

from __future__ import annotations

import logging
import os

from dependency_injector import containers, providers

from psycopg_pool import AsyncConnectionPool

from pytrue.adapters.postgres.migrate import migrate, validate_namespace
from pytrue.adapters.postgres.rate_limiter import PgRateLimiter
from pytrue.adapters.postgres.uow import PgUnitOfWorkFactory
from pytrue.entrypoints.settings import Settings

log = logging.getLogger("pytrue.postgres")
DEFAULT_POOL_SIZE = 10


def _pool(settings: Settings) -> AsyncConnectionPool:
    size = settings.db_max_pool_size or DEFAULT_POOL_SIZE
    return AsyncConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=size,
        open=False,
        timeout=2.0,
        kwargs={"autocommit": False},
    )


class PgLifecycle:
    """Applies migrations and opens the pool at start; closes it at stop."""

    def __init__(self, pool: AsyncConnectionPool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    async def start(self) -> None:
        if os.environ.get("PYTRUE_SKIP_MIGRATIONS") != "1":
            applied = await migrate(self._settings.database_url, namespace=self._settings.db_namespace)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
        await self._pool.open(wait=False)

    async def stop(self) -> None:
        await self._pool.close()


class PostgresAdapters(containers.DeclarativeContainer):
    """Storage in PostgreSQL (`GOTRUE_DB_DRIVER=postgres`), GoTrue's `auth` schema."""

    settings = providers.Dependency(instance_of=Settings)
    pool = providers.Singleton(_pool, settings)
    uow = providers.Singleton(
        lambda pool, s: PgUnitOfWorkFactory(pool, '"' + validate_namespace(s.db_namespace) + '"'), pool, settings
    )
    rate_limiter = providers.Singleton(lambda pool, s: PgRateLimiter(pool, s.db_namespace), pool, settings)
    lifecycle = providers.Singleton(PgLifecycle, pool, settings)
