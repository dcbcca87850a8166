"""Fixtures for the integration suite: a fresh database per test or module, apps over them.

The session's server and templates (`pg_server`, `pg_databases`, `warm_templates`) are in
tests/conftest.py, shared with tests/security.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from pgcluster import Databases, PgDatabase, PgRoute, PgServer, routes, start_bouncer


@pytest.fixture(scope="session")
def pg_bouncer(pg_server: PgServer) -> Iterator[Any]:
    """PgBouncer 1.18+ in transaction mode in front of the session's server (started when first needed)."""
    bouncer = start_bouncer(pg_server)
    yield bouncer
    bouncer.close()


@pytest.fixture(scope="session", params=routes())
def pg_route(request: pytest.FixtureRequest) -> PgRoute:
    """Every test that builds apps (`make_api`, `api`, `apps`) runs once per route: straight to
    PostgreSQL and through PgBouncer in transaction mode (PYTRUE_TEST_PG_ROUTES narrows it)."""
    if request.param == "direct":
        return PgRoute("direct")
    return PgRoute("pgbouncer", request.getfixturevalue("pg_bouncer"))


@pytest.fixture
def fresh_db(pg_databases: Databases) -> Iterator[PgDatabase]:
    """A new database with roles and an empty `auth` schema owned by supabase_auth_admin."""
    database = pg_databases.create()
    yield database
    pg_databases.drop(database)


@pytest.fixture
def migrated_db(pg_databases: Databases) -> Iterator[PgDatabase]:
    """A new database whose `auth` schema pytrue's migrations already created."""
    database = pg_databases.create(migrated=True)
    yield database
    pg_databases.drop(database)


@pytest.fixture(scope="module")
def pg_dsn(pg_databases: Databases) -> Iterator[str]:
    """supabase_auth_admin DSN of a migrated database shared by one test module."""
    database = pg_databases.create(migrated=True)
    yield database.dsn
    pg_databases.drop(database)


@pytest.fixture
async def make_api(warm_templates: Databases, pg_route: PgRoute) -> AsyncIterator[Callable[..., Any]]:
    """Build pytrue over a clean migrated database; the contract suites' `api` factory.

    `await make_api(env, clock=FixedClock(...))`. Databases are leased from `warm_templates`:
    a recycled one (emptied after its last test, schema verified unchanged) or a new clone.
    """
    from support.storages import postgres_apis

    async with postgres_apis(warm_templates, pg_route) as factory:
        yield factory


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> Any:
    return await make_api()


@pytest.fixture
async def make_rate_limiters(api: Any) -> AsyncIterator[Callable[[int], Any]]:
    """`n` limiters on one database, each with its own pool, as `n` processes would have.

    (The container's own limiter is checked for its type only: its pool belongs to the test
    client's event loop.)
    """
    from psycopg_pool import AsyncConnectionPool

    from pytrue.adapters.postgres.rate_limiter import PgRateLimiter

    assert isinstance(api.container.adapters.rate_limiter(), PgRateLimiter)
    pools: list[AsyncConnectionPool] = []

    async def factory(count: int) -> list[Any]:
        settings = api.container.settings()
        policy = api.container.adapters.policy()
        limiters = []
        for _ in range(count):
            pool = AsyncConnectionPool(
                settings.db.url, min_size=1, max_size=4, open=False, kwargs=policy.connection_kwargs
            )
            await pool.open()
            pools.append(pool)
            limiters.append(PgRateLimiter(pool, settings.db.namespace, policy))
        return limiters

    yield factory
    for pool in pools:
        await pool.close()


# --- several apps over one database -------------------------------------------------------------

Cluster = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
async def database(warm_templates: Databases) -> AsyncIterator[PgDatabase]:
    database = warm_templates.create(migrated=True)
    yield database
    warm_templates.drop(database)


@pytest.fixture
async def apps(database: PgDatabase, pg_route: PgRoute) -> AsyncIterator[Cluster]:
    """`await apps(n, env)`: n independent pytrue apps (own container, own pool) over one database."""
    import httpx
    from support.api import PostgresApi
    from support.app import make_settings

    from pytrue.entrypoints import containers
    from pytrue.entrypoints.containers import build_container
    from pytrue.entrypoints.http.app import create_app

    async with AsyncExitStack() as stack:

        async def factory(count: int = 5, env: dict[str, str] | None = None) -> list[PostgresApi]:
            result = []
            for _ in range(count):
                overrides = {
                    "GOTRUE_DB_DRIVER": "postgres",
                    "DATABASE_URL": pg_route.dsn(database),
                    **pg_route.env,
                    # these apps share the test's event loop and one outbox: mail is sent inside the
                    # request, so each app's development inbox holds the mail of its own requests
                    "PYTRUE_MAILER_DELIVERY": "inline",
                    **(env or {}),
                }
                container = build_container(make_settings(overrides))
                app = create_app(container)
                # the app's only startup hook; litestar's lifespan() must not span fixture tasks
                await containers.start(container)
                stack.push_async_callback(containers.stop, container)
                client = await stack.enter_async_context(
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local")
                )
                result.append(PostgresApi(client, container))  # type: ignore[arg-type]
            return result

        yield factory


@pytest.fixture
async def make_stale_row_cleaner() -> AsyncIterator[Callable[[Any], Any]]:
    """The `StaleRowCleaner` over an app's database, on a pool of the test's own event loop (the
    container's pool belongs to the test client's); the container's cleaner is checked for its type."""
    from psycopg_pool import AsyncConnectionPool

    from pytrue.adapters.postgres.cleanup import PgStaleRowCleaner

    pools: list[AsyncConnectionPool] = []

    async def factory(api: Any) -> PgStaleRowCleaner:
        assert isinstance(api.container.adapters.cleaner(), PgStaleRowCleaner)
        settings = api.container.settings()
        pool = AsyncConnectionPool(settings.db.url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True})
        await pool.open()
        pools.append(pool)
        return PgStaleRowCleaner(pool, '"auth"')

    yield factory
    for pool in pools:
        await pool.close()
