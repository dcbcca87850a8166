"""Sign in with a password (`POST /token?grant_type=password`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from pytrue.application.metrics import NO_METRICS, Metrics
from pytrue.application.hooks import hook_metadata
from pytrue.application.passwords import LeakedPasswords, check_password
from pytrue.application.config import External, Jwt
from pytrue.domain.values import PasswordPolicy
from pytrue.application.context import RequestContext
from pytrue.application.ports import Clock, Hook, PasswordHasher, UnitOfWorkFactory
from pytrue.application.ports import LegacyWebhook, WebhookReply
from pytrue.application.results import AuthResult
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, InvalidCredentials, ValidationFailed
from pytrue.domain.user import User
from pytrue.domain.values import Password, PasswordCheck, Phone


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInWithPasswordCommand:
    password: str
    email: str | None = None
    phone: str | None = None
    aud: str | None = None
    ctx: RequestContext = field(default_factory=RequestContext)


PASSWORD_HOOK_REJECTION = "Further password verification attempts will be rejected."


@dataclass(slots=True, kw_only=True)
class SignInWithPassword:
    """Correct credentials of a confirmed, unbanned user open a session.

    Unknown users cost a hash verification too, so timing does not tell who has an account.
    A correct password that fails today's policy still signs in, with `weak_password` set.
    Hashes in older formats are replaced by argon2id once the password is known to be right,
    unless the presented password might not be the stored one (bcrypt reads only 72 bytes).
    """

    uow: UnitOfWorkFactory
    jwt: Jwt
    passwords: PasswordPolicy
    leaks: LeakedPasswords | None = None  # GOTRUE_PASSWORD_HIBP_ENABLED
    external: External
    clock: Clock
    hasher: PasswordHasher
    issuer: SessionIssuer
    hook: Hook | None = None  # GOTRUE_HOOK_PASSWORD_VERIFICATION_ATTEMPT
    metrics: Metrics = NO_METRICS
    webhook: LegacyWebhook | None = None  # GOTRUE_WEBHOOK_* (its login event)

    async def __call__(self, cmd: SignInWithPasswordCommand) -> AuthResult:
        provider, identifier = self._validate(cmd)
        aud = cmd.aud if cmd.aud is not None else self.jwt.aud
        async with self.uow() as uow:
            if provider == "email":
                user = await uow.users.get_by_email(identifier, aud)
            else:
                user = await uow.users.get_by_phone(identifier, aud)
        if user is None or not user.has_password:
            await self.hasher.burn(cmd.password)
            raise InvalidCredentials()
        if user.is_banned(self.clock.now()):
            raise DomainError("user_banned", "User is banned")
        stored_hash = user.encrypted_password or ""
        valid = await self.hasher.verify(cmd.password, stored_hash)
        if self.hook is not None:
            await self._ask_hook(user.id, valid, cmd)
        if not valid:
            raise InvalidCredentials()
        self._ensure_confirmed(user, provider)
        new_hash = await self.hasher.hash(cmd.password) if self.hasher.needs_rehash(stored_hash, cmd.password) else None
        check = await self._strength(cmd.password)
        # the legacy webhook's login event: asked before the row is locked; a refusal opens no session
        reply = await self.webhook.send("login", user) if self.webhook is not None else None
        return await self._open(user.id, provider, stored_hash, new_hash, cmd, None if check.ok else check, reply)

    async def _ask_hook(self, user_id: UUID, valid: bool, cmd: SignInWithPasswordCommand) -> None:
        """GoTrue's password verification attempt hook: `{"decision": "reject"}` refuses the sign-in
        (`invalid_credentials` with the hook's message), ending the user's sessions when it asks."""
        assert self.hook is not None
        now = self.clock.now()
        answer = await self.hook.invoke(
            {
                "metadata": hook_metadata(str(self.issuer.tokens.uuid()), "password-verification", now, cmd.ctx),
                "user_id": str(user_id),
                "valid": valid,
            }
        )
        if answer.get("decision") != "reject":
            return
        if answer.get("should_logout_user") is True:
            async with self.uow() as uow:
                await uow.sessions.delete_for_user(user_id)
                await uow.commit()
        message = answer.get("message")
        raise DomainError("invalid_credentials", message if isinstance(message, str) and message else PASSWORD_HOOK_REJECTION)

    async def _strength(self, password: str) -> PasswordCheck:
        """GoTrue checks a correct password's strength on sign-in and reports it (`weak_password`),
        Pwned Passwords included; a failed check never stops the sign-in."""
        try:
            return await check_password(self.passwords, self.leaks, Password(password))
        except DomainError:
            return PasswordCheck()

    def _validate(self, cmd: SignInWithPasswordCommand) -> tuple[str, str]:
        if cmd.email and cmd.phone:
            raise ValidationFailed("Only an email address or phone number should be provided on login.")
        if cmd.email:
            if not self.external.email.enabled:
                raise DomainError("email_provider_disabled", "Email logins are disabled", where="login")
            return "email", cmd.email.strip().lower()
        if cmd.phone:
            if not self.external.phone.enabled:
                raise DomainError("phone_provider_disabled", "Phone logins are disabled", where="login")
            return "phone", Phone.normalise(cmd.phone)
        raise ValidationFailed("missing email or phone")

    @staticmethod
    def _ensure_confirmed(user: User, provider: str) -> None:
        if provider == "email" and not user.is_email_confirmed:
            raise DomainError("email_not_confirmed", "Email not confirmed")
        if provider == "phone" and not user.is_phone_confirmed:
            raise DomainError("phone_not_confirmed", "Phone not confirmed")

    async def _open(
        self,
        user_id: UUID,
        provider: str,
        old_hash: str,
        new_hash: str | None,
        cmd: SignInWithPasswordCommand,
        weak: PasswordCheck | None,
        reply: WebhookReply | None = None,
    ) -> AuthResult:
        async with self.uow() as uow:
            user = await uow.users.get_for_update(user_id)
            if user is None:
                raise InvalidCredentials()
            now = self.clock.now()
            if user.is_banned(now):
                raise DomainError("user_banned", "User is banned")
            if new_hash is not None and user.encrypted_password == old_hash:
                user.set_password_hash(new_hash, now)
            if reply is not None:
                reply.apply(user)
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), "login", now, {"provider": provider}))
            session, refresh = await self.issuer.open_session(uow, user, "password", cmd.ctx, now)
            result = await self.issuer.issue(uow, user, session, refresh, method="password", ctx=cmd.ctx, weak_password=weak)
            await uow.commit()
        self.metrics.signed_in("password")
        return result
