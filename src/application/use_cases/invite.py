"""Admin-side email flows: inviting a user, and generating any kind of link without sending it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytrue.application.context import RequestContext
from pytrue.application.hooks import UserCreationHooks
from pytrue.application.passwords import LeakedPasswords, enforce_password
from pytrue.application.config import Jwt, Links, Mailer
from pytrue.domain.values import PasswordPolicy
from pytrue.application.email_codes import EmailCodes, locked
from pytrue.application.ports import MAIL_INVITE, Clock, PasswordHasher, TokenGenerator, UnitOfWork, UnitOfWorkFactory
from pytrue.application.ports import LegacyWebhook
from pytrue.application.sessions import SessionIssuer
from pytrue.application.webhooks import tell_webhook
from pytrue.application.use_cases.email_links import generated_password
from pytrue.domain.audit import Actor
from pytrue.domain.errors import EmailExists, UserNotFound, ValidationFailed
from pytrue.domain.one_time_token import CONFIRMATION, EMAIL_CHANGE_CURRENT, EMAIL_CHANGE_NEW, RECOVERY, stored_hash
from pytrue.domain.user import User, new_identity
from pytrue.domain.values import Email, Password

LINK_TYPES = ("signup", "invite", "magiclink", "recovery", "email_change_current", "email_change_new")


def _new_email_user(
    tokens: TokenGenerator, jwt: Jwt, email: str, aud: str, password_hash: str, data: dict[str, Any], now: datetime
) -> User:
    user = User(
        id=tokens.uuid(),
        aud=aud,
        role=jwt.default_group_name,
        email=email,
        encrypted_password=password_hash,
        user_metadata=dict(data),
        app_metadata={"provider": "email", "providers": ["email"]},
        created_at=now,
        updated_at=now,
    )
    identity = new_identity(identity_id=tokens.uuid(), user=user, provider="email", data=data, now=now)
    user.add_identity(identity)
    user.user_metadata = dict(identity.identity_data)
    return user


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteCommand:
    email: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    aud: str | None = None
    redirect_to: str = ""
    referer: str | None = None
    admin_role: str = "service_role"
    ctx: RequestContext = field(default_factory=RequestContext)


@dataclass(slots=True, kw_only=True)
class InviteUser:
    """An admin invites an address: a password-less user and an invite link (no per-user frequency)."""

    uow: UnitOfWorkFactory
    jwt: Jwt
    links: Links
    clock: Clock
    tokens: TokenGenerator
    issuer: SessionIssuer
    codes: EmailCodes
    user_hooks: UserCreationHooks
    webhook: LegacyWebhook | None = None  # GOTRUE_WEBHOOK_* (validate, as GoTrue's signupNewUser)

    async def __call__(self, cmd: InviteCommand) -> User:
        email = Email.parse(cmd.email).value
        aud = cmd.aud if cmd.aud is not None else self.jwt.aud
        async with self.uow() as uow:
            now = self.clock.now()
            user = await locked(uow, await uow.users.get_by_email(email, aud))
            if user is not None and user.is_email_confirmed:
                raise EmailExists()
            created = user is None
            if user is None:
                user = _new_email_user(self.tokens, self.jwt, email, aud, "", cmd.data, now)
                await tell_webhook(self.webhook, "validate", user)
                await self.user_hooks.add(uow, user, cmd.ctx)
            user.invited_at = now
            await uow.audit.add(
                self.issuer.audit(
                    Actor.admin(cmd.admin_role), "user_invited", now, {"user_id": str(user.id), "user_email": email}
                )
            )
            await self.codes.send(
                uow,
                user,
                CONFIRMATION,
                kind=MAIL_INVITE,
                link_type="invite",
                address=email,
                redirect_to=self.links.redirect_target(cmd.redirect_to, cmd.referer),
                limit_frequency=False,
                now=now,
            )
            await uow.commit()
        if created:
            await self.user_hooks.created(user, cmd.ctx)
        return user


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateLinkCommand:
    type: str = ""
    email: str | None = None
    new_email: str | None = None
    password: str | None = None
    data: dict[str, Any] | None = None
    aud: str | None = None
    redirect_to: str = ""
    referer: str | None = None
    admin_role: str = "service_role"
    ctx: RequestContext = field(default_factory=RequestContext)


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedLink:
    user: User
    action_link: str
    email_otp: str
    hashed_token: str
    verification_type: str
    redirect_to: str


@dataclass(slots=True, kw_only=True)
class GenerateLink:
    """`/admin/generate_link`: the link and code a message would carry, stored but not sent."""

    uow: UnitOfWorkFactory
    jwt: Jwt
    passwords: PasswordPolicy
    leaks: LeakedPasswords | None = None  # GOTRUE_PASSWORD_HIBP_ENABLED
    mailer: Mailer
    links: Links
    clock: Clock
    tokens: TokenGenerator
    hasher: PasswordHasher
    issuer: SessionIssuer
    codes: EmailCodes
    user_hooks: UserCreationHooks
    webhook: LegacyWebhook | None = None  # GOTRUE_WEBHOOK_* (validate, as GoTrue's signupNewUser)

    async def __call__(self, cmd: GenerateLinkCommand) -> GeneratedLink:
        if cmd.type not in LINK_TYPES:
            raise ValidationFailed(f"Invalid email action link type requested: {cmd.type}")
        email = Email.parse(cmd.email).value
        new_email = Email.parse(cmd.new_email).value if cmd.type.startswith("email_change") else ""
        if cmd.type == "email_change_current" and not self.mailer.secure_email_change_enabled:
            raise ValidationFailed("Enable secure email change to generate link for current email")
        aud = cmd.aud if cmd.aud is not None else self.jwt.aud
        redirect_to = self.links.redirect_target(cmd.redirect_to, cmd.referer)
        async with self.uow() as uow:
            exists = await uow.users.get_by_email(email, aud) is not None
        password_hash = "" if exists else await self._password_hash(cmd)
        async with self.uow() as uow:
            now = self.clock.now()
            user = await locked(uow, await uow.users.get_by_email(email, aud))
            link_type = cmd.type
            if user is None and link_type == "magiclink":
                link_type = "signup"
            if user is None and link_type in ("recovery", "email_change_current", "email_change_new"):
                raise UserNotFound("User with this email not found")
            otp = self.tokens.otp(self.mailer.otp_length)
            created = user is None
            user, hashed, link_token = await self._store(uow, user, link_type, email, new_email, otp, password_hash, cmd, aud, now)
            await uow.commit()
        if created:
            await self.user_hooks.created(user, cmd.ctx)
        verify_type = "email_change" if link_type.startswith("email_change") else link_type
        return GeneratedLink(
            user=user,
            action_link=self.links.verify_link(link_token, verify_type, redirect_to),
            email_otp=otp,
            hashed_token=hashed,
            verification_type=link_type,
            redirect_to=redirect_to,
        )

    async def _password_hash(self, cmd: GenerateLinkCommand) -> str:
        """For a new user, hashed before the transaction: a signup's password, or a magic link's random one."""
        if cmd.type == "signup":
            if not cmd.password:
                raise ValidationFailed("Signup requires a valid password")
            await enforce_password(self.passwords, self.leaks, Password(cmd.password))
            return await self.hasher.hash(cmd.password)
        if cmd.type == "magiclink":
            return await self.hasher.hash(generated_password(self.tokens, self.passwords))
        return ""

    async def _store(
        self,
        uow: UnitOfWork,
        user: User | None,
        link_type: str,
        email: str,
        new_email: str,
        otp: str,
        password_hash: str,
        cmd: GenerateLinkCommand,
        aud: str,
        now: datetime,
    ) -> tuple[User, str, str]:
        """Create or update the user and its token; returns (user, hashed_token, token in the link)."""
        data = cmd.data or {}
        if link_type in ("signup", "invite"):
            if user is not None and user.is_email_confirmed:
                raise EmailExists()
            if user is None:
                if link_type == "signup" and not password_hash:
                    raise ValidationFailed("Signup requires a valid password")
                user = _new_email_user(
                    self.tokens, self.jwt, email, aud, password_hash if link_type == "signup" else "", data, now
                )
                await tell_webhook(self.webhook, "validate", user)
                await self.user_hooks.add(uow, user, cmd.ctx)
            elif data:
                user.merge_user_metadata(data, now)
            if link_type == "invite":
                user.invited_at = now
                await uow.audit.add(
                    self.issuer.audit(
                        Actor.admin(cmd.admin_role), "user_invited", now, {"user_id": str(user.id), "user_email": email}
                    )
                )
            _, hashed = await self.codes.issue(uow, user, CONFIRMATION, email, now, otp=otp)
            return user, hashed, hashed
        assert user is not None
        if link_type in ("magiclink", "recovery"):
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), "user_recovery_requested", now))
            _, hashed = await self.codes.issue(uow, user, RECOVERY, email, now, otp=otp)
            return user, hashed, hashed
        other = await uow.users.get_by_email(new_email, aud)
        if other is not None and other.id != user.id:
            raise EmailExists()
        user.email_change = new_email
        user.email_change_confirm_status = 0
        if link_type == "email_change_current":
            _, hashed = await self.codes.issue(uow, user, EMAIL_CHANGE_CURRENT, email, now, otp=otp)
            return user, hashed, hashed
        _, link_token = await self.codes.issue(uow, user, EMAIL_CHANGE_NEW, new_email, now, otp=otp)
        return user, stored_hash(email, otp), link_token
