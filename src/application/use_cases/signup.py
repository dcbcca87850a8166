"""Sign up with email or phone and a password, or anonymously."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytrue.application.hooks import UserCreationHooks
from pytrue.application.metrics import NO_METRICS, Metrics
from pytrue.application.passwords import LeakedPasswords, enforce_password
from pytrue.application.config import External, Jwt, Links, Mailer, Site, Sms
from pytrue.domain.values import PasswordPolicy
from pytrue.application.context import RequestContext
from pytrue.application.email_codes import EmailCodes, Pkce
from pytrue.application.sms_codes import SmsCodes
from pytrue.application.webhooks import tell_webhook
from pytrue.application.ports import MAIL_CONFIRMATION, Clock, PasswordHasher, TokenGenerator, UnitOfWork, UnitOfWorkFactory
from pytrue.application.ports import LegacyWebhook
from pytrue.application.results import SignUpResult
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.one_time_token import CONFIRMATION
from pytrue.domain.user import User, new_identity
from pytrue.domain.values import Email, Password, Phone, validate_pkce_params


@dataclass(frozen=True, slots=True, kw_only=True)
class SignUpCommand:
    email: str | None = None
    phone: str | None = None
    password: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    aud: str | None = None
    redirect_to: str = ""
    channel: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    ctx: RequestContext = field(default_factory=RequestContext)
    open_session: bool = True


@dataclass(slots=True, kw_only=True)
class SignUp:
    """A new account: confirmed at once with autoconfirm, else it waits for its confirmation link.

    A repeated sign-up for a confirmed address answers like a new one (an obfuscated user),
    so the endpoint cannot be used to find out who has an account. A repeated sign-up for an
    account nobody has proved replaces its password and data, and its link is the only live one:
    confirming it leaves in force only what that sign-up asked for (docs/adr/0015).
    """

    uow: UnitOfWorkFactory
    jwt: Jwt
    passwords: PasswordPolicy
    leaks: LeakedPasswords | None = None  # GOTRUE_PASSWORD_HIBP_ENABLED
    mailer: Mailer
    sms: Sms
    external: External
    site: Site
    links: Links
    clock: Clock
    tokens: TokenGenerator
    hasher: PasswordHasher
    issuer: SessionIssuer
    codes: EmailCodes
    sms_codes: SmsCodes
    user_hooks: UserCreationHooks
    metrics: Metrics = NO_METRICS
    webhook: LegacyWebhook | None = None  # GOTRUE_WEBHOOK_*

    async def __call__(self, cmd: SignUpCommand) -> SignUpResult:
        if self.site.disable_signup:
            raise DomainError("signup_disabled", "Signups not allowed for this instance")
        if not cmd.email and not cmd.phone:
            return await self._anonymous(cmd)
        provider, address = self._validate(cmd)
        await enforce_password(self.passwords, self.leaks, Password(cmd.password))
        password_hash = await self.hasher.hash(cmd.password or "")
        now = self.clock.now()
        aud = cmd.aud if cmd.aud is not None else self.jwt.aud
        async with self.uow() as uow:
            existing = await (
                uow.users.get_by_email(address, aud)
                if provider == "email"
                else uow.users.get_by_phone(address, aud)
            )
            if existing is not None:
                existing = await uow.users.get_for_update(existing.id) or existing
                result = await self._existing(uow, existing, provider, address, password_hash, cmd, aud, now)
            else:
                result = await self._new(uow, provider, address, password_hash, cmd, aud, now)
            await uow.commit()
        if existing is None:
            await self.user_hooks.created(result.user, cmd.ctx)
            self.metrics.signed_up(provider)
        return result

    def _validate(self, cmd: SignUpCommand) -> tuple[str, str]:
        if not cmd.password:
            raise ValidationFailed("Signup requires a valid password")
        self.passwords.ensure_not_too_long(Password(cmd.password))
        if cmd.email and cmd.phone:
            raise ValidationFailed("Only an email address or phone number should be provided on signup.")
        if cmd.phone:
            self.sms_codes.channel(cmd.channel)
            if cmd.code_challenge:
                raise ValidationFailed("PKCE not supported for phone signups")
        validate_pkce_params(cmd.code_challenge, cmd.code_challenge_method)
        if cmd.email:
            if not self.external.email.enabled:
                raise DomainError("email_provider_disabled", "Email signups are disabled")
            return "email", Email.parse(cmd.email).value
        if not self.external.phone.enabled:
            raise DomainError("phone_provider_disabled", "Phone signups are disabled")
        return "phone", Phone.parse(cmd.phone).value

    async def _new(
        self,
        uow: UnitOfWork,
        provider: str,
        address: str,
        password_hash: str,
        cmd: SignUpCommand,
        aud: str,
        now: datetime,
    ) -> SignUpResult:
        user = User(
            id=self.tokens.uuid(),
            aud=aud,
            role=self.jwt.default_group_name,
            email=address if provider == "email" else "",
            phone=address if provider == "phone" else "",
            encrypted_password=password_hash,
            user_metadata=dict(cmd.data),
            app_metadata={"provider": provider, "providers": [provider]},
            created_at=now,
            updated_at=now,
        )
        identity = new_identity(
            identity_id=self.tokens.uuid(), user=user, provider=provider, data=cmd.data, now=now, sign_up=True
        )
        user.add_identity(identity)
        user.user_metadata = dict(identity.identity_data)
        await tell_webhook(self.webhook, "validate", user)
        if self._autoconfirm(provider):
            return await self._confirmed(uow, user, provider, cmd, now, new=True)
        await self.user_hooks.add(uow, user, cmd.ctx)
        await uow.audit.add(
            self.issuer.audit(Actor.of_user(user), "user_confirmation_requested", now, {"provider": provider})
        )
        await self._send_confirmation(uow, user, provider, address, cmd, now)
        return SignUpResult(user=user)

    async def _existing(
        self,
        uow: UnitOfWork,
        user: User,
        provider: str,
        address: str,
        password_hash: str,
        cmd: SignUpCommand,
        aud: str,
        now: datetime,
    ) -> SignUpResult:
        confirmed = user.is_email_confirmed if provider == "email" else user.is_phone_confirmed
        if confirmed:
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), "user_repeated_signup", now, {"provider": provider}))
            if self.mailer.autoconfirm or self.sms.autoconfirm:
                await uow.commit()
                raise DomainError("user_already_exists", "User already registered")
            return SignUpResult(user=self._obfuscated(user, provider, cmd, aud, now))
        if not user.restart_sign_up(provider, password_hash, cmd.data, self.tokens.uuid(), now) and (
            user.identity_for(provider) is None
        ):
            identity = new_identity(
                identity_id=self.tokens.uuid(), user=user, provider=provider, data=cmd.data, now=now, sign_up=True
            )
            user.identities = [identity]
            user.recompute_providers()
            user.user_metadata = dict(identity.identity_data)
        if self._autoconfirm(provider):
            # GoTrue confirms an unconfirmed account on a repeated sign-up once autoconfirm is on
            return await self._confirmed(uow, user, provider, cmd, now, new=False)
        await self._send_confirmation(uow, user, provider, address, cmd, now)
        return SignUpResult(user=user)

    async def _send_confirmation(
        self, uow: UnitOfWork, user: User, provider: str, address: str, cmd: SignUpCommand, now: datetime
    ) -> None:
        if provider != "email":
            await self.sms_codes.send(uow, user, CONFIRMATION, address, self.sms_codes.channel(cmd.channel), ctx=cmd.ctx)
            return
        await self.codes.send(
            uow,
            user,
            CONFIRMATION,
            kind=MAIL_CONFIRMATION,
            link_type="signup",
            address=address,
            redirect_to=self.links.redirect_target(cmd.redirect_to, cmd.ctx.referer),
            pkce=Pkce.of(cmd.code_challenge, cmd.code_challenge_method),
        )

    def _autoconfirm(self, provider: str) -> bool:
        return self.mailer.autoconfirm if provider == "email" else self.sms.autoconfirm

    async def _confirmed(
        self, uow: UnitOfWork, user: User, provider: str, cmd: SignUpCommand, now: datetime, *, new: bool
    ) -> SignUpResult:
        """Confirm the address without a message (autoconfirm) and, unless told otherwise, sign in.

        This sign-up is the one whose password and data stay; sessions an unproven account held
        before it are ended (docs/adr/0015)."""
        await tell_webhook(self.webhook, "signup", user)
        unproven = user.prove_email(now, by_sign_up_code=True) if provider == "email" else user.prove_phone(now)
        await (self.user_hooks.add(uow, user, cmd.ctx) if new else uow.users.update(user))
        if unproven and not new:
            await uow.sessions.delete_for_user(user.id)
        await uow.audit.add(self.issuer.audit(Actor.of_user(user), "user_signedup", now, {"provider": provider}))
        if not cmd.open_session:
            return SignUpResult(user=user)
        return await self._signed_in(uow, user, provider, cmd, now)

    async def _signed_in(
        self, uow: UnitOfWork, user: User, method_provider: str, cmd: SignUpCommand, now: datetime
    ) -> SignUpResult:
        await tell_webhook(self.webhook, "login", user)
        await uow.audit.add(self.issuer.audit(Actor.of_user(user), "login", now, {"provider": method_provider}))
        session, refresh = await self.issuer.open_session(uow, user, "password", cmd.ctx, now)
        return SignUpResult(user=user, auth=await self.issuer.issue(uow, user, session, refresh, method="password", ctx=cmd.ctx))

    def _obfuscated(self, user: User, provider: str, cmd: SignUpCommand, aud: str, now: datetime) -> User:
        return User(
            id=self.tokens.uuid(),
            aud=aud,
            role="",
            email=user.email if provider == "email" else "",
            phone=user.phone if provider == "phone" else "",
            user_metadata=copy.deepcopy(cmd.data),
            app_metadata={"provider": provider, "providers": [provider]},
            created_at=now,
            updated_at=now,
            confirmation_sent_at=now,
            is_anonymous=user.is_anonymous,
            encrypted_password="",
        )

    async def _anonymous(self, cmd: SignUpCommand) -> SignUpResult:
        if not self.external.anonymous_users.enabled:
            raise DomainError("anonymous_provider_disabled", "Anonymous sign-ins are disabled")
        now = self.clock.now()
        user = User(
            id=self.tokens.uuid(),
            aud=cmd.aud if cmd.aud is not None else self.jwt.aud,
            role=self.jwt.default_group_name,
            user_metadata=dict(cmd.data),
            app_metadata={},
            is_anonymous=True,
            created_at=now,
            updated_at=now,
        )
        async with self.uow() as uow:
            await self.user_hooks.add(uow, user, cmd.ctx)
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), "user_signedup", now, {"provider": "anonymous"}))
            session, refresh = await self.issuer.open_session(uow, user, "anonymous", cmd.ctx, now)
            auth = await self.issuer.issue(uow, user, session, refresh, method="anonymous", ctx=cmd.ctx)
            await uow.commit()
        await self.user_hooks.created(user, cmd.ctx)
        self.metrics.signed_up("anonymous")
        self.metrics.signed_in("anonymous")
        return SignUpResult(user=user, auth=auth)
