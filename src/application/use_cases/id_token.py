"""Native sign-in with a provider's id_token: `POST /token?grant_type=id_token` (api.md §4.4).

The provider (by name, or by issuer) verifies the token against its JWKS: signature, issuer,
lifetime, an audience among its client ids, the nonce; the person it names then signs in as
the `/callback` flow would (`ExternalAccounts`), or is linked to the signed-in user
(`link_identity`). Errors are OAuth-shaped (`error`, `error_description`) as in GoTrue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from pytrue.application.metrics import NO_METRICS, Metrics
from pytrue.application.config import External, Jwt, Links
from pytrue.application.context import RequestContext
from pytrue.application.external_accounts import ExternalAccounts
from pytrue.application.ports import (
    Clock,
    ExternalProviders,
    IdTokenCheck,
    IdTokenRejected,
    OAuthProviderError,
    ProviderDisabled,
    ProviderNotUsable,
    UnitOfWorkFactory,
)
from pytrue.application.results import AuthResult
from pytrue.application.sessions import SessionIssuer
from pytrue.application.use_cases.external import OAUTH, OAuthError

ID_TOKEN = OAUTH  # GoTrue issues id_token grant sessions with the OAuth authentication method
from pytrue.domain.errors import DomainError, ValidationFailed

INVALID_REQUEST = "invalid request"


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTokenGrantCommand:
    id_token: str = ""
    access_token: str = ""
    nonce: str = ""
    provider: str = ""
    client_id: str = ""
    issuer: str = ""
    link_identity: bool = False
    link_target: UUID | None = None  # the signed-in user, when `link_identity`
    aud: str = ""
    ctx: RequestContext = field(default_factory=RequestContext)


def check_id_token_request(cmd: IdTokenGrantCommand) -> None:
    """GoTrue's first refusals, before any provider is looked at."""
    if not cmd.id_token:
        raise OAuthError(INVALID_REQUEST, "id_token required")
    if not cmd.provider and (not cmd.client_id or not cmd.issuer):
        raise OAuthError(INVALID_REQUEST, "provider or client_id and issuer required")


@dataclass(slots=True, kw_only=True)
class IdTokenGrant:
    uow: UnitOfWorkFactory
    jwt: Jwt
    external: External
    links: Links
    clock: Clock
    issuer: SessionIssuer
    accounts: ExternalAccounts
    providers: ExternalProviders
    metrics: Metrics = NO_METRICS

    async def __call__(self, cmd: IdTokenGrantCommand) -> AuthResult:
        check_id_token_request(cmd)
        if cmd.link_identity and cmd.link_target is None:
            raise OAuthError(INVALID_REQUEST, "Linking requires a valid user authentication")
        try:
            chosen = self.providers.id_token(provider=cmd.provider, issuer=cmd.issuer, client_id=cmd.client_id, id_token=cmd.id_token)
        except ProviderDisabled as disabled:
            raise DomainError("provider_disabled", str(disabled)) from None
        except ProviderNotUsable as problem:
            raise ValidationFailed(str(problem)) from None
        check = IdTokenCheck(audiences=chosen.audiences, nonce=cmd.nonce, access_token=cmd.access_token, audience_required=True)
        try:
            data = await chosen.verifier.verify_id_token(cmd.id_token, check)
        except IdTokenRejected as rejected:
            raise OAuthError(rejected.error, rejected.description) from None
        except OAuthProviderError:
            raise DomainError("unexpected_failure", "Unable to verify the ID token with its issuer") from None
        data = data.with_email_claims()
        now = self.clock.now()
        redirect_to = self.external.redirect_url or self.links.site_url
        aud = cmd.aud or self.jwt.aud
        async with self.uow() as uow:
            if cmd.link_identity:
                assert cmd.link_target is not None
                user, refusal = await self.accounts.link(uow, data, chosen.provider, cmd.link_target, redirect_to=redirect_to, now=now)
            else:
                user, refusal = await self.accounts.sign_in(
                    uow, data, chosen.provider, aud=aud, email_optional=chosen.email_optional, redirect_to=redirect_to, now=now,
                    ctx=cmd.ctx,
                )
            if refusal is None:
                session, refresh_token = await self.issuer.open_session(uow, user, OAUTH, cmd.ctx, now)
                result = await self.issuer.issue(uow, user, session, refresh_token, method=ID_TOKEN, ctx=cmd.ctx)
            await uow.commit()
        if user.created_at == now:
            await self.accounts.user_hooks.created(user, cmd.ctx)
            if not cmd.link_identity:
                self.metrics.signed_up("id_token", chosen.provider)
        if refusal is not None:
            raise refusal  # committed first: GoTrue keeps the user (and the mail it sent)
        self.metrics.signed_in("id_token", chosen.provider)
        return result
