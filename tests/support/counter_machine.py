"""The v2 counter rules (tokens.md §6.4) as a state machine: a model of GoTrue's rules beside the real use cases.

Run on either storage: `storage_of(container)` reads back what the storage holds of a session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from dependency_injector import providers
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pytrue.adapters.system import FixedClock
from pytrue.application.results import Principal
from pytrue.application.use_cases.refresh import RefreshTokenCommand
from pytrue.application.use_cases.signin import SignInWithPasswordCommand
from pytrue.application.use_cases.signup import SignUpCommand
from pytrue.domain.counter_token import decode_key, encode_counter_token, parse_counter_token
from pytrue.domain.errors import DomainError
from pytrue.entrypoints import containers

REUSE = 10
START = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
PASSWORD = "correct-horse-1"
ENV = {"GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION": "2", "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": str(REUSE)}

# (session id) -> (refresh_token_counter, refresh_token_hmac_key) or None when the session is gone
SessionReader = Callable[[Any, UUID], Any]


@dataclass
class MSession:
    id: UUID
    access: Principal
    counter: int = 0
    last_refreshed: datetime = START
    tokens: dict[int, str] = field(default_factory=dict)
    alive: bool = True


class CounterMachine(RuleBasedStateMachine):
    """Subclasses set `build` (settings -> container) and `read_session`."""

    build: Callable[[dict[str, str]], Any]
    read_session: SessionReader
    serial = 0

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FixedClock(START)
        self.container = type(self).build(ENV)
        self.container.core.clock.override(providers.Object(self.clock))
        self.run(containers.start(self.container))
        self.uc = self.container.use_cases
        CounterMachine.serial += 1
        self.email = f"counter{CounterMachine.serial}-{id(self)}@example.com"
        self.sessions: list[MSession] = []
        signed_up = self.run(self.uc.sign_up()(SignUpCommand(email=self.email, password=PASSWORD)))
        assert signed_up.auth is not None
        self._track(signed_up.auth)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.run(containers.stop(self.container))
        finally:
            self.loop.close()

    def _track(self, auth: Any) -> None:
        parsed = parse_counter_token(auth.refresh_token)
        assert parsed is not None and parsed.counter == 0 and parsed.session_id == auth.session.id
        principal = Principal(claims={}, user=auth.user, session=auth.session)
        self.sessions.append(
            MSession(id=auth.session.id, access=principal, last_refreshed=self.clock.now(), tokens={0: auth.refresh_token})
        )

    def _present(self, session: MSession, counter: int) -> None:
        now = self.clock.now()
        if counter in session.tokens:
            token = session.tokens[counter]
        else:  # a counter the session never issued, signed with its real key
            stored = type(self).read_session(self, session.id)
            assert stored is not None
            key = decode_key(stored[1])
            assert key is not None
            token = encode_counter_token(session.id, counter, key)
        try:
            result = self.run(self.uc.refresh_token_grant()(RefreshTokenCommand(refresh_token=token)))
            error = None
        except DomainError as exc:
            result, error = None, exc

        if not session.alive:
            event("v2: dead session")
            assert error is not None and error.code == "refresh_token_not_found", error
            return
        if counter > session.counter:
            event("v2: ahead")
            assert error is not None and error.code == "validation_failed", error
            return
        if counter == session.counter:
            event("v2: next")
            assert error is None, error
            session.counter += 1
            session.last_refreshed = now
            self._issued(session, result.refresh_token)
            return
        concurrent = abs(now - session.last_refreshed) < timedelta(seconds=REUSE)
        if concurrent or session.counter - counter == 1:
            event("v2: forgiven reuse")
            assert error is None, error
            assert result.refresh_token == session.tokens[session.counter]
            session.last_refreshed = now
            return
        event("v2: reuse ends the session")
        assert error is not None and error.code == "refresh_token_already_used", error
        session.alive = False

    def _issued(self, session: MSession, token: str) -> None:
        parsed = parse_counter_token(token)
        assert parsed is not None and (parsed.session_id, parsed.counter) == (session.id, session.counter)
        assert token not in session.tokens.values()
        session.tokens[session.counter] = token

    def _alive(self) -> list[MSession]:
        return [s for s in self.sessions if s.alive]

    @precondition(lambda self: len(self._alive()) < 3)
    @rule()
    def sign_in(self) -> None:
        command = SignInWithPasswordCommand(email=self.email, password=PASSWORD)
        self._track(self.run(self.uc.sign_in_with_password()(command)))

    @precondition(lambda self: self._alive())
    @rule(pick=st.integers(0, 100))
    def refresh_current(self, pick: int) -> None:
        alive = self._alive()
        session = alive[pick % len(alive)]
        self._present(session, session.counter)

    @precondition(lambda self: any(s.counter > 0 for s in self._alive()))
    @rule(pick=st.integers(0, 100), behind=st.integers(1, 3))
    def refresh_older(self, pick: int, behind: int) -> None:
        candidates = [s for s in self._alive() if s.counter > 0]
        session = candidates[pick % len(candidates)]
        self._present(session, max(session.counter - behind, 0))

    @precondition(lambda self: any(s.counter > 0 for s in self._alive()))
    @rule(pick=st.integers(0, 100), behind=st.integers(1, 3))
    def refresh_older_again(self, pick: int, behind: int) -> None:
        # stale tokens are the interesting case: drawn twice as often
        self.refresh_older(pick, behind)

    @precondition(lambda self: any(not s.alive for s in self.sessions))
    @rule(pick=st.integers(0, 100), counter=st.integers(0, 5))
    def refresh_dead(self, pick: int, counter: int) -> None:
        dead = [s for s in self.sessions if not s.alive]
        session = dead[pick % len(dead)]
        self._present(session, min(counter, session.counter))

    @precondition(lambda self: self._alive())
    @rule(pick=st.integers(0, 100), ahead=st.integers(1, 3))
    def refresh_ahead(self, pick: int, ahead: int) -> None:
        alive = self._alive()
        session = alive[pick % len(alive)]
        self._present(session, session.counter + ahead)

    @rule(seconds=st.sampled_from([0, 1, 5, 9, 10, 11, 30, 3600]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: len(self._alive()) > 1)
    @rule(pick=st.integers(0, 100))
    def logout(self, pick: int) -> None:
        alive = self._alive()
        session = alive[pick % len(alive)]
        self.run(self.uc.logout()(session.access, "local"))
        session.alive = False

    @invariant()
    def storage_matches_model(self) -> None:
        for session in self.sessions:
            stored = type(self).read_session(self, session.id)
            if not session.alive:
                assert stored is None, session.id
            else:
                assert stored is not None and stored[0] == session.counter, (stored, session.counter)
