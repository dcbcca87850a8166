"""A saturated password hasher refuses at once with a 503, instead of queueing requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from support.app import make_settings
from support.http import V2024

from pytrue.adapters.crypto.passwords import Argon2PasswordHasher
from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app

# One hash of these costs takes about half a second: far longer than a refused request.
SLOW = {"time_cost": 20, "memory_cost_kib": 64 * 1024}


@pytest.fixture
async def busy() -> AsyncIterator[tuple[AsyncTestClient[Any], Argon2PasswordHasher]]:
    hasher = Argon2PasswordHasher(**SLOW, max_threads=1, max_queue=0)
    container = build_container(make_settings())
    container.core.hasher.override(providers.Object(hasher))
    async with AsyncTestClient(app=create_app(container)) as client:
        yield client, hasher


async def _occupy(hasher: Argon2PasswordHasher) -> asyncio.Task[str]:
    """Start a hash that fills the hasher's only slot; return once it runs."""
    task = asyncio.create_task(hasher.hash("occupying the only thread"))
    for _ in range(2000):
        if hasher.in_flight:
            return task
        await asyncio.sleep(0.005)
    raise AssertionError("the occupying hash never started")


@pytest.mark.parametrize("version", [None, V2024["X-Supabase-Api-Version"]])
async def test_signup_while_the_hasher_is_full_gets_a_retryable_503(
    busy: tuple[AsyncTestClient[Any], Argon2PasswordHasher], version: str | None
) -> None:
    client, hasher = busy
    headers = {"X-Supabase-Api-Version": version} if version else {}
    occupying = await _occupy(hasher)

    refused = await client.post(
        "/signup", json={"email": "second@example.com", "password": "secret-2"}, headers=headers
    )

    assert hasher.in_flight == 1, "the occupying hash ended before the request: the test proved nothing"
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["x-sb-error-code"] == "unexpected_failure"
    body = refused.json()
    if version:
        assert body == {"code": "unexpected_failure", "message": body["message"]}
    else:
        assert body["code"] == 503 and body["error_code"] == "unexpected_failure" and body["error_id"]
    await occupying
    assert hasher.in_flight == 0
    again = await client.post("/signup", json={"email": "second@example.com", "password": "secret-2"})
    assert again.status_code == 200, again.text
