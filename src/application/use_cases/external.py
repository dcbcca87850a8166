"""External sign-in (issue 11): `GET /authorize` and `GET|POST /callback` (api.md §14).

`/authorize` records a flow state for every flow (its id is the `state`) and sends the browser to
the provider; `/callback` loads it, exchanges the code, reads the person, resolves the account
(`pytrue.domain.external`) and either opens a session (implicit: tokens in the fragment) or
hands the session over to `grant_type=pkce` (`?code=`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl
from uuid import UUID

from pytrue.application.metrics import NO_METRICS, Metrics
from pytrue.application.config import External, Jwt, Links, Mailer, Site
from pytrue.application.context import RequestContext
from pytrue.application.ports import (
    AuthorizationRequest,
    Clock,
    IdTokenRejected,
    OAuth1Provider,
    OAuthProvider,
    OAuthProviderError,
    ExternalProviders,
    HookFailed,
    ProviderNotUsable,
    TokenGenerator,
    UnitOfWorkFactory,
)
from pytrue.application.results import AuthResult
from pytrue.application.sessions import SessionIssuer
from pytrue.application.external_accounts import ExternalAccounts
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.external import UserProvidedData
from pytrue.domain.flow_state import FlowState, OAuthClientState
from pytrue.domain.values import validate_pkce_params

OAUTH = "oauth"
# parameters the auth server sets itself; a caller cannot override them through /authorize
RESERVED_PARAMS = frozenset(
    {"client_id", "client_secret", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method", "code_verifier"}
)
_OWN_PARAMS = frozenset({"provider", "scopes", "redirect_to", "invite_token"})


class OAuthError(Exception):
    """An error in OAuth's own shape (`error`, `error_description`; no `error_code`)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class CallbackFailed(Exception):
    """`/callback` failed; the browser goes to `redirect_to` with the error in the URL.

    `state_error`: the state could not be loaded (GoTrue: 303 to SITE_URL, query only);
    otherwise 302 with the error in both the query and the fragment."""

    def __init__(self, cause: Exception, *, redirect_to: str, state_error: bool = False) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.redirect_to = redirect_to
        self.state_error = state_error


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeCommand:
    provider: str = ""
    scopes: str = ""
    redirect_to: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""
    invite_token: str = ""
    query: tuple[tuple[str, str], ...] = ()  # every query parameter, in order
    link_target: UUID | None = None  # the signed-in user linking an identity (/user/identities/authorize)
    ctx: RequestContext = field(default_factory=RequestContext)


def forwarded_params(query: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Query parameters passed on to the provider (`workos_provider` as `provider`); the first value wins."""
    params: dict[str, str] = {}
    for key, value in query:
        lower = key.lower()
        if key in _OWN_PARAMS or (lower in RESERVED_PARAMS and lower != "nonce"):
            continue
        name = "provider" if key == "workos_provider" else key
        params.setdefault(name, value)
    return params


@dataclass(slots=True, kw_only=True)
class Authorize:
    uow: UnitOfWorkFactory
    external: External
    links: Links
    clock: Clock
    tokens: TokenGenerator
    providers: ExternalProviders
    accounts: ExternalAccounts

    async def __call__(self, cmd: AuthorizeCommand) -> str:
        name = cmd.provider.lower()
        try:
            provider = self.providers.code_flow(name)
        except ProviderNotUsable as problem:
            raise ValidationFailed(f"Unsupported provider: {problem}") from None
        if cmd.invite_token:
            async with self.uow() as uow:
                if await self.accounts.invited_user(uow, cmd.invite_token) is None:
                    raise DomainError("user_not_found", "User identified by token not found")
        section = self.external.provider(name)
        redirect = self.links.redirect_target(cmd.redirect_to or None, cmd.ctx.referer)
        method = validate_pkce_params(cmd.code_challenge or None, cmd.code_challenge_method or None)
        now = self.clock.now()
        verifier = ""
        client_state: OAuthClientState | None = None
        if getattr(provider, "requires_pkce", False):
            verifier = secrets.token_urlsafe(32)
            client_state = OAuthClientState(id=self.tokens.uuid(), provider_type=name, code_verifier=verifier, created_at=now)
        flow = FlowState(
            id=self.tokens.uuid(),
            user_id=None,
            auth_code=str(self.tokens.uuid()) if method else None,
            code_challenge_method=method,
            code_challenge=cmd.code_challenge if method else None,
            provider_type=name,
            authentication_method=OAUTH,
            provider_access_token="",
            provider_refresh_token="",
            created_at=now,
            updated_at=now,
            invite_token=cmd.invite_token or None,
            referrer=redirect or None,
            oauth_client_state_id=client_state.id if client_state else None,
            email_optional=bool(section and section.email_optional),
            linking_target_id=cmd.link_target,
        )
        url = await provider.authorization_url(
            AuthorizationRequest(
                state=str(flow.id), scopes=cmd.scopes, code_verifier=verifier, extra_params=forwarded_params(cmd.query)
            )
        )
        async with self.uow() as uow:
            if client_state is not None:
                await uow.oauth_client_states.add(client_state)
            await uow.flow_states.add(flow)
            await uow.commit()
        return url


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackCommand:
    params: Mapping[str, str] = field(default_factory=dict)  # the query, or the POST form
    aud: str = ""
    ctx: RequestContext = field(default_factory=RequestContext)


@dataclass(slots=True, kw_only=True)
class ExternalCallback:
    uow: UnitOfWorkFactory
    site: Site
    jwt: Jwt
    mailer: Mailer
    external: External
    links: Links
    clock: Clock
    issuer: SessionIssuer
    accounts: ExternalAccounts
    providers: ExternalProviders
    metrics: Metrics = NO_METRICS

    async def __call__(self, cmd: CallbackCommand) -> str:
        """Where the browser goes next; `CallbackFailed` says where it goes with the error."""
        flow = await self._load_state(cmd.params)
        target = self.external.redirect_url or flow.referrer or self.links.site_url
        try:
            return await self._complete(flow, cmd, target)
        except (DomainError, OAuthError, HookFailed) as failure:
            raise CallbackFailed(failure, redirect_to=target) from None

    async def _load_state(self, params: Mapping[str, str]) -> FlowState:
        site = self.links.site_url
        state = params.get("state", "")
        if not state:
            raise CallbackFailed(DomainError("bad_oauth_callback", "OAuth state parameter missing"), redirect_to=site, state_error=True)
        try:
            flow_id = UUID(state)
        except ValueError:
            raise CallbackFailed(DomainError("bad_oauth_state", "OAuth state parameter is invalid"), redirect_to=site, state_error=True) from None
        async with self.uow() as uow:
            flow = await uow.flow_states.get(flow_id)
        if flow is None or flow.authentication_method != OAUTH:
            raise CallbackFailed(DomainError("bad_oauth_state", "OAuth state not found or expired"), redirect_to=site, state_error=True)
        if flow.is_expired(self.clock.now(), self.external.flow_state_expiry_duration):
            raise CallbackFailed(DomainError("bad_oauth_state", "OAuth state has expired"), redirect_to=site, state_error=True)
        if flow.is_pkce and flow.user_id is not None:
            raise CallbackFailed(DomainError("flow_state_already_used", "State has already been used"), redirect_to=site, state_error=True)
        if flow.linking_target_id is not None:
            async with self.uow() as uow:
                target = await uow.users.get(flow.linking_target_id)
            if target is None:
                raise CallbackFailed(
                    DomainError("user_not_found", "Linking target user not found", where="unprocessable"), redirect_to=site, state_error=True
                )
        return flow

    async def _complete(self, flow: FlowState, cmd: CallbackCommand, target: str) -> str:
        params = cmd.params
        name = flow.provider_type
        try:
            provider = self.providers.code_flow(name)
        except ProviderNotUsable as problem:
            raise DomainError("validation_failed", f"Unsupported provider: {problem}") from None
        data, access, refresh = await self._provider_data(provider, flow, params)
        if not data.emails and not flow.email_optional:
            raise DomainError("unexpected_failure", "Error getting user email from external provider")
        data = data.with_email_claims()
        now = self.clock.now()
        result: AuthResult | None = None
        refusal: DomainError | None = None
        async with self.uow() as uow:
            # One state, one use: the row is locked before anything is resolved, so of two
            # callbacks with the same state the second finds it spent (or gone) and writes nothing.
            locked = await uow.flow_states.get(flow.id, lock=True)
            if locked is None:
                raise DomainError("bad_oauth_state", "OAuth state not found or expired")
            if locked.user_id is not None:
                raise DomainError("flow_state_already_used", "State has already been used")
            if flow.linking_target_id is not None:
                user, refusal = await self.accounts.link(uow, data, name, flow.linking_target_id, redirect_to=target, now=now)
            elif flow.invite_token:
                user, refusal = await self.accounts.accept_invite(uow, data, name, flow.invite_token, now=now), None
            else:
                user, refusal = await self.accounts.sign_in(
                    uow, data, name, aud=cmd.aud or self.jwt.aud, email_optional=flow.email_optional, redirect_to=target, now=now,
                    ctx=cmd.ctx,
                )
            if refusal is None and flow.is_pkce:
                locked.provider_access_token = access
                locked.provider_refresh_token = refresh
                locked.user_id = user.id
                locked.auth_code_issued_at = now
                locked.updated_at = now
                await uow.flow_states.update(locked)
            elif refusal is None:
                session, refresh_token = await self.issuer.open_session(uow, user, OAUTH, cmd.ctx, now)
                await uow.flow_states.delete(flow.id)
                result = await self.issuer.issue(uow, user, session, refresh_token, method=OAUTH, ctx=cmd.ctx)
            await uow.commit()
        if user.created_at == now:
            await self.accounts.user_hooks.created(user, cmd.ctx)
            self.metrics.signed_up(OAUTH, name)
        if refusal is not None:
            raise refusal
        if not flow.is_pkce:
            self.metrics.signed_in(OAUTH, name)
        if flow.is_pkce:
            return with_query(target, {"code": flow.auth_code or ""})
        assert result is not None
        fragment = {
            "access_token": result.access_token,
            "expires_at": str(result.expires_at),
            "expires_in": str(result.expires_in),
            **({"provider_refresh_token": refresh} if refresh else {}),
            "provider_token": access,
            "refresh_token": result.refresh_token,
            "sb": "",
            "token_type": "bearer",
        }
        return with_fragment(target, fragment)

    async def _provider_data(
        self, provider: OAuthProvider | OAuth1Provider, flow: FlowState, params: Mapping[str, str]
    ) -> tuple[UserProvidedData, str, str]:
        try:
            if hasattr(provider, "access_token"):  # OAuth 1.0a (Twitter)
                tokens = await provider.access_token(  # type: ignore[union-attr]
                    params.get("oauth_token", ""), params.get("oauth_verifier", ""))
                data = await provider.user_data(tokens, params)
                return data, tokens.access_token, tokens.refresh_token
            if params.get("error"):
                raise OAuthError(params["error"], params.get("error_description", ""))
            code = params.get("code", "")
            if not code:
                raise DomainError("bad_oauth_callback", "OAuth callback with missing authorization code missing")
            verifier = ""
            if flow.oauth_client_state_id is not None:
                verifier = await self._client_verifier(flow)
            elif provider.requires_pkce:
                raise DomainError("oauth_invalid_state", "OAuth PKCE code verifier missing")
            try:
                tokens = await provider.exchange_code(code, code_verifier=verifier)
            except OAuthProviderError:
                raise DomainError("unexpected_failure", f"Unable to exchange external code: {code[:4]}") from None
            data = await provider.user_data(tokens, params)
            return data, tokens.access_token, tokens.refresh_token
        except (OAuthProviderError, IdTokenRejected):
            raise DomainError("unexpected_failure", "Error getting user profile from external provider") from None

    async def _client_verifier(self, flow: FlowState) -> str:
        assert flow.oauth_client_state_id is not None
        async with self.uow() as uow:
            state = await uow.oauth_client_states.take(flow.oauth_client_state_id)
            await uow.commit()
        if state is None:
            raise DomainError("oauth_client_state_not_found", "OAuth state not found")
        if state.provider_type != flow.provider_type:
            raise DomainError("oauth_invalid_state", "OAuth provider mismatch")
        if state.is_expired(self.clock.now()):
            raise DomainError("oauth_client_state_expired", "OAuth state expired")
        return state.code_verifier or ""


def with_query(url: str, values: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(values)
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_fragment(url: str, values: Mapping[str, str]) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=urlencode(dict(sorted(values.items())))))
