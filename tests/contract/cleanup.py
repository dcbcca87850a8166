"""Database cleanup (`GOTRUE_DB_CLEANUP_ENABLED`, tokens.md §7) on both storages.

Rows are made old with a fixed clock (pytrue writes every timestamp from it); each rule is applied
step by step through the storage's `StaleRowCleaner` (fixture `make_stale_row_cleaner`), and the
HTTP hook is watched through `app.state.cleanup`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
from support.app import JWT_SECRET

from pytrue.adapters.system import FixedClock
from pytrue.domain.cleanup import BATCH, SESSION_BATCH, CleanupRule, StaleRows, cleanup_rules

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
DAY = timedelta(hours=24)
SECOND = timedelta(seconds=1)
_VERIFIER = "c" * 50
_CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(_VERIFIER.encode()).digest()).rstrip(b"=").decode()


def _rule(kind: StaleRows, **features: Any) -> CleanupRule:
    return next(rule for rule in cleanup_rules(**features) if rule.kind is kind)


def _session_of(body: dict[str, Any]) -> str:
    claims = jwt.decode(
        body["access_token"], JWT_SECRET, algorithms=["HS256"], audience="authenticated", options={"verify_exp": False}
    )
    return str(claims["session_id"])


async def _signed_up(api: Any, email: str) -> dict[str, Any]:
    response = await api.signup(email)
    assert response.status_code == 200, response.text
    return response.json()


async def _refreshed(api: Any, token: str, times: int) -> str:
    for _ in range(times):
        response = await api.refresh(token)
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
    return token


async def _steps(cleaner: Any, rule: CleanupRule, now: datetime, count: int) -> list[int]:
    return [await cleaner.clean(rule, now) for _ in range(count)]


async def _finished(cleanup: Any, steps: int) -> None:
    """Wait (generously) until the background cleanup has finished `steps` steps."""
    for _ in range(1000):
        if cleanup.finished >= steps and not cleanup.running:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the background cleanup finished {cleanup.finished} of {steps} steps")


async def test_revoked_refresh_tokens_go_a_hundred_at_a_time_a_day_after_revocation(
    make_api: Any, make_stale_row_cleaner: Any
) -> None:
    clock = FixedClock(T0)
    api = await make_api(clock=clock)
    cleaner = await make_stale_row_cleaner(api)
    old_live = await _refreshed(api, (await _signed_up(api, "old@example.com"))["refresh_token"], BATCH + 4)
    clock.advance(hours=12)
    young_live = await _refreshed(api, (await _signed_up(api, "young@example.com"))["refresh_token"], 1)
    rule = _rule(StaleRows.REVOKED_REFRESH_TOKENS)
    assert (rule.age, rule.batch) == (DAY, 100)

    assert await cleaner.clean(rule, T0 + DAY) == 0  # revoked exactly a day ago: not yet
    steps = await _steps(cleaner, rule, T0 + DAY + SECOND, 3)
    assert steps == [100, 4, 0], (steps, await api.refresh_tokens())

    left = await api.refresh_tokens()
    assert sorted(t["token"] for t in left if not t["revoked"]) == sorted([old_live, young_live])
    assert len([t for t in left if t["revoked"]]) == 1  # the young user's, revoked 12 hours ago
    clock.set(T0 + DAY + SECOND)
    assert (await api.refresh(old_live)).status_code == 200


async def test_sessions_past_not_after_lose_their_tokens_after_a_day_and_go_ten_at_a_time_after_three(
    make_api: Any, make_stale_row_cleaner: Any
) -> None:
    clock = FixedClock(T0)
    api = await make_api(clock=clock)
    cleaner = await make_stale_row_cleaner(api)
    await _signed_up(api, "many@example.com")
    for _ in range(SESSION_BATCH + 1):
        assert (await api.password_grant("many@example.com")).status_code == 200
    ended = [s["id"] for s in await api.sessions()]
    recent = _session_of(await _signed_up(api, "recent@example.com"))
    open_ended = _session_of(await _signed_up(api, "open@example.com"))
    await api.end_sessions(ended, T0)
    await api.end_sessions([recent], T0 + timedelta(hours=40))
    now = T0 + timedelta(hours=72) + SECOND

    revoke = _rule(StaleRows.TOKENS_OF_ENDED_SESSIONS)
    assert await _steps(cleaner, revoke, now, 2) == [len(ended) + 1, 0]
    tokens = await api.refresh_tokens()
    assert {t["session_id"] for t in tokens if not t["revoked"]} == {open_ended}
    # just revoked: their own day has not passed
    assert await cleaner.clean(_rule(StaleRows.REVOKED_REFRESH_TOKENS), now) == 0

    sessions = _rule(StaleRows.ENDED_SESSIONS)
    assert (sessions.age, sessions.batch) == (timedelta(hours=72), 10)
    steps = await _steps(cleaner, sessions, now, 3)
    assert steps == [10, 2, 0], (steps, await api.sessions())
    assert {s["id"] for s in await api.sessions()} == {recent, open_ended}
    assert {t["session_id"] for t in await api.refresh_tokens()} == {recent, open_ended}


async def test_flow_states_go_a_day_after_creation(make_api: Any, make_stale_row_cleaner: Any) -> None:
    clock = FixedClock(T0)
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "false"}, clock=clock)
    cleaner = await make_stale_row_cleaner(api)
    for email in ("pkce1@example.com", "pkce2@example.com"):
        response = await api.signup(email, code_challenge=_CHALLENGE, code_challenge_method="s256")
        assert response.status_code == 200, response.text
        clock.advance(hours=23)
    assert (await api.counts())["flow_state"] == 2

    assert await _steps(cleaner, _rule(StaleRows.FLOW_STATES), T0 + DAY + SECOND, 2) == [1, 0]
    assert (await api.counts())["flow_state"] == 1


async def test_anonymous_users_go_thirty_days_after_sign_up(make_api: Any, make_stale_row_cleaner: Any) -> None:
    clock = FixedClock(T0)
    api = await make_api({"GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true"}, clock=clock)
    cleaner = await make_stale_row_cleaner(api)
    for _ in range(2):
        assert (await api.client.post("/signup", json={}, headers=api.headers())).status_code == 200
    regular = (await _signed_up(api, "kept@example.com"))["user"]["id"]
    clock.advance(days=10)
    young = (await api.client.post("/signup", json={}, headers=api.headers())).json()["user"]["id"]
    rule = _rule(StaleRows.ANONYMOUS_USERS, anonymous_users_enabled=True)
    assert rule.age == timedelta(days=30)

    assert await cleaner.clean(rule, T0 + timedelta(days=30)) == 0
    assert await _steps(cleaner, rule, T0 + timedelta(days=30) + SECOND, 2) == [2, 0]
    assert sorted(u["id"] for u in await api.users()) == sorted([regular, young])
    assert (await api.counts())["sessions"] == 2


async def test_timeboxed_sessions_go_a_day_after_their_timebox(make_api: Any, make_stale_row_cleaner: Any) -> None:
    clock = FixedClock(T0)
    api = await make_api({"GOTRUE_SESSIONS_TIMEBOX": "1h"}, clock=clock)
    cleaner = await make_stale_row_cleaner(api)
    boxed = [_session_of(await _signed_up(api, f"box{i}@example.com")) for i in range(2)]
    clock.advance(hours=2)
    later = _session_of(await _signed_up(api, "later@example.com"))
    rule = _rule(StaleRows.TIMEBOXED_SESSIONS, sessions_timebox=timedelta(hours=1))
    assert sorted(s["id"] for s in await api.sessions()) == sorted([*boxed, later])

    assert await cleaner.clean(rule, T0 + timedelta(hours=25)) == 0
    assert await _steps(cleaner, rule, T0 + timedelta(hours=25) + SECOND, 2) == [2, 0]
    assert [s["id"] for s in await api.sessions()] == [later]


async def test_inactive_sessions_go_a_day_after_their_inactivity_timeout(
    make_api: Any, make_stale_row_cleaner: Any
) -> None:
    clock = FixedClock(T0)
    api = await make_api({"GOTRUE_SESSIONS_INACTIVITY_TIMEOUT": "1h"}, clock=clock)
    cleaner = await make_stale_row_cleaner(api)
    idle = await _signed_up(api, "idle@example.com")
    refreshed = await _signed_up(api, "active@example.com")
    clock.advance(minutes=30)
    await _refreshed(api, refreshed["refresh_token"], 1)
    features = {"sessions_inactivity_timeout": timedelta(hours=1)}
    inactive, unrefreshed = _rule(StaleRows.INACTIVE_SESSIONS, **features), _rule(
        StaleRows.INACTIVE_UNREFRESHED_SESSIONS, **features
    )
    now = T0 + timedelta(hours=25) + SECOND  # the idle one: a day past its hour; the other refreshed since

    assert {s["id"] for s in await api.sessions()} == {_session_of(idle), _session_of(refreshed)}
    assert await cleaner.clean(inactive, now) == 0
    assert await _steps(cleaner, unrefreshed, now, 2) == [1, 0]
    assert [s["id"] for s in await api.sessions()] == [_session_of(refreshed)]
    last_refresh = T0 + timedelta(minutes=30)
    assert await cleaner.clean(inactive, last_refresh + timedelta(hours=25)) == 0
    assert await _steps(cleaner, inactive, last_refresh + timedelta(hours=25) + SECOND, 2) == [1, 0]
    assert await api.sessions() == []


async def test_rules_for_rows_nobody_wrote_affect_nothing(make_api: Any, make_stale_row_cleaner: Any) -> None:
    clock = FixedClock(T0)
    api = await make_api(clock=clock)
    cleaner = await make_stale_row_cleaner(api)
    await _refreshed(api, (await _signed_up(api, "plain@example.com"))["refresh_token"], 2)
    before = await api.counts()
    later = T0 + timedelta(days=400)
    kinds = (
        StaleRows.SAML_RELAY_STATES,
        StaleRows.OAUTH_CLIENT_STATES,
        StaleRows.MFA_CHALLENGES,
        StaleRows.UNVERIFIED_FACTORS,
        StaleRows.WEBAUTHN_CHALLENGES,
    )
    for kind in kinds:
        assert await cleaner.clean(_rule(kind), later) == 0, kind
    assert await api.counts() == before


async def test_a_successful_write_runs_one_cleanup_step_in_the_background(make_api: Any) -> None:
    clock = FixedClock(T0)
    api = await make_api({"GOTRUE_DB_CLEANUP_ENABLED": "true"}, clock=clock)
    cleanup = api.client.app.state.cleanup
    live = await _refreshed(api, (await _signed_up(api, "hook@example.com"))["refresh_token"], 3)
    await _finished(cleanup, cleanup.started)  # the sign-up and refreshes ran steps on fresh rows
    steps = cleanup.started
    assert steps >= 1 and cleanup.failed == 0
    assert len([t for t in await api.refresh_tokens() if t["revoked"]]) == 3
    clock.advance(hours=25)

    assert (await api.client.get("/settings", headers=api.headers())).status_code == 200
    refused = await api.refresh("unknown-token-value")
    assert refused.status_code == 400
    await asyncio.sleep(0.05)
    assert cleanup.started == steps  # neither a read nor a refused write runs a step

    # the round-robin reaches the revoked tokens within one round of the rules
    for _ in range(len(cleanup_rules())):
        response = await api.refresh(live)
        assert response.status_code == 200, response.text
        live = response.json()["refresh_token"]
        await _finished(cleanup, cleanup.started)
    assert cleanup.started == steps + len(cleanup_rules()) and cleanup.failed == 0
    revoked = [t for t in await api.refresh_tokens() if t["revoked"]]
    assert len(revoked) == len(cleanup_rules())  # only the ones revoked just now are left


async def test_without_cleanup_enabled_nothing_is_removed(make_api: Any) -> None:
    clock = FixedClock(T0)
    api = await make_api(clock=clock)
    assert api.client.app.state.cleanup is None
    live = await _refreshed(api, (await _signed_up(api, "off@example.com"))["refresh_token"], 3)
    clock.advance(days=40)
    for _ in range(len(cleanup_rules())):
        live = await _refreshed(api, live, 1)
    await asyncio.sleep(0.05)
    assert len([t for t in await api.refresh_tokens() if t["revoked"]]) == 3 + len(cleanup_rules())
