"""Fixtures for HTTP tests on the in-memory adapters."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.api import MemoryApi  # noqa: E402
from support.storages import memory_apis  # noqa: E402

ApiFactory = Callable[..., Any]


@pytest.fixture
async def make_api() -> AsyncIterator[ApiFactory]:
    """`await make_api(env, clock=FixedClock(...))`: an app over fresh in-memory storage."""
    async with memory_apis() as factory:
        yield factory


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
