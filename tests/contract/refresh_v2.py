"""v2 (session-counter) refresh tokens over HTTP, and the legacy sessions they upgrade (tokens.md §5.1, §6.4)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest
from support.http import assert_error, claims

from pytrue.adapters.system import FixedClock
from pytrue.domain.counter_token import decode_key, encode_counter_token, parse_counter_token

START = datetime(2030, 1, 1, tzinfo=timezone.utc)
V2 = {"GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION": "2"}


async def v2_api(make_api: Any, **env: str) -> Any:
    return await make_api({**V2, **env}, clock=FixedClock(START))


async def signed_in(api: Any) -> dict[str, Any]:
    response = await api.signup()
    assert response.status_code == 200, response.text
    return response.json()


def counter_of(token: str) -> int:
    parsed = parse_counter_token(token)
    assert parsed is not None, token
    return parsed.counter


async def session_row(api: Any, session_id: str) -> dict[str, Any] | None:
    return next((s for s in await api.sessions() if s["id"] == session_id), None)


async def forged(api: Any, session_id: str, counter: int, key: bytes | None = None) -> str:
    row = await session_row(api, session_id)
    assert row is not None
    if key is None:
        key = decode_key(row["refresh_token_hmac_key"])
    assert key is not None
    return encode_counter_token(UUID(session_id), counter, key)


# --- issuing ------------------------------------------------------------------------------------


async def test_sign_up_and_sign_in_issue_counter_tokens_without_a_row(make_api: Any) -> None:
    api = await v2_api(make_api)
    response = await api.signup()
    assert response.status_code == 200, response.text
    body = response.json()
    session_id = claims(body["access_token"])["session_id"]
    parsed = parse_counter_token(body["refresh_token"])
    assert parsed is not None and str(parsed.session_id) == session_id and parsed.counter == 0
    assert response.headers["sb-auth-refresh-token-counter"] == "0"
    assert response.headers["sb-auth-session-id"] == session_id
    assert response.headers["sb-auth-user-id"] == body["user"]["id"]
    row = await session_row(api, session_id)
    assert row is not None and row["refresh_token_counter"] == 0
    assert len(decode_key(row["refresh_token_hmac_key"]) or b"") == 32
    signed_in_again = await api.password_grant()
    assert counter_of(signed_in_again.json()["refresh_token"]) == 0
    assert await api.refresh_tokens() == []


async def test_legacy_sessions_still_issue_rows_by_default(api: Any) -> None:
    response = await api.signup()
    token = response.json()["refresh_token"]
    assert len(token) == 12
    assert response.headers["sb-auth-refresh-token-prefix"] == token[:5]
    assert "sb-auth-refresh-token-counter" not in response.headers
    (row,) = await api.sessions()
    assert row["refresh_token_hmac_key"] is None and row["refresh_token_counter"] is None


# --- the counter rules ----------------------------------------------------------------------------


async def test_refresh_moves_the_counter_on(make_api: Any) -> None:
    api = await v2_api(make_api)
    first = await signed_in(api)
    session_id = claims(first["access_token"])["session_id"]
    token = first["refresh_token"]
    for expected in (1, 2, 3):
        api.clock.advance(60)
        response = await api.refresh(token)
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
        assert counter_of(token) == expected
        assert claims(response.json()["access_token"])["session_id"] == session_id
        assert response.headers["sb-auth-refresh-token-counter"] == str(expected)
        assert response.headers["sb-auth-refresh-token-reuse"] == "false"
        assert "sb-auth-refresh-token-reuse-cause" not in response.headers
    assert (await session_row(api, session_id) or {})["refresh_token_counter"] == 3
    assert (await api.audit_actions()).count("token_refreshed") == 3
    assert await api.refresh_tokens() == []


async def test_the_previous_token_gets_the_current_one_back(make_api: Any) -> None:
    """The client failed to save the last response: one step behind is forgiven, counter kept."""
    api = await v2_api(make_api)
    t0 = (await signed_in(api))["refresh_token"]
    api.clock.advance(60)
    t1 = (await api.refresh(t0)).json()["refresh_token"]
    api.clock.advance(3600)
    again = await api.refresh(t0)
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == t1
    assert again.headers["sb-auth-refresh-token-reuse-cause"] == "fail-to-save"
    assert again.headers["sb-auth-refresh-token-counter"] == "1"
    assert "sb-auth-refresh-token-reuse" not in again.headers
    assert counter_of((await api.refresh(t1)).json()["refresh_token"]) == 2


async def test_an_older_token_ends_the_session(make_api: Any) -> None:
    api = await v2_api(make_api)
    first = await signed_in(api)
    session_id = claims(first["access_token"])["session_id"]
    t0 = first["refresh_token"]
    api.clock.advance(60)
    t1 = (await api.refresh(t0)).json()["refresh_token"]
    api.clock.advance(60)
    t2 = (await api.refresh(t1)).json()["refresh_token"]
    api.clock.advance(60)

    reused = await api.refresh(t0)

    assert_error(reused, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
    assert reused.headers["sb-auth-refresh-token-rotated"] == "true"
    assert await session_row(api, session_id) is None
    assert_error(await api.refresh(t2), 400, "refresh_token_not_found")
    gone = await api.client.get("/user", headers=api.headers(first["access_token"]))
    assert_error(gone, 403, "session_not_found")


async def test_without_rotation_an_older_token_is_refused_but_the_session_lives(make_api: Any) -> None:
    api = await v2_api(make_api, GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED="false")
    t0 = (await signed_in(api))["refresh_token"]
    t1 = (await api.refresh(t0)).json()["refresh_token"]
    t2 = (await api.refresh(t1)).json()["refresh_token"]
    api.clock.advance(60)
    before = await api.counts()
    reused = await api.refresh(t0)
    assert_error(reused, 400, "refresh_token_already_used")
    assert "sb-auth-refresh-token-rotated" not in reused.headers
    assert await api.counts() == before
    assert (await api.refresh(t2)).status_code == 200


async def test_tokens_refreshed_at_once_all_get_the_current_one(make_api: Any) -> None:
    """Tabs refreshing together: inside the reuse interval any older token gets the current one."""
    api = await v2_api(make_api, GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL="10")
    t0 = (await signed_in(api))["refresh_token"]
    api.clock.advance(100)
    t1 = (await api.refresh(t0)).json()["refresh_token"]
    t2 = (await api.refresh(t1)).json()["refresh_token"]
    api.clock.advance(5)
    together = await api.refresh(t0)
    assert together.status_code == 200, together.text
    assert together.json()["refresh_token"] == t2
    assert together.headers["sb-auth-refresh-token-reuse-cause"] == "concurrent-refresh"
    api.clock.advance(11)  # the reuse refreshed the session: 11 s after it, the window is closed
    assert_error(await api.refresh(t0), 400, "refresh_token_already_used")


async def test_allow_reuse_forgives_any_older_token(make_api: Any) -> None:
    api = await v2_api(make_api, GOTRUE_SECURITY_REFRESH_TOKEN_ALLOW_REUSE="true")
    t0 = (await signed_in(api))["refresh_token"]
    token = t0
    for _ in range(4):
        api.clock.advance(60)
        token = (await api.refresh(token)).json()["refresh_token"]
    api.clock.advance(3600)
    old = await api.refresh(t0)
    assert old.status_code == 200, old.text
    assert old.json()["refresh_token"] == token
    assert old.headers["sb-auth-refresh-token-reuse-cause"] == "always-allow"


async def test_a_counter_ahead_of_the_session_was_not_issued_here(make_api: Any) -> None:
    api = await v2_api(make_api)
    first = await signed_in(api)
    session_id = claims(first["access_token"])["session_id"]
    ahead = await forged(api, session_id, 5)
    before = await api.counts()
    assert_error(await api.refresh(ahead), 400, "validation_failed", "Invalid Refresh Token: Not Issued By This Server")
    assert await api.counts() == before
    assert (await session_row(api, session_id) or {})["refresh_token_counter"] == 0


@pytest.mark.parametrize("forgery", ["other key", "unknown session", "corrupted"])
async def test_forged_tokens_are_not_found_and_change_nothing(make_api: Any, forgery: str) -> None:
    api = await v2_api(make_api)
    first = await signed_in(api)
    session_id = claims(first["access_token"])["session_id"]
    if forgery == "other key":
        token = await forged(api, session_id, 0, key=b"\x01" * 32)
    elif forgery == "unknown session":
        token = encode_counter_token(UUID(int=12345), 0, b"\x01" * 32)
    else:
        real = first["refresh_token"]
        token = real[:20] + ("A" if real[20] != "A" else "B") + real[21:]
    before = await api.counts()
    assert_error(await api.refresh(token), 400, "refresh_token_not_found")
    assert await api.counts() == before
    assert (await api.refresh(first["refresh_token"])).status_code == 200


# --- logout, password change, bans and session limits: the same rules for both kinds -------------


async def test_logout_kills_the_counter_token(make_api: Any) -> None:
    api = await v2_api(make_api)
    first = await signed_in(api)
    assert (await api.client.post("/logout", headers=api.headers(first["access_token"]))).status_code == 204
    assert_error(await api.refresh(first["refresh_token"]), 400, "refresh_token_not_found")


async def test_a_password_change_ends_the_other_v2_sessions(make_api: Any) -> None:
    api = await v2_api(make_api)
    current = await signed_in(api)
    other = (await api.password_grant()).json()
    changed = await api.client.put(
        "/user", json={"password": "a-new-s3cret"}, headers=api.headers(current["access_token"])
    )
    assert changed.status_code == 200, changed.text
    assert_error(await api.refresh(other["refresh_token"]), 400, "refresh_token_not_found")
    assert (await api.refresh(current["refresh_token"])).status_code == 200


async def test_a_banned_user_cannot_refresh_a_counter_token(make_api: Any) -> None:
    api = await v2_api(make_api)
    first = await signed_in(api)
    banned = await api.client.put(
        f"/admin/users/{first['user']['id']}", json={"ban_duration": "24h"}, headers=api.admin()
    )
    assert banned.status_code == 200, banned.text
    before = await api.counts()
    assert_error(await api.refresh(first["refresh_token"]), 400, "user_banned", "Invalid Refresh Token: User Banned")
    assert await api.counts() == before


async def test_timebox_and_inactivity_apply_to_counter_tokens(make_api: Any) -> None:
    api = await v2_api(make_api, GOTRUE_SESSIONS_TIMEBOX="1h", GOTRUE_SESSIONS_INACTIVITY_TIMEOUT="10m")
    t0 = (await signed_in(api))["refresh_token"]
    api.clock.advance(minutes=9)
    t1 = (await api.refresh(t0)).json()["refresh_token"]
    api.clock.advance(minutes=11)
    assert_error(await api.refresh(t1), 400, "session_expired", "Invalid Refresh Token: Session Expired (Inactivity)")
    second = (await api.password_grant()).json()["refresh_token"]
    for _ in range(7):
        api.clock.advance(minutes=9)
        response = await api.refresh(second)
        if response.status_code != 200:
            break
        second = response.json()["refresh_token"]
    assert_error(response, 400, "session_expired", "Invalid Refresh Token: Session Expired")


# --- upgrading legacy sessions --------------------------------------------------------------------


async def test_legacy_sessions_upgrade_on_refresh_at_100_percent(make_api: Any) -> None:
    legacy = await make_api(clock=FixedClock(START))
    first = await signed_in(legacy)
    session_id = claims(first["access_token"])["session_id"]
    upgraded = await make_api(
        {**V2, "GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE": "100"}, clock=legacy.clock, share_with=legacy
    )
    rows_before = len(await legacy.refresh_tokens())

    response = await upgraded.refresh(first["refresh_token"])

    assert response.status_code == 200, response.text
    token = response.json()["refresh_token"]
    parsed = parse_counter_token(token)
    assert parsed is not None and str(parsed.session_id) == session_id and parsed.counter == 0
    assert response.headers["sb-auth-refresh-token-counter"] == "0"
    rows = await legacy.refresh_tokens()
    assert len(rows) == rows_before  # the used row is marked, no child row
    assert all(r["revoked"] for r in rows)
    upgraded.clock.advance(60)
    assert counter_of((await upgraded.refresh(token)).json()["refresh_token"]) == 1
    # a GoTrue-era client still holding the used legacy token is a reuse, as before
    upgraded.clock.advance(60)
    assert_error(await upgraded.refresh(first["refresh_token"]), 400, "refresh_token_already_used")


async def test_at_0_percent_legacy_sessions_keep_their_rows(make_api: Any) -> None:
    legacy = await make_api(clock=FixedClock(START))
    first = await signed_in(legacy)
    v2 = await make_api(V2, clock=legacy.clock, share_with=legacy)
    response = await v2.refresh(first["refresh_token"])
    assert response.status_code == 200, response.text
    assert len(response.json()["refresh_token"]) == 12
    (row,) = await v2.sessions()
    assert row["refresh_token_counter"] is None
    # and new sign-ins on the v2 app get counter tokens
    assert counter_of((await v2.password_grant()).json()["refresh_token"]) == 0


async def test_counter_tokens_keep_working_after_going_back_to_legacy(make_api: Any) -> None:
    v2 = await v2_api(make_api)
    t0 = (await signed_in(v2))["refresh_token"]
    legacy = await make_api(clock=v2.clock, share_with=v2)
    response = await legacy.refresh(t0)
    assert response.status_code == 200, response.text
    assert counter_of(response.json()["refresh_token"]) == 1
    assert len((await legacy.password_grant()).json()["refresh_token"]) == 12
