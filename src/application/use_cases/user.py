"""The signed-in user reads and changes their own account, and signs out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pytrue.application.passwords import LeakedPasswords, enforce_password
from pytrue.application.code_attempts import CodeAttempts
from pytrue.application.config import Jwt, Links, Mailer, Security, Sms
from pytrue.domain.values import PasswordPolicy
from pytrue.application.context import RequestContext
from pytrue.application.email_codes import Pkce
from pytrue.application.notifications import SecurityNotifications
from pytrue.application.sms_codes import SmsCodes
from pytrue.application.ports import Clock, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from pytrue.application.results import Principal
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor
from pytrue.application.use_cases.email_links import EmailChangeSender
from pytrue.domain.errors import DomainError, EmailExists, PhoneExists, UserNotFound, ValidationFailed
from pytrue.domain.one_time_token import PHONE_CHANGE, REAUTHENTICATION, is_expired, otp_matches
from pytrue.domain.user import User
from pytrue.domain.values import Email, Password, Phone, validate_pkce_params

LOGOUT_SCOPES = ("global", "local", "others")
REAUTHENTICATION_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUserCommand:
    password: str | None = None
    current_password: str | None = None
    nonce: str | None = None
    data: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
    email: str | None = None
    phone: str | None = None
    channel: str | None = None
    redirect_to: str = ""
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    ctx: RequestContext = field(default_factory=RequestContext)


@dataclass(slots=True, kw_only=True)
class UpdateUser:
    """A user changes their password, metadata, email address or phone number.

    A new password ends their other sessions, and may need a recent session or the
    reauthentication code. A new email address must be confirmed by link (both addresses
    under secure email change) before it replaces the old one; a new number by the code texted
    to it (`type: phone_change`), unless `GOTRUE_SMS_AUTOCONFIRM` takes it at once. Only users in
    the legacy admin group may touch `app_metadata`.
    """

    uow: UnitOfWorkFactory
    jwt: Jwt
    passwords: PasswordPolicy
    leaks: LeakedPasswords | None = None  # GOTRUE_PASSWORD_HIBP_ENABLED
    mailer: Mailer
    sms: Sms
    links: Links
    security: Security
    clock: Clock
    hasher: PasswordHasher
    issuer: SessionIssuer
    email_change: EmailChangeSender
    attempts: CodeAttempts
    sms_codes: SmsCodes
    notifications: SecurityNotifications

    async def __call__(self, principal: Principal, cmd: UpdateUserCommand) -> User:
        user = _require_user(principal)
        new_email, new_phone = self._validate(user, cmd)
        if cmd.password is not None:
            await enforce_password(self.passwords, self.leaks, Password(cmd.password))
        channel = self.sms_codes.channel(cmd.channel) if cmd.phone else ""
        pkce = Pkce.of(cmd.code_challenge, cmd.code_challenge_method)
        nonce_approved = False
        if cmd.password:
            nonce_approved = await self._count_nonce(user, principal, cmd)
        new_hash = await self._new_password_hash(user, principal, cmd)
        async with self.uow() as uow:
            current = await uow.users.get_for_update(user.id)
            if current is None:
                raise UserNotFound("User from sub claim in JWT does not exist", where="bearer")
            now = self.clock.now()
            actor = Actor.of_user(current)
            if new_email:
                await self._ensure_email_free(uow, current, new_email)
            if new_phone:
                other = await uow.users.get_by_phone(new_phone, current.aud)
                if other is not None and other.id != current.id:
                    raise PhoneExists()
            if new_hash is not None:
                if self._check_nonce(current, principal, cmd, now, approved=nonce_approved):
                    current.reauthentication_token = ""
                    current.reauthentication_sent_at = None
                current.set_password_hash(new_hash, now)
                current.clear_tokens(now)
                await uow.one_time_tokens.delete_for_user(current.id)
                keep = principal.session.id if principal.session is not None else None
                await uow.sessions.delete_for_user(current.id, keep=keep)
                await uow.audit.add(self.issuer.audit(actor, "user_updated_password", now))
                await self.notifications.password_changed(uow, current)
            if cmd.data is not None:
                current.merge_user_metadata(cmd.data, now)
            if cmd.app_metadata is not None:
                current.merge_app_metadata(cmd.app_metadata, now)
            if new_email:
                await self._change_email(uow, current, new_email, cmd, pkce, now)
            if new_phone:
                await self._change_phone(uow, current, new_phone, channel, cmd, now)
            await uow.users.update(current)
            await uow.audit.add(self.issuer.audit(actor, "user_modified", now))
            await uow.commit()
        return current

    def _validate(self, user: User, cmd: UpdateUserCommand) -> tuple[str, str]:
        new_email = new_phone = ""
        if cmd.email is not None:
            email = Email.parse(cmd.email).value
            new_email = email if email != user.email else ""
        if cmd.phone is not None:
            phone = Phone.parse(cmd.phone).value
            new_phone = phone if phone != user.phone else ""
        if cmd.password is not None:
            self.passwords.ensure_not_too_long(Password(cmd.password))
        if cmd.app_metadata is not None and not (
            user.role == self.jwt.admin_group_name and user.aud == self.jwt.aud
        ):
            raise DomainError("not_admin", "Updating app_metadata requires admin privileges")
        if cmd.password and user.is_anonymous and not user.email and not user.phone and not new_email and not new_phone:
            raise ValidationFailed(
                "Updating password of an anonymous user without an email or phone is not allowed",
                where="unprocessable",
            )
        if user.is_sso_user and (cmd.password or new_email or new_phone or cmd.nonce):
            raise DomainError("user_sso_managed", "Updating email, phone, password of a SSO account only possible via SSO")
        if new_email:
            validate_pkce_params(cmd.code_challenge, cmd.code_challenge_method)
        return new_email, new_phone

    async def _ensure_email_free(self, uow: UnitOfWork, user: User, email: str) -> None:
        other = await uow.users.get_by_email(email, user.aud)
        if other is not None and other.id != user.id:
            raise EmailExists()

    async def _new_password_hash(self, user: User, principal: Principal, cmd: UpdateUserCommand) -> str | None:
        if not cmd.password:
            return None
        if user.has_password and self.security.update_password_require_current_password and not _is_recovery(principal):
            if not cmd.current_password:
                raise DomainError("current_password_required", "Current password required when setting new password.")
            if not await self.hasher.verify(cmd.current_password, user.encrypted_password or ""):
                raise DomainError("current_password_invalid", "Current password is incorrect.")
        if user.has_password and await self.hasher.verify(cmd.password, user.encrypted_password or ""):
            raise DomainError("same_password", "New password should be different from the old password.")
        return await self.hasher.hash(cmd.password)

    async def _count_nonce(self, user: User, principal: Principal, cmd: UpdateUserCommand) -> bool:
        """The nonce check before hashing, with the attempt counted: the last wrong one spends the code.

        True when Twilio Verify approved the nonce (it cannot be asked twice)."""
        now = self.clock.now()
        if not self._nonce_needed(principal, now) or not cmd.nonce:
            self._check_nonce(user, principal, cmd, now)
            return False
        stored = user.reauthentication_token
        guess = await (
            self.attempts.at_code(user.id, REAUTHENTICATION.token_type, stored, now)
            if stored
            else self.attempts.at_nothing(REAUTHENTICATION.token_type, str(user.id), now)
        )
        try:
            if not guess.admitted:
                raise DomainError("reauthentication_not_valid", "Nonce has expired or is invalid")
            if self._nonce_is_remote(user):
                self._check_sent(user)
                if not await self.sms_codes.check(user.phone, cmd.nonce):
                    raise DomainError("otp_expired", "Token has expired or is invalid")
                return True
            self._check_nonce(user, principal, cmd, now)
            return False
        except DomainError:
            if stored and guess.last:
                async with self.uow() as uow:
                    await self.attempts.spend(uow, user.id, {REAUTHENTICATION.token_type: stored}, now)
            raise

    def _nonce_needed(self, principal: Principal, now: datetime) -> bool:
        if not self.security.update_password_require_reauthentication:
            return False
        session = principal.session
        return session is None or now - session.created_at >= REAUTHENTICATION_WINDOW

    def _nonce_is_remote(self, user: User) -> bool:
        return not user.email and bool(user.phone) and self.sms_codes.nonce_verifies_remotely

    @staticmethod
    def _check_sent(user: User) -> None:
        if not user.reauthentication_token or user.reauthentication_sent_at is None:
            raise DomainError("reauthentication_not_valid", "Nonce has expired or is invalid")

    def _check_nonce(
        self, user: User, principal: Principal, cmd: UpdateUserCommand, now: datetime, *, approved: bool = False
    ) -> bool:
        """With reauthentication required, a session older than 24 h must present the emailed or
        texted code (`approved`: Twilio Verify already accepted it).

        True when a nonce was needed and is good (the caller then spends it).
        """
        if not self._nonce_needed(principal, now):
            return False
        if not cmd.nonce:
            raise DomainError("reauthentication_needed", "Password update requires reauthentication")
        if approved:
            return True
        identifier, lifetime = (
            (user.email, self.mailer.otp_exp) if user.email else (user.phone, self.sms.otp_exp)
        )
        if not otp_matches(user.reauthentication_token, identifier, cmd.nonce) or is_expired(
            user.reauthentication_sent_at, now, lifetime
        ):
            raise DomainError("reauthentication_not_valid", "Nonce has expired or is invalid")
        return True

    async def _change_phone(
        self, uow: UnitOfWork, user: User, new_phone: str, channel: str, cmd: UpdateUserCommand, now: datetime
    ) -> None:
        """Text a code to the new number; with `GOTRUE_SMS_AUTOCONFIRM` it replaces the old one at once."""
        if not self.sms.autoconfirm:
            await self.sms_codes.send(uow, user, PHONE_CHANGE, new_phone, channel, ctx=cmd.ctx)
            return
        user.phone_change = new_phone
        await uow.audit.add(self.issuer.audit(Actor.of_user(user), "user_modified", now))
        old_phone, had_identity = user.phone or "", user.identity_for("phone") is not None
        user.apply_phone_change(self.issuer.tokens.uuid(), now)
        await self.notifications.phone_changed(uow, user, old_phone, identity_created=not had_identity)
        await uow.one_time_tokens.delete_for_user(user.id)

    async def _change_email(
        self, uow: UnitOfWork, user: User, new_email: str, cmd: UpdateUserCommand, pkce: Pkce | None, now: datetime
    ) -> None:
        if user.is_anonymous and self.mailer.autoconfirm:
            user.email_change = new_email
            user.apply_email_change(self.issuer.tokens.uuid(), now)
            return
        redirect_to = self.links.redirect_target(cmd.redirect_to, cmd.ctx.referer)
        await self.email_change.send(uow, user, new_email, redirect_to, pkce)


def _is_recovery(principal: Principal) -> bool:
    """Sessions from an emailed link or code may set a password without the current one."""
    if principal.session is None:
        return False
    return any(claim.method in ("otp", "magiclink", "recovery") for claim in principal.session.amr)


@dataclass(slots=True, kw_only=True)
class Logout:
    """`local` ends this session, `others` every other one, `global` (the default) all of them."""

    uow: UnitOfWorkFactory
    clock: Clock
    issuer: SessionIssuer

    async def __call__(self, principal: Principal, scope: str = "global") -> None:
        scope = scope or "global"
        if scope not in LOGOUT_SCOPES:
            raise ValidationFailed(f'Unsupported logout scope "{scope}"')
        user = _require_user(principal)
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), "logout", now))
            session = principal.session
            if session is None or scope == "global":
                await uow.sessions.delete_for_user(user.id)
            elif scope == "local":
                await uow.sessions.delete(session.id)
            else:
                await uow.sessions.delete_for_user(user.id, keep=session.id)
            await uow.commit()


def _require_user(principal: Principal) -> User:
    if principal.user is None:
        raise DomainError("bad_jwt", "invalid claim: missing sub claim")
    return principal.user
