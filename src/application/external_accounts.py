"""Which user an external identity signs in as (api.md §14.3), shared by `/callback` and the
id_token grant: GoTrue's `createAccountFromExternalIdentity`.

The domain (`pytrue.domain.external`) decides; this loads what the decision needs inside the
caller's unit of work, writes the user, identity and audit rows, and sends the confirmation email
when the domain asks for one. A refusal the domain wants committed (the user row survives, as in
GoTrue) is returned rather than raised; the caller raises it after commit.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pytrue.application.context import RequestContext
from pytrue.application.hooks import UserCreationHooks
from pytrue.application.config import Jwt, Mailer, Site
from pytrue.application.email_codes import EmailCodes
from pytrue.application.notifications import SecurityNotifications
from pytrue.application.ports import MAIL_CONFIRMATION, TokenGenerator, UnitOfWork
from pytrue.application.ports import LegacyWebhook
from pytrue.application.sessions import SessionIssuer
from pytrue.application.webhooks import tell_webhook
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.external import (
    AccountDecision,
    LinkingQuery,
    UserProvidedData,
    adopt_identity_email,
    email_candidates,
    keep_only_identity,
    refuse_linked_identity,
    new_external_user,
    new_provider_identity,
    refresh_identity,
    refuse_multiple,
    resolve_account,
    settle_external_sign_in,
)
from pytrue.domain.one_time_token import CONFIRMATION, CONFIRMATION_TOKEN
from pytrue.domain.user import User

EMAIL_CONFLICT = "email_conflict"
WEBHOOK_EVENT_OF = {"user_signedup": "signup", "login": "login"}  # the legacy webhook's event per outcome


@dataclass(slots=True, kw_only=True)
class ExternalAccounts:
    site: Site
    jwt: Jwt
    mailer: Mailer
    linking_domains: Mapping[str, str]
    tokens: TokenGenerator
    issuer: SessionIssuer
    codes: EmailCodes
    user_hooks: UserCreationHooks
    notifications: SecurityNotifications
    webhook: LegacyWebhook | None = None  # GOTRUE_WEBHOOK_*

    async def sign_in(
        self,
        uow: UnitOfWork,
        data: UserProvidedData,
        provider: str,
        *,
        aud: str,
        email_optional: bool,
        redirect_to: str,
        now: datetime,
        ctx: RequestContext | None = None,
    ) -> tuple[User, DomainError | None]:
        """The user `data` signs in as (found, linked or created), and a refusal to raise after commit.

        A user created here has `created_at == now` (the caller tells the after-user-created hook)."""
        query = LinkingQuery.of(data, provider=provider, autoconfirm=self.mailer.autoconfirm, domains=self.linking_domains)
        existing_user = await uow.users.get_by_identity(query.subject, provider) if query.subject else None
        existing = None
        if existing_user is not None:
            identity = next(i for i in existing_user.identities if i.provider == provider and i.provider_id == query.subject)
            existing = (identity, existing_user)
        email_taken = False
        similar_identities: list = []  # type: ignore[type-arg]
        similar_users: list[User] = []
        if existing is None:
            if not query.verified_emails:
                email_taken = bool(query.candidate.email) and await uow.users.get_by_email(query.candidate.email, aud) is not None
            else:
                similar_identities = await uow.users.identities_with_emails(query.verified_emails)
                if query.needs_similar_users:
                    similar_users = await uow.users.users_with_emails(query.verified_emails)
        decision = resolve_account(
            query, existing=existing, email_taken=email_taken, similar_identities=similar_identities, similar_users=similar_users
        )
        refuse_multiple(decision)
        claims = data.claims
        if decision.decision is AccountDecision.ACCOUNT_EXISTS:
            assert decision.identity is not None and existing_user is not None
            user = existing_user
            identity = next(i for i in user.identities if i.id == decision.identity.id)
            refresh_identity(user, identity, claims, now)
            new_user = False
        elif decision.decision is AccountDecision.LINK_ACCOUNT:
            assert decision.user_id is not None
            linked = await uow.users.get_for_update(decision.user_id)
            if linked is None:
                raise DomainError("user_not_found", "User not found")
            user = linked
            identity = new_provider_identity(identity_id=self.tokens.uuid(), user_id=user.id, provider=provider, claims=claims, now=now)
            refresh_identity(user, identity, claims, now)
            await uow.audit.add(
                self.issuer.audit(
                    Actor.of_user(user), "identity_linked", now,
                    {"identity_id": str(identity.id), "provider": provider, "provider_id": identity.provider_id},
                )
            )
            new_user = False
        else:
            if self.site.disable_signup:
                raise DomainError("signup_disabled", "Signups not allowed for this instance")
            user = new_external_user(
                user_id=self.tokens.uuid(), aud=aud, role=self.jwt.default_group_name, provider=provider,
                candidate=decision.candidate, claims=claims, domain=decision.domain, now=now,
            )
            identity = new_provider_identity(identity_id=self.tokens.uuid(), user_id=user.id, provider=provider, claims=claims, now=now)
            user.identities.append(identity)
            new_user = True
            await tell_webhook(self.webhook, "validate", user)
        outcome = settle_external_sign_in(
            user, identity, provider=provider, candidate=decision.candidate, now=now,
            autoconfirm=self.mailer.autoconfirm, allow_unverified=self.mailer.allow_unverified_email_sign_ins,
            email_optional=email_optional,
        )
        if self.webhook is not None and outcome.audit_action in WEBHOOK_EVENT_OF:
            await tell_webhook(self.webhook, WEBHOOK_EVENT_OF[outcome.audit_action], user)
        if new_user:
            await self.user_hooks.add(uow, user, ctx or RequestContext())
        else:
            await uow.users.update(user)
        if outcome.audit_action:
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), outcome.audit_action, now, {"provider": provider}))
        if outcome.send_confirmation and user.email:
            await self.codes.send(
                uow, user, CONFIRMATION, kind=MAIL_CONFIRMATION, link_type="signup", address=user.email, redirect_to=redirect_to, now=now
            )
        return user, outcome.refusal

    async def link(
        self, uow: UnitOfWork, data: UserProvidedData, provider: str, target_id: UUID, *, redirect_to: str, now: datetime
    ) -> tuple[User, DomainError | None]:
        """The identity `data` names joins the signed-in user `target_id` (GoTrue's linkIdentityToUser);
        a refusal to raise after commit when the user had no email and the provider's is unverified."""
        owner = await uow.users.get_by_identity(data.subject, provider)
        refuse_linked_identity(owner.id if owner else None, target_id)
        user = await uow.users.get_for_update(target_id)
        if user is None:
            raise DomainError("user_not_found", "User not found")
        claims = data.claims
        identity = new_provider_identity(identity_id=self.tokens.uuid(), user_id=user.id, provider=provider, claims=claims, now=now)
        user.identities.append(identity)
        await uow.audit.add(
            self.issuer.audit(
                Actor.of_user(user), "identity_linked", now,
                {"identity_id": str(identity.id), "provider": provider, "provider_id": identity.provider_id},
            )
        )
        refusal: DomainError | None = None
        send_confirmation = False
        if not user.email:
            if await self.promote_email(uow, user, now=now) == EMAIL_CONFLICT:
                raise DomainError("email_exists", "A user with this email address has already been registered")
            if not claims.email_verified:
                send_confirmation = bool(user.email)
                refusal = DomainError(
                    "email_not_confirmed",
                    f"Unverified email with {provider}. A confirmation email has been sent to your {provider} email",
                    where="unprocessable",
                )
            else:
                user.confirm_email(now)
                user.is_anonymous = False
        user.recompute_providers()
        user.touch(now)
        await uow.users.update(user)
        if send_confirmation:
            await self.codes.send(
                uow, user, CONFIRMATION, kind=MAIL_CONFIRMATION, link_type="signup", address=user.email, redirect_to=redirect_to, now=now
            )
        if refusal is None:
            await self.notifications.identity_linked(uow, user, provider)
        return user, refusal

    async def promote_email(self, uow: UnitOfWork, user: User, *, now: datetime) -> str:
        """GoTrue's UpdateUserEmailFromIdentities: keep the email an identity still carries, or take
        the best identity email no other user of the audience has; `EMAIL_CONFLICT` when none is free."""
        candidates = email_candidates(user)
        if candidates is None:
            return ""
        for identity in candidates:
            # GoTrue's FindUserByEmailAndAudience: another user whose own address (not an identity's) it is
            holders = await uow.users.users_with_emails((identity.email,)) if identity.email else []
            if not any(other.id != user.id and other.aud == user.aud for other in holders):
                adopt_identity_email(user, identity, autoconfirm=self.mailer.autoconfirm, now=now)
                await uow.one_time_tokens.delete_for_user(user.id)
                return "adopted"
        return EMAIL_CONFLICT

    async def accept_invite(
        self, uow: UnitOfWork, data: UserProvidedData, provider: str, invite_token: str, *, now: datetime
    ) -> User:
        """The invited user (found by the invite's confirmation token) accepts with this identity
        (GoTrue's processInvite): one of the provider's emails must be the invited one."""
        user = await self.invited_user(uow, invite_token, lock=True)
        if user is None:
            raise DomainError("invite_not_found", "Invite not found")
        if not any(e.email.lower() == user.email.lower() for e in data.emails if e.email):
            raise ValidationFailed("Invited email does not match emails from external provider")
        claims = data.claims
        identity = new_provider_identity(identity_id=self.tokens.uuid(), user_id=user.id, provider=provider, claims=claims, now=now)
        user.identities.append(identity)
        await uow.audit.add(self.issuer.audit(Actor.of_user(user), "invite_accepted", now, {"provider": provider}))
        keep_only_identity(user, identity, now)  # the password and other identities go; metadata is the identity's
        user.confirm_email(now)
        await uow.users.update(user)
        await uow.one_time_tokens.delete(user.id, CONFIRMATION_TOKEN)
        return user

    async def invited_user(self, uow: UnitOfWork, invite_token: str, *, lock: bool = False) -> User | None:
        """The user whose pending confirmation token is `invite_token` (GoTrue's FindUserByConfirmationToken)."""
        if not invite_token:
            return None
        ott = await uow.one_time_tokens.find(invite_token, (CONFIRMATION_TOKEN,))
        if ott is None:
            return None
        user = await (uow.users.get_for_update(ott.user_id) if lock else uow.users.get(ott.user_id))
        if user is None or not user.confirmation_token or not hmac.compare_digest(user.confirmation_token, invite_token):
            return None
        return user
