"""Twitter's OAuth 1.0a adapter against a local server that checks every request's signature."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from support.twitter_provider import (
    ACCESS,
    ACCESS_SECRET,
    KEY,
    REDIRECT,
    REQUEST_TOKEN,
    SECRET,
    STATE,
    VERIFIER,
    TwitterApi,
)

from pytrue.adapters.oauth.oidc import OidcProviderCache
from pytrue.adapters.oauth.registry import ProviderDeps, build_provider
from pytrue.adapters.system import FixedClock
from pytrue.application.config import OAuthProvider as ProviderSettings
from pytrue.application.ports import AuthorizationRequest, OAuthProviderError
from pytrue.domain.external import ProviderEmail

@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as shared:
        yield shared


def twitter(client: httpx.AsyncClient, url: str):  # type: ignore[no-untyped-def]
    settings = ProviderSettings(enabled=True, client_id=(KEY,), secret=SECRET, redirect_uri=REDIRECT, url=url)
    deps = ProviderDeps(client=client, cache=OidcProviderCache(client=client, clock=FixedClock(datetime.now(UTC))))
    return build_provider("twitter", settings, deps).oauth


async def test_twitter_sign_in(client: httpx.AsyncClient) -> None:
    api = TwitterApi()
    with api.server:
        provider = twitter(client, api.server.url)
        url = await provider.authorization_url(AuthorizationRequest(state=STATE))
        assert url == f"{api.server.url}/oauth/authenticate?oauth_token={REQUEST_TOKEN}"
        assert api.callbacks == [f"{REDIRECT}?state={STATE}"]
        tokens = await provider.access_token(REQUEST_TOKEN, VERIFIER)
        assert (tokens.access_token, tokens.extra["oauth_token_secret"]) == (ACCESS, ACCESS_SECRET)
        data = await provider.user_data(tokens)
    assert data.subject == "12" and data.emails == (ProviderEmail("jack@x.example", True, True),)
    assert data.claims.identity_data() == {
        "iss": api.server.url + "/1.1/account/verify_credentials.json", "sub": "12", "name": "jack dorsey", "preferred_username": "jack",
        "picture": "https://pbs.twimg.com/j.jpg", "email_verified": False, "phone_verified": False, "full_name": "jack dorsey",
        "avatar_url": "https://pbs.twimg.com/j.jpg", "provider_id": "12", "user_name": "jack",
    }  # fmt: skip


async def test_twitter_failures(client: httpx.AsyncClient) -> None:
    api = TwitterApi()
    with api.server:
        provider = twitter(client, api.server.url)
        with pytest.raises(OAuthProviderError, match="HTTP 401"):
            await provider.access_token(REQUEST_TOKEN, "wrong-verifier")
        bad = twitter(client, api.server.url)
        bad.consumer_secret = "not the secret"
        with pytest.raises(OAuthProviderError, match="Could not authenticate you"):
            await bad.authorization_url(AuthorizationRequest(state=STATE))
