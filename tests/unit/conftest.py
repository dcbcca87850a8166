"""Fixtures for HTTP tests on the in-memory adapters."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.api import MemoryApi  # noqa: E402
from support.app import make_settings  # noqa: E402

from pytrue.entrypoints.containers import build_container  # noqa: E402
from pytrue.entrypoints.http.app import create_app  # noqa: E402


ApiFactory = Callable[..., Any]


@pytest.fixture
async def make_api() -> AsyncIterator[ApiFactory]:
    """`await make_api(env, clock=FixedClock(...))`: an app over fresh in-memory storage."""
    clients: list[AsyncTestClient] = []

    async def factory(env: dict[str, str] | None = None, *, clock: Any = None, share_with: Any = None) -> MemoryApi:
        """With `share_with`, a second app (its own settings) over that api's storage."""
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

    yield factory
    for client in clients:
        await client.__aexit__(None, None, None)


@pytest.fixture
async def api(make_api: ApiFactory) -> MemoryApi:
    return await make_api()


@pytest.fixture
async def make_rate_limiters(api: MemoryApi) -> Callable[[int], Any]:
    """`n` handles on one shared limit; in memory that is the container's single limiter."""
    from pytrue.adapters.memory.rate_limiter import InMemoryRateLimiter

    assert isinstance(api.container.adapters.rate_limiter(), InMemoryRateLimiter)

    async def factory(count: int) -> list[Any]:
        return [api.container.adapters.rate_limiter()] * count

    return factory


@pytest.fixture
def make_stale_row_cleaner() -> Callable[[MemoryApi], Any]:
    """The `StaleRowCleaner` over an app's storage; in memory, the container's own."""
    from pytrue.adapters.memory.cleanup import InMemoryStaleRowCleaner

    async def factory(api: MemoryApi) -> Any:
        cleaner = api.container.adapters.cleaner()
        assert isinstance(cleaner, InMemoryStaleRowCleaner)
        return cleaner

    return factory
