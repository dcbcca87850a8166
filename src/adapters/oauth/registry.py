"""Provider name → adapter factory, from one `OAuthProvider` configuration section each."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from pytrue.adapters.oauth import claims as claim_maps
from pytrue.adapters.oauth import oidc_providers as op
from pytrue.adapters.oauth import social
from pytrue.adapters.oauth.twitter import Twitter
from pytrue.adapters.oauth.base import OAuth2Provider, OidcProvider, choose_host
from pytrue.adapters.oauth.http import DEFAULT_TIMEOUT, ProviderHttp
from pytrue.adapters.oauth.oauth2 import ClientAuth, OAuth2Client
from pytrue.adapters.oauth.oidc import OidcProviderCache
from pytrue.application.config import OAuthProvider as ProviderSettings
from pytrue.application.ports import IdTokenProvider, OAuth1Provider, OAuthProvider


class ProviderUnavailable(ValueError):
    """The provider cannot be used as configured; the message is GoTrue's reason
    (`/authorize` answers "Unsupported provider: <reason>")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderDeps:
    """What every factory shares. `overrides` replaces well-known addresses per provider, as
    GoTrue's test hooks do (`issuer`, `discovery_url`, `userinfo_url`, `issuer_pattern`)."""

    client: httpx.AsyncClient
    cache: OidcProviderCache
    timeout: float = DEFAULT_TIMEOUT
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def http(self, name: str, settings: ProviderSettings) -> ProviderHttp:
        return ProviderHttp(client=self.client, name=name, timeout=self.timeout, secrets=(settings.secret,))

    def override(self, name: str, key: str, default: str) -> str:
        return self.overrides.get(name, {}).get(key, default)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalProvider:
    """One configured provider: its code flow (`oauth`, None with `oauth_unavailable` saying why)
    and its id_token verifier (None when the provider has no id_token sign-in)."""

    name: str
    oauth: OAuthProvider | OAuth1Provider | None
    id_token: IdTokenProvider | None
    oauth_unavailable: str = ""
    email_optional: bool = False


def oauth_problem(settings: ProviderSettings) -> str:
    """GoTrue's `ValidateOAuth`, in its order; "" when the code flow can run."""
    if not settings.enabled:
        return "provider is not enabled"
    if not settings.client_id:
        return "missing OAuth client ID"
    if not settings.secret:
        return "missing OAuth secret"
    if not settings.redirect_uri:
        return "missing redirect URI"
    return ""


def _client(settings: ProviderSettings, endpoints: Mapping[str, str], scopes: tuple[str, ...], auth: ClientAuth = "auto") -> OAuth2Client:
    return OAuth2Client(
        client_id=settings.client_id[0],
        secret=settings.secret,
        redirect_uri=settings.redirect_uri,
        auth_url=endpoints["auth_url"],
        token_url=endpoints["token_url"],
        scopes=scopes,
        client_auth=auth,
    )


def _social(kind: type[OAuth2Provider], auth: ClientAuth = "auto") -> Callable[[str, ProviderSettings, ProviderDeps], OAuth2Provider]:
    def build(name: str, settings: ProviderSettings, deps: ProviderDeps) -> OAuth2Provider:
        endpoints = kind.endpoints(settings.url)  # type: ignore[attr-defined]
        client = _client(settings, endpoints, kind.default_scopes, auth)  # type: ignore[attr-defined]
        return kind(name=name, client=client, http=deps.http(name, settings), api=endpoints["api"])  # type: ignore[call-arg]

    return build


def _oidc_kwargs(name: str, settings: ProviderSettings, deps: ProviderDeps, issuer: str, scopes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "issuer": deps.override(name, "issuer", issuer),
        "discovery_url": deps.override(name, "discovery_url", ""),
        "client_ids": tuple(settings.client_id),
        "secret": settings.secret,
        "redirect_uri": settings.redirect_uri,
        "scopes": scopes,
        "cache": deps.cache,
        "http": deps.http(name, settings),
    }


def _google(name: str, settings: ProviderSettings, deps: ProviderDeps) -> OidcProvider:
    return op.Google(
        mapper=claim_maps.google,
        userinfo_url=deps.override(name, "userinfo_url", op.GOOGLE_USERINFO),
        **_oidc_kwargs(name, settings, deps, op.GOOGLE_ISSUER, op.Google.default_scopes),
    )


def _apple(name: str, settings: ProviderSettings, deps: ProviderDeps) -> OidcProvider:
    issuer = deps.override(name, "issuer", op.APPLE_ISSUERS[0])
    accepted = op.APPLE_ISSUERS if issuer == op.APPLE_ISSUERS[0] else (issuer,)
    return op.Apple(mapper=claim_maps.apple, accepted_issuers=accepted, **_oidc_kwargs(name, settings, deps, issuer, op.Apple.default_scopes))


def _keycloak(name: str, settings: ProviderSettings, deps: ProviderDeps) -> OidcProvider:
    if not settings.url:
        raise ProviderUnavailable("unable to find URL for the Keycloak provider")
    base = settings.url[:-1] if settings.url.endswith("/") else settings.url
    return op.Keycloak(
        auth_url=base + "/protocol/openid-connect/auth",
        token_url=base + "/protocol/openid-connect/token",
        userinfo_url=base + "/protocol/openid-connect/userinfo",
        **_oidc_kwargs(name, settings, deps, settings.url, op.Keycloak.default_scopes),
    )


def _linkedin_oidc(name: str, settings: ProviderSettings, deps: ProviderDeps) -> OidcProvider:
    api = choose_host(settings.url, "api.linkedin.com")
    return op.LinkedinOidc(
        mapper=claim_maps.linkedin,
        auth_url=api + "/oauth/v2/authorization",
        token_url=api + "/oauth/v2/accessToken",
        **_oidc_kwargs(name, settings, deps, op.LINKEDIN_ISSUER, op.LinkedinOidc.default_scopes),
    )


def _azure(name: str, settings: ProviderSettings, deps: ProviderDeps) -> OidcProvider:
    auth_url, token_url, expected = op.azure_endpoints(settings.url)
    pattern = deps.override(name, "issuer_pattern", "")
    allowed = (lambda issuer: re.match(pattern, issuer) is not None) if pattern else None
    kwargs = _oidc_kwargs(name, settings, deps, expected or op.AZURE_COMMON, op.Azure.default_scopes)
    return op.Azure(auth_url=auth_url, token_url=token_url, expected_issuer=expected, issuer_allowed=allowed, **kwargs)


CodeFactory = Callable[[str, ProviderSettings, ProviderDeps], OAuthProvider]

CODE_FLOW: dict[str, CodeFactory] = {
    "apple": _apple,
    "azure": _azure,
    "bitbucket": _social(social.Bitbucket),
    "discord": _social(social.Discord),
    "facebook": _social(social.Facebook),
    "figma": _social(social.Figma),
    "fly": _social(social.Fly),
    "github": _social(social.GitHub),
    "gitlab": _social(social.GitLab),
    "google": _google,
    "kakao": _social(social.Kakao, "post"),
    "keycloak": _keycloak,
    "linkedin_oidc": _linkedin_oidc,
    "notion": _social(social.Notion, "basic"),
    "slack_oidc": _social(social.SlackOidc),
    "snapchat": _social(social.Snapchat),
    "spotify": _social(social.Spotify),
    "twitch": _social(social.Twitch),
    "twitter": lambda name, settings, deps: Twitter(  # type: ignore[dict-item]
        name=name,
        consumer_key=settings.client_id[0],
        consumer_secret=settings.secret,
        redirect_uri=settings.redirect_uri,
        http=deps.http(name, settings),
        url=settings.url,
    ),
    "workos": _social(social.WorkOS),
    "x": _social(social.X),
    "zoom": _social(social.Zoom),
}

# providers whose id_tokens sign in without a code flow adapter of their own
_ID_TOKEN_ISSUERS: dict[str, tuple[str, claim_maps.ClaimsMapper, bool]] = {
    "kakao": (op.KAKAO_ISSUER, claim_maps.kakao, False),
    "facebook": (op.FACEBOOK_ISSUER, claim_maps.facebook, True),
    "snapchat": (op.SNAPCHAT_ISSUER, claim_maps.snapchat, False),
    "vercel_marketplace": (op.VERCEL_MARKETPLACE_ISSUER, claim_maps.vercel_marketplace, False),
}
ID_TOKEN_PROVIDERS = frozenset({"apple", "azure", "google", "keycloak", "linkedin_oidc", *_ID_TOKEN_ISSUERS})
PROVIDERS = frozenset(CODE_FLOW) | ID_TOKEN_PROVIDERS
# providers with no default host: their GOTRUE_EXTERNAL_<P>_URL is required (checked at start)
NEEDS_URL = frozenset({"keycloak"})


def build_provider(name: str, settings: ProviderSettings, deps: ProviderDeps) -> ExternalProvider:
    """The adapters for `name` as configured; `ProviderUnavailable` when it is unknown or disabled."""
    if name not in PROVIDERS:
        raise ProviderUnavailable(f"unknown provider {name!r}")
    if not settings.enabled:
        raise ProviderUnavailable("provider is not enabled")
    problem = oauth_problem(settings) if name in CODE_FLOW else "provider has no authorization-code flow"
    oauth: OAuthProvider | OAuth1Provider | None = None
    if not problem:
        try:
            oauth = CODE_FLOW[name](name, settings, deps)
        except ProviderUnavailable as unavailable:
            problem = str(unavailable)
    return ExternalProvider(
        name=name,
        oauth=oauth,
        id_token=_id_token(name, settings, deps, oauth),
        oauth_unavailable=problem,
        email_optional=settings.email_optional,
    )


def _id_token(name: str, settings: ProviderSettings, deps: ProviderDeps, oauth: object) -> IdTokenProvider | None:
    if name not in ID_TOKEN_PROVIDERS:
        return None
    if name in _ID_TOKEN_ISSUERS:
        issuer, mapper, skip = _ID_TOKEN_ISSUERS[name]
        return op.IdTokenVerifier(
            name=name,
            issuer=deps.override(name, "issuer", issuer),
            discovery_url=deps.override(name, "discovery_url", ""),
            client_ids=tuple(settings.client_id),
            cache=deps.cache,
            mapper=mapper,
            skip_nonce=skip or settings.skip_nonce_check,
        )
    if isinstance(oauth, OidcProvider):
        provider = oauth
    else:
        if name == "keycloak" and not settings.url:
            return None
        # id_token sign-in needs only `enabled` and the client ids (no secret, no redirect URI)
        provider = CODE_FLOW[name](name, settings, deps)  # type: ignore[assignment]
    return op.SkipNonce(provider) if settings.skip_nonce_check else provider
