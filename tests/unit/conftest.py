"""Fixtures for HTTP tests on the in-memory adapters."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.app import anon_key, make_settings, service_role_key  # noqa: E402

from pytrue.entrypoints.containers import Application, build_container  # noqa: E402
from pytrue.entrypoints.http.app import create_app  # noqa: E402


class Api:
    """An HTTP client bound to one pytrue app, with the keys a Supabase client would carry."""

    def __init__(self, client: AsyncTestClient, container: Application) -> None:
        self.client = client
        self.container = container
        settings = container.settings()
        self.anon = anon_key(settings)
        self.service = service_role_key(settings)

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.anon}", "apikey": self.anon, **extra}

    def admin(self, **extra: str) -> dict[str, str]:
        return self.headers(self.service, **extra)

    async def signup(self, email: str = "user@example.com", password: str = "s3cret-pass", **body: Any) -> Any:
        return await self.client.post("/signup", json={"email": email, "password": password, **body}, headers=self.headers())

    async def password_grant(self, email: str = "user@example.com", password: str = "s3cret-pass") -> Any:
        return await self.client.post(
            "/token?grant_type=password", json={"email": email, "password": password}, headers=self.headers()
        )

    async def refresh(self, token: str) -> Any:
        return await self.client.post(
            "/token?grant_type=refresh_token", json={"refresh_token": token}, headers=self.headers()
        )

    @property
    def store(self) -> Any:
        return self.container.adapters.store()


ApiFactory = Callable[..., Any]


@pytest.fixture
async def make_api() -> AsyncIterator[ApiFactory]:
    clients: list[AsyncTestClient] = []

    async def factory(env: dict[str, str] | None = None) -> Api:
        container = build_container(make_settings(env))
        client = AsyncTestClient(app=create_app(container))
        await client.__aenter__()
        clients.append(client)
        return Api(client, container)

    yield factory
    for client in clients:
        await client.__aexit__(None, None, None)


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    return await make_api()
