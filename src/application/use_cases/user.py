"""The signed-in user reads and changes their own account, and signs out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytrue.application.config import AuthConfig
from pytrue.application.ports import Clock, PasswordHasher, UnitOfWorkFactory
from pytrue.application.results import Principal
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, UserNotFound, ValidationFailed
from pytrue.domain.user import User
from pytrue.domain.values import Email, Password, Phone

LOGOUT_SCOPES = ("global", "local", "others")


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUserCommand:
    password: str | None = None
    data: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(slots=True, kw_only=True)
class UpdateUser:
    """A user changes their password and metadata; a new password ends their other sessions.

    Only users in the legacy admin group may touch `app_metadata`. Email and phone changes
    need a confirmation message and are the email/SMS flows' work.
    """

    uow: UnitOfWorkFactory
    config: AuthConfig
    clock: Clock
    hasher: PasswordHasher
    issuer: SessionIssuer

    async def __call__(self, principal: Principal, cmd: UpdateUserCommand) -> User:
        user = _require_user(principal)
        self._validate(user, cmd)
        new_hash = await self._new_password_hash(user, cmd)
        async with self.uow() as uow:
            current = await uow.users.get(user.id)
            if current is None:
                raise UserNotFound("User from sub claim in JWT does not exist", where="bearer")
            now = self.clock.now()
            actor = Actor.of_user(current)
            if new_hash is not None:
                current.set_password_hash(new_hash, now)
                current.clear_tokens(now)
                await uow.one_time_tokens.delete_for_user(current.id)
                keep = principal.session.id if principal.session is not None else None
                await uow.sessions.delete_for_user(current.id, keep=keep)
                await uow.audit.add(self.issuer.audit(actor, "user_updated_password", now))
            if cmd.data is not None:
                current.merge_user_metadata(cmd.data, now)
            if cmd.app_metadata is not None:
                current.merge_app_metadata(cmd.app_metadata, now)
            await uow.users.update(current)
            await uow.audit.add(self.issuer.audit(actor, "user_modified", now))
            await uow.commit()
        return current

    def _validate(self, user: User, cmd: UpdateUserCommand) -> None:
        if cmd.email is not None:
            email = Email.parse(cmd.email).value
            if email != user.email:
                raise ValidationFailed("Changing the email address is not supported yet")
        if cmd.phone is not None:
            phone = Phone.parse(cmd.phone).value
            if phone != user.phone:
                raise ValidationFailed("Changing the phone number is not supported yet")
        if cmd.password is not None:
            self.config.password_policy.enforce(Password(cmd.password))
        if cmd.app_metadata is not None and not (
            user.role == self.config.jwt_admin_group_name and user.aud == self.config.jwt_aud
        ):
            raise DomainError("not_admin", "Updating app_metadata requires admin privileges")
        if cmd.password and user.is_anonymous and not user.email and not user.phone:
            raise ValidationFailed(
                "Updating password of an anonymous user without an email or phone is not allowed",
                where="unprocessable",
            )

    async def _new_password_hash(self, user: User, cmd: UpdateUserCommand) -> str | None:
        if not cmd.password:
            return None
        if user.has_password and await self.hasher.verify(cmd.password, user.encrypted_password or ""):
            raise DomainError("same_password", "New password should be different from the old password.")
        return await self.hasher.hash(cmd.password)


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
