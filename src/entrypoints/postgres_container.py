"""The PostgreSQL adapter set: a psycopg pool opened (and migrated) in the app lifespan."""

from __future__ import annotations

import logging
import os

import psycopg
from dependency_injector import containers, providers

from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pytrue.adapters.postgres import types
from pytrue.adapters.postgres.cleanup import PgStaleRowCleaner
from pytrue.adapters.postgres.migrate import migrate, validate_namespace
from pytrue.adapters.postgres.outbox import PgMailQueue
from pytrue.adapters.postgres.rate_limiter import PgRateLimiter
from pytrue.adapters.postgres.uow import PgUnitOfWorkFactory
from pytrue.application.mail_sender import MailQueued
from pytrue.entrypoints import serving
from pytrue.entrypoints.settings import Settings

log = logging.getLogger("pytrue.postgres")


def _pool(settings: Settings) -> AsyncConnectionPool:
    size = serving.pool_size(settings.db_max_pool_size, None)
    return AsyncConnectionPool(
        settings.database_url,
        min_size=1,
        max_size=size,
        open=False,
        timeout=2.0,
        kwargs={"autocommit": True},  # units of work BEGIN lazily (adapters/postgres/uow.py)
        configure=types.configure,
    )


LIMITER_POOL_SIZE = 2


def _limiter_pool(settings: Settings) -> AsyncConnectionPool:
    """The rate limiter's own connections: it runs while a unit of work holds one of the main pool's,
    so sharing that pool could leave every request waiting for a second connection."""
    return AsyncConnectionPool(
        settings.database_url, min_size=1, max_size=LIMITER_POOL_SIZE, open=False, timeout=2.0, kwargs={"autocommit": True}
    )


class PgLifecycle:
    """Applies migrations and opens the pools at start; closes them at stop."""

    def __init__(self, pool: AsyncConnectionPool, settings: Settings, limiter_pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._settings = settings
        self._limiter_pool = limiter_pool

    async def start(self) -> None:
        if os.environ.get("PYTRUE_SKIP_MIGRATIONS") != "1":
            applied = await migrate(self._settings.database_url, namespace=self._settings.db_namespace)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
        await self._pool.open(wait=False)
        await self._limiter_pool.open(wait=False)
        await self._fit_pool()

    async def _fit_pool(self) -> None:
        """Shrink the pool to this worker's share of the server's connections."""
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(
                    "select current_setting('max_connections')::int,"
                    " current_setting('superuser_reserved_connections')::int"
                )
                row = await cursor.fetchone()
        except (psycopg.Error, PoolTimeout):
            log.warning("could not read max_connections; keeping a pool of %d", self._pool.max_size)
            return
        if row is None:
            return
        size = serving.pool_size(self._settings.db_max_pool_size, row[0], row[1], extra_per_worker=LIMITER_POOL_SIZE)
        if size != self._pool.max_size:
            log.info("connection pool: %d per worker (max_connections %d, %d workers)", size, row[0], serving.workers())
            await self._pool.resize(min_size=min(self._pool.min_size, size), max_size=size)

    async def stop(self) -> None:
        await self._limiter_pool.close()
        await self._pool.close()


class PostgresAdapters(containers.DeclarativeContainer):
    """Storage in PostgreSQL (`GOTRUE_DB_DRIVER=postgres`), GoTrue's `auth` schema."""

    settings = providers.Dependency(instance_of=Settings)
    pool = providers.Singleton(_pool, settings)
    mail_queued = providers.Singleton(MailQueued)
    uow = providers.Singleton(
        lambda pool, s, queued: PgUnitOfWorkFactory(pool, '"' + validate_namespace(s.db_namespace) + '"', queued),
        pool,
        settings,
        mail_queued,
    )
    mail_queue = providers.Singleton(lambda pool, s: PgMailQueue(pool, s.db_namespace), pool, settings)
    limiter_pool = providers.Singleton(_limiter_pool, settings)
    rate_limiter = providers.Singleton(lambda pool, s: PgRateLimiter(pool, s.db_namespace), limiter_pool, settings)
    cleaner = providers.Singleton(
        lambda pool, s: PgStaleRowCleaner(pool, '"' + validate_namespace(s.db_namespace) + '"'), pool, settings
    )
    lifecycle = providers.Singleton(PgLifecycle, pool, settings, limiter_pool)
