"""Concurrent refreshes of one token, and the retry limit on locked rows (tokens.md §6.1 step 5)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from dependency_injector import providers
from support.app import make_settings

from pytrue.adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from pytrue.adapters.system import FixedClock
from pytrue.application.ports import RowLocked
from pytrue.application.use_cases.refresh import RefreshTokenCommand, RefreshTokenGrant
from pytrue.application.use_cases.signup import SignUpCommand
from pytrue.domain.errors import DomainError
from pytrue.entrypoints.containers import Application, build_container, stop

START = datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
async def make_container() -> AsyncIterator[Any]:
    built: list[Application] = []

    def factory(reuse_interval: int, clock: Any = None) -> Application:
        container = build_container(
            make_settings({"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": str(reuse_interval)})
        )
        container.core.clock.override(providers.Object(clock or FixedClock(START)))
        built.append(container)
        return container

    yield factory
    for container in built:
        await stop(container)


async def _signed_up(container: Application) -> str:
    result = await container.use_cases.sign_up()(SignUpCommand(email="race@example.com", password="s3cret-pass"))
    assert result.auth is not None
    return result.auth.refresh_token


@pytest.mark.parametrize("reuse_interval", [10, 0])
async def test_twenty_simultaneous_refreshes_share_one_child(make_container: Any, reuse_interval: int) -> None:
    container = make_container(reuse_interval)
    token = await _signed_up(container)
    store = container.adapters.store()
    rows_before = set(store.refresh_tokens)
    audit_before = len(store.audit)
    grant = container.use_cases.refresh_token_grant()

    results = await asyncio.gather(
        *(grant(RefreshTokenCommand(refresh_token=token)) for _ in range(20)), return_exceptions=True
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    issued = {r.refresh_token for r in results}  # type: ignore[union-attr]
    assert len(issued) == 1, "the lost-response rule hands every caller the same child"
    (child,) = issued
    new_rows = set(store.refresh_tokens) - rows_before
    assert new_rows == {child}, "exactly one new token row"
    session_id = store.refresh_tokens[token].session_id
    live = [t for t in store.refresh_tokens.values() if t.session_id == session_id and not t.revoked]
    assert [t.token for t in live] == [child], "no family revocation, one live token"
    assert store.refresh_tokens[child].parent == token
    assert store.refresh_tokens[token].revoked
    actions = [e.payload["action"] for e in store.audit[audit_before:]]
    assert actions.count("token_refreshed") == 1
    assert "token_revoked" in actions and actions.count("token_revoked") == 1

    # the child keeps working afterwards
    again = await grant(RefreshTokenCommand(refresh_token=child))
    assert again.refresh_token not in (token, child)


class _LockedRefreshTokens:
    """Delegates to the real repository but reports every lock as held by another transaction."""

    def __init__(self, inner: Any, owner: _LockedFactory) -> None:
        self._inner = inner
        self._owner = owner

    async def lock(self, token: str) -> Any:
        self._owner.lock_attempts += 1
        raise RowLocked(token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _LockedFactory:
    """A unit-of-work factory over the real in-memory store whose refresh-token locks never succeed."""

    def __init__(self, inner: InMemoryUnitOfWorkFactory) -> None:
        self._inner = inner
        self.lock_attempts = 0

    def __call__(self) -> InMemoryUnitOfWork:
        uow = self._inner()
        uow.refresh_tokens = _LockedRefreshTokens(uow.refresh_tokens, self)  # type: ignore[assignment]
        return uow


def _grant_over_held_locks(container: Application, clock: Any, limit: timedelta) -> tuple[RefreshTokenGrant, _LockedFactory]:
    """The container's grant, over a store whose refresh-token locks are always held elsewhere."""
    base = container.use_cases.refresh_token_grant()
    locked = _LockedFactory(container.adapters.uow())
    grant = dataclasses.replace(base, uow=locked, clock=clock, retry_limit=limit)
    return grant, locked


class _TickingClock:
    """Moves forward a little every time it is read, so a retry deadline is reached without sleeping."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self._now = start
        self._step = step

    def now(self) -> datetime:
        self._now += self._step
        return self._now


async def test_locked_rows_give_conflict_after_the_retry_limit(make_container: Any) -> None:
    clock = _TickingClock(START, timedelta(milliseconds=20))
    container = make_container(10, clock)
    token = await _signed_up(container)
    store = container.adapters.store()
    snapshot = (dict(store.refresh_tokens), dict(store.sessions), len(store.audit))
    grant, locked = _grant_over_held_locks(container, clock, timedelta(seconds=0.1))

    with pytest.raises(DomainError) as info:
        await asyncio.wait_for(grant(RefreshTokenCommand(refresh_token=token)), timeout=10)

    assert info.value.code == "conflict"
    assert info.value.message == "Too many concurrent token refresh requests on the same session or refresh token"
    assert locked.lock_attempts >= 2, "it retried before giving up"
    assert (dict(store.refresh_tokens), dict(store.sessions), len(store.audit)) == snapshot
    assert not store.refresh_tokens[token].revoked
    assert not store.lock.locked(), "every attempt released the store"


async def test_locked_rows_give_conflict_with_a_real_clock(make_container: Any) -> None:
    from pytrue.adapters.system import SystemClock

    clock = SystemClock()
    container = make_container(0, clock)
    token = await _signed_up(container)
    grant, locked = _grant_over_held_locks(container, clock, timedelta(seconds=0.1))
    started = asyncio.get_running_loop().time()
    with pytest.raises(DomainError) as info:
        await asyncio.wait_for(grant(RefreshTokenCommand(refresh_token=token)), timeout=10)
    elapsed = asyncio.get_running_loop().time() - started
    assert info.value.code == "conflict"
    assert 0.1 <= elapsed < 2
    assert locked.lock_attempts >= 2


@pytest.mark.parametrize("problem", ["banned", "session_gone", "unknown"])
async def test_locked_rows_of_a_token_that_fails_the_checks_get_that_error_not_conflict(
    make_container: Any, problem: str
) -> None:
    """tokens.md §6.1: steps 1–4 (unknown, banned, no session) are decided before the lock, so a
    held lock does not turn them into a wait and a `conflict`."""
    from uuid import UUID

    clock = _TickingClock(START, timedelta(milliseconds=20))
    container = make_container(10, clock)
    token = await _signed_up(container)
    store = container.adapters.store()
    presented = store.refresh_tokens[token]
    if problem == "banned":
        user = store.users[UUID(presented.user_id)]
        store.users[user.id] = dataclasses.replace(user, banned_until=START + timedelta(days=365))
    elif problem == "session_gone":
        del store.sessions[presented.session_id]
    else:
        token = "x" * 22
    grant, locked = _grant_over_held_locks(container, clock, timedelta(seconds=5))

    with pytest.raises(DomainError) as info:
        await asyncio.wait_for(grant(RefreshTokenCommand(refresh_token=token)), timeout=10)

    expected = {"banned": "user_banned", "session_gone": "session_not_found", "unknown": "refresh_token_not_found"}
    assert info.value.code == expected[problem]
    assert locked.lock_attempts == 1, "answered at the first held lock, without waiting for it"
