"""The refresh-token grant: legacy rows and v2 session counters, the reuse interval and reuse detection (tokens.md §6)."""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from pytrue.application.metrics import NO_METRICS, Metrics
from pytrue.application.config import Security, Sessions
from pytrue.application.context import RequestContext
from pytrue.application.ports import Clock, RowLocked, UnitOfWork, UnitOfWorkFactory
from pytrue.application.results import AuthResult, RefreshDiagnostics
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor
from pytrue.domain.counter_token import CounterToken, parse_counter_token
from pytrue.domain.errors import Conflict, DomainError, ValidationFailed
from pytrue.domain.session import (
    CounterAction,
    RefreshAction,
    RefreshToken,
    RefreshTokenAlreadyUsed,
    Session,
    ensure_newest_login,
    plan_counter_refresh,
    plan_refresh,
    upgrade_selects,
)
from pytrue.domain.user import User

TOKEN_REFRESH = "token_refresh"  # GoTrue's authentication method of a refresh, as a custom access token hook sees it

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

    A v2 token is its session's signed counter: the current counter moves on, an older one is
    a reuse that is forgiven (same token back) or ends the session. A legacy token is a row:
    the presented row is marked used and gets a child, its siblings untouched; a used row is
    forgiven inside the reuse interval (and always when its child is the newest live token),
    otherwise every live token of the session is revoked.

    The rows are read under a lock that is never waited for: when a concurrent refresh holds
    them the attempt is abandoned and retried, and after the retry limit the caller gets
    `conflict`. With `GOTRUE_SESSIONS_SINGLE_PER_USER` a session that is not the user's most
    recently refreshed one (of its tag) is refused before anything is decided.
    """

    uow: UnitOfWorkFactory
    security: Security
    sessions: Sessions
    retry_limit: timedelta = timedelta(seconds=5)  # how long a locked token is retried
    clock: Clock
    issuer: SessionIssuer
    metrics: Metrics = NO_METRICS

    async def __call__(self, cmd: RefreshTokenCommand) -> AuthResult:
        counter_token = self._parse(cmd.refresh_token)
        deadline = self.clock.now() + self.retry_limit
        while True:
            try:
                if counter_token is not None:
                    result = await self._advance_counter(cmd, counter_token)
                else:
                    result = await self._rotate(cmd)
                self.metrics.token_refreshed()
                return result
            except RowLocked:
                # tokens.md §6.1 decides steps 1–4 before the lock: a banned user or a dead
                # session is answered now, not after (or instead of, on timeout) the lock
                await self._check_unlocked(cmd.refresh_token, counter_token)
                if self.clock.now() >= deadline:
                    raise Conflict(
                        "Too many concurrent token refresh requests on the same session or refresh token"
                    ) from None
                await asyncio.sleep(random.uniform(0.010, 0.030))

    @staticmethod
    def _parse(token: str) -> CounterToken | None:
        """The v2 token `token` is, or None for a legacy one (any other string is looked up as a row)."""
        if len(token) < 12 or (len(token) == 12 and not _TWELVE.match(token)):
            raise ValidationFailed("Refresh token is not valid")
        return parse_counter_token(token) if len(token) > 12 else None

    # --- v2: the session counter ------------------------------------------------------------

    async def _advance_counter(self, cmd: RefreshTokenCommand, token: CounterToken) -> AuthResult:
        """One transaction of two round trips on PostgreSQL: the session locked and read with its
        user; the writes with COMMIT."""
        now = self.clock.now()
        async with self.uow() as uow:
            user, session = await self._counter_owner(uow, token, now, lock=True)
            if self.sessions.single_per_user:
                await self._ensure_newest(uow, user, session, now, None)
            current = session.refresh_token_counter or 0
            plan = plan_counter_refresh(
                token.counter,
                current,
                now=now,
                last_refreshed=session.last_refreshed(None),
                reuse_interval=self.security.refresh_token_reuse_interval,
                allow_reuse=self.security.refresh_token_allow_reuse,
            )
            if plan.action is CounterAction.REUSE_DETECTED:
                if self.security.refresh_token_rotation_enabled:
                    await uow.sessions.delete(session.id)
                    await uow.commit()
                    raise RefreshTokenAlreadyUsed(session_ended=True)
                raise RefreshTokenAlreadyUsed()
            if plan.action is CounterAction.NEXT:
                session.refresh_token_counter = current + 1
            issued = session.counter_token()
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), "token_refreshed", now))
            session.mark_refreshed(now, cmd.ctx.user_agent, cmd.ctx.ip)
            await uow.sessions.update(session)
            diagnostics = RefreshDiagnostics(
                counter=session.refresh_token_counter,
                reused=False if plan.action is CounterAction.NEXT else None,
                reuse_causes=plan.causes,
            )
            result = await self.issuer.issue(
                uow, user, session, issued, method=TOKEN_REFRESH, ctx=cmd.ctx, diagnostics=diagnostics
            )
            await uow.commit()
        return result

    async def _counter_owner(
        self, uow: UnitOfWork, token: CounterToken, now: datetime, *, lock: bool
    ) -> tuple[User, Session]:
        """The token's user and session, if the session signed it, the user is not banned and the
        session is alive."""
        user, session = await uow.users.get_by_session(token.session_id, lock=lock)
        if user is None or session is None or not session.issued(token):
            raise _not_found()
        self._check_alive(user, session, now, None)
        return user, session

    # --- legacy rows --------------------------------------------------------------------------

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
            if self.sessions.single_per_user:
                await self._ensure_newest(uow, user, session, now, presented.updated_at)
            plan = plan_refresh(presented, locked.newest_live, now, self.security.refresh_token_reuse_interval)
            actor = Actor.of_user(user)
            if plan.action is RefreshAction.REUSE_DETECTED:
                if self.security.refresh_token_rotation_enabled:
                    await uow.refresh_tokens.revoke_live_for_session(session.id, now)
                    await uow.audit.add(self.issuer.audit(actor, "token_revoked", now))
                    await uow.commit()
                raise RefreshTokenAlreadyUsed()
            diagnostics = RefreshDiagnostics()
            if plan.action is RefreshAction.RETURN_CHILD and plan.child is not None:
                issued = plan.child.token
            else:
                issued = await self._swap(uow, user, session, presented, now)
                await uow.audit.add(self.issuer.audit(actor, "token_revoked", now))
                await uow.audit.add(self.issuer.audit(actor, "token_refreshed", now))
                diagnostics = RefreshDiagnostics(counter=session.refresh_token_counter, reused=False)
            session.mark_refreshed(now, cmd.ctx.user_agent, cmd.ctx.ip)
            await uow.sessions.update(session)
            result = await self.issuer.issue(
                uow, user, session, issued, method=TOKEN_REFRESH, ctx=cmd.ctx, diagnostics=diagnostics
            )
            await uow.commit()
        return result

    async def _swap(self, uow: UnitOfWork, user: User, session: Session, presented: RefreshToken, now: datetime) -> str:
        """Use up the presented row and issue its successor: a child row, or for a session chosen
        by `GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE` its first (or next) v2 token."""
        if self.security.refresh_token_algorithm_version == 2 and upgrade_selects(
            session.id, self.security.refresh_token_upgrade_percentage
        ):
            session.upgrade_to_counter_tokens(self.issuer.tokens.hmac_key())
            await uow.refresh_tokens.swap(presented, None, now)
            return session.counter_token()
        child = self.issuer.new_refresh_token(user, session, parent=presented.token, now=now)
        await uow.refresh_tokens.swap(presented, child, now)
        return child.token

    async def _ensure_newest(
        self, uow: UnitOfWork, user: User, session: Session, now: datetime, presented_updated_at: datetime | None
    ) -> None:
        """`GOTRUE_SESSIONS_SINGLE_PER_USER`: the user's row locked (never waited for) and every
        session read, one more round trip, only when the setting is on."""
        ensure_newest_login(
            session,
            await uow.sessions.for_user(user.id, lock_user=True),
            now,
            tags=self.sessions.tags,
            timebox=self.sessions.timebox,
            inactivity_timeout=self.sessions.inactivity_timeout,
            presented_token_updated_at=presented_updated_at,
            allow_low_aal=self.sessions.allow_low_aal,
            needs_mfa=self.sessions.allow_low_aal is not None and user.has_verified_factor,
        )

    async def _check_unlocked(self, raw: str, counter_token: CounterToken | None) -> None:
        """Steps 1–4 on rows read without a lock, for a token whose rows another refresh holds."""
        now = self.clock.now()
        async with self.uow() as uow:
            if counter_token is not None:
                await self._counter_owner(uow, counter_token, now, lock=False)
                return
            presented = await uow.refresh_tokens.get(raw)
            if presented is None:
                raise _not_found()
            await self._checked_owner(uow, presented, now)

    async def _checked_owner(self, uow: UnitOfWork, presented: RefreshToken, now: datetime) -> tuple[User, Session]:
        """The token's user and session, if the user exists unbanned and the session is alive;
        a token whose session is gone is deleted."""
        user, session = await self._owner_of(uow, presented)
        if user is None:
            raise _not_found()
        if session is None:
            if user.is_banned(now):
                raise DomainError("user_banned", "Invalid Refresh Token: User Banned")
            if presented.id is not None:
                await uow.refresh_tokens.delete(presented.id)
                await uow.commit()
            raise DomainError("session_not_found", "Invalid Refresh Token: No Valid Session Found")
        self._check_alive(user, session, now, presented.updated_at)
        return user, session

    def _check_alive(self, user: User, session: Session, now: datetime, presented_updated_at: datetime | None) -> None:
        if user.is_banned(now):
            raise DomainError("user_banned", "Invalid Refresh Token: User Banned")
        session.ensure_valid(
            now,
            timebox=self.sessions.timebox,
            inactivity_timeout=self.sessions.inactivity_timeout,
            presented_token_updated_at=presented_updated_at,
            allow_low_aal=self.sessions.allow_low_aal,
            needs_mfa=self.sessions.allow_low_aal is not None and user.has_verified_factor,
        )

    @staticmethod
    async def _owner_of(uow: UnitOfWork, token: RefreshToken) -> tuple[User | None, Session | None]:
        """The token's user and session, read together (one statement on PostgreSQL)."""
        try:
            user_id = UUID(token.user_id)
        except ValueError:
            return None, None
        return await uow.users.get_with_session(user_id, token.session_id or None)
