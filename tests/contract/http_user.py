"""GET /user, PUT /user, POST /logout over HTTP (api.md §0.4, §10, §12)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from support.app import JWT_SECRET
from support.http import V2024, assert_error

from pytrue.adapters.jwt.keys import KeySet
from pytrue.adapters.jwt.tokens import JoserfcTokenSigner


def sign(claims: dict[str, Any]) -> str:
    return JoserfcTokenSigner(KeySet(JWT_SECRET)).sign(claims)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def signed_in(api: Any, email: str = "user@example.com") -> dict[str, Any]:
    response = await api.signup(email)
    assert response.status_code == 200, response.text
    return response.json()


async def get_user(api: Any, token: str | None, **headers: str) -> Any:
    if token is None:
        return await api.client.get("/user", headers={"apikey": api.anon, **headers})
    return await api.client.get("/user", headers=api.headers(token, **headers))


# --- GET /user --------------------------------------------------------------------------


async def test_get_user_returns_the_user(api: Any) -> None:
    session = await signed_in(api)
    response = await get_user(api, session["access_token"])
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == session["user"]["id"]
    assert body["aud"] == "authenticated"
    assert len(body["identities"]) == 1


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic abc", "Bearer a b", "Token xyz"])
async def test_missing_or_garbled_header_is_no_authorization(api: Any, authorization: str | None) -> None:
    await signed_in(api)
    headers = {} if authorization is None else {"Authorization": authorization}
    before = await api.counts()
    response = await api.client.get("/user", headers=headers)
    assert_error(response, 401, "no_authorization", "This endpoint requires a valid Bearer token")
    assert await api.counts() == before


async def test_lowercase_bearer_is_accepted(api: Any) -> None:
    session = await signed_in(api)
    response = await api.client.get("/user", headers={"Authorization": f"bearer {session['access_token']}"})
    assert response.status_code == 200


async def test_garbage_token_is_bad_jwt(api: Any) -> None:
    assert_error(await get_user(api, "not.a.jwt"), 403, "bad_jwt")
    modern = await get_user(api, "garbage", **V2024)
    assert modern.status_code == 403
    assert modern.json()["code"] == "bad_jwt"
    assert modern.headers["x-supabase-api-version"] == "2024-01-01"


async def test_token_signed_with_another_secret_is_bad_jwt(api: Any) -> None:
    session = await signed_in(api)
    forged = JoserfcTokenSigner(KeySet("another-secret-that-is-long-enough-0123456789")).sign(
        {"sub": session["user"]["id"], "aud": "authenticated", "role": "authenticated", "exp": 4102444800}
    )
    assert_error(await get_user(api, forged), 403, "bad_jwt")


async def test_expired_token_is_bad_jwt(api: Any) -> None:
    session = await signed_in(api)
    expired = sign(
        {
            "sub": session["user"]["id"],
            "aud": "authenticated",
            "role": "authenticated",
            "iat": 1600000000,
            "exp": 1600003600,
        }
    )
    assert_error(await get_user(api, expired), 403, "bad_jwt")


async def test_alg_none_is_bad_jwt(api: Any) -> None:
    session = await signed_in(api)
    claims = {"sub": session["user"]["id"], "aud": "authenticated", "role": "authenticated", "exp": 4102444800}
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert_error(await get_user(api, unsigned), 403, "bad_jwt")


async def test_anon_key_without_sub_is_bad_jwt(api: Any) -> None:
    assert_error(await get_user(api, api.anon), 403, "bad_jwt")


async def test_sub_not_a_uuid_is_400_bad_jwt(api: Any) -> None:
    token = sign({"sub": "not-a-uuid", "aud": "authenticated", "role": "authenticated", "exp": 4102444800})
    assert_error(await get_user(api, token), 400, "bad_jwt")


async def test_audience_header_mismatch(api: Any) -> None:
    session = await signed_in(api)
    response = await get_user(api, session["access_token"], **{"X-JWT-AUD": "other"})
    assert_error(response, 400, "validation_failed", "Token audience doesn't match request audience")


async def test_deleted_user_is_user_not_found(api: Any) -> None:
    session = await signed_in(api)
    deleted = await api.client.delete(f"/admin/users/{session['user']['id']}", headers=api.admin())
    assert deleted.status_code == 200
    assert_error(await get_user(api, session["access_token"]), 403, "user_not_found")


async def test_banned_user_is_refused(api: Any) -> None:
    session = await signed_in(api)
    ban = await api.client.put(
        f"/admin/users/{session['user']['id']}", json={"ban_duration": "24h"}, headers=api.admin()
    )
    assert ban.status_code == 200
    assert_error(await get_user(api, session["access_token"]), 403, "user_banned")


async def test_after_logout_is_session_not_found(api: Any) -> None:
    session = await signed_in(api)
    await api.client.post("/logout", headers=api.headers(session["access_token"]))
    assert_error(await get_user(api, session["access_token"]), 403, "session_not_found")


# --- PUT /user --------------------------------------------------------------------------


async def put_user(api: Any, token: str, body: Any, **headers: str) -> Any:
    return await api.client.put("/user", json=body, headers=api.headers(token, **headers))


async def test_data_merges_and_null_deletes_keys(api: Any) -> None:
    session = await signed_in(api)
    token = session["access_token"]
    first = await put_user(api, token, {"data": {"a": 1, "b": 2}})
    assert first.status_code == 200
    assert first.json()["user_metadata"]["a"] == 1
    second = await put_user(api, token, {"data": {"a": None, "c": 3}})
    assert second.status_code == 200
    meta = second.json()["user_metadata"]
    assert "a" not in meta and meta["b"] == 2 and meta["c"] == 3
    assert meta["email"] == "user@example.com"
    stored = (await api.user())["user_metadata"]
    assert "a" not in stored and stored["c"] == 3


async def test_password_change_keeps_only_the_current_session(api: Any) -> None:
    current = await signed_in(api)
    other = (await api.password_grant()).json()
    assert (await api.counts())["sessions"] == 2
    response = await put_user(api, current["access_token"], {"password": "a-new-s3cret"})
    assert response.status_code == 200, response.text
    assert (await api.counts())["sessions"] == 1
    assert (await get_user(api, current["access_token"])).status_code == 200
    assert_error(await get_user(api, other["access_token"]), 403, "session_not_found")
    assert_error(await api.refresh(other["refresh_token"]), 400, "refresh_token_not_found")
    assert (await api.refresh(current["refresh_token"])).status_code == 200
    assert (await api.password_grant(password="a-new-s3cret")).status_code == 200
    assert_error(await api.password_grant(), 400, "invalid_credentials")


async def test_same_password(api: Any) -> None:
    session = await signed_in(api)
    before = await api.counts()
    response = await put_user(api, session["access_token"], {"password": "s3cret-pass"})
    assert_error(response, 422, "same_password", "New password should be different from the old password.")
    assert await api.counts() == before


@pytest.mark.parametrize("password", ["abc", ""])
async def test_weak_new_password(api: Any, password: str) -> None:
    session = await signed_in(api)
    before = await api.counts()
    response = await put_user(api, session["access_token"], {"password": password})
    body = assert_error(response, 422, "weak_password")
    assert body["weak_password"]["reasons"] == ["length"]
    assert await api.counts() == before


async def test_app_metadata_by_a_normal_user_is_not_admin(api: Any) -> None:
    session = await signed_in(api)
    before = await api.counts()
    response = await put_user(api, session["access_token"], {"app_metadata": {"plan": "pro"}})
    assert_error(response, 403, "not_admin")
    assert await api.counts() == before
    assert "plan" not in (await api.user())["app_metadata"]


async def test_put_user_without_token(api: Any) -> None:
    response = await api.client.put("/user", json={"data": {"a": 1}})
    assert_error(response, 401, "no_authorization")


async def test_put_user_bad_json(api: Any) -> None:
    session = await signed_in(api)
    before = await api.counts()
    response = await put_user(api, session["access_token"], {"data": "not-an-object"})
    assert_error(response, 400, "bad_json")
    assert await api.counts() == before


# --- POST /logout -----------------------------------------------------------------------


async def three_sessions(api: Any) -> list[dict[str, Any]]:
    first = await signed_in(api)
    return [first, (await api.password_grant()).json(), (await api.password_grant()).json()]


async def logout(api: Any, token: str, scope: str | None = None) -> Any:
    url = "/logout" if scope is None else f"/logout?scope={scope}"
    return await api.client.post(url, headers=api.headers(token))


async def alive(api: Any, session: dict[str, Any]) -> bool:
    return (await get_user(api, session["access_token"])).status_code == 200


async def test_logout_local_ends_only_this_session(api: Any) -> None:
    sessions = await three_sessions(api)
    response = await logout(api, sessions[0]["access_token"], "local")
    assert response.status_code == 204 and response.content == b""
    assert [await alive(api, s) for s in sessions] == [False, True, True]


async def test_logout_others_keeps_only_this_session(api: Any) -> None:
    sessions = await three_sessions(api)
    response = await logout(api, sessions[0]["access_token"], "others")
    assert response.status_code == 204 and response.content == b""
    assert [await alive(api, s) for s in sessions] == [True, False, False]


@pytest.mark.parametrize("scope", [None, "", "global"])
async def test_logout_global_ends_every_session(api: Any, scope: str | None) -> None:
    sessions = await three_sessions(api)
    response = await logout(api, sessions[0]["access_token"], scope)
    assert response.status_code == 204 and response.content == b""
    assert [await alive(api, s) for s in sessions] == [False, False, False]
    counts = await api.counts()
    assert counts["sessions"] == 0 and counts["refresh_tokens"] == 0
    assert (await api.audit_actions())[-1] == "logout"


async def test_logout_invalid_scope(api: Any) -> None:
    sessions = await three_sessions(api)
    before = await api.counts()
    response = await logout(api, sessions[0]["access_token"], "everything")
    assert_error(response, 400, "validation_failed", 'Unsupported logout scope "everything"')
    assert await api.counts() == before


async def test_logout_requires_a_token(api: Any) -> None:
    assert_error(await api.client.post("/logout"), 401, "no_authorization")
    assert_error(await logout(api, api.anon), 403, "bad_jwt")


async def test_logout_twice_is_session_not_found(api: Any) -> None:
    session = await signed_in(api)
    assert (await logout(api, session["access_token"])).status_code == 204
    assert_error(await logout(api, session["access_token"]), 403, "session_not_found")


async def test_put_user_invalid_email_or_phone(api: Any) -> None:
    session = await signed_in(api)
    before = await api.counts()
    assert_error(await put_user(api, session["access_token"], {"email": "nope"}), 400, "validation_failed")
    assert_error(await put_user(api, session["access_token"], {"phone": "abc"}), 400, "validation_failed")
    assert await api.counts() == before


async def test_put_user_same_email_is_a_no_op_change(api: Any) -> None:
    session = await signed_in(api)
    response = await put_user(api, session["access_token"], {"email": "USER@example.com", "data": {"x": 1}})
    assert response.status_code == 200
    assert response.json()["email"] == "user@example.com"


async def test_anonymous_user_cannot_set_a_password_alone(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true"})
    session = (await api.client.post("/signup", json={}, headers=api.headers())).json()
    before = await api.counts()
    response = await put_user(api, session["access_token"], {"password": "s3cret-pass"})
    assert_error(response, 422, "validation_failed")
    assert await api.counts() == before


async def test_admin_group_user_may_update_app_metadata(api: Any) -> None:
    created = await api.client.post(
        "/admin/users",
        json={"email": "boss@example.com", "password": "s3cret-pass", "email_confirm": True, "role": "admin"},
        headers=api.admin(),
    )
    assert created.status_code == 200
    session = (await api.password_grant("boss@example.com")).json()
    response = await put_user(api, session["access_token"], {"app_metadata": {"plan": "pro"}})
    assert response.status_code == 200, response.text
    assert response.json()["app_metadata"]["plan"] == "pro"
