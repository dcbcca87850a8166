"""A signed-in user unlinks one of their identities: `DELETE /user/identities/{id}` (api.md §14.4).

Linking is `/user/identities/authorize` → the provider → `/callback` (`Authorize` with a link
target) or the id_token grant with `link_identity`; both end in `ExternalAccounts.link`.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from pytrue.application.external_accounts import EMAIL_CONFLICT, ExternalAccounts
from pytrue.application.notifications import SecurityNotifications
from pytrue.application.ports import Clock, UnitOfWorkFactory
from pytrue.application.results import Principal
from pytrue.application.sessions import SessionIssuer
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError
from pytrue.domain.external import unlink_identity


def token_audience(principal: Principal) -> str | None:
    aud = principal.claims.get("aud")
    if isinstance(aud, list):
        aud = aud[0] if aud else None
    return aud if isinstance(aud, str) else None


@dataclass(slots=True, kw_only=True)
class UnlinkIdentity:
    uow: UnitOfWorkFactory
    clock: Clock
    issuer: SessionIssuer
    accounts: ExternalAccounts
    notifications: SecurityNotifications

    async def __call__(self, principal: Principal, identity_id: str, *, request_aud: str) -> None:
        try:
            wanted = UUID(identity_id)
        except ValueError:
            raise DomainError("validation_failed", "identity_id must be an UUID", where="path") from None
        if token_audience(principal) != request_aud:
            raise DomainError("unexpected_audience", "Token audience doesn't match request audience")
        if principal.user is None:
            raise DomainError("bad_jwt", "invalid claim: missing sub claim")
        now = self.clock.now()
        async with self.uow() as uow:
            user = await uow.users.get_for_update(principal.user.id)
            if user is None:
                raise DomainError("user_not_found", "User not found", where="bearer")
            recipient = user.email or ""  # the address before unlinking, which may promote another
            removed = unlink_identity(user, wanted, now)
            await uow.audit.add(
                self.issuer.audit(
                    Actor.of_user(user), "identity_unlinked", now,
                    {"identity_id": str(removed.id), "provider": removed.provider, "provider_id": removed.provider_id},
                )
            )
            if removed.provider != "phone" and await self.accounts.promote_email(uow, user, now=now) == EMAIL_CONFLICT:
                raise DomainError("email_conflict_identity_not_deletable", "Unable to unlink identity due to email conflict")
            await uow.users.update(user)
            await self.notifications.identity_unlinked(uow, user, removed.provider, recipient)
            await uow.commit()
