"""End-to-end slice over HTTP on the in-memory adapters: sign up, sign in, refresh, user, logout."""

from __future__ import annotations

from typing import Any


async def test_signup_with_autoconfirm_returns_a_session(api: Any) -> None:
    response = await api.signup("Person@Example.com")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert len(body["refresh_token"]) == 12
    user = body["user"]
    assert user["email"] == "person@example.com"
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert user["identities"][0]["identity_id"]
    assert user["user_metadata"]["email_verified"] is True


async def test_password_refresh_user_logout_cycle(api: Any) -> None:
    await api.signup()
    session = (await api.password_grant()).json()
    refreshed = await api.refresh(session["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != session["refresh_token"]
    me = await api.client.get("/user", headers=api.headers(refreshed.json()["access_token"]))
    assert me.status_code == 200 and me.json()["email"] == "user@example.com"
    out = await api.client.post("/logout", headers=api.headers(refreshed.json()["access_token"]))
    assert out.status_code == 204 and out.content == b""
    again = await api.client.get("/user", headers=api.headers(refreshed.json()["access_token"]))
    assert again.status_code == 403
    assert again.json()["error_code"] == "session_not_found"


async def test_errors_use_the_negotiated_shape(api: Any) -> None:
    legacy = await api.client.post("/signup", content=b"{nope", headers=api.headers())
    assert legacy.status_code == 400
    assert legacy.json()["error_code"] == "bad_json" and legacy.json()["code"] == 400
    assert "x-supabase-api-version" not in legacy.headers
    modern = await api.client.post(
        "/signup", content=b"{nope", headers=api.headers(**{"X-Supabase-Api-Version": "2024-01-01"})
    )
    assert modern.json() == {"code": "bad_json", "message": modern.json()["message"]}
    assert modern.headers["x-supabase-api-version"] == "2024-01-01"
    assert modern.headers["x-sb-error-code"] == "bad_json"
