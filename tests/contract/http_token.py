"""POST /token over HTTP: grant dispatch, password grant and refresh grant (api.md §4, tokens.md §6)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from support.http import V2024, assert_error, claims

from pytrue.adapters.system import FixedClock

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


async def live_tokens(api: Any) -> list[str]:
    return [t["token"] for t in await api.refresh_tokens() if not t["revoked"]]


async def token(api: Any, grant: str | None, body: Any, **headers: str) -> Any:
    url = "/token" if grant is None else f"/token?grant_type={grant}"
    return await api.client.post(url, json=body, headers=api.headers(**headers))


async def create_user(api: Any, email: str = "user@example.com", password: str = "s3cret-pass", **extra: Any) -> str:
    response = await api.client.post(
        "/admin/users", json={"email": email, "password": password, **extra}, headers=api.admin()
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


# --- grant dispatch ---------------------------------------------------------------------


@pytest.mark.parametrize("grant", [None, "", "client_credentials", "PASSWORD"])
async def test_unsupported_grant_type(api: Any, grant: str | None) -> None:
    before = await api.counts()
    response = await token(api, grant, {"email": "user@example.com", "password": "s3cret-pass"})
    assert_error(response, 400, "invalid_credentials", "unsupported_grant_type")
    modern = await token(api, grant, {}, **V2024)
    assert modern.status_code == 400
    assert modern.json() == {"code": "invalid_credentials", "message": "unsupported_grant_type"}
    assert modern.headers["x-supabase-api-version"] == "2024-01-01"
    assert await api.counts() == before


# --- password grant ---------------------------------------------------------------------


async def test_wrong_password_and_unknown_user_answer_identically(api: Any) -> None:
    await api.signup()
    before = await api.counts()
    wrong = await api.password_grant(password="not-the-password")
    unknown = await api.password_grant(email="nobody@example.com")
    assert_error(wrong, 400, "invalid_credentials", "Invalid login credentials")
    assert wrong.json() == unknown.json()
    assert wrong.headers.get("x-sb-error-code") == unknown.headers.get("x-sb-error-code")
    assert await api.counts() == before


async def test_unconfirmed_email(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "false"})
    assert (await api.signup()).status_code == 200
    before = await api.counts()
    assert_error(await api.password_grant(), 400, "email_not_confirmed", "Email not confirmed")
    assert await api.counts() == before


async def test_unconfirmed_email_with_wrong_password_is_invalid_credentials(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "false"})
    await api.signup()
    assert_error(await api.password_grant(password="wrong-password"), 400, "invalid_credentials")


async def test_banned_user_cannot_sign_in(api: Any) -> None:
    await create_user(api, email_confirm=True, ban_duration="24h")
    before = await api.counts()
    assert_error(await api.password_grant(), 400, "user_banned", "User is banned")
    # checked before the password
    assert_error(await api.password_grant(password="wrong-password"), 400, "user_banned")
    assert await api.counts() == before


async def test_weak_but_correct_password_signs_in_with_a_warning(make_api: Any) -> None:
    api = await make_api({"GOTRUE_PASSWORD_MIN_LENGTH": "20"})
    await create_user(api, password="short-pass", email_confirm=True)
    response = await api.password_grant(password="short-pass")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"] and body["refresh_token"]
    assert body["weak_password"]["reasons"] == ["length"]
    assert isinstance(body["weak_password"]["message"], str) and body["weak_password"]["message"]


async def test_strong_password_has_no_weak_password_key(api: Any) -> None:
    await api.signup()
    body = (await api.password_grant()).json()
    assert "weak_password" not in body


@pytest.mark.parametrize(
    "body",
    [
        {"password": "s3cret-pass"},
        {"email": "", "phone": "", "password": "s3cret-pass"},
        {"email": "user@example.com", "phone": "+15555550100", "password": "s3cret-pass"},
    ],
)
async def test_password_grant_needs_exactly_one_identifier(api: Any, body: dict[str, Any]) -> None:
    await api.signup()
    before = await api.counts()
    assert_error(await token(api, "password", body), 400, "validation_failed")
    assert await api.counts() == before


async def test_password_grant_email_provider_disabled_is_422(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_EMAIL_ENABLED": "false"})
    assert_error(await api.password_grant(), 422, "email_provider_disabled", "Email logins are disabled")


async def test_password_grant_bad_json(api: Any) -> None:
    response = await api.client.post("/token?grant_type=password", content=b"{", headers=api.headers())
    assert_error(response, 400, "bad_json")
    response = await token(api, "password", {"email": 5, "password": "x"})
    assert_error(response, 400, "bad_json")


# --- refresh grant ----------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "short", "ABCDEFGHIJKL", "abc-def-ghij"])
async def test_malformed_refresh_token(api: Any, raw: str) -> None:
    await api.signup()
    before = await api.counts()
    assert_error(await api.refresh(raw), 400, "validation_failed", "Refresh token is not valid")
    assert await api.counts() == before


async def test_missing_refresh_token_field(api: Any) -> None:
    assert_error(await token(api, "refresh_token", {}), 400, "validation_failed")


async def test_unknown_refresh_token(api: Any) -> None:
    await api.signup()
    before = await api.counts()
    assert_error(await api.refresh("abcdefghijkl"), 400, "refresh_token_not_found")
    assert await api.counts() == before


async def test_reuse_of_a_rotated_token_revokes_the_family(api: Any) -> None:
    first = (await api.signup()).json()["refresh_token"]
    second = (await api.refresh(first)).json()["refresh_token"]
    third = (await api.refresh(second)).json()["refresh_token"]
    # `first` is a grandparent of the live token: outside the (zero) reuse interval → reuse.
    assert_error(await api.refresh(first), 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
    assert await live_tokens(api) == []
    assert_error(await api.refresh(third), 400, "refresh_token_already_used")


async def test_rotation_revokes_the_parent_and_keeps_one_live_token_per_session(api: Any) -> None:
    first = (await api.signup()).json()
    second = (await api.refresh(first["refresh_token"])).json()
    session_id = claims(first["access_token"])["session_id"]
    assert claims(second["access_token"])["session_id"] == session_id
    assert await api.refresh_tokens() == [
        {"token": first["refresh_token"], "revoked": True, "session_id": session_id},
        {"token": second["refresh_token"], "revoked": False, "session_id": session_id},
    ]


async def test_parent_of_the_live_token_gets_the_same_child_back(make_api: Any) -> None:
    api = await make_api({"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": "10"})
    first = (await api.signup()).json()["refresh_token"]
    child = (await api.refresh(first)).json()
    again = await api.refresh(first)
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == child["refresh_token"]
    assert (await api.counts())["refresh_tokens"] == 2


async def test_refresh_after_logout(api: Any) -> None:
    session = (await api.signup()).json()
    out = await api.client.post("/logout", headers=api.headers(session["access_token"]))
    assert out.status_code == 204
    before = await api.counts()
    # the session's token rows go with the session
    assert_error(await api.refresh(session["refresh_token"]), 400, "refresh_token_not_found")
    assert await api.counts() == before


async def test_banned_user_cannot_refresh(api: Any) -> None:
    session = (await api.signup()).json()
    user_id = session["user"]["id"]
    ban = await api.client.put(f"/admin/users/{user_id}", json={"ban_duration": "24h"}, headers=api.admin())
    assert ban.status_code == 200
    before = await api.counts()
    assert_error(await api.refresh(session["refresh_token"]), 400, "user_banned")
    assert await api.counts() == before


async def test_refresh_audits_revoked_and_refreshed(api: Any) -> None:
    first = (await api.signup()).json()
    before = len(await api.audit_actions())
    refreshed = await api.refresh(first["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.json()["user"]["id"] == first["user"]["id"]
    assert (await api.audit_actions())[before:] == ["token_revoked", "token_refreshed"]


# --- sessions against a fixed clock -----------------------------------------------------


async def clocked(make_api: Any, env: dict[str, str]) -> Any:
    """An app on either storage whose clock stands still at START until `api.clock.advance(...)`."""
    return await make_api(env, clock=FixedClock(START))


async def test_session_timebox_expires_refresh(make_api: Any) -> None:
    api = await clocked(make_api, {"GOTRUE_SESSIONS_TIMEBOX": "1h"})
    session = (await api.signup()).json()
    api.clock.advance(minutes=30)
    refreshed = await api.refresh(session["refresh_token"])
    assert refreshed.status_code == 200
    api.clock.advance(minutes=31)
    before = await api.counts()
    assert_error(await api.refresh(refreshed.json()["refresh_token"]), 400, "session_expired")
    assert await api.counts() == before


async def test_session_inactivity_timeout_expires_refresh(make_api: Any) -> None:
    api = await clocked(make_api, {"GOTRUE_SESSIONS_INACTIVITY_TIMEOUT": "10m"})
    session = (await api.signup()).json()
    api.clock.advance(minutes=9)
    refreshed = await api.refresh(session["refresh_token"])
    assert refreshed.status_code == 200
    api.clock.advance(minutes=9)
    again = await api.refresh(refreshed.json()["refresh_token"])
    assert again.status_code == 200
    api.clock.advance(minutes=11)
    assert_error(await api.refresh(again.json()["refresh_token"]), 400, "session_expired")


async def test_expired_access_token_is_bad_jwt(make_api: Any) -> None:
    api = await clocked(make_api, {})
    session = (await api.signup()).json()
    api.clock.advance(seconds=3600 + 120)
    response = await api.client.get("/user", headers=api.headers(session["access_token"]))
    assert_error(response, 403, "bad_jwt")


# --- form-encoded token requests ---------------------------------------------------------


async def test_grant_type_may_come_from_a_form_field(api: Any) -> None:
    await api.signup()
    response = await api.client.post(
        "/token",
        data={"grant_type": "password", "email": "user@example.com", "password": "s3cret-pass"},
        headers=api.headers(),
    )
    assert response.status_code == 200, response.text
    refreshed = await api.client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": response.json()["refresh_token"]},
        headers=api.headers(),
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_form_grant_type_wins_over_the_query_like_go_form_value(api: Any) -> None:
    await api.signup()
    response = await api.client.post(
        "/token?grant_type=bogus",
        data={"grant_type": "password", "email": "user@example.com", "password": "s3cret-pass"},
        headers=api.headers(),
    )
    assert response.status_code == 200, response.text


async def test_longer_unknown_refresh_token_is_not_found(api: Any) -> None:
    # superset behaviour (tokens.md §5): any string found verbatim would be accepted
    assert_error(await api.refresh("a" * 22), 400, "refresh_token_not_found")


async def test_admin_token_tied_to_an_expired_session_is_session_expired(make_api: Any) -> None:
    from support.app import JWT_SECRET

    from pytrue.adapters.jwt.keys import KeySet
    from pytrue.adapters.jwt.tokens import JoserfcTokenSigner

    api = await clocked(make_api, {"GOTRUE_SESSIONS_TIMEBOX": "1h"})
    session = (await api.signup()).json()
    session_id = claims(session["access_token"])["session_id"]
    assert [t["session_id"] for t in await api.refresh_tokens()] == [session_id]
    admin_token = JoserfcTokenSigner(KeySet(JWT_SECRET)).sign(
        {
            "sub": session["user"]["id"],
            "session_id": str(session_id),
            "role": "service_role",
            "aud": "authenticated",
            "exp": 4102444800,
        }
    )
    assert (await api.client.get("/admin/users", headers=api.headers(admin_token))).status_code == 200
    api.clock.advance(hours=2)
    assert_error(await api.client.get("/admin/users", headers=api.headers(admin_token)), 403, "session_expired")
