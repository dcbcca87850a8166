"""In-memory repositories: the same contract as PostgreSQL, rows copied in and out."""

from __future__ import annotations

import copy
import dataclasses
import re
from datetime import datetime
from uuid import UUID

from pytrue.adapters.memory.store import InMemoryStore, Undo, delete_item, set_item
from pytrue.application.ports import LockedRefreshToken, RowLocked, UserListQuery
from pytrue.domain.audit import AuditFilter, AuditLogEntry
from pytrue.domain.errors import DomainError, EmailExists, PhoneExists
from pytrue.domain.flow_state import FlowState, OAuthClientState
from pytrue.domain.mfa import Challenge, Factor
from pytrue.domain.one_time_token import OneTimeToken
from pytrue.domain.session import RefreshToken, Session
from pytrue.domain.user import NIL_UUID, Identity, User


class InMemoryUserRepository:
    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    def _out(self, user: User) -> User:
        """A copy of the stored user with its factors (kept in their own table, secrets left out)."""
        out = copy.deepcopy(user)
        out.factors = [
            dataclasses.replace(copy.deepcopy(f), secret="")
            for f in sorted(self._store.factors.values(), key=lambda f: (f.created_at, str(f.id)))
            if f.user_id == user.id
        ]
        return out

    @staticmethod
    def _stored(user: User) -> User:
        stored = copy.deepcopy(user)
        stored.factors = []
        return stored

    async def get(self, user_id: UUID) -> User | None:
        user = self._store.users.get(user_id)
        return self._out(user) if user is not None else None

    async def get_with_session(self, user_id: UUID, session_id: UUID | None) -> tuple[User | None, Session | None]:
        user = await self.get(user_id)
        session = self._store.sessions.get(session_id) if user is not None and session_id is not None else None
        return user, copy.deepcopy(session) if session is not None else None

    async def get_by_session(self, session_id: UUID, *, lock: bool = False) -> tuple[User | None, Session | None]:
        # units of work run one at a time here: every read is as good as locked
        session = self._store.sessions.get(session_id)
        user = self._store.users.get(session.user_id) if session is not None else None
        if session is None or user is None:
            return None, None
        return self._out(user), copy.deepcopy(session)

    async def get_for_update(self, user_id: UUID) -> User | None:
        # units of work run one at a time here: every read is as good as locked
        return await self.get(user_id)

    async def get_by_email(self, email: str, aud: str) -> User | None:
        email = email.lower()
        for user in self._candidates(aud):
            if user.email == email or any(i.email == email for i in user.identities):
                return self._out(user)
        return None

    async def get_by_phone(self, phone: str, aud: str) -> User | None:
        for user in self._candidates(aud):
            if user.phone and user.phone == phone:
                return self._out(user)
        return None

    async def get_by_phone_change(self, phone: str, aud: str) -> User | None:
        for user in self._candidates(aud):
            if user.phone_change and user.phone_change == phone:
                return self._out(user)
        return None

    def _candidates(self, aud: str) -> list[User]:
        return [u for u in self._store.users.values() if u.aud == aud and not u.is_sso_user]

    async def add(self, user: User) -> None:
        self._check_unique(user)
        set_item(self._store.users, user.id, self._stored(user), self._undo)

    async def update(self, user: User) -> None:
        if user.id not in self._store.users:
            return
        self._check_unique(user)
        set_item(self._store.users, user.id, self._stored(user), self._undo)

    def _check_unique(self, user: User) -> None:
        for other in self._store.users.values():
            if other.id == user.id:
                continue
            if user.email and not user.is_sso_user and not other.is_sso_user and other.email == user.email:
                raise EmailExists()
            if user.phone and other.phone == user.phone:
                raise PhoneExists()
            for identity in user.identities:
                if any(
                    i.provider == identity.provider and i.provider_id == identity.provider_id
                    for i in other.identities
                ):
                    raise EmailExists() if identity.provider == "email" else PhoneExists()

    async def delete(self, user_id: UUID) -> None:
        delete_item(self._store.users, user_id, self._undo)
        for factor_id in [f.id for f in self._store.factors.values() if f.user_id == user_id]:
            _delete_factor(self._store, factor_id, self._undo)
        for session_id in [s.id for s in self._store.sessions.values() if s.user_id == user_id]:
            _delete_session(self._store, session_id, self._undo)
        for key in [k for k in self._store.one_time_tokens if k[0] == user_id]:
            delete_item(self._store.one_time_tokens, key, self._undo)

    async def list(self, query: UserListQuery) -> tuple[list[User], int]:
        users = [u for u in self._store.users.values() if u.aud == query.aud]
        if query.filter:
            like = _like_pattern(f"%{query.filter}%")
            ilike = re.compile(like.pattern, re.IGNORECASE | re.DOTALL)
            users = [
                u for u in users if like.fullmatch(u.email) or ilike.fullmatch(str(u.user_metadata.get("full_name", "")))
            ]
        users.sort(key=lambda u: (u.created_at, str(u.id)), reverse=query.descending)
        start = (query.page - 1) * query.per_page
        return [self._out(u) for u in users[start : start + query.per_page]], len(users)

    async def get_by_identity(self, provider_id: str, provider: str) -> User | None:
        for user in self._store.users.values():
            if any(i.provider_id == provider_id and i.provider == provider for i in user.identities):
                return self._out(user)
        return None

    async def identities_with_emails(self, emails: tuple[str, ...]) -> list[Identity]:
        wanted = set(emails)
        found = [i for u in self._store.users.values() for i in u.identities if i.email is not None and i.email in wanted]
        return copy.deepcopy(found)

    async def users_with_emails(self, emails: tuple[str, ...]) -> list[User]:
        wanted = set(emails)
        return [
            self._out(u) for u in self._store.users.values() if not u.is_sso_user and u.email and u.email.lower() in wanted
        ]


def _like_pattern(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as PostgreSQL reads it: `%` any run, `_` one character, `\\` escapes the next one."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _delete_session(store: InMemoryStore, session_id: UUID, undo: list[Undo]) -> None:
    delete_item(store.sessions, session_id, undo)
    for token in [t.token for t in store.refresh_tokens.values() if t.session_id == session_id]:
        delete_item(store.refresh_tokens, token, undo)


class InMemorySessionRepository:
    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    async def get(self, session_id: UUID) -> Session | None:
        session = self._store.sessions.get(session_id)
        return copy.deepcopy(session) if session is not None else None

    async def add(self, session: Session) -> None:
        set_item(self._store.sessions, session.id, copy.deepcopy(session), self._undo)

    async def update(self, session: Session) -> None:
        if session.id in self._store.sessions:
            set_item(self._store.sessions, session.id, copy.deepcopy(session), self._undo)

    async def delete(self, session_id: UUID) -> None:
        _delete_session(self._store, session_id, self._undo)

    async def delete_for_user(self, user_id: UUID, *, keep: UUID | None = None) -> None:
        for session_id in [s.id for s in self._store.sessions.values() if s.user_id == user_id and s.id != keep]:
            _delete_session(self._store, session_id, self._undo)

    async def delete_below_aal2(self, user_id: UUID, *, keep: UUID) -> None:
        for session_id in [
            s.id for s in self._store.sessions.values() if s.user_id == user_id and s.id != keep and s.aal != "aal2" and s.aal != "aal3"
        ]:
            _delete_session(self._store, session_id, self._undo)

    async def using_factor(self, factor_id: UUID) -> list[Session]:
        return [copy.deepcopy(s) for s in sorted(self._store.sessions.values(), key=lambda s: str(s.id)) if s.factor_id == factor_id]

    async def for_user(self, user_id: UUID, *, lock_user: bool = False) -> list[Session]:
        # One unit of work owns the whole store: the user's row is as locked as it gets.
        if lock_user and user_id not in self._store.users:
            raise RowLocked(str(user_id)[:8])
        mine = [copy.deepcopy(s) for s in self._store.sessions.values() if s.user_id == user_id]
        return sorted(mine, key=lambda s: (s.created_at, s.id.bytes), reverse=True)


class InMemoryRefreshTokenRepository:
    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    async def get(self, token: str) -> RefreshToken | None:
        row = self._store.refresh_tokens.get(token)
        return copy.deepcopy(row) if row is not None else None

    async def lock(self, token: str) -> LockedRefreshToken | None:
        presented = await self.get(token)
        if presented is None:
            return None
        live = [
            t for t in self._store.refresh_tokens.values()
            if presented.session_id is not None and t.session_id == presented.session_id and not t.revoked
        ]
        newest = copy.deepcopy(max(live, key=lambda t: t.id or 0)) if live else None
        return LockedRefreshToken(token=presented, newest_live=newest)

    async def add(self, token: RefreshToken) -> None:
        stored = copy.deepcopy(token)
        stored.id = self._store.next_refresh_token_id
        self._store.next_refresh_token_id += 1
        set_item(self._store.refresh_tokens, stored.token, stored, self._undo)

    async def swap(self, presented: RefreshToken, child: RefreshToken | None, now: datetime) -> None:
        row = self._store.refresh_tokens.get(presented.token)
        if row is not None:
            used = copy.deepcopy(row)
            used.revoked, used.updated_at = True, now
            set_item(self._store.refresh_tokens, used.token, used, self._undo)
        if child is not None:
            await self.add(child)

    async def revoke_live_for_session(self, session_id: UUID, now: datetime) -> None:
        for row in list(self._store.refresh_tokens.values()):
            if row.session_id == session_id and not row.revoked:
                revoked = copy.deepcopy(row)
                revoked.revoke(now)
                set_item(self._store.refresh_tokens, row.token, revoked, self._undo)

    async def newest_live(self, session_id: UUID) -> RefreshToken | None:
        live = [t for t in self._store.refresh_tokens.values() if t.session_id == session_id and not t.revoked]
        return copy.deepcopy(max(live, key=lambda t: t.id or 0)) if live else None

    async def delete(self, token_id: int) -> None:
        for row in list(self._store.refresh_tokens.values()):
            if row.id == token_id:
                delete_item(self._store.refresh_tokens, row.token, self._undo)


class InMemoryOneTimeTokenRepository:
    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    async def replace(self, token: OneTimeToken) -> None:
        set_item(self._store.one_time_tokens, (token.user_id, token.token_type), copy.deepcopy(token), self._undo)

    async def delete_for_user(self, user_id: UUID) -> None:
        for key in [k for k in self._store.one_time_tokens if k[0] == user_id]:
            delete_item(self._store.one_time_tokens, key, self._undo)

    async def find(self, token_hash: str, token_types: tuple[str, ...]) -> OneTimeToken | None:
        matches = [
            t
            for t in self._store.one_time_tokens.values()
            if t.token_hash == token_hash and t.token_type in token_types
        ]
        if not matches:
            return None
        return copy.deepcopy(max(matches, key=lambda t: t.created_at))

    async def for_user(self, user_id: UUID, token_type: str) -> OneTimeToken | None:
        token = self._store.one_time_tokens.get((user_id, token_type))
        return copy.deepcopy(token) if token is not None else None

    async def delete(self, user_id: UUID, token_type: str) -> None:
        delete_item(self._store.one_time_tokens, (user_id, token_type), self._undo)


class InMemoryFlowStateRepository:
    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    async def add(self, flow: FlowState) -> None:
        set_item(self._store.flow_states, flow.id, copy.deepcopy(flow), self._undo)

    async def update(self, flow: FlowState) -> None:
        set_item(self._store.flow_states, flow.id, copy.deepcopy(flow), self._undo)

    async def get(self, flow_id: UUID, *, lock: bool = False) -> FlowState | None:
        flow = self._store.flow_states.get(flow_id)
        return copy.deepcopy(flow) if flow is not None else None

    async def by_auth_code(self, auth_code: str, *, lock: bool = False) -> FlowState | None:
        # units of work run one at a time here: every read is as good as locked
        for flow in self._store.flow_states.values():
            if flow.auth_code == auth_code:
                return copy.deepcopy(flow)
        return None

    async def latest_for_user(self, user_id: UUID, authentication_method: str) -> FlowState | None:
        matches = [
            f
            for f in self._store.flow_states.values()
            if f.user_id == user_id and f.authentication_method == authentication_method
        ]
        return copy.deepcopy(max(matches, key=lambda f: f.created_at)) if matches else None

    async def delete(self, flow_id: UUID) -> None:
        delete_item(self._store.flow_states, flow_id, self._undo)


class InMemoryOAuthClientStateRepository:
    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    async def add(self, state: OAuthClientState) -> None:
        set_item(self._store.oauth_client_states, state.id, copy.deepcopy(state), self._undo)

    async def take(self, state_id: UUID) -> OAuthClientState | None:
        state = self._store.oauth_client_states.get(state_id)
        if state is None:
            return None
        delete_item(self._store.oauth_client_states, state_id, self._undo)
        return copy.deepcopy(state)


class InMemoryAuditLog:
    def __init__(self, store: InMemoryStore, undo: list[Undo], audited: list[AuditLogEntry] | None = None) -> None:
        self._store = store
        self._undo = undo
        self._audited = audited if audited is not None else []

    async def add(self, entry: AuditLogEntry) -> None:
        self._store.audit.append(entry)
        self._undo.append(self._store.audit.pop)
        self._audited.append(entry)

    async def search(self, where: AuditFilter, *, page: int, per_page: int) -> tuple[list[AuditLogEntry], int]:
        found = [e for e in reversed(self._store.audit) if e.instance_id == NIL_UUID and where.matches(e.payload)]
        found.sort(key=lambda e: e.created_at, reverse=True)  # stable: the later write first among equal times
        start = (page - 1) * per_page
        return copy.deepcopy(found[start : start + per_page]), len(found)


def _delete_factor(store: InMemoryStore, factor_id: UUID, undo: list[Undo]) -> None:
    delete_item(store.factors, factor_id, undo)
    for challenge_id in [c.id for c in store.mfa_challenges.values() if c.factor_id == factor_id]:
        delete_item(store.mfa_challenges, challenge_id, undo)


class InMemoryFactorRepository:
    def __init__(self, store: InMemoryStore, undo: list[Undo]) -> None:
        self._store = store
        self._undo = undo

    async def for_user(self, user_id: UUID) -> list[Factor]:
        return [
            copy.deepcopy(f) for f in sorted(self._store.factors.values(), key=lambda f: (f.created_at, str(f.id))) if f.user_id == user_id
        ]

    async def get(self, factor_id: UUID, *, lock: bool = False) -> Factor | None:
        factor = self._store.factors.get(factor_id)
        return copy.deepcopy(factor) if factor is not None else None

    async def add(self, factor: Factor) -> None:
        for other in self._store.factors.values():
            if other.user_id != factor.user_id:
                continue
            # the schema's unique indexes: (friendly_name, user_id) for non-blank names, (user_id, phone)
            if (factor.friendly_name.strip() and other.friendly_name == factor.friendly_name) or (
                factor.phone and other.phone == factor.phone
            ):
                raise DomainError(
                    "mfa_factor_name_conflict", f'A factor with the friendly name "{factor.friendly_name}" for this user already exists'
                )
        set_item(self._store.factors, factor.id, copy.deepcopy(factor), self._undo)

    async def update(self, factor: Factor) -> None:
        if factor.id in self._store.factors:
            set_item(self._store.factors, factor.id, copy.deepcopy(factor), self._undo)

    async def delete(self, factor_ids: list[UUID]) -> None:
        for factor_id in factor_ids:
            _delete_factor(self._store, factor_id, self._undo)

    async def add_challenge(self, challenge: Challenge) -> None:
        set_item(self._store.mfa_challenges, challenge.id, copy.deepcopy(challenge), self._undo)

    async def get_challenge(self, challenge_id: UUID, factor_id: UUID, *, lock: bool = False) -> Challenge | None:
        challenge = self._store.mfa_challenges.get(challenge_id)
        if challenge is None or challenge.factor_id != factor_id:
            return None
        return copy.deepcopy(challenge)

    async def update_challenge(self, challenge: Challenge) -> None:
        if challenge.id in self._store.mfa_challenges:
            set_item(self._store.mfa_challenges, challenge.id, copy.deepcopy(challenge), self._undo)

    async def delete_challenge(self, challenge_id: UUID) -> None:
        delete_item(self._store.mfa_challenges, challenge_id, self._undo)

    async def verified_challenges(self, factor_id: UUID, since: datetime) -> list[Challenge]:
        return [
            copy.deepcopy(c) for c in self._store.mfa_challenges.values()
            if c.factor_id == factor_id and c.verified_at is not None and c.verified_at > since
        ]  # fmt: skip
