"""The cleanup rules applied to what the in-memory store holds (users, sessions, refresh tokens, flow states)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TypeVar
from uuid import UUID

from pytrue.adapters.memory.store import InMemoryStore
from pytrue.adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from pytrue.domain.cleanup import CleanupRule, StaleRows

T = TypeVar("T")
Uow = InMemoryUnitOfWork
Store = InMemoryStore


def _before(value: datetime | None, cutoff: datetime) -> bool:
    if value is None:
        return False
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return aware < cutoff


def _first(rows: Iterable[T], batch: int, key: Callable[[T], object]) -> list[T]:
    return sorted(rows, key=key)[:batch]  # type: ignore[arg-type]


class InMemoryStaleRowCleaner:
    """`StaleRowCleaner` over the store. A step is a unit of work, so nothing it touches is in use by
    another; kinds of rows the store does not keep (SAML, MFA, OAuth, WebAuthn) affect nothing."""

    def __init__(self, uow: InMemoryUnitOfWorkFactory) -> None:
        self._uow = uow
        self._store = uow.store

    async def clean(self, rule: CleanupRule, now: datetime) -> int:
        step = _STEPS.get(rule.kind)
        if step is None:
            return 0
        async with self._uow() as uow:
            affected = await step(uow, self._store, rule, now)
            await uow.commit()
        return affected


async def _revoked_refresh_tokens(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    tokens = store.refresh_tokens.values()
    revoked = (t for t in tokens if t.revoked and _before(t.updated_at, cutoff))
    stale = _first(revoked, rule.batch, lambda t: t.id or 0)
    for token in stale:
        await uow.refresh_tokens.delete(token.id or 0)
    return len(stale)


async def _tokens_of_ended_sessions(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    sessions = store.sessions
    tokens = store.refresh_tokens
    ended = {s.id for s in sessions.values() if _before(s.not_after, cutoff)}
    live = (t for t in tokens.values() if not t.revoked and t.session_id in ended)
    stale = _first(live, rule.batch, lambda t: t.id or 0)
    for token in stale:
        revoked = copy.deepcopy(token)
        revoked.revoke(now)
        tokens[token.token] = revoked
    return len(stale)


async def _delete_sessions(uow: Uow, ids: list[UUID]) -> int:
    for session_id in ids:
        await uow.sessions.delete(session_id)
    return len(ids)


def _session_ids(store: Store, rule: CleanupRule, stale: Callable[..., bool]) -> list[UUID]:
    found = [s for s in store.sessions.values() if stale(s)]
    return [s.id for s in _first(found, rule.batch, lambda s: (s.created_at, str(s.id)))]


async def _ended_sessions(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    return await _delete_sessions(uow, _session_ids(store, rule, lambda s: _before(s.not_after, cutoff)))


async def _timeboxed_sessions(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    return await _delete_sessions(uow, _session_ids(store, rule, lambda s: _before(s.created_at, cutoff)))


async def _inactive_sessions(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    return await _delete_sessions(uow, _session_ids(store, rule, lambda s: _before(s.refreshed_at, cutoff)))


async def _inactive_unrefreshed_sessions(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    idle = {
        t.session_id
        for t in store.refresh_tokens.values()
        if not t.revoked and t.session_id is not None and _before(t.updated_at, cutoff)
    }
    return await _delete_sessions(uow, _session_ids(store, rule, lambda s: s.refreshed_at is None and s.id in idle))


async def _flow_states(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    flows = store.flow_states.values()
    old = (f for f in flows if _before(f.created_at, cutoff))
    stale = _first(old, rule.batch, lambda f: (f.created_at, str(f.id)))
    for flow in stale:
        await uow.flow_states.delete(flow.id)
    return len(stale)


async def _anonymous_users(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    users = store.users.values()
    anonymous = (u for u in users if u.is_anonymous and _before(u.created_at, cutoff))
    stale = _first(anonymous, rule.batch, lambda u: (u.created_at, str(u.id)))
    for user in stale:
        await uow.users.delete(user.id)
    return len(stale)


async def _mfa_challenges(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    old = (c for c in store.mfa_challenges.values() if _before(c.created_at, cutoff))
    stale = _first(old, rule.batch, lambda c: (c.created_at, str(c.id)))
    for challenge in stale:
        await uow.factors.delete_challenge(challenge.id)
    return len(stale)


async def _unverified_factors(uow: Uow, store: Store, rule: CleanupRule, now: datetime) -> int:
    cutoff = rule.cutoff(now)
    old = (f for f in store.factors.values() if f.status == "unverified" and _before(f.created_at, cutoff))
    stale = _first(old, rule.batch, lambda f: (f.created_at, str(f.id)))
    await uow.factors.delete([f.id for f in stale])
    return len(stale)


_STEPS = {
    StaleRows.MFA_CHALLENGES: _mfa_challenges,
    StaleRows.UNVERIFIED_FACTORS: _unverified_factors,
    StaleRows.REVOKED_REFRESH_TOKENS: _revoked_refresh_tokens,
    StaleRows.TOKENS_OF_ENDED_SESSIONS: _tokens_of_ended_sessions,
    StaleRows.ENDED_SESSIONS: _ended_sessions,
    StaleRows.FLOW_STATES: _flow_states,
    StaleRows.ANONYMOUS_USERS: _anonymous_users,
    StaleRows.TIMEBOXED_SESSIONS: _timeboxed_sessions,
    StaleRows.INACTIVE_SESSIONS: _inactive_sessions,
    StaleRows.INACTIVE_UNREFRESHED_SESSIONS: _inactive_unrefreshed_sessions,
}
