"""Opening sessions and minting their tokens: shared by every use case that signs someone in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pytrue.application.config import Jwt, Security
from pytrue.application.context import RequestContext
from pytrue.application.ports import AccessTokenSigner, Clock, TokenGenerator, UnitOfWork
from pytrue.application.results import AuthResult, RefreshDiagnostics
from pytrue.domain.audit import Actor, AuditLogEntry
from pytrue.domain.session import RefreshToken, Session
from pytrue.domain.tokens import access_token_spec
from pytrue.domain.user import User
from pytrue.domain.values import PasswordCheck


@dataclass(slots=True, kw_only=True)
class SessionIssuer:
    """Creates sessions with their first refresh token, and signs access tokens for them.

    With `refresh_token_algorithm_version` 2 a new session carries its own HMAC key and its
    refresh tokens are signed counters (no `refresh_tokens` row); otherwise it gets a row."""

    jwt: Jwt
    security: Security
    signer: AccessTokenSigner
    tokens: TokenGenerator
    clock: Clock
    allow_low_aal: timedelta | None = None  # GOTRUE_SESSIONS_ALLOW_LOW_AAL

    async def open_session(
        self, uow: UnitOfWork, user: User, method: str, ctx: RequestContext, now: datetime
    ) -> tuple[Session, str]:
        """The new session and its first refresh token."""
        session = Session(
            id=self.tokens.uuid(),
            user_id=user.id,
            created_at=now,
            updated_at=now,
            user_agent=ctx.user_agent,
            ip=ctx.ip,
        )
        session.add_amr(method, now)
        if self.security.refresh_token_algorithm_version == 2:
            session.start_counter_tokens(self.tokens.hmac_key())
            await uow.sessions.add(session)
            issued = session.counter_token()
        else:
            await uow.sessions.add(session)
            refresh = self.new_refresh_token(user, session, parent=None, now=now)
            await uow.refresh_tokens.add(refresh)
            issued = refresh.token
        user.record_sign_in(now)
        await uow.users.update(user)
        return session, issued

    async def rotate_for_mfa(self, uow: UnitOfWork, user: User, session: Session, now: datetime) -> str:
        """A new refresh token in the same session after an MFA step-up. v2: the counter moves by
        two, so the token held before can no longer mint aal2 tokens; legacy: the newest live
        token is swapped for a child, as GoTrue's GrantRefreshTokenSwap does."""
        if session.issues_counter_tokens:
            session.skip_counter_for_mfa()
            return session.counter_token()
        current = await uow.refresh_tokens.newest_live(session.id)
        child = self.new_refresh_token(user, session, parent=current.token if current else None, now=now)
        if current is not None:
            await uow.refresh_tokens.swap(current, child, now)
        else:
            await uow.refresh_tokens.add(child)
        return child.token

    def new_refresh_token(
        self, user: User, session: Session, *, parent: str | None, now: datetime
    ) -> RefreshToken:
        return RefreshToken(
            id=None,
            token=self.tokens.refresh_token(),
            user_id=str(user.id),
            session_id=session.id,
            parent=parent,
            created_at=now,
            updated_at=now,
        )

    def audit(
        self,
        actor: Actor,
        action: str,
        now: datetime,
        traits: dict[str, object] | None = None,
    ) -> AuditLogEntry:
        return AuditLogEntry.record(
            entry_id=self.tokens.uuid(), actor=actor, action=action, now=now, traits=traits
        )

    def result(
        self,
        user: User,
        session: Session,
        refresh_token: str,
        *,
        weak_password: PasswordCheck | None = None,
        diagnostics: RefreshDiagnostics | None = None,
    ) -> AuthResult:
        now = self.clock.now()
        spec = access_token_spec(
            user=user,
            session=session,
            now=now,
            lifetime_seconds=self.jwt.exp,
            issuer=self.jwt.issuer,
            allow_low_aal=self.allow_low_aal,
        )
        access_token = self.signer.sign(spec.claims)
        return AuthResult(
            user=user,
            session=session,
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=spec.expires_at,
            expires_in=max(spec.expires_at - int(now.timestamp()), 1),
            weak_password=weak_password,
            diagnostics=diagnostics or RefreshDiagnostics(counter=session.refresh_token_counter),
        )
