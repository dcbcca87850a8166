"""The admin API's use cases: create, list, read, update, ban and delete users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pytrue.application.passwords import LeakedPasswords, enforce_password
from pytrue.application.config import Jwt
from pytrue.domain.values import PasswordPolicy
from pytrue.application.ports import Clock, PasswordHasher, TokenGenerator, UnitOfWork, UnitOfWorkFactory, UserListQuery
from pytrue.application.results import UserPage
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor, AuditFilter, AuditLogEntry
from pytrue.domain.errors import DomainError, EmailExists, PhoneExists, UserNotFound, ValidationFailed
from pytrue.domain.user import NIL_UUID, User, new_identity
from pytrue.domain.values import Email, Password, Phone, parse_go_duration

RANDOM_PASSWORD_LENGTH = 64


def parse_ban_duration(raw: str) -> timedelta | None:
    """`none` lifts a ban; anything else is a Go duration from now."""
    if raw == "none":
        return None
    try:
        return parse_go_duration(raw)
    except ValueError:
        raise ValidationFailed(f"invalid format for ban duration: time: invalid duration \"{raw}\"") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminUserAttributes:
    email: str | None = None
    phone: str | None = None
    password: str | None = None
    password_hash: str | None = None
    email_confirm: bool = False
    phone_confirm: bool = False
    user_metadata: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
    role: str | None = None
    ban_duration: str | None = None
    id: str | None = None
    aud: str | None = None


@dataclass(slots=True, kw_only=True)
class _AdminBase:
    uow: UnitOfWorkFactory
    jwt: Jwt
    passwords: PasswordPolicy
    leaks: LeakedPasswords | None = None  # GOTRUE_PASSWORD_HIBP_ENABLED
    clock: Clock
    tokens: TokenGenerator
    issuer: SessionIssuer

    def _audit_admin(self, admin_role: str, action: str, now: datetime, traits: dict[str, Any]) -> AuditLogEntry:
        return self.issuer.audit(Actor.admin(admin_role), action, now, traits)


async def _ensure_unique(uow: UnitOfWork, user_id: UUID | None, aud: str, email: str, phone: str) -> None:
    if email:
        other = await uow.users.get_by_email(email, aud)
        if other is not None and other.id != user_id:
            raise EmailExists()
    if phone:
        other = await uow.users.get_by_phone(phone, aud)
        if other is not None and other.id != user_id:
            raise PhoneExists("Phone number already registered by another user")


@dataclass(slots=True, kw_only=True)
class AdminCreateUser(_AdminBase):
    """An admin creates a user directly: no password policy, no email sent, optional imported hash."""

    hasher: PasswordHasher

    async def __call__(self, attrs: AdminUserAttributes, *, admin_role: str = "service_role") -> User:
        email = Email.parse(attrs.email).value if attrs.email else ""
        phone = Phone.parse(attrs.phone).value if attrs.phone else ""
        if not email and not phone:
            raise ValidationFailed("Cannot create a user without either an email or phone")
        user_id = self._user_id(attrs.id)
        ban = parse_ban_duration(attrs.ban_duration) if attrs.ban_duration else None
        password_hash = await self._password_hash(attrs)
        now = self.clock.now()
        aud = attrs.aud or self.jwt.aud
        user = User(
            id=user_id,
            aud=aud,
            role=attrs.role or self.jwt.default_group_name,
            email=email,
            phone=phone,
            encrypted_password=password_hash,
            user_metadata=dict(attrs.user_metadata or {}),
            created_at=now,
            updated_at=now,
        )
        for provider in ("email", "phone"):
            if (email if provider == "email" else phone):
                user.add_identity(
                    new_identity(identity_id=self.tokens.uuid(), user=user, provider=provider, data={}, now=now)
                )
        user.merge_app_metadata(attrs.app_metadata or {}, now)
        if attrs.email_confirm and email:
            user.confirm_email(now)
        if attrs.phone_confirm and phone:
            user.confirm_phone(now)
        if ban is not None:
            user.ban(ban, now)
        async with self.uow() as uow:
            await _ensure_unique(uow, None, aud, email, phone)
            await uow.users.add(user)
            traits = {
                "user_id": str(user.id),
                "user_email": email,
                "user_phone": phone,
                "provider": user.app_metadata.get("provider", ""),
            }
            await uow.audit.add(self._audit_admin(admin_role, "user_signedup", now, traits))
            await uow.commit()
        return user

    def _user_id(self, raw: str | None) -> UUID:
        if not raw:
            return self.tokens.uuid()
        try:
            value = UUID(raw)
        except ValueError:
            raise ValidationFailed("ID must conform to the uuid v4 format") from None
        if value == NIL_UUID:
            raise ValidationFailed("ID cannot be a nil uuid")
        return value

    async def _password_hash(self, attrs: AdminUserAttributes) -> str:
        if attrs.password and attrs.password_hash:
            raise ValidationFailed("Only a password or a password hash should be provided")
        if attrs.password_hash:
            if not self.hasher.is_supported(attrs.password_hash):
                raise ValidationFailed("Invalid password hash format")
            return attrs.password_hash
        password = attrs.password or self.tokens.password(RANDOM_PASSWORD_LENGTH)
        self.passwords.ensure_not_too_long(Password(password))
        return await self.hasher.hash(password)



MAX_PER_PAGE = 1000
MAX_PAGE = 2**31 - 1


@dataclass(slots=True, kw_only=True)
class AdminListUsers:
    """Pages are 1 to 2³¹−1 and hold 1 to 1000 users (GoTrue sets no upper bound; an offset must fit a bigint)."""

    uow: UnitOfWorkFactory

    async def __call__(self, query: UserListQuery) -> UserPage:
        if query.page < 1 or query.per_page < 1:
            raise ValidationFailed("Bad Pagination Parameters: page and per_page must be positive")
        if query.page > MAX_PAGE or query.per_page > MAX_PER_PAGE:
            raise ValidationFailed(
                f"Bad Pagination Parameters: page must be at most {MAX_PAGE} and per_page at most {MAX_PER_PAGE}"
            )
        async with self.uow() as uow:
            users, total = await uow.users.list(query)
        return UserPage(users=users, total=total, page=query.page, per_page=query.per_page)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPage:
    entries: list[AuditLogEntry]
    total: int


@dataclass(slots=True, kw_only=True)
class AdminAuditLog:
    """`GET /admin/audit` (api.md §15.7): newest first, filtered by `query=<scope>:<text>`."""

    uow: UnitOfWorkFactory

    async def __call__(self, query: str, *, page: int, per_page: int) -> AuditPage:
        if page < 1 or per_page < 1:
            raise ValidationFailed("Bad Pagination Parameters: page and per_page must be positive")
        if page > MAX_PAGE or per_page > MAX_PER_PAGE:
            raise ValidationFailed(
                f"Bad Pagination Parameters: page must be at most {MAX_PAGE} and per_page at most {MAX_PER_PAGE}"
            )
        where = AuditFilter.parse(query)
        async with self.uow() as uow:
            entries, total = await uow.audit.search(where, page=page, per_page=per_page)
        return AuditPage(entries=entries, total=total)


@dataclass(slots=True, kw_only=True)
class AdminGetUser:
    uow: UnitOfWorkFactory

    async def __call__(self, user_id: UUID) -> User:
        async with self.uow() as uow:
            user = await uow.users.get_for_update(user_id)
        if user is None:
            raise UserNotFound()
        return user


@dataclass(slots=True, kw_only=True)
class AdminUpdateUser(_AdminBase):
    """An admin changes a user; a new password ends all of the user's sessions."""

    hasher: PasswordHasher

    async def __call__(self, user_id: UUID, attrs: AdminUserAttributes, *, admin_role: str = "service_role") -> User:
        email = Email.parse(attrs.email).value if attrs.email else None
        phone = Phone.parse(attrs.phone).value if attrs.phone else None
        ban = parse_ban_duration(attrs.ban_duration) if attrs.ban_duration is not None else None
        new_hash = None
        if attrs.password is not None:
            await enforce_password(self.passwords, self.leaks, Password(attrs.password))
            new_hash = await self.hasher.hash(attrs.password)
        async with self.uow() as uow:
            user = await uow.users.get_for_update(user_id)
            if user is None:
                raise UserNotFound()
            now = self.clock.now()
            await _ensure_unique(uow, user.id, user.aud, email or "", phone or "")
            if attrs.role:
                user.role = attrs.role
            if attrs.email_confirm:
                user.confirm_email(now)
            if attrs.phone_confirm:
                user.confirm_phone(now)
            if email is not None:
                self._set_address(user, "email", email, attrs.email_confirm, now)
            if phone is not None:
                self._set_address(user, "phone", phone, attrs.phone_confirm, now)
            if attrs.user_metadata is not None:
                user.merge_user_metadata(attrs.user_metadata, now)
            if attrs.app_metadata is not None:
                user.merge_app_metadata(attrs.app_metadata, now)
            if attrs.ban_duration is not None:
                user.ban(ban, now)
            if new_hash is not None:
                user.set_password_hash(new_hash, now)
                user.clear_tokens(now)
                await uow.one_time_tokens.delete_for_user(user.id)
                await uow.sessions.delete_for_user(user.id)
            user.touch(now)
            await uow.users.update(user)
            await uow.audit.add(self._audit_admin(admin_role, "user_modified", now, {"user_id": str(user.id)}))
            await uow.commit()
        return user

    def _set_address(self, user: User, provider: str, value: str, confirmed: bool, now: datetime) -> None:
        if provider == "email":
            user.email = value
        else:
            user.phone = value
        identity = user.identity_for(provider)
        if identity is None:
            identity = new_identity(identity_id=self.tokens.uuid(), user=user, provider=provider, data={}, now=now)
            user.add_identity(identity)
        identity.identity_data[provider] = value
        identity.identity_data[f"{provider}_verified"] = confirmed
        identity.updated_at = now
        if confirmed and user.is_anonymous:
            user.is_anonymous = False


@dataclass(slots=True, kw_only=True)
class AdminDeleteUser(_AdminBase):
    """Hard delete removes the row and everything hanging off it; soft delete obfuscates it."""

    async def __call__(self, user_id: UUID, *, soft: bool = False, admin_role: str = "service_role") -> None:
        async with self.uow() as uow:
            user = await uow.users.get_for_update(user_id)
            if user is None:
                raise UserNotFound()
            now = self.clock.now()
            traits = {"user_id": str(user.id), "user_email": user.email, "user_phone": user.phone}
            await uow.audit.add(self._audit_admin(admin_role, "user_deleted", now, traits))
            if soft:
                user.soft_delete(now)
                await uow.one_time_tokens.delete_for_user(user.id)
                await uow.sessions.delete_for_user(user.id)
                await uow.users.update(user)
            else:
                await uow.users.delete(user.id)
            await uow.commit()


@dataclass(slots=True, kw_only=True)
class BanUser(_AdminBase):
    """Ban a user for a Go duration (`none` or `0s` lifts the ban); sessions stay but stop working."""

    async def __call__(self, user_id: UUID, duration: str, *, admin_role: str = "service_role") -> User:
        ban = parse_ban_duration(duration)
        async with self.uow() as uow:
            user = await uow.users.get_for_update(user_id)
            if user is None:
                raise UserNotFound()
            now = self.clock.now()
            user.ban(ban, now)
            await uow.users.update(user)
            await uow.audit.add(self._audit_admin(admin_role, "user_modified", now, {"user_id": str(user.id)}))
            await uow.commit()
        return user


@dataclass(slots=True, kw_only=True)
class OpenSessionFor:
    """A session for a user without a credential, as a password sign-in opens it (no GoTrue route:
    pytrue.testing's `session_for` and scripts). A banned user is refused."""

    uow: UnitOfWorkFactory
    clock: Clock
    issuer: SessionIssuer

    async def __call__(self, user_id: UUID, ctx: Any) -> Any:
        async with self.uow() as uow:
            user = await uow.users.get_for_update(user_id)
            if user is None:
                raise UserNotFound()
            now = self.clock.now()
            if user.is_banned(now):
                raise DomainError("user_banned", "User is banned")
            user.record_sign_in(now)
            await uow.users.update(user)
            session, refresh = await self.issuer.open_session(uow, user, "password", ctx, now)
            result = await self.issuer.issue(uow, user, session, refresh, method="password", ctx=ctx)
            await uow.commit()
        return result
