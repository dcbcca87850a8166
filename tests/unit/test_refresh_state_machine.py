"""Refresh-token rotation as a state machine (tokens.md §6.2, ADR 0012).

An independent model of GoTrue's legacy-token algorithm (a rotation uses up only the presented
token, so a session may hold several live siblings) is run side by side with the real use cases
on the in-memory adapters.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from dependency_injector import providers
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support.app import make_settings

from pytrue.adapters.system import FixedClock, SeededTokenGenerator
from pytrue.application.results import AuthResult, Principal
from pytrue.application.use_cases.refresh import RefreshTokenCommand
from pytrue.application.use_cases.signin import SignInWithPasswordCommand
from pytrue.application.use_cases.signup import SignUpCommand
from pytrue.domain.errors import DomainError
from pytrue.domain.session import RefreshAction, RefreshToken, plan_refresh
from pytrue.entrypoints.containers import build_container, stop

REUSE = 10
START = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
EMAIL = "machine@example.com"
PASSWORD = "correct-horse-1"


# --- plan_refresh, the pure decision ----------------------------------------------------------

tokens12 = st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=12, max_size=12)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(timezone.utc))
intervals = st.integers(0, 120).map(lambda s: timedelta(seconds=s))


def _token(token: str, *, parent: str | None, revoked: bool, updated_at: datetime, id: int = 1) -> RefreshToken:
    return RefreshToken(
        id=id, token=token, user_id="u", session_id=UUID(int=1), parent=parent, revoked=revoked,
        created_at=updated_at, updated_at=updated_at,
    )


@given(
    presented_token=tokens12,
    revoked=st.booleans(),
    used_at=moments,
    elapsed=st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=5)),
    interval=intervals,
    newest_kind=st.sampled_from(["none", "child", "other"]),
    other_parent=st.none() | tokens12,
)
def test_plan_refresh_follows_the_rules(
    presented_token: str,
    revoked: bool,
    used_at: datetime,
    elapsed: timedelta,
    interval: timedelta,
    newest_kind: str,
    other_parent: str | None,
) -> None:
    presented = _token(presented_token, parent=None, revoked=revoked, updated_at=used_at)
    if newest_kind == "none":
        newest = None
    elif newest_kind == "child":
        newest = _token("c" * 12, parent=presented_token, revoked=False, updated_at=used_at, id=2)
    else:
        parent = other_parent if other_parent != presented_token else None
        newest = _token("d" * 12, parent=parent, revoked=False, updated_at=used_at, id=2)
    now = used_at + elapsed
    plan = plan_refresh(presented, newest, now, interval)

    if not revoked:
        assert plan.action is RefreshAction.ROTATE
    elif newest_kind == "child":
        assert plan.action is RefreshAction.RETURN_CHILD
        assert plan.child is newest
    elif elapsed > interval:
        assert plan.action is RefreshAction.REUSE_DETECTED
    else:
        assert plan.action is RefreshAction.ROTATE
    if plan.action is not RefreshAction.RETURN_CHILD:
        assert plan.child is None


@given(moments, intervals)
def test_plan_refresh_lost_response_has_no_time_limit(used_at: datetime, interval: timedelta) -> None:
    presented = _token("a" * 12, parent=None, revoked=True, updated_at=used_at)
    child = _token("b" * 12, parent="a" * 12, revoked=False, updated_at=used_at, id=2)
    plan = plan_refresh(presented, child, used_at + timedelta(days=365), interval)
    assert plan.action is RefreshAction.RETURN_CHILD and plan.child is child


def test_plan_refresh_interval_boundary_is_inclusive() -> None:
    presented = _token("a" * 12, parent=None, revoked=True, updated_at=START)
    at = plan_refresh(presented, None, START + timedelta(seconds=REUSE), timedelta(seconds=REUSE))
    past = plan_refresh(presented, None, START + timedelta(seconds=REUSE, microseconds=1), timedelta(seconds=REUSE))
    assert at.action is RefreshAction.ROTATE
    assert past.action is RefreshAction.REUSE_DETECTED


# --- the state machine ------------------------------------------------------------------------


@dataclass
class MToken:
    token: str
    parent: str | None
    order: int
    revoked_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


@dataclass
class MSession:
    id: UUID
    result: AuthResult
    tokens: list[MToken] = field(default_factory=list)
    logged_out: bool = False

    def live(self) -> list[MToken]:
        return [t for t in self.tokens if t.live]


class RefreshMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FixedClock(START)
        self.container = build_container(make_settings({"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": str(REUSE)}))
        self.container.core.clock.override(providers.Object(self.clock))
        self.container.core.tokens.override(providers.Object(SeededTokenGenerator(1234)))
        self.uc = self.container.use_cases
        self.store = self.container.adapters.store()
        self.order = 0
        self.sessions: list[MSession] = []
        signed_up = self.run(self.uc.sign_up()(SignUpCommand(email=EMAIL, password=PASSWORD)))
        assert signed_up.auth is not None
        self.user = signed_up.user
        self._track(signed_up.auth)

    # helpers
    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.run(stop(self.container))
        finally:
            self.loop.close()

    def _track(self, result: AuthResult) -> None:
        session = MSession(id=result.session.id, result=result)
        session.tokens.append(MToken(result.refresh_token, None, self._next()))
        self.sessions.append(session)

    def _next(self) -> int:
        self.order += 1
        return self.order

    def _refresh(self, session: MSession, presented: MToken) -> None:
        now = self.clock.now()
        try:
            result = self.run(self.uc.refresh_token_grant()(RefreshTokenCommand(refresh_token=presented.token)))
            error = None
        except DomainError as exc:
            result, error = None, exc

        if session.logged_out:
            event("refresh: logged out")
            assert error is not None and error.code == "refresh_token_not_found", error
            return

        live = session.live()
        newest = max(live, key=lambda t: t.order) if live else None
        if presented.live:
            expected = "rotate"
        elif newest is not None and newest.parent == presented.token:
            expected = "child"
        elif presented.revoked_at is not None and now > presented.revoked_at + timedelta(seconds=REUSE):
            expected = "reuse"
        else:
            expected = "rotate"

        event(f"refresh: {expected}")
        if expected == "reuse":
            assert error is not None and error.code == "refresh_token_already_used", (error, result)
            for token in live:
                token.revoked_at = now
            assert not [t for t in self.store.refresh_tokens.values() if t.session_id == session.id and not t.revoked]
            return

        assert error is None, error
        assert result is not None
        assert result.session.id == session.id
        row = self.store.refresh_tokens[result.refresh_token]
        assert not row.revoked, "a successful refresh returns a live token"
        if expected == "child":
            assert newest is not None and result.refresh_token == newest.token
            return
        known = {t.token for s in self.sessions for t in s.tokens}
        assert result.refresh_token not in known
        assert row.parent == presented.token and row.session_id == session.id
        presented.revoked_at = now  # only the presented token; a sibling stays live
        session.tokens.append(MToken(result.refresh_token, presented.token, self._next()))

    # rules
    @precondition(lambda self: sum(not s.logged_out for s in self.sessions) < 4)
    @rule()
    def sign_in(self) -> None:
        result = self.run(self.uc.sign_in_with_password()(SignInWithPasswordCommand(email=EMAIL, password=PASSWORD)))
        self._track(result)

    def _active(self) -> list[MSession]:
        return [s for s in self.sessions if not s.logged_out]

    @precondition(lambda self: self._active())
    @rule(pick=st.integers(0, 1000))
    def refresh_latest(self, pick: int) -> None:
        active = self._active()
        session = active[pick % len(active)]
        self._refresh(session, session.tokens[-1])

    @precondition(lambda self: any(len(s.tokens) > 1 for s in self._active()))
    @rule(pick=st.integers(0, 1000), generation=st.integers(0, 1000))
    def refresh_older(self, pick: int, generation: int) -> None:
        candidates = [s for s in self._active() if len(s.tokens) > 1]
        session = candidates[pick % len(candidates)]
        presented = session.tokens[generation % (len(session.tokens) - 1)]
        self._refresh(session, presented)

    @precondition(lambda self: any(len(s.tokens) > 1 for s in self._active()))
    @rule(pick=st.integers(0, 1000), generation=st.integers(0, 1000))
    def refresh_older_again(self, pick: int, generation: int) -> None:
        # the same rule twice: stale tokens are the interesting case, so draw them more often
        self.refresh_older(pick, generation)

    @precondition(lambda self: any(s.logged_out for s in self.sessions))
    @rule(pick=st.integers(0, 1000), generation=st.integers(0, 1000))
    def refresh_logged_out(self, pick: int, generation: int) -> None:
        gone = [s for s in self.sessions if s.logged_out]
        session = gone[pick % len(gone)]
        self._refresh(session, session.tokens[generation % len(session.tokens)])

    @rule(seconds=st.integers(0, 30) | st.floats(0, 30, allow_nan=False))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: len(self._active()) > 1)
    @rule(pick=st.integers(0, 1000))
    def logout_local(self, pick: int) -> None:
        candidates = self._active()
        session = candidates[pick % len(candidates)]
        principal = Principal(claims={}, user=session.result.user, session=session.result.session)
        self.run(self.uc.logout()(principal, "local"))
        session.logged_out = True

    # invariants
    @invariant()
    def a_token_with_a_child_is_used_up(self) -> None:
        rows = self.store.refresh_tokens
        for row in rows.values():
            if row.parent is not None and row.parent in rows:
                assert rows[row.parent].revoked, row

    @invariant()
    def store_matches_model(self) -> None:
        for session in self.sessions:
            rows = {t.token: t for t in self.store.refresh_tokens.values() if t.session_id == session.id}
            if session.logged_out:
                assert session.id not in self.store.sessions
                assert not rows, "tokens of a logged-out session are gone"
                continue
            assert session.id in self.store.sessions
            assert set(rows) == {t.token for t in session.tokens}
            for token in session.tokens:
                assert rows[token.token].revoked == (not token.live), token


RefreshMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestRefreshMachine = RefreshMachine.TestCase
