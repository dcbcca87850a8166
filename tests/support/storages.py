"""The contract suites' `make_api` factory on each storage, shared by the conftests that collect them.

`memory_apis()` and `postgres_apis(warm_templates)` are async context managers yielding
`factory(env=None, *, clock=None, share_with=None) -> Api`; leaving one closes every app it built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

ApiFactory = Callable[..., Any]


@asynccontextmanager
async def memory_apis() -> AsyncIterator[ApiFactory]:
    """Apps over fresh in-memory storage; `share_with` gives a second app over that api's store."""
    from dependency_injector import providers
    from litestar.testing import AsyncTestClient

    from pytrue.entrypoints.containers import build_container
    from pytrue.entrypoints.http.app import create_app
    from support.api import MemoryApi
    from support.app import make_settings

    clients: list[AsyncTestClient] = []

    async def factory(env: dict[str, str] | None = None, *, clock: Any = None, share_with: Any = None) -> MemoryApi:
        container = build_container(make_settings(env))
        if share_with is not None:
            shared = share_with.container.adapters
            container.adapters.store.override(providers.Object(shared.store()))
            container.adapters.uow.override(providers.Object(shared.uow()))
        if clock is not None:
            container.core.clock.override(providers.Object(clock))
        client = AsyncTestClient(app=create_app(container))
        await client.__aenter__()
        clients.append(client)
        return MemoryApi(client, container, clock)

    try:
        yield factory
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)


@asynccontextmanager
async def postgres_apis(warm_templates: Any, route: Any = None) -> AsyncIterator[ApiFactory]:
    """Apps over clean migrated databases leased from `warm_templates` (recycled or freshly cloned),
    reached along `route` (a `pgcluster.PgRoute`: straight, or through PgBouncer; straight if None).

    With `share_with`, a second app (its own settings and pool) over that api's database.
    """
    from dependency_injector import providers
    from litestar.testing import AsyncTestClient

    from pytrue.entrypoints.containers import build_container
    from pytrue.entrypoints.http.app import create_app
    from support.api import PostgresApi
    from support.app import make_settings

    opened: list[tuple[AsyncTestClient, Any]] = []

    async def factory(env: dict[str, str] | None = None, *, clock: Any = None, share_with: Any = None) -> PostgresApi:
        database = None
        if share_with is not None:
            dsn = share_with.container.settings().db.url
        else:
            database = warm_templates.lease()
            dsn = database.dsn if route is None else route.dsn(database)
        route_env = {} if route is None else route.env
        overrides = {"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": dsn, **route_env, **(env or {})}
        container = build_container(make_settings(overrides))
        if clock is not None:
            # pytrue writes every timestamp from its clock (never SQL now()), so a fixed clock holds on PG too
            container.core.clock.override(providers.Object(clock))
        client = AsyncTestClient(app=create_app(container))
        await client.__aenter__()
        opened.append((client, database))
        return PostgresApi(client, container, clock)

    try:
        yield factory
    finally:
        for client, leased in reversed(opened):
            await client.__aexit__(None, None, None)
            if leased is not None:
                warm_templates.give_back(leased)
