"""The admin API over a user's MFA factors (api.md §15.8): list, rename or re-number, delete."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from pytrue.application.ports import Clock, UnitOfWork, UnitOfWorkFactory
from pytrue.application.sessions import SessionIssuer
from pytrue.application.use_cases.mfa import factor_id_of, remove_factor
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, UserNotFound, ValidationFailed
from pytrue.domain.mfa import PHONE, Factor
from pytrue.domain.user import User
from pytrue.domain.values import Phone


async def _user_and_factor(uow: UnitOfWork, user_id: UUID, raw_factor_id: str) -> tuple[User, Factor]:
    user = await uow.users.get(user_id)
    if user is None:
        raise UserNotFound()
    factor = await uow.factors.get(factor_id_of(raw_factor_id), lock=True)
    if factor is None or factor.user_id != user.id:
        raise DomainError("mfa_factor_not_found", "Factor not found")
    return user, factor


def _public(factor: Factor) -> Factor:
    factor.secret = ""
    return factor


@dataclass(slots=True, kw_only=True)
class AdminListFactors:
    uow: UnitOfWorkFactory

    async def __call__(self, user_id: UUID) -> list[Factor]:
        async with self.uow() as uow:
            if await uow.users.get(user_id) is None:
                raise UserNotFound()
            return [_public(f) for f in await uow.factors.for_user(user_id)]


@dataclass(slots=True, kw_only=True)
class AdminUpdateFactor:
    uow: UnitOfWorkFactory
    clock: Clock
    issuer: SessionIssuer

    async def __call__(self, user_id: UUID, factor_id: str, *, friendly_name: str, phone: str, admin_role: str) -> Factor:
        now = self.clock.now()
        async with self.uow() as uow:
            user, factor = await _user_and_factor(uow, user_id, factor_id)
            if friendly_name:
                factor.friendly_name = friendly_name
            if phone and factor.factor_type == PHONE:
                try:
                    factor.phone = Phone.parse(phone).value
                except DomainError:
                    raise ValidationFailed("Invalid phone number format (E.164 required)") from None
            factor.updated_at = now
            await uow.factors.update(factor)
            await uow.audit.add(
                self.issuer.audit(
                    Actor.admin(admin_role), "factor_updated", now,
                    {"user_id": str(user.id), "factor_id": str(factor.id), "factor_type": factor.factor_type},
                )
            )
            await uow.commit()
        return _public(factor)


@dataclass(slots=True, kw_only=True)
class AdminDeleteFactor:
    uow: UnitOfWorkFactory
    clock: Clock
    issuer: SessionIssuer

    async def __call__(self, user_id: UUID, factor_id: str) -> Factor:
        now = self.clock.now()
        async with self.uow() as uow:
            user, factor = await _user_and_factor(uow, user_id, factor_id)
            # GoTrue records the user, not the admin, as the actor of this one
            await uow.audit.add(
                self.issuer.audit(Actor.of_user(user), "factor_deleted", now, {"user_id": str(user.id), "factor_id": str(factor.id)})
            )
            await remove_factor(uow, factor, now)
            await uow.commit()
        return _public(factor)
