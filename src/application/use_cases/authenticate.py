"""Who is calling: bearer tokens checked against users and sessions (tokens.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pytrue.application.config import Jwt, Sessions
from pytrue.application.ports import AccessTokenVerifier, Clock, UnitOfWorkFactory
from pytrue.application.results import Principal
from pytrue.domain.errors import BadJwt, DomainError, UserNotFound
from pytrue.domain.user import NIL_UUID

BEARER = "bearer"


def _uuid_claim(claims: dict[str, Any], name: str) -> UUID | None:
    value = claims.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadJwt(f"invalid claim: {name} claim must be a UUID")
    try:
        return UUID(value)
    except ValueError:
        raise BadJwt(f"invalid claim: {name} claim must be a UUID", where="subject" if name == "sub" else "") from None


@dataclass(slots=True, kw_only=True)
class AuthenticateUser:
    """A user's access token is good while its user exists unbanned and its session exists."""

    uow: UnitOfWorkFactory
    clock: Clock
    verifier: AccessTokenVerifier

    async def __call__(self, token: str) -> Principal:
        now = self.clock.now()
        claims = self.verifier.verify(token, now)
        user_id = _uuid_claim(claims, "sub")
        if user_id is None:
            raise BadJwt("invalid claim: missing sub claim")
        return await load_principal(self.uow, claims, user_id, now)


async def load_principal(
    uow_factory: UnitOfWorkFactory, claims: dict[str, Any], user_id: UUID, now: datetime
) -> Principal:
    session_id = _uuid_claim(claims, "session_id")
    wanted = session_id if session_id is not None and session_id != NIL_UUID else None
    async with uow_factory() as uow:
        user, session = await uow.users.get_with_session(user_id, wanted)
    if user is None:
        raise UserNotFound("User from sub claim in JWT does not exist", where=BEARER)
    if wanted is not None and (session is None or session.user_id != user.id):
        raise DomainError("session_not_found", "Session from session_id claim in JWT does not exist", where=BEARER)
    if user.is_banned(now):
        raise DomainError("user_banned", "User is banned", where=BEARER)
    return Principal(claims=claims, user=user, session=session)


@dataclass(slots=True, kw_only=True)
class AuthorizeAdmin:
    """An admin is a token whose role is an admin role; one tied to a session needs a live session."""

    uow: UnitOfWorkFactory
    jwt: Jwt
    sessions: Sessions
    clock: Clock
    verifier: AccessTokenVerifier

    async def __call__(self, token: str) -> Principal:
        now = self.clock.now()
        claims = self.verifier.verify(token, now)
        role = claims.get("role")
        if not isinstance(role, str) or role not in self.jwt.admin_roles:
            raise DomainError("not_admin", "User not allowed")
        session_id = _uuid_claim(claims, "session_id")
        if session_id is None or session_id == NIL_UUID:
            return Principal(claims=claims)
        user_id = _uuid_claim(claims, "sub")
        if user_id is None:
            raise BadJwt("invalid claim: missing sub claim")
        principal = await load_principal(self.uow, claims, user_id, now)
        if principal.session is not None:
            principal.session.ensure_valid(
                now,
                timebox=self.sessions.timebox,
                inactivity_timeout=self.sessions.inactivity_timeout,
                where=BEARER,
                allow_low_aal=self.sessions.allow_low_aal,
                needs_mfa=self.sessions.allow_low_aal is not None and principal.user is not None and principal.user.has_verified_factor,
            )
        return principal
