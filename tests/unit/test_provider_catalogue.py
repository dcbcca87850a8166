"""The provider catalogue against the real endpoints: each provider built with no URL override
sends the browser to its real authorization endpoint with GoTrue's default scopes
(internal/api/provider/*.go). No network: Google's and Apple's discovery documents (whose
`authorization_endpoint` GoTrue uses too) and Twitter's request-token answer come from a mock
transport, which also records every address pytrue asks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pytrue.adapters.oauth.oidc import OidcProviderCache
from pytrue.adapters.oauth.registry import ProviderDeps, build_provider
from pytrue.adapters.system import FixedClock
from pytrue.application.config import OAuthProvider as ProviderSettings
from pytrue.application.ports import AuthorizationRequest

REDIRECT = "https://abc.supabase.co/auth/v1/callback"
STATE = "7f1b6d8e-58b1-4b52-9d5e-0b3a8f1f2c11"

# the published discovery documents' endpoints (https://accounts.google.com/.well-known/openid-configuration,
# https://appleid.apple.com/.well-known/openid-configuration)
DISCOVERY = {
    "https://accounts.google.com/.well-known/openid-configuration": {
        "issuer": "https://accounts.google.com",
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
        "id_token_signing_alg_values_supported": ["RS256"],
    },
    "https://appleid.apple.com/.well-known/openid-configuration": {
        "issuer": "https://appleid.apple.com",
        "authorization_endpoint": "https://appleid.apple.com/auth/authorize",
        "token_endpoint": "https://appleid.apple.com/auth/token",
        "jwks_uri": "https://appleid.apple.com/auth/keys",
        "id_token_signing_alg_values_supported": ["RS256"],
    },
}

DISCOVERY_URL = {"google": "https://accounts.google.com/.well-known/openid-configuration", "apple": "https://appleid.apple.com/.well-known/openid-configuration"}

SNAPCHAT_SCOPES = (
    "https://auth.snapchat.com/oauth2/api/user.external_id",
    "https://auth.snapchat.com/oauth2/api/user.display_name",
    "https://auth.snapchat.com/oauth2/api/user.bitmoji.avatar",
)

# provider → (authorization endpoint, default scopes) as GoTrue builds them with no GOTRUE_EXTERNAL_<P>_URL
CATALOGUE: dict[str, tuple[str, tuple[str, ...]]] = {
    "apple": ("https://appleid.apple.com/auth/authorize", ("email", "name")),
    "azure": ("https://login.microsoftonline.com/common/oauth2/v2.0/authorize", ("openid",)),
    "bitbucket": ("https://bitbucket.org/site/oauth2/authorize", ("account", "email")),
    "discord": ("https://discord.com/api/oauth2/authorize", ("email", "identify")),
    "facebook": ("https://www.facebook.com/dialog/oauth", ("email",)),
    "figma": ("https://www.figma.com/oauth", ("current_user:read",)),
    "fly": ("https://api.fly.io/oauth/authorize", ("read",)),
    "github": ("https://github.com/login/oauth/authorize", ("user:email",)),
    "gitlab": ("https://gitlab.com/oauth/authorize", ("read_user",)),
    "google": ("https://accounts.google.com/o/oauth2/v2/auth", ("email", "profile")),
    "kakao": ("https://kauth.kakao.com/oauth/authorize", ("account_email", "profile_image", "profile_nickname")),
    "keycloak": ("https://sso.example.com/realms/app/protocol/openid-connect/auth", ("profile", "email")),
    "linkedin_oidc": ("https://api.linkedin.com/oauth/v2/authorization", ("openid", "email", "profile")),
    "notion": ("https://api.notion.com/v1/oauth/authorize", ()),
    "slack_oidc": ("https://slack.com/openid/connect/authorize", ("profile", "email", "openid")),
    "snapchat": ("https://accounts.snapchat.com/accounts/oauth2/auth", SNAPCHAT_SCOPES),
    "spotify": ("https://accounts.spotify.com/authorize", ("user-read-email",)),
    "twitch": ("https://id.twitch.tv/oauth2/authorize", ("user:read:email",)),
    "twitter": ("https://api.twitter.com/oauth/authenticate", ()),  # OAuth 1.0a: no scopes
    "x": ("https://x.com/i/oauth2/authorize", ("users.email", "tweet.read", "users.read", "offline.access")),
    "workos": ("https://api.workos.com/sso/authorize", ()),
    "zoom": ("https://zoom.us/oauth/authorize", ()),
}


def _answer(asked: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        asked.append(f"{request.method} {url}")
        if url in DISCOVERY:
            return httpx.Response(200, json=DISCOVERY[url])
        if url == "https://api.twitter.com/oauth/request_token":
            return httpx.Response(200, text="oauth_token=req-token&oauth_token_secret=s&oauth_callback_confirmed=true")
        return httpx.Response(404, json={"error": "not_found"})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
async def test_each_provider_sends_the_browser_to_its_real_authorization_endpoint(name: str) -> None:
    endpoint, scopes = CATALOGUE[name]
    asked: list[str] = []
    async with httpx.AsyncClient(transport=_answer(asked)) as client:
        deps = ProviderDeps(client=client, cache=OidcProviderCache(client=client, clock=FixedClock(datetime.now(UTC))))
        section = ProviderSettings(
            enabled=True, client_id=("the-client-id",), secret="the-secret", redirect_uri=REDIRECT,
            url="https://sso.example.com/realms/app" if name == "keycloak" else "",
        )  # fmt: skip
        provider = build_provider(name, section, deps)
        assert provider.oauth is not None, provider.oauth_unavailable
        request = AuthorizationRequest(state=STATE, code_verifier="v" * 43 if getattr(provider.oauth, "requires_pkce", False) else "")
        url = await provider.oauth.authorization_url(request)

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == endpoint
    query: dict[str, Any] = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    if name == "twitter":
        assert query == {"oauth_token": "req-token"}
        assert asked == ["POST https://api.twitter.com/oauth/request_token"]
        return
    assert tuple(query.get("scope", "").split()) == scopes
    assert query["client_id"] == "the-client-id" and query["redirect_uri"] == REDIRECT
    assert query["response_type"] == "code" and query["state"] == STATE
    if name in ("google", "apple"):
        assert asked == [f"GET {DISCOVERY_URL[name]}"]
    else:
        assert asked == []  # fixed endpoints: nothing fetched to build the URL
    if name == "apple":
        assert query["response_mode"] == "form_post"



@pytest.mark.parametrize(("name", "api"), [("github", "https://api.github.com"), ("gitlab", "https://gitlab.com")])
async def test_api_url_is_accepted_and_ignored_as_in_gotrue(name: str, api: str) -> None:
    """GoTrue declares GOTRUE_EXTERNAL_<P>_API_URL but no provider reads it: the API host follows `_URL`."""
    async with httpx.AsyncClient(transport=_answer([])) as client:
        deps = ProviderDeps(client=client, cache=OidcProviderCache(client=client, clock=FixedClock(datetime.now(UTC))))
        section = ProviderSettings(
            enabled=True, client_id=("c",), secret="s", redirect_uri=REDIRECT, api_url="https://api.elsewhere.example"
        )
        provider = build_provider(name, section, deps).oauth
    assert getattr(provider, "api") == api
