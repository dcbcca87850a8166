"""The refresh-token grant: rotation, the reuse interval and reuse detection (tokens.md §6)."""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from pytrue.application.config import AuthConfig
from pytrue.application.context import RequestContext
from pytrue.application.ports import Clock, RowLocked, UnitOfWork, UnitOfWorkFactory
from pytrue.application.results import AuthResult
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor
from pytrue.domain.errors import Conflict, DomainError, ValidationFailed
from pytrue.domain.session import RefreshAction, RefreshToken, Session, plan_refresh
from pytrue.domain.user import User

_TWELVE = re.compile(r"^[a-z0-9]{12}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshTokenCommand:
    refresh_token: str
    ctx: RequestContext = field(default_factory=RequestContext)


def _not_found() -> DomainError:
    return DomainError("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")


@dataclass(slots=True, kw_only=True)
class RefreshTokenGrant:
    """Swap a refresh token for a new one and a fresh access token for the same session.

    The rows are re-read under a lock that is never waited for: when a concurrent refresh
    holds them the attempt is abandoned and retried, and after the retry limit the caller
    gets `conflict`. A used token is forgiven inside the reuse interval (and always when its
    child is the newest live token); otherwise every live token of the session is revoked.
    """

    uow: UnitOfWorkFactory
    config: AuthConfig
    clock: Clock
    issuer: SessionIssuer

    async def __call__(self, cmd: RefreshTokenCommand) -> AuthResult:
        self._validate_format(cmd.refresh_token)
        deadline = self.clock.now() + self.config.refresh_retry_limit
        while True:
            try:
                return await self._rotate(cmd)
            except RowLocked:
                # tokens.md §6.1 decides steps 1–4 before the lock: a banned user or a dead
                # session is answered now, not after (or instead of, on timeout) the lock
                await self._check_unlocked(cmd.refresh_token)
                if self.clock.now() >= deadline:
                    raise Conflict(
                        "Too many concurrent token refresh requests on the same session or refresh token"
                    ) from None
                await asyncio.sleep(random.uniform(0.010, 0.030))

    @staticmethod
    def _validate_format(token: str) -> None:
        if len(token) < 12 or (len(token) == 12 and not _TWELVE.match(token)):
            raise ValidationFailed("Refresh token is not valid")

    async def _rotate(self, cmd: RefreshTokenCommand) -> AuthResult:
        """One transaction: lock the token and its session, read their user, decide, write.

        On PostgreSQL that is three round trips: the locks with the session's newest live token;
        the user with the session; the writes with COMMIT."""
        now = self.clock.now()
        async with self.uow() as uow:
            locked = await uow.refresh_tokens.lock(cmd.refresh_token)
            if locked is None:
                raise _not_found()
            presented = locked.token
            user, session = await self._checked_owner(uow, presented, now)
            plan = plan_refresh(presented, locked.newest_live, now, self.config.refresh_token_reuse_interval)
            actor = Actor.of_user(user)
            if plan.action is RefreshAction.REUSE_DETECTED:
                if self.config.refresh_token_rotation_enabled:
                    await uow.refresh_tokens.revoke_live_for_session(session.id, now)
                    await uow.audit.add(self.issuer.audit(actor, "token_revoked", now))
                    await uow.commit()
                raise DomainError("refresh_token_already_used", "Invalid Refresh Token: Already Used")
            if plan.action is RefreshAction.RETURN_CHILD and plan.child is not None:
                issued = plan.child
            else:
                issued = self.issuer.new_refresh_token(user, session, parent=presented.token, now=now)
                await uow.refresh_tokens.rotate(session.id, issued, now)
                await uow.audit.add(self.issuer.audit(actor, "token_revoked", now))
                await uow.audit.add(self.issuer.audit(actor, "token_refreshed", now))
            session.mark_refreshed(now, cmd.ctx.user_agent, cmd.ctx.ip)
            await uow.sessions.update(session)
            await uow.commit()
        return self.issuer.result(user, session, issued)

    async def _check_unlocked(self, raw: str) -> None:
        """Steps 1–4 on rows read without a lock, for a token whose rows another refresh holds."""
        async with self.uow() as uow:
            presented = await uow.refresh_tokens.get(raw)
            if presented is None:
                raise _not_found()
            await self._checked_owner(uow, presented, self.clock.now())

    async def _checked_owner(self, uow: UnitOfWork, presented: RefreshToken, now: datetime) -> tuple[User, Session]:
        """The token's user and session, if the user exists unbanned and the session is alive;
        a token whose session is gone is deleted."""
        user, session = await self._owner_of(uow, presented)
        if user is None:
            raise _not_found()
        if user.is_banned(now):
            raise DomainError("user_banned", "Invalid Refresh Token: User Banned")
        if session is None:
            if presented.id is not None:
                await uow.refresh_tokens.delete(presented.id)
                await uow.commit()
            raise DomainError("session_not_found", "Invalid Refresh Token: No Valid Session Found")
        session.ensure_valid(
            now,
            timebox=self.config.sessions_timebox,
            inactivity_timeout=self.config.sessions_inactivity_timeout,
            presented_token_updated_at=presented.updated_at,
        )
        return user, session

    @staticmethod
    async def _owner_of(uow: UnitOfWork, token: RefreshToken) -> tuple[User | None, Session | None]:
        """The token's user and session, read together (one statement on PostgreSQL)."""
        try:
            user_id = UUID(token.user_id)
        except ValueError:
            return None, None
        return await uow.users.get_with_session(user_id, token.session_id or None)
