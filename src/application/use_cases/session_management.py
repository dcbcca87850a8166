"""Session management, a pytrue extension (GoTrue has none, issue #543): a user lists and ends their
own sessions; an admin lists and ends any user's (docs/adr/0024)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from pytrue.application.ports import Clock, UnitOfWork, UnitOfWorkFactory
from pytrue.application.results import Principal
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, UserNotFound
from pytrue.domain.mfa import require_aal2_if_enrolled
from pytrue.domain.session import Session, owned_session, parse_session_id
from pytrue.domain.user import User

SESSION_ENDED = "logout"  # the audit action: ending one session is a sign-out of it (docs/adr/0024)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionList:
    """A user's sessions, newest first; `current` is the session of the presented token (if any)."""

    sessions: list[Session]
    current: UUID | None = None


def _signed_in_user(principal: Principal) -> User:
    if principal.user is None:
        raise DomainError("bad_jwt", "invalid claim: missing sub claim")
    return principal.user


@dataclass(slots=True, kw_only=True)
class ListSessions:
    """A user sees their own sessions, and only theirs."""

    uow: UnitOfWorkFactory

    async def __call__(self, principal: Principal) -> SessionList:
        user = _signed_in_user(principal)
        async with self.uow() as uow:
            sessions = await uow.sessions.for_user(user.id)
        current = principal.session.id if principal.session is not None else None
        return SessionList(sessions=sessions, current=current)


@dataclass(slots=True, kw_only=True)
class RevokeSession:
    """A user ends one of their sessions (the current one too): its refresh tokens stop working and
    its access tokens are refused from then on. Another user's session is not found."""

    uow: UnitOfWorkFactory
    clock: Clock
    issuer: SessionIssuer

    async def __call__(self, principal: Principal, session_id: str) -> None:
        wanted = parse_session_id(session_id)
        user = _signed_in_user(principal)
        now = self.clock.now()
        async with self.uow() as uow:
            session = owned_session(await uow.sessions.get(wanted), user.id)
            require_aal2_if_enrolled(user.has_verified_factor, principal.session, "revoke a session")
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), SESSION_ENDED, now, {"session_id": str(session.id)}))
            await uow.sessions.delete(session.id)
            await uow.commit()


async def _user(uow: UnitOfWork, user_id: UUID) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise UserNotFound()
    return user


@dataclass(slots=True, kw_only=True)
class AdminListSessions:
    uow: UnitOfWorkFactory

    async def __call__(self, user_id: UUID) -> list[Session]:
        async with self.uow() as uow:
            await _user(uow, user_id)
            return await uow.sessions.for_user(user_id)


@dataclass(slots=True, kw_only=True)
class AdminRevokeSessions:
    """An admin ends one session of a user (`session_id`) or all of them (None)."""

    uow: UnitOfWorkFactory
    clock: Clock
    issuer: SessionIssuer

    async def __call__(self, user_id: UUID, session_id: str | None = None, *, admin_role: str = "service_role") -> None:
        now = self.clock.now()
        async with self.uow() as uow:
            user = await _user(uow, user_id)
            traits = {"user_id": str(user.id)}
            if session_id is None:
                await uow.sessions.delete_for_user(user.id)
            else:
                session = owned_session(await uow.sessions.get(parse_session_id(session_id)), user.id)
                traits["session_id"] = str(session.id)
                await uow.sessions.delete(session.id)
            await uow.audit.add(self.issuer.audit(Actor.admin(admin_role), SESSION_ENDED, now, traits))
            await uow.commit()
