"""Security tests run on both storages: `make_api` / `api` are parametrised over memory and PostgreSQL.

The PostgreSQL leg uses the session's server (tests/conftest.py), started only when it runs;
`-k memory` runs the memory leg alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from support.storages import memory_apis, postgres_apis


@pytest.fixture(params=["memory", "postgres"])
def storage(request: pytest.FixtureRequest) -> Any:
    """None for memory; PostgreSQL's warm templates (resolved here, outside the event loop)."""
    return None if request.param == "memory" else request.getfixturevalue("warm_templates")


@pytest.fixture
async def make_api(storage: Any) -> AsyncIterator[Callable[..., Any]]:
    apis = memory_apis() if storage is None else postgres_apis(storage)
    async with apis as factory:
        yield factory


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> Any:
    return await make_api()


@pytest.fixture
async def make_rate_limiters(api: Any, storage: Any) -> AsyncIterator[Callable[[int], Any]]:
    """`n` handles on one shared limit: the memory container's single limiter, or on PostgreSQL
    `n` limiters with pools of their own, as `n` processes would have."""
    if storage is None:

        async def shared(count: int) -> list[Any]:
            return [api.container.adapters.rate_limiter()] * count

        yield shared
        return
    from psycopg_pool import AsyncConnectionPool

    from pytrue.adapters.postgres.rate_limiter import PgRateLimiter

    pools: list[AsyncConnectionPool] = []

    async def separate(count: int) -> list[Any]:
        settings = api.container.settings()
        for _ in range(count):
            pool = AsyncConnectionPool(settings.db.url, min_size=1, max_size=4, open=False)
            await pool.open()
            pools.append(pool)
        return [PgRateLimiter(pool, settings.db.namespace) for pool in pools[-count:]]

    yield separate
    for pool in pools:
        await pool.close()
