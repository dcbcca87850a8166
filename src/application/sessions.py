"""Opening sessions and minting their tokens: shared by every use case that signs someone in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pytrue.application.config import Jwt, Security
from pytrue.application.context import RequestContext
from pytrue.application.hooks import hook_metadata
from pytrue.application.ports import AccessTokenSigner, Clock, Hook, HookFailed, TokenGenerator, UnitOfWork
from pytrue.application.results import AuthResult, RefreshDiagnostics
from pytrue.domain.audit import Actor, AuditLogEntry
from pytrue.domain.session import RefreshToken, Session
from pytrue.domain.tokens import AccessTokenSpec, access_token_spec, custom_claims_problems
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
    access_token_hook: Hook | None = None  # GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_*

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

    async def issue(
        self,
        uow: UnitOfWork,
        user: User,
        session: Session,
        refresh_token: str,
        *,
        method: str,
        ctx: RequestContext,
        weak_password: PasswordCheck | None = None,
        diagnostics: RefreshDiagnostics | None = None,
    ) -> AuthResult:
        """The session's tokens, signed inside the unit of work before it commits: with a custom
        access token hook, the hook's claims are signed instead (a PostgreSQL function hook runs
        in this transaction), and a hook that fails or answers unusable claims fails the whole
        request with nothing written, as GoTrue's GenerateAccessToken does inside its
        transaction. `method` is GoTrue's authentication method name (`password`, `otp`,
        `token_refresh`, ...)."""
        if self.access_token_hook is None:
            return self.result(user, session, refresh_token, weak_password=weak_password, diagnostics=diagnostics)
        now = self.clock.now()
        spec = self._spec(user, session, now)
        payload = {
            "metadata": hook_metadata(str(self.tokens.uuid()), "customize-access-token", now, ctx),
            "user_id": str(user.id),
            "claims": spec.claims,
            "authentication_method": method,
        }
        answer = await self.access_token_hook.invoke(payload, uow=uow)
        if "claims" not in answer:
            raise HookFailed("output claims field is missing")
        claims = answer["claims"]
        if not isinstance(claims, dict):
            raise HookFailed("Error unmarshaling JSON output.")
        problems = custom_claims_problems(claims)
        if problems:
            listed = "".join(f"- {problem}\n" for problem in problems)
            raise HookFailed(f"output claims do not conform to the expected schema: \n{listed}")
        return self._result(user, session, refresh_token, self.signer.sign(claims), spec, now, weak_password, diagnostics)

    def _spec(self, user: User, session: Session, now: datetime) -> AccessTokenSpec:
        return access_token_spec(
            user=user,
            session=session,
            now=now,
            lifetime_seconds=self.jwt.exp,
            issuer=self.jwt.issuer,
            allow_low_aal=self.allow_low_aal,
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
        spec = self._spec(user, session, now)
        return self._result(user, session, refresh_token, self.signer.sign(spec.claims), spec, now, weak_password, diagnostics)

    @staticmethod
    def _result(
        user: User,
        session: Session,
        refresh_token: str,
        access_token: str,
        spec: AccessTokenSpec,
        now: datetime,
        weak_password: PasswordCheck | None,
        diagnostics: RefreshDiagnostics | None,
    ) -> AuthResult:
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
