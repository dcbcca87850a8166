"""Less travelled paths across the HTTP API: audiences, case folding, unban forms, re-signups."""

from __future__ import annotations

from typing import Any

import pytest

from support.http import V2024


def assert_error(response: Any, status: int, code: str, msg: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == status and body["error_code"] == code
    assert response.headers["x-sb-error-code"] == code
    if msg is not None:
        assert body["msg"] == msg
    return body


async def test_signup_disabled_also_refuses_anonymous_and_existing(make_api: Any) -> None:
    api = await make_api({"GOTRUE_DISABLE_SIGNUP": "true", "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true"})
    created = await api.client.post(
        "/admin/users", json={"email": "user@example.com", "email_confirm": True}, headers=api.admin()
    )
    assert created.status_code == 200
    before = await api.counts()
    assert_error(await api.signup(), 422, "signup_disabled", "Signups not allowed for this instance")
    assert_error(
        await api.client.post("/signup", json={}, headers=api.headers()), 422, "signup_disabled"
    )
    assert await api.counts() == before


async def test_user_already_exists_in_2024_shape(api: Any) -> None:
    await api.signup()
    response = await api.client.post(
        "/signup",
        json={"email": "user@example.com", "password": "s3cret-pass"},
        headers=api.headers(**V2024),
    )
    assert response.status_code == 422
    assert response.json() == {"code": "user_already_exists", "message": "User already registered"}
    assert response.headers["x-supabase-api-version"] == "2024-01-01"


async def test_repeated_signup_of_unconfirmed_user_takes_the_new_password(make_api: Any) -> None:
    """Not GoTrue's rule (it keeps the first password): the live link stands for the latest sign-up (ADR 0015)."""
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_SMTP_MAX_FREQUENCY": "1ms"})
    first = (await api.signup(password="first-pass")).json()
    stored = (await api.user())["encrypted_password"]
    assert stored
    again = await api.signup(password="second-pass")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert (await api.counts())["users"] == 1
    assert (await api.user())["encrypted_password"] not in ("", stored)
    assert (await api.counts())["one_time_tokens"] == 1
    assert_error(await api.password_grant(password="first-pass"), 400, "invalid_credentials")
    assert_error(await api.password_grant(password="second-pass"), 400, "email_not_confirmed")


async def test_password_grant_folds_email_case(api: Any) -> None:
    await api.signup("user@example.com")
    response = await api.password_grant(email="  USER@Example.COM ")
    assert response.status_code == 200, response.text


async def test_password_grant_phone_disabled_is_422(api: Any) -> None:
    response = await api.client.post(
        "/token?grant_type=password", json={"phone": "+15555550100", "password": "s3cret-pass"}, headers=api.headers()
    )
    assert_error(response, 422, "phone_provider_disabled", "Phone logins are disabled")


async def test_users_are_scoped_to_the_request_audience(api: Any) -> None:
    signup = await api.client.post(
        "/signup",
        json={"email": "user@example.com", "password": "s3cret-pass"},
        headers=api.headers(**{"X-JWT-AUD": "other-aud"}),
    )
    assert signup.status_code == 200
    assert signup.json()["user"]["aud"] == "other-aud"
    assert_error(await api.password_grant(), 400, "invalid_credentials")
    scoped = await api.client.post(
        "/token?grant_type=password",
        json={"email": "user@example.com", "password": "s3cret-pass"},
        headers=api.headers(**{"X-JWT-AUD": "other-aud"}),
    )
    assert scoped.status_code == 200
    listed = await api.client.get("/admin/users", headers=api.admin())
    assert listed.json()["users"] == [] and listed.json()["aud"] == "authenticated"
    listed_other = await api.client.get("/admin/users", headers=api.admin(**{"X-JWT-AUD": "other-aud"}))
    assert len(listed_other.json()["users"]) == 1 and listed_other.json()["aud"] == "other-aud"


@pytest.mark.parametrize("lift", ["none", "0s"])
async def test_ban_is_lifted_by_none_or_zero(api: Any, lift: str) -> None:
    session = (await api.signup()).json()
    uid = session["user"]["id"]
    assert (await api.client.put(f"/admin/users/{uid}", json={"ban_duration": "1.5h"}, headers=api.admin())).json()[
        "banned_until"
    ]
    assert_error(await api.password_grant(), 400, "user_banned")
    lifted = await api.client.put(f"/admin/users/{uid}", json={"ban_duration": lift}, headers=api.admin())
    assert lifted.status_code == 200
    assert (await api.password_grant()).status_code == 200


async def test_banned_user_cannot_update_or_logout(api: Any) -> None:
    session = (await api.signup()).json()
    uid = session["user"]["id"]
    await api.client.put(f"/admin/users/{uid}", json={"ban_duration": "24h"}, headers=api.admin())
    before = await api.counts()
    headers = api.headers(session["access_token"])
    assert_error(await api.client.put("/user", json={"data": {"a": 1}}, headers=headers), 403, "user_banned")
    assert_error(await api.client.post("/logout", headers=headers), 403, "user_banned")
    assert await api.counts() == before


async def test_soft_deleted_user_token_is_refused(api: Any) -> None:
    session = (await api.signup()).json()
    uid = session["user"]["id"]
    response = await api.client.request(
        "DELETE", f"/admin/users/{uid}", json={"should_soft_delete": True}, headers=api.admin()
    )
    assert response.status_code == 200
    assert_error(await api.client.get("/user", headers=api.headers(session["access_token"])), 403, "session_not_found")


async def test_delete_with_malformed_body(api: Any) -> None:
    uid = (await api.signup()).json()["user"]["id"]
    before = await api.counts()
    response = await api.client.request("DELETE", f"/admin/users/{uid}", content=b"{", headers=api.admin())
    assert_error(response, 400, "bad_json")
    assert await api.counts() == before


async def test_admin_user_path_with_trailing_slash(api: Any) -> None:
    uid = (await api.signup()).json()["user"]["id"]
    response = await api.client.get(f"/admin/users/{uid}/", headers=api.admin())
    assert response.status_code == 200
    assert response.json()["id"] == uid


async def test_link_header_keeps_other_query_parameters_sorted(api: Any) -> None:
    for i in range(3):
        await api.client.post("/admin/users", json={"email": f"u{i}@example.com"}, headers=api.admin())
    response = await api.client.get("/admin/users?per_page=1&filter=example&page=1", headers=api.admin())
    assert response.headers["x-total-count"] == "3"
    assert response.headers["link"] == (
        '</admin/users?filter=example&page=2&per_page=1>; rel="next", '
        '</admin/users?filter=example&page=3&per_page=1>; rel="last"'
    )


async def test_admin_create_with_unsupported_hash_format_is_a_clear_400(api: Any) -> None:
    """GoTrue answers 500 here; pytrue treats it as the bad input it is (see the closing notes)."""
    response = await api.client.post(
        "/admin/users", json={"email": "a@example.com", "password_hash": "$md5$nope"}, headers=api.admin()
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "validation_failed"


async def test_signup_data_cannot_override_identity_claims(api: Any) -> None:
    response = await api.client.post(
        "/signup",
        json={
            "email": "user@example.com",
            "password": "s3cret-pass",
            "data": {"email": "evil@example.com", "sub": "nope", "email_verified": False, "name": "Ann"},
        },
        headers=api.headers(),
    )
    assert response.status_code == 200
    user = response.json()["user"]
    assert user["user_metadata"]["email"] == "user@example.com"
    assert user["user_metadata"]["sub"] == user["id"]
    assert user["user_metadata"]["email_verified"] is True
    assert user["user_metadata"]["name"] == "Ann"


async def test_obfuscated_repeated_signup_blanks_role_and_timestamps(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "false"})
    await api.client.post(
        "/admin/users",
        json={"email": "user@example.com", "phone": "+15555550100", "email_confirm": True},
        headers=api.admin(),
    )
    body = (await api.signup()).json()
    assert body["role"] == ""
    assert body["phone"] == ""
    assert body["created_at"] == body["updated_at"] == body["confirmation_sent_at"]
    for stamp in ("email_confirmed_at", "confirmed_at", "last_sign_in_at", "phone_confirmed_at"):
        assert stamp not in body
    assert body["identities"] == []
    assert (await api.audit_actions())[-1] == "user_repeated_signup"


async def test_logout_with_a_session_less_token_ends_every_session(api: Any) -> None:
    from support.app import JWT_SECRET

    from pytrue.adapters.jwt.keys import KeySet
    from pytrue.adapters.jwt.tokens import JoserfcTokenSigner

    session = (await api.signup()).json()
    await api.password_grant()
    token = JoserfcTokenSigner(KeySet(JWT_SECRET)).sign(
        {"sub": session["user"]["id"], "aud": "authenticated", "role": "authenticated", "exp": 4102444800}
    )
    response = await api.client.post("/logout?scope=local", headers=api.headers(token))
    assert response.status_code == 204
    assert (await api.counts())["sessions"] == 0
