"""The PostgreSQL adapter set: a psycopg pool opened (and migrated) in the app lifespan."""

from __future__ import annotations

import logging
import os
from typing import Any

import psycopg
from dependency_injector import containers, providers

from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pytrue.adapters.postgres import types
from pytrue.adapters.postgres.cleanup import PgStaleRowCleaner
from pytrue.adapters.postgres.migrate import migrate, validate_namespace
from pytrue.adapters.postgres.outbox import PgMailQueue
from pytrue.adapters.postgres.pooling import ConnectionPolicy
from pytrue.adapters.postgres.rate_limiter import PgRateLimiter
from pytrue.adapters.postgres.uow import PgUnitOfWorkFactory
from pytrue.application.mail_sender import MailQueued
from pytrue.entrypoints import serving
from pytrue.entrypoints.settings import Settings

log = logging.getLogger("pytrue.postgres")


def _policy(settings: Settings) -> ConnectionPolicy:
    return ConnectionPolicy(
        transaction_pooler=settings.db.pool_mode == "transaction",
        transaction_timeout=settings.db.transaction_timeout,
    )


def _watched_pool(settings: Settings, policy: ConnectionPolicy, size: int, **options: Any) -> AsyncConnectionPool:
    return policy.watch(
        AsyncConnectionPool(
            settings.db.url,
            min_size=1,
            max_size=size,
            open=False,
            timeout=settings.db.pool_timeout,
            kwargs=policy.connection_kwargs,  # autocommit: units of work BEGIN lazily (adapters/postgres/uow.py)
            **options,
        )
    )


def _pool(settings: Settings, policy: ConnectionPolicy) -> AsyncConnectionPool:
    return _watched_pool(settings, policy, serving.pool_share(settings.db.max_pool_size).main, configure=types.configure)


LIMITER_POOL_SIZE = serving.LIMITER_POOL_SIZE


def _limiter_pool(settings: Settings, policy: ConnectionPolicy) -> AsyncConnectionPool:
    """The rate limiter's own connections: it runs while a unit of work holds one of the main pool's,
    so sharing that pool could leave every request waiting for a second connection."""
    return _watched_pool(settings, policy, serving.pool_share(settings.db.max_pool_size).limiter)


class PgLifecycle:
    """Applies migrations and opens the pools at start; closes them at stop."""

    def __init__(self, pool: AsyncConnectionPool, settings: Settings, limiter_pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._settings = settings
        self._limiter_pool = limiter_pool

    async def start(self) -> None:
        if os.environ.get("PYTRUE_SKIP_MIGRATIONS") != "1":
            applied = await migrate(self._settings.db.url, namespace=self._settings.db.namespace)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
        await self._pool.open(wait=False)
        await self._limiter_pool.open(wait=False)
        await self._fit_pool()

    async def _fit_pool(self) -> None:
        """Shrink the pools to this worker's share of the server's connections (a server reached directly:
        behind a transaction-mode pooler `max_connections` is the server's, not the pooler's limit)."""
        budget = self._settings.db.max_pool_size
        if budget and budget < 2 * serving.workers():
            log.warning(
                "GOTRUE_DB_MAX_POOL_SIZE=%d is less than 2 connections for each of %d workers; each opens 2",
                budget,
                serving.workers(),
            )
        if self._settings.db.pool_mode == "transaction":
            return
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
        share = serving.pool_share(budget, row[0], row[1])
        for pool, size in ((self._pool, share.main), (self._limiter_pool, share.limiter)):
            if size != pool.max_size:
                log.info("connection pool: %d per worker (max_connections %d, %d workers)", size, row[0], serving.workers())
                await pool.resize(min_size=min(pool.min_size, size), max_size=size)

    async def stop(self) -> None:
        await self._limiter_pool.close()
        await self._pool.close()


class PostgresAdapters(containers.DeclarativeContainer):
    """Storage in PostgreSQL (`GOTRUE_DB_DRIVER=postgres`), GoTrue's `auth` schema."""

    settings = providers.Dependency(instance_of=Settings)
    policy = providers.Singleton(_policy, settings)
    pool = providers.Singleton(_pool, settings, policy)
    mail_queued = providers.Singleton(MailQueued)
    uow = providers.Singleton(
        lambda pool, s, policy, queued: PgUnitOfWorkFactory(
            pool, '"' + validate_namespace(s.db.namespace) + '"', policy, queued
        ),
        pool,
        settings,
        policy,
        mail_queued,
    )
    mail_queue = providers.Singleton(lambda pool, s: PgMailQueue(pool, s.db.namespace), pool, settings)
    limiter_pool = providers.Singleton(_limiter_pool, settings, policy)
    rate_limiter = providers.Singleton(
        lambda pool, s, policy: PgRateLimiter(pool, s.db.namespace, policy), limiter_pool, settings, policy
    )
    cleaner = providers.Singleton(
        lambda pool, s: PgStaleRowCleaner(pool, '"' + validate_namespace(s.db.namespace) + '"'), pool, settings
    )
    lifecycle = providers.Singleton(PgLifecycle, pool, settings, limiter_pool)
