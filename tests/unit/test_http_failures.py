"""Unexpected failures over HTTP (errors.md §1): a generic 500 or a retryable 503, never internals.

These stay on the in-memory adapters: each replaces a use case's unit-of-work factory with one
that raises before any storage is touched, so the storage underneath plays no part. A real
PostgreSQL outage and failures half-way through a PostgreSQL transaction are covered by
tests/integration/test_faults.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from support.app import anon_key, make_settings

from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app

UNEXPECTED = "Unexpected failure, please check server logs for more information"


def failing(real: Any, error: Exception) -> Any:
    """The use case `real` over a unit-of-work factory that raises `error`.

    It must stay an instance of exactly the use case's class: Litestar checks dependency
    types, and anything else fails with a 500 before the handler runs (a false pass).
    """

    def unit_of_work() -> Any:
        raise error

    return dataclasses.replace(real, uow=unit_of_work)


@pytest.fixture
async def exploding_api() -> AsyncIterator[Any]:
    container = build_container(make_settings({"REQUEST_ID_HEADER": "X-Request-Id"}))
    boom = RuntimeError("secret detail: password=hunter2 at /srv/db")
    container.use_cases.sign_up.override(providers.Object(failing(container.use_cases.sign_up(), boom)))
    async with AsyncTestClient(app=create_app(container)) as client:
        client.anon = anon_key(container.settings())  # type: ignore[attr-defined]
        yield client
    container.use_cases.sign_up.reset_override()


async def test_unexpected_failure_does_not_leak_internals(exploding_api: Any) -> None:
    body = {"email": "a@example.com", "password": "s3cret-pass"}
    response = await exploding_api.post("/signup", json=body)
    assert response.status_code == 500
    payload = response.json()
    assert "secret detail" not in response.text and "hunter2" not in response.text
    assert "RuntimeError" not in response.text and "Traceback" not in response.text
    assert payload["code"] == 500
    assert payload["error_code"] == "unexpected_failure"
    assert payload["msg"] == UNEXPECTED
    assert payload["error_id"]
    assert response.headers["x-sb-error-code"] == "unexpected_failure"


async def test_unexpected_failure_error_id_echoes_the_request_id(exploding_api: Any) -> None:
    body = {"email": "a@example.com", "password": "s3cret-pass"}
    response = await exploding_api.post("/signup", json=body, headers={"X-Request-Id": "req-123"})
    assert response.status_code == 500
    assert response.json()["error_id"] == "req-123"


async def test_unexpected_failure_2024_shape(exploding_api: Any) -> None:
    body = {"email": "a@example.com", "password": "s3cret-pass"}
    response = await exploding_api.post("/signup", json=body, headers={"X-Supabase-Api-Version": "2024-01-01"})
    assert response.status_code == 500
    assert response.json() == {"code": "unexpected_failure", "message": UNEXPECTED}
    assert response.headers["x-supabase-api-version"] == "2024-01-01"
    assert "secret detail" not in response.text


async def test_storage_outage_is_a_retryable_503_without_details() -> None:
    from pytrue.application.ports import StorageUnavailable

    container = build_container(make_settings())
    down = StorageUnavailable("connection refused to 10.0.0.5:5432 user=postgres")
    real = container.use_cases.sign_in_with_password()
    container.use_cases.sign_in_with_password.override(providers.Object(failing(real, down)))
    async with AsyncTestClient(app=create_app(container)) as client:
        response = await client.post(
            "/token?grant_type=password", json={"email": "a@example.com", "password": "s3cret-pass"}
        )
    assert response.status_code == 503
    assert response.json()["error_code"] == "unexpected_failure"
    assert "10.0.0.5" not in response.text and "postgres" not in response.text
