"""The admin API over HTTP: /admin/users and /admin/users/{id} (api.md §15.1–15.5)."""

from __future__ import annotations

import uuid
from typing import Any

import bcrypt
import pytest

from support.http import V2024, assert_error


async def create(api: Any, body: Any, **headers: str) -> Any:
    return await api.client.post("/admin/users", json=body, headers=api.admin(**headers))


async def created(api: Any, **body: Any) -> dict[str, Any]:
    body.setdefault("email", "user@example.com")
    response = await create(api, body)
    assert response.status_code == 200, response.text
    return response.json()


async def refused_create(api: Any, body: Any, status: int, code: str, msg: str | None = None) -> None:
    before = await api.counts()
    assert_error(await create(api, body), status, code, msg)
    modern = await create(api, body, **V2024)
    assert modern.status_code == status and modern.json()["code"] == code
    assert modern.headers["x-supabase-api-version"] == "2024-01-01"
    assert await api.counts() == before


# --- authorization ----------------------------------------------------------------------


async def test_user_token_is_not_admin(api: Any) -> None:
    session = (await api.signup()).json()
    before = await api.counts()
    for token in (session["access_token"], api.anon):
        headers = api.headers(token)
        assert_error(await api.client.get("/admin/users", headers=headers), 403, "not_admin", "User not allowed")
        assert_error(
            await api.client.post("/admin/users", json={"email": "x@example.com"}, headers=headers), 403, "not_admin"
        )
        uid = session["user"]["id"]
        assert_error(await api.client.get(f"/admin/users/{uid}", headers=headers), 403, "not_admin")
        assert_error(
            await api.client.put(f"/admin/users/{uid}", json={"ban_duration": "1h"}, headers=headers), 403, "not_admin"
        )
        assert_error(await api.client.delete(f"/admin/users/{uid}", headers=headers), 403, "not_admin")
    assert await api.counts() == before


async def test_no_token_is_no_authorization(api: Any) -> None:
    assert_error(await api.client.get("/admin/users"), 401, "no_authorization")
    assert_error(await api.client.post("/admin/users", json={"email": "x@example.com"}), 401, "no_authorization")
    assert_error(await api.client.get("/admin/users", headers=api.headers("junk")), 403, "bad_jwt")
    assert (await api.counts())["users"] == 0


# --- create -----------------------------------------------------------------------------


async def test_create_with_metadata_and_confirmation(api: Any) -> None:
    before_audit = len(await api.audit_actions())
    body = await created(
        api,
        email="New@Example.com",
        password="s3cret-pass",
        email_confirm=True,
        user_metadata={"name": "Ann"},
        app_metadata={"plan": "pro", "provider": "custom"},
    )
    assert body["email"] == "new@example.com"
    assert "email_confirmed_at" in body
    assert body["user_metadata"]["name"] == "Ann"
    assert body["app_metadata"]["plan"] == "pro"
    assert body["app_metadata"]["providers"] == ["email"]
    assert body["role"] == "authenticated" and body["aud"] == "authenticated"
    assert [i["provider"] for i in body["identities"]] == ["email"]
    assert (await api.counts())["sessions"] == 0
    assert (await api.audit_actions())[before_audit:] == ["user_signedup"]
    assert (await api.password_grant("new@example.com")).status_code == 200


async def test_create_without_email_confirm_cannot_sign_in(api: Any) -> None:
    await created(api, password="s3cret-pass")
    assert_error(await api.password_grant(), 400, "email_not_confirmed")


async def test_create_with_custom_id(api: Any) -> None:
    uid = str(uuid.uuid4())
    assert (await created(api, id=uid))["id"] == uid


async def test_create_with_imported_bcrypt_hash_then_sign_in(api: Any) -> None:
    hashed = bcrypt.hashpw(b"imported-pass", bcrypt.gensalt(rounds=4)).decode()
    await created(api, password_hash=hashed, email_confirm=True)
    assert (await api.password_grant(password="imported-pass")).status_code == 200
    assert_error(await api.password_grant(password="s3cret-pass"), 400, "invalid_credentials")


async def test_create_with_password_and_hash(api: Any) -> None:
    hashed = bcrypt.hashpw(b"imported-pass", bcrypt.gensalt(rounds=4)).decode()
    await refused_create(
        api, {"email": "a@example.com", "password": "x" * 8, "password_hash": hashed}, 400, "validation_failed"
    )


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
async def test_create_with_bad_id(api: Any, bad_id: str) -> None:
    await refused_create(api, {"email": "a@example.com", "id": bad_id}, 400, "validation_failed")


async def test_create_with_neither_email_nor_phone(api: Any) -> None:
    await refused_create(
        api, {"password": "s3cret-pass"}, 400, "validation_failed", "Cannot create a user without either an email or phone"
    )


async def test_create_with_invalid_email(api: Any) -> None:
    await refused_create(api, {"email": "nope"}, 400, "validation_failed")


async def test_create_with_too_long_password(api: Any) -> None:
    await refused_create(api, {"email": "a@example.com", "password": "x" * 73}, 400, "validation_failed")


async def test_create_skips_the_strength_policy(api: Any) -> None:
    await created(api, password="abc")


async def test_create_duplicate_email(api: Any) -> None:
    await created(api, email="dup@example.com")
    await refused_create(api, {"email": "DUP@example.com"}, 422, "email_exists")


async def test_create_duplicate_phone(api: Any) -> None:
    await created(api, email=None, phone="+15555550100")
    await refused_create(api, {"phone": "15555550100"}, 422, "phone_exists")


async def test_create_bad_json(api: Any) -> None:
    await refused_create(api, {"email": "a@example.com", "email_confirm": "yes"}, 400, "bad_json")


# --- list -------------------------------------------------------------------------------


async def five_users(api: Any) -> list[str]:
    return [(await created(api, email=f"user{i}@example.com"))["id"] for i in range(5)]


async def list_users(api: Any, query: str = "") -> Any:
    return await api.client.get(f"/admin/users{query}", headers=api.admin())


async def test_list_paginates_with_link_header(api: Any) -> None:
    await five_users(api)
    response = await list_users(api, "?page=1&per_page=2")
    assert response.status_code == 200
    body = response.json()
    assert body["aud"] == "authenticated"
    assert len(body["users"]) == 2
    assert response.headers["x-total-count"] == "5"
    assert response.headers["link"] == (
        '</admin/users?page=2&per_page=2>; rel="next", </admin/users?page=3&per_page=2>; rel="last"'
    )
    last = await list_users(api, "?page=3&per_page=2")
    assert len(last.json()["users"]) == 1
    assert last.headers["link"] == '</admin/users?page=3&per_page=2>; rel="last"'


async def test_list_defaults_and_empty_params(api: Any) -> None:
    await five_users(api)
    response = await list_users(api, "?page=&per_page=")
    assert response.status_code == 200
    assert len(response.json()["users"]) == 5
    assert response.headers["link"] == '</admin/users?page=1&per_page=50>; rel="last"'


async def test_list_with_no_users(api: Any) -> None:
    response = await list_users(api)
    assert response.status_code == 200
    assert response.json()["users"] == []
    assert response.headers["x-total-count"] == "0"
    assert response.headers["link"] == '</admin/users?page=0&per_page=50>; rel="last"'


@pytest.mark.parametrize("query", ["?page=abc", "?per_page=-1", "?page=1.5"])
async def test_list_bad_pagination(api: Any, query: str) -> None:
    assert_error(await list_users(api, query), 400, "validation_failed")


@pytest.mark.parametrize("sort", ["email", "created_at%20sideways", "created_at%20asc%20x"])
async def test_list_bad_sort(api: Any, sort: str) -> None:
    body = assert_error(await list_users(api, f"?sort={sort}"), 400, "validation_failed")
    assert body["msg"].startswith("Bad Sort Parameters")


async def test_list_sort_order(api: Any) -> None:
    ids = await five_users(api)
    ascending = [u["id"] for u in (await list_users(api, "?sort=created_at%20asc")).json()["users"]]
    descending = [u["id"] for u in (await list_users(api, "?sort=created_at%20desc")).json()["users"]]
    default = [u["id"] for u in (await list_users(api)).json()["users"]]
    assert sorted(ascending) == sorted(ids)
    assert descending == list(reversed(ascending))
    assert default == descending


async def test_list_filter(api: Any) -> None:
    await five_users(api)
    await created(api, email="someone@other.org", user_metadata={"full_name": "Zed Example"})
    response = await list_users(api, "?filter=user3")
    assert [u["email"] for u in response.json()["users"]] == ["user3@example.com"]
    assert response.headers["x-total-count"] == "1"
    by_name = await list_users(api, "?filter=zed")
    assert [u["email"] for u in by_name.json()["users"]] == ["someone@other.org"]


async def test_list_filter_is_a_sql_like_pattern(api: Any) -> None:
    await five_users(api)
    # GoTrue matches `email LIKE %filter%`: `_` is any one character, `%` any run
    assert (await list_users(api, "?filter=user_%40example")).headers["x-total-count"] == "5"
    assert (await list_users(api, "?filter=user%25.com")).headers["x-total-count"] == "5"
    assert (await list_users(api, "?filter=user3%25org")).headers["x-total-count"] == "0"


# --- get --------------------------------------------------------------------------------


async def test_get_user(api: Any) -> None:
    user = await created(api)
    response = await api.client.get(f"/admin/users/{user['id']}", headers=api.admin())
    assert response.status_code == 200
    assert response.json()["id"] == user["id"]


async def test_get_user_with_bad_uuid(api: Any) -> None:
    response = await api.client.get("/admin/users/not-a-uuid", headers=api.admin())
    assert_error(response, 404, "validation_failed", "user_id must be an UUID")


async def test_get_unknown_user(api: Any) -> None:
    response = await api.client.get(f"/admin/users/{uuid.uuid4()}", headers=api.admin())
    assert_error(response, 404, "user_not_found", "User not found")


# --- update -----------------------------------------------------------------------------


async def update(api: Any, user_id: str, body: Any) -> Any:
    return await api.client.put(f"/admin/users/{user_id}", json=body, headers=api.admin())


async def test_ban_then_unban(api: Any) -> None:
    session = (await api.signup()).json()
    uid = session["user"]["id"]
    banned = await update(api, uid, {"ban_duration": "24h"})
    assert banned.status_code == 200
    assert "banned_until" in banned.json()
    assert (await api.counts())["sessions"] == 1  # banning keeps sessions
    assert_error(await api.client.get("/user", headers=api.headers(session["access_token"])), 403, "user_banned")
    assert_error(await api.refresh(session["refresh_token"]), 400, "user_banned")
    unbanned = await update(api, uid, {"ban_duration": "none"})
    assert unbanned.status_code == 200
    assert "banned_until" not in unbanned.json()
    assert (await api.client.get("/user", headers=api.headers(session["access_token"]))).status_code == 200
    assert (await api.refresh(session["refresh_token"])).status_code == 200


async def test_ban_and_unban_are_stored(api: Any) -> None:
    uid = (await created(api))["id"]
    banned = (await update(api, uid, {"ban_duration": "2h"})).json()
    stored = (await api.user())["banned_until"]
    assert stored is not None
    assert banned["banned_until"].startswith(stored.strftime("%Y-%m-%dT%H:%M:%S"))
    assert (await update(api, uid, {"ban_duration": "none"})).status_code == 200
    assert (await api.user())["banned_until"] is None


async def test_admin_metadata_update_is_stored(api: Any) -> None:
    uid = (await created(api, user_metadata={"a": 1, "b": {"nested": [1, "ü"]}}))["id"]
    await update(api, uid, {"user_metadata": {"a": None, "c": True}, "app_metadata": {"plan": "pro"}})
    stored = await api.user()
    assert stored["user_metadata"]["b"] == {"nested": [1, "ü"]}
    assert stored["user_metadata"]["c"] is True and "a" not in stored["user_metadata"]
    assert stored["app_metadata"]["plan"] == "pro" and stored["app_metadata"]["provider"] == "email"


async def test_bad_ban_duration(api: Any) -> None:
    user = await created(api)
    before = await api.counts()
    body = assert_error(await update(api, user["id"], {"ban_duration": "forever"}), 400, "validation_failed")
    assert body["msg"].startswith("invalid format for ban duration")
    assert await api.counts() == before


async def test_admin_password_change_ends_all_sessions(api: Any) -> None:
    session = (await api.signup()).json()
    await api.password_grant()
    assert (await api.counts())["sessions"] == 2
    response = await update(api, session["user"]["id"], {"password": "a-new-s3cret"})
    assert response.status_code == 200
    assert (await api.counts())["sessions"] == 0
    assert_error(await api.refresh(session["refresh_token"]), 400, "refresh_token_not_found")
    assert (await api.password_grant(password="a-new-s3cret")).status_code == 200


async def test_admin_weak_password(api: Any) -> None:
    user = await created(api)
    before = await api.counts()
    body = assert_error(await update(api, user["id"], {"password": "abc"}), 422, "weak_password")
    assert body["weak_password"] == {"reasons": ["length"]}
    assert await api.counts() == before


async def test_admin_update_metadata_merge(api: Any) -> None:
    user = await created(api, user_metadata={"a": 1, "b": 2}, app_metadata={"x": 1})
    response = await update(api, user["id"], {"user_metadata": {"a": None, "c": 3}, "app_metadata": {"x": None}})
    assert response.status_code == 200
    body = response.json()
    assert "a" not in body["user_metadata"] and body["user_metadata"]["b"] == 2 and body["user_metadata"]["c"] == 3
    assert "x" not in body["app_metadata"]


async def test_update_unknown_or_bad_id(api: Any) -> None:
    assert_error(await update(api, str(uuid.uuid4()), {"role": "x"}), 404, "user_not_found")
    assert_error(await update(api, "nope", {"role": "x"}), 404, "validation_failed")


async def test_update_invalid_email(api: Any) -> None:
    user = await created(api)
    before = await api.counts()
    assert_error(await update(api, user["id"], {"email": "nope"}), 400, "validation_failed")
    assert await api.counts() == before


# --- delete -----------------------------------------------------------------------------


async def test_hard_delete(api: Any) -> None:
    session = (await api.signup()).json()
    uid = session["user"]["id"]
    response = await api.client.delete(f"/admin/users/{uid}", headers=api.admin())
    assert response.status_code == 200
    assert response.json() == {}
    counts = await api.counts()
    assert counts["users"] == 0
    assert counts["sessions"] == 0 and counts["refresh_tokens"] == 0
    assert (await api.audit_actions())[-1] == "user_deleted"
    assert_error(await api.client.get(f"/admin/users/{uid}", headers=api.admin()), 404, "user_not_found")
    assert_error(await api.client.delete(f"/admin/users/{uid}", headers=api.admin()), 404, "user_not_found")


async def test_soft_delete(api: Any) -> None:
    session = (await api.signup()).json()
    uid = session["user"]["id"]
    response = await api.client.request(
        "DELETE", f"/admin/users/{uid}", json={"should_soft_delete": True}, headers=api.admin()
    )
    assert response.status_code == 200
    assert response.json() == {}
    user = await api.user()
    assert user["id"] == uid
    assert user["deleted_at"] is not None
    assert user["email"] and user["email"] != "user@example.com"
    counts = await api.counts()
    assert counts["sessions"] == 0 and counts["refresh_tokens"] == 0
    shown = (await api.client.get(f"/admin/users/{uid}", headers=api.admin())).json()
    assert "deleted_at" in shown
    assert_error(await api.password_grant(), 400, "invalid_credentials")


async def test_delete_with_bad_id(api: Any) -> None:
    assert_error(await api.client.delete("/admin/users/nope", headers=api.admin()), 404, "validation_failed")
