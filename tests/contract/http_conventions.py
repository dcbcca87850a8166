"""Conventions every endpoint shares (api.md §0, errors.md §1): CORS, trailing slashes, versions.

The 500/503 mapping of unexpected failures is in tests/unit/test_http_failures.py.
"""

from __future__ import annotations

from typing import Any

import pytest


# --- CORS -------------------------------------------------------------------------------


async def test_preflight_reflects_the_origin(api: Any) -> None:
    response = await api.client.options(
        "/token?grant_type=password",
        headers={
            "Origin": "https://app.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, x-supabase-api-version",
        },
    )
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "https://app.example.org"
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {
        "accept",
        "authorization",
        "content-type",
        "x-client-ip",
        "x-client-info",
        "x-jwt-aud",
        "x-use-cookie",
        "x-supabase-api-version",
    } <= allowed
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods


async def test_preflight_needs_no_auth_even_on_admin_routes(api: Any) -> None:
    response = await api.client.options(
        "/admin/users", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_extra_allowed_headers_from_settings(make_api: Any) -> None:
    api = await make_api({"GOTRUE_CORS_ALLOWED_HEADERS": "X-Custom-One,X-Custom-Two"})
    response = await api.client.options(
        "/user", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
    )
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"x-custom-one", "x-custom-two", "authorization"} <= allowed


async def test_normal_responses_expose_headers(api: Any) -> None:
    response = await api.client.get(
        "/admin/users", headers=api.admin(Origin="https://app.example.org")
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.org"
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-total-count", "link", "x-supabase-api-version"} <= exposed


async def test_error_responses_carry_cors_headers(api: Any) -> None:
    response = await api.client.get("/user", headers={"Origin": "https://app.example.org"})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "https://app.example.org"


async def test_no_cors_headers_without_origin(api: Any) -> None:
    response = await api.client.get("/health")
    assert "access-control-allow-origin" not in response.headers


# --- API version negotiation ------------------------------------------------------------


@pytest.mark.parametrize("version", ["2023-12-31", "garbage", "2024-1-1", ""])
async def test_old_or_unparsable_version_gets_the_legacy_shape(api: Any, version: str) -> None:
    response = await api.client.get("/user", headers={"X-Supabase-Api-Version": version})
    assert response.status_code == 401
    assert response.json()["error_code"] == "no_authorization"
    assert "x-supabase-api-version" not in response.headers


@pytest.mark.parametrize("version", ["2024-01-01", "2025-06-30"])
async def test_newer_version_gets_the_2024_shape_with_echo(api: Any, version: str) -> None:
    response = await api.client.get("/user", headers={"X-Supabase-Api-Version": version})
    assert response.status_code == 401
    assert response.json() == {"code": "no_authorization", "message": "This endpoint requires a valid Bearer token"}
    assert response.headers["x-supabase-api-version"] == "2024-01-01"


async def test_version_header_is_not_echoed_on_success(api: Any) -> None:
    response = await api.client.get("/health", headers={"X-Supabase-Api-Version": "2024-01-01"})
    assert response.status_code == 200
    assert "x-supabase-api-version" not in response.headers


# --- paths ------------------------------------------------------------------------------


async def test_trailing_slashes_resolve(api: Any) -> None:
    session = (await api.signup()).json()
    user = await api.client.get("/user/", headers=api.headers(session["access_token"]))
    assert user.status_code == 200
    assert user.json()["id"] == session["user"]["id"]
    admin = await api.client.get("/admin/users/", headers=api.admin())
    assert admin.status_code == 200
    assert admin.headers["x-total-count"] == "1"
    signup = await api.client.post(
        "/signup/", json={"email": "other@example.com", "password": "s3cret-pass"}, headers=api.headers()
    )
    assert signup.status_code == 200


async def test_apikey_header_is_not_required(api: Any) -> None:
    response = await api.client.post("/signup", json={"email": "a@example.com", "password": "s3cret-pass"})
    assert response.status_code == 200


async def test_unknown_route_is_404_json(api: Any) -> None:
    response = await api.client.get("/nope")
    assert response.status_code == 404
    assert response.json()["code"] == 404


async def test_wrong_method_is_405_and_writes_nothing(api: Any) -> None:
    before = await api.counts()
    response = await api.client.get("/signup")
    assert response.status_code == 405
    assert await api.counts() == before
