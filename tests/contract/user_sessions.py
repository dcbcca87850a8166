"""Session management, a pytrue extension (docs/adr/0024): /user/sessions and /admin/users/{id}/sessions,
and GoTrue's GOTRUE_SESSIONS_SINGLE_PER_USER / GOTRUE_SESSIONS_TAGS on the refresh grant."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from support.http import assert_error, claims

from pytrue.adapters.system import FixedClock

START = datetime(2030, 1, 1, tzinfo=timezone.utc)
VERSIONS = pytest.mark.parametrize("version", ["1", "2"], ids=["legacy", "v2"])
ITEM_KEYS = {"id", "created_at", "updated_at", "refreshed_at", "user_agent", "ip", "aal", "not_after", "tag"}
GONE = ("session_not_found", "Session from session_id claim in JWT does not exist")  # GET /user after /logout
NEWER_LOGIN = "Invalid Refresh Token: Session Expired (Revoked by Newer Login)"


async def sessions_api(make_api: Any, version: str = "1", **env: str) -> Any:
    return await make_api({"GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION": version, **env}, clock=FixedClock(START))


async def sign_ins(api: Any, email: str, count: int) -> list[dict[str, Any]]:
    """`count` sessions of one user, a second apart (sign-up first): token responses, oldest first."""
    response = await api.signup(email)
    assert response.status_code == 200, response.text
    found = [response.json()]
    for _ in range(count - 1):
        api.clock.advance(1)
        response = await api.password_grant(email)
        assert response.status_code == 200, response.text
        found.append(response.json())
    api.clock.advance(1)
    return found


def sid(session: dict[str, Any]) -> str:
    return claims(session["access_token"])["session_id"]


async def snapshot(api: Any) -> tuple[Any, ...]:
    return await api.counts(), await api.sessions(), await api.refresh_tokens(), await api.audit_payloads()


async def listed(api: Any, token: str) -> Any:
    return await api.client.get("/user/sessions", headers=api.headers(token))


async def revoke(api: Any, token: str, session_id: str) -> Any:
    return await api.client.delete(f"/user/sessions/{session_id}", headers=api.headers(token))


async def refreshes(api: Any, session: dict[str, Any]) -> bool:
    return (await api.refresh(session["refresh_token"])).status_code == 200


async def get_user(api: Any, session: dict[str, Any]) -> Any:
    return await api.client.get("/user", headers=api.headers(session["access_token"]))


# --- GET /user/sessions -----------------------------------------------------------------------


@VERSIONS
async def test_a_user_sees_only_their_own_sessions_newest_first_with_the_current_one_marked(
    make_api: Any, version: str
) -> None:
    api = await sessions_api(make_api, version)
    alice = await sign_ins(api, "alice@example.com", 3)
    bob = await sign_ins(api, "bob@example.com", 2)

    response = await listed(api, alice[1]["access_token"])
    assert response.status_code == 200, response.text
    items = response.json()["sessions"]
    assert [i["id"] for i in items] == [sid(s) for s in reversed(alice)]
    assert [i["current"] for i in items] == [False, True, False]
    assert all(set(i) == ITEM_KEYS | {"current"} for i in items)
    oldest = items[-1]
    assert oldest["created_at"] == oldest["updated_at"] == "2030-01-01T00:00:00Z"
    assert oldest["refreshed_at"] is None and oldest["not_after"] is None and oldest["tag"] is None
    assert oldest["aal"] == "aal1"
    assert "refresh_token" not in response.text and "hmac" not in response.text
    assert all(s["refresh_token"] not in response.text for s in alice)

    bobs = (await listed(api, bob[0]["access_token"])).json()["sessions"]
    assert [i["id"] for i in bobs] == [sid(s) for s in reversed(bob)]
    assert [i["current"] for i in bobs] == [False, True]


async def test_a_refresh_shows_in_the_listing(make_api: Any) -> None:
    api = await sessions_api(make_api)
    [session] = await sign_ins(api, "alice@example.com", 1)
    api.clock.advance(60)
    refreshed = await api.client.post(
        "/token?grant_type=refresh_token",
        json={"refresh_token": session["refresh_token"]},
        headers=api.headers(**{"User-Agent": "phone/1.0"}),
    )
    assert refreshed.status_code == 200, refreshed.text
    [item] = (await listed(api, refreshed.json()["access_token"])).json()["sessions"]
    assert item["refreshed_at"] == item["updated_at"] == "2030-01-01T00:01:01Z"
    assert item["created_at"] == "2030-01-01T00:00:00Z"
    assert item["user_agent"] == "phone/1.0" and item["current"] is True


async def test_listing_needs_a_user_token(api: Any) -> None:
    await api.signup()
    before = await snapshot(api)
    assert_error(await api.client.get("/user/sessions"), 401, "no_authorization")
    assert_error(await api.client.get("/user/sessions", headers=api.headers()), 403, "bad_jwt")
    assert await snapshot(api) == before


# --- DELETE /user/sessions/{id} ---------------------------------------------------------------


@VERSIONS
async def test_revoking_a_session_ends_exactly_that_session(make_api: Any, version: str) -> None:
    api = await sessions_api(make_api, version)
    alice = await sign_ins(api, "alice@example.com", 3)
    [bob] = await sign_ins(api, "bob@example.com", 1)
    before = await api.counts()

    response = await revoke(api, alice[0]["access_token"], sid(alice[1]))
    assert response.status_code == 200 and response.json() == {}

    assert_error(await api.refresh(alice[1]["refresh_token"]), 400, "refresh_token_not_found")
    assert_error(await get_user(api, alice[1]), 403, *GONE)
    assert [sid(s) not in {r["session_id"] for r in await api.refresh_tokens()} for s in alice] == [
        version == "2", True, version == "2"
    ]
    after = await api.counts()
    assert after["sessions"] == before["sessions"] - 1
    assert after["audit_log_entries"] == before["audit_log_entries"] + 1
    entry = (await api.audit_payloads())[-1]
    assert entry["action"] == "logout" and entry["log_type"] == "account"
    assert entry["actor_id"] == alice[0]["user"]["id"] and entry["traits"] == {"session_id": sid(alice[1])}
    assert [i["id"] for i in (await listed(api, alice[0]["access_token"])).json()["sessions"]] == [
        sid(alice[2]), sid(alice[0])
    ]
    assert [await refreshes(api, s) for s in (alice[0], alice[2], bob)] == [True, True, True]


@VERSIONS
async def test_a_user_may_revoke_the_current_session(make_api: Any, version: str) -> None:
    api = await sessions_api(make_api, version)
    alice = await sign_ins(api, "alice@example.com", 2)
    response = await revoke(api, alice[1]["access_token"], sid(alice[1]))
    assert response.status_code == 200 and response.json() == {}
    assert_error(await get_user(api, alice[1]), 403, *GONE)
    assert_error(await revoke(api, alice[1]["access_token"], sid(alice[0])), 403, *GONE)
    assert_error(await api.refresh(alice[1]["refresh_token"]), 400, "refresh_token_not_found")
    assert await refreshes(api, alice[0])


@VERSIONS
async def test_another_users_session_is_not_found_and_nothing_changes(make_api: Any, version: str) -> None:
    api = await sessions_api(make_api, version)
    alice = await sign_ins(api, "alice@example.com", 2)
    [bob] = await sign_ins(api, "bob@example.com", 1)
    before = await snapshot(api)

    other = await revoke(api, bob["access_token"], sid(alice[0]))
    unknown = await revoke(api, bob["access_token"], str(uuid.uuid4()))
    assert_error(other, 404, "session_not_found", "Session not found")
    assert other.json() == unknown.json() and other.status_code == unknown.status_code
    assert await snapshot(api) == before
    assert [await refreshes(api, s) for s in alice] == [True, True]


@pytest.mark.parametrize("raw", ["nope", "123", "0" * 33, "not-a-uuid-at-all-but-36-characters!"])
async def test_a_malformed_session_id_is_validation_failed(api: Any, raw: str) -> None:
    response = await api.signup()
    token = response.json()["access_token"]
    before = await snapshot(api)
    assert_error(await revoke(api, token, raw), 404, "validation_failed", "session_id must be an UUID")
    assert await snapshot(api) == before


async def test_revoking_needs_a_user_token(api: Any) -> None:
    response = await api.signup()
    session_id = sid(response.json())
    before = await snapshot(api)
    assert_error(await api.client.delete(f"/user/sessions/{session_id}"), 401, "no_authorization")
    assert_error(await revoke(api, api.anon, session_id), 403, "bad_jwt")
    assert await snapshot(api) == before


# --- admin ------------------------------------------------------------------------------------


async def test_admin_lists_a_users_sessions_without_current(make_api: Any) -> None:
    api = await sessions_api(make_api)
    alice = await sign_ins(api, "alice@example.com", 2)
    await sign_ins(api, "bob@example.com", 1)
    response = await api.client.get(f"/admin/users/{alice[0]['user']['id']}/sessions", headers=api.admin())
    assert response.status_code == 200, response.text
    items = response.json()["sessions"]
    assert [i["id"] for i in items] == [sid(alice[1]), sid(alice[0])]
    assert all(set(i) == ITEM_KEYS for i in items)


async def test_admin_session_routes_refuse_unknown_users_bad_ids_and_users(make_api: Any) -> None:
    api = await sessions_api(make_api)
    [alice] = await sign_ins(api, "alice@example.com", 1)
    user_id, session_id = alice["user"]["id"], sid(alice)
    nobody = str(uuid.uuid4())
    before = await snapshot(api)
    for method, path in (
        ("GET", "/sessions"), ("DELETE", "/sessions"), ("DELETE", f"/sessions/{session_id}")
    ):
        assert_error(await api.client.request(method, f"/admin/users/{nobody}{path}", headers=api.admin()),
                     404, "user_not_found", "User not found")
        assert_error(await api.client.request(method, f"/admin/users/nope{path}", headers=api.admin()),
                     404, "validation_failed", "user_id must be an UUID")
        assert_error(await api.client.request(method, f"/admin/users/{user_id}{path}",
                                              headers=api.headers(alice["access_token"])), 403, "not_admin")
        assert_error(await api.client.request(method, f"/admin/users/{user_id}{path}"), 401, "no_authorization")
    assert_error(await api.client.delete(f"/admin/users/{user_id}/sessions/nope", headers=api.admin()),
                 404, "validation_failed", "session_id must be an UUID")
    assert await snapshot(api) == before


@VERSIONS
async def test_admin_ends_one_session_of_a_user(make_api: Any, version: str) -> None:
    api = await sessions_api(make_api, version)
    alice = await sign_ins(api, "alice@example.com", 2)
    [bob] = await sign_ins(api, "bob@example.com", 1)
    alice_id = alice[0]["user"]["id"]
    before = await snapshot(api)
    for session_id in (sid(bob), str(uuid.uuid4())):  # bob's session is not alice's
        response = await api.client.delete(f"/admin/users/{alice_id}/sessions/{session_id}", headers=api.admin())
        assert_error(response, 404, "session_not_found", "Session not found")
    assert await snapshot(api) == before

    response = await api.client.delete(f"/admin/users/{alice_id}/sessions/{sid(alice[0])}", headers=api.admin())
    assert response.status_code == 200 and response.json() == {}
    assert_error(await api.refresh(alice[0]["refresh_token"]), 400, "refresh_token_not_found")
    assert_error(await get_user(api, alice[0]), 403, *GONE)
    assert [await refreshes(api, s) for s in (alice[1], bob)] == [True, True]
    entry = next(p for p in await api.audit_payloads() if p["action"] == "logout")
    assert entry["actor_username"] == "service_role" and entry["actor_id"] == str(uuid.UUID(int=0))
    assert entry["traits"] == {"user_id": alice_id, "session_id": sid(alice[0])}


@VERSIONS
async def test_admin_ends_every_session_of_a_user(make_api: Any, version: str) -> None:
    api = await sessions_api(make_api, version)
    alice = await sign_ins(api, "alice@example.com", 3)
    [bob] = await sign_ins(api, "bob@example.com", 1)
    alice_id = alice[0]["user"]["id"]
    response = await api.client.delete(f"/admin/users/{alice_id}/sessions", headers=api.admin())
    assert response.status_code == 200 and response.json() == {}
    assert [s["user_id"] for s in await api.sessions()] == [bob["user"]["id"]]
    for session in alice:
        assert_error(await api.refresh(session["refresh_token"]), 400, "refresh_token_not_found")
        assert_error(await get_user(api, session), 403, *GONE)
    assert await refreshes(api, bob)
    listing = await api.client.get(f"/admin/users/{alice_id}/sessions", headers=api.admin())
    assert listing.json() == {"sessions": []}
    logouts = [p for p in await api.audit_payloads() if p["action"] == "logout"]
    assert [p["traits"] for p in logouts] == [{"user_id": alice_id}]


# --- GOTRUE_SESSIONS_SINGLE_PER_USER ------------------------------------------------------------


@VERSIONS
async def test_without_single_per_user_older_sessions_keep_refreshing(make_api: Any, version: str) -> None:
    api = await sessions_api(make_api, version)
    alice = await sign_ins(api, "alice@example.com", 2)
    assert [await refreshes(api, s) for s in alice] == [True, True]


@VERSIONS
async def test_single_per_user_refuses_all_but_the_newest_session(make_api: Any, version: str) -> None:
    api = await sessions_api(make_api, version, GOTRUE_SESSIONS_SINGLE_PER_USER="true")
    alice = await sign_ins(api, "alice@example.com", 3)
    await sign_ins(api, "bob@example.com", 1)  # another user's newer session does not count
    before = await snapshot(api)
    for older in alice[:2]:
        assert_error(await api.refresh(older["refresh_token"]), 400, "session_expired", NEWER_LOGIN)
    assert await snapshot(api) == before

    newest = await api.refresh(alice[2]["refresh_token"])
    assert newest.status_code == 200, newest.text
    api.clock.advance(1)
    again = await api.refresh(newest.json()["refresh_token"])
    assert again.status_code == 200, again.text
    assert_error(await api.refresh(alice[0]["refresh_token"]), 400, "session_expired", NEWER_LOGIN)


@VERSIONS
async def test_single_per_user_ignores_a_newer_session_that_is_dead(make_api: Any, version: str) -> None:
    api = await sessions_api(make_api, version, GOTRUE_SESSIONS_SINGLE_PER_USER="true")
    alice = await sign_ins(api, "alice@example.com", 2)
    await api.end_sessions([sid(alice[1])], START)  # past its not_after
    assert await refreshes(api, alice[0])


@VERSIONS
async def test_single_per_user_counts_sessions_per_tag(make_api: Any, version: str) -> None:
    api = await sessions_api(
        make_api, version, GOTRUE_SESSIONS_SINGLE_PER_USER="true", GOTRUE_SESSIONS_TAGS="web,mobile"
    )
    phone, untagged, browser, television = await sign_ins(api, "alice@example.com", 4)
    await api.tag_session(sid(phone), "mobile")
    await api.tag_session(sid(browser), "web")
    await api.tag_session(sid(television), "tv")  # not a listed tag: counts as the first, web
    before = await snapshot(api)
    for older in (untagged, browser):
        assert_error(await api.refresh(older["refresh_token"]), 400, "session_expired", NEWER_LOGIN)
    assert await snapshot(api) == before
    assert await refreshes(api, phone)  # the newest mobile session, though three sessions are newer
    assert await refreshes(api, television)  # the newest web one


# --- the repository: SessionRepository.for_user -------------------------------------------------


async def test_for_user_reads_a_users_sessions_newest_first_with_their_amr(make_api: Any) -> None:
    from pytrue.application.ports import RowLocked

    api = await sessions_api(make_api)
    alice = await sign_ins(api, "alice@example.com", 2)
    await sign_ins(api, "bob@example.com", 1)
    user_id = uuid.UUID(alice[0]["user"]["id"])
    async with api.container.adapters.uow()() as uow:
        found = await uow.sessions.for_user(user_id)
        locked = await uow.sessions.for_user(user_id, lock_user=True)
        assert await uow.sessions.for_user(uuid.uuid4()) == []
        with pytest.raises(RowLocked):
            await uow.sessions.for_user(uuid.uuid4(), lock_user=True)
    assert [str(s.id) for s in found] == [sid(alice[1]), sid(alice[0])] == [str(s.id) for s in locked]
    assert [[c.method for c in s.amr] for s in found] == [["password"], ["password"]]
    assert found[1].amr[0].timestamp == START and found[0].created_at == START + timedelta(seconds=1)
    assert all(s.user_id == user_id for s in found)
