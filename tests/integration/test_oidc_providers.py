"""The OpenID Connect adapters against a local issuer: discovery, JWKS, real signed id_tokens."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from support.fake_http import Reply
from support.oauth_providers import ACCESS_TOKEN, CODE, FakeProvider, bearer, query_of
from support.smtp import free_port

from pytrue.adapters.oauth.apple import apple_client_secret
from pytrue.adapters.oauth.oidc import OidcProviderCache, access_token_hash
from pytrue.adapters.oauth.registry import ProviderDeps, build_provider
from pytrue.adapters.system import FixedClock
from pytrue.application.config import OAuthProvider as ProviderSettings
from pytrue.application.ports import AuthorizationRequest, IdTokenCheck, IdTokenRejected, OAuthProviderError
from pytrue.domain.external import ProviderEmail

REDIRECT = "http://localhost:9999/callback"
STATE = "0b0e7c52-6d4e-4a39-a2a5-1c3f6f7d9e01"
RAW_NONCE = "raw-nonce-from-the-app"
HASHED_NONCE = hashlib.sha256(RAW_NONCE.encode()).hexdigest()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as shared:
        yield shared


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


def settings(url: str = "", **overrides: Any) -> ProviderSettings:
    values: dict[str, Any] = {"enabled": True, "client_id": ("client-id", "ios-client"), "secret": "client-secret", "redirect_uri": REDIRECT, "url": url}
    return ProviderSettings(**(values | overrides))


def deps(client: httpx.AsyncClient, clock: FixedClock, name: str, fake: FakeProvider, **extra: str) -> ProviderDeps:
    overrides = {name: {"issuer": fake.issuer, "userinfo_url": fake.url + "/oauth2/v2/userinfo", **extra}}
    return ProviderDeps(client=client, cache=OidcProviderCache(client=client, clock=clock), timeout=2.0, overrides=overrides)


def google_fake(**kwargs: Any) -> FakeProvider:
    claims = {"email": "ann@gmail.com", "email_verified": True, "name": "Ann Lee", "picture": "https://lh3.example/a.jpg", "hd": "example.com"}
    return FakeProvider(with_id_token=True, id_token_claims=claims, **kwargs)


# --- recorded samples: each provider's documented id_token payload -----------------------------------
# The stand-in issues its own iss, aud, iat and exp (and the nonce and at_hash of the request it answers),
# so those claims of a sample are left to it; every other documented claim is kept.

# Google, "An ID token's payload" (developers.google.com/identity/openid-connect/openid-connect). The
# example shows `"email_verified": "true"`; Google's tokens carry a JSON boolean (GoTrue's googleUser reads
# a bool and refuses a string), so the boolean is used here.
GOOGLE_ID_TOKEN = {
    "azp": "1234987819200.apps.googleusercontent.com", "sub": "10769150350006150715113082367", "hd": "example.com",
    "email": "jsmith@example.com", "email_verified": True,
}
# Microsoft identity platform, the v2.0 ID token sample (learn.microsoft.com/entra/identity-platform/id-token-claims-reference)
AZURE_ID_TOKEN = {
    "ver": "2.0", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "nbf": 1536274711, "name": "Abe Lincoln",
    "preferred_username": "AbeLi@microsoft.com", "oid": "00000000-0000-0000-66f3-3332eca7ea81",
    "tid": "9122040d-6c67-4c5b-b112-36a304b66dad",
    "aio": "Df2UVXL1ix!lMCWMSOJBcFatzcGfvFGhjKv8q5g0x732dR5MB5BisvGQO7YWByjd8iQDLq!eGbIDakyp5mnOrcdqHeYSnltepQmRp6AIZ8jY",
}
# Sign In with LinkedIn using OpenID Connect, the ID token sample (learn.microsoft.com/linkedin/consumer/
# integrations/self-serve/sign-in-with-linkedin-v2): `email_verified` is the string "true"
LINKEDIN_ID_TOKEN = {
    "sub": "782bbtaQ", "name": "John Doe", "given_name": "John", "family_name": "Doe",
    "picture": "https://media.licdn-ei.com/dms/image/C5F03AQHqK8v7tB1HCQ/profile-displayphoto-shrink_100_100/0/",
    "email": "doe@email.com", "email_verified": "true", "locale": "en_US",
}
# Sign in with Apple: Apple documents the identity token's claims one by one ("Authenticating users with Sign
# in with Apple") but publishes no whole example; this carries every documented claim, the booleans as the
# strings Apple's web flow sends
APPLE_ID_TOKEN = {
    "sub": "001234.5b3a3bdf9c0b4f049c1471cae1cd1d8d.0001", "email": "x7@privaterelay.appleid.com", "email_verified": "true",
    "is_private_email": "true", "real_user_status": 2, "nonce_supported": True, "auth_time": 1700000000,
    "transfer_sub": "000123.a1b2c3d4e5f6.0456",
}


# --- Google: the code flow ------------------------------------------------------------
async def test_google_signs_in_with_the_verified_id_token(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with FakeProvider(with_id_token=True, id_token_claims=dict(GOOGLE_ID_TOKEN)) as fake:
        provider = build_provider("google", settings(), deps(client, clock, "google", fake)).oauth
        assert provider is not None
        url = await provider.authorization_url(AuthorizationRequest(state=STATE, scopes="openid", extra_params={"access_type": "offline", "prompt": "consent"}))
        assert url.startswith(fake.url + "/authorize?")
        assert query_of(url) == {
            "client_id": "client-id", "redirect_uri": REDIRECT, "response_type": "code", "scope": "email profile openid",
            "state": STATE, "access_type": "offline", "prompt": "consent",
        }  # fmt: skip
        data = await provider.user_data(await provider.exchange_code(CODE))
    assert data.emails == (ProviderEmail("jsmith@example.com", True, True),)
    identity = data.claims.identity_data()
    assert identity == {  # the `email` scope's token: no name or picture; azp is not mapped
        "iss": fake.issuer, "sub": "10769150350006150715113082367", "email_verified": False, "phone_verified": False,
        "custom_claims": {"hd": "example.com"}, "provider_id": "10769150350006150715113082367",
    }  # fmt: skip
    assert data.with_email_claims().claims.email_verified is True


async def test_google_without_an_id_token_asks_the_userinfo_api(client: httpx.AsyncClient, clock: FixedClock) -> None:
    body = {"id": "1098", "email": "bob@gmail.com", "verified_email": True, "name": "Bob", "picture": "https://lh3.example/b.jpg"}
    with FakeProvider(routes={"/oauth2/v2/userinfo": bearer(body)}) as fake:
        provider = build_provider("google", settings(), deps(client, clock, "google", fake)).oauth
        assert provider is not None
        data = await provider.user_data(await provider.exchange_code(CODE))
    assert data.subject == "1098" and data.emails == (ProviderEmail("bob@gmail.com", True, True),)
    assert data.claims.iss == fake.url + "/oauth2/v2/userinfo" and data.claims.email == "bob@gmail.com"


async def test_the_code_flow_checks_the_audience_and_the_access_token_hash(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with google_fake() as fake:
        provider = build_provider("google", settings(), deps(client, clock, "google", fake)).oauth
        assert provider is not None
        fake.id_token_claims["aud"] = "someone-else"
        with pytest.raises(IdTokenRejected, match="Unacceptable audience"):
            await provider.user_data(await provider.exchange_code(CODE))
        fake.id_token_claims["aud"] = "client-id"
        fake.id_token_claims["at_hash"] = access_token_hash("another-token", "RS256")
        with pytest.raises(IdTokenRejected, match="access token hash"):
            await provider.user_data(await provider.exchange_code(CODE))
        fake.id_token_claims["at_hash"] = access_token_hash(ACCESS_TOKEN, "RS256")
        assert (await provider.user_data(await provider.exchange_code(CODE))).subject == "oidc-sub-1"


# --- the id_token grant: every check ------------------------------------------------------
async def grant(fake: FakeProvider, client: httpx.AsyncClient, clock: FixedClock, token: str, check: IdTokenCheck | None = None, name: str = "google", **settings_overrides: Any) -> Any:
    verifier = build_provider(name, settings(**settings_overrides), deps(client, clock, name, fake)).id_token
    assert verifier is not None
    return await verifier.verify_id_token(token, check or IdTokenCheck(nonce=RAW_NONCE))


async def test_a_good_id_token_signs_in_with_any_client_id(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with google_fake() as fake:
        for alg in ("RS256", "ES256"):
            token = fake.sign(fake.claims(aud=["other", "ios-client"], nonce=HASHED_NONCE), alg=alg)
            data = await grant(fake, client, clock, token)
            assert data.subject == "oidc-sub-1" and data.claims.custom_claims == {"hd": "example.com"}
        no_nonce = fake.sign(fake.claims())
        assert (await grant(fake, client, clock, no_nonce, IdTokenCheck(nonce=""))).subject == "oidc-sub-1"


def forged(fake: FakeProvider, claims: dict[str, Any]) -> str:
    """Signed by a key the issuer never published, under the issuer's own kid."""
    impostor = RSAKey.generate_key(2048, parameters={"kid": fake.key.kid}, private=True)
    return jwt.encode({"alg": "RS256", "kid": fake.key.kid}, claims, impostor)


def unsigned(claims: dict[str, Any]) -> str:
    import base64

    def seg(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'none'})}.{seg(claims)}."


@pytest.mark.parametrize(
    ("make", "check", "description", "detail"),
    [
        (lambda f: f.sign(f.claims(iss="https://evil.example", nonce=HASHED_NONCE)), None, "Bad ID token", "issued by a different provider"),
        (lambda f: f.sign(f.claims(aud="not-ours", nonce=HASHED_NONCE)), None, "Unacceptable audience in id_token: [not-ours]", ""),
        (lambda f: f.sign(f.claims(exp=int(time.time()) - 5, nonce=HASHED_NONCE)), None, "Bad ID token", "token is expired"),
        (lambda f: f.sign(f.claims(exp=None, nonce=HASHED_NONCE)), None, "Bad ID token", "token is expired"),
        (lambda f: f.sign(f.claims(nbf=int(time.time()) + 3600, nonce=HASHED_NONCE)), None, "Bad ID token", "nbf"),
        (lambda f: f.sign(f.claims(nonce="0" * 64)), None, "Nonces mismatch", ""),
        (lambda f: f.sign(f.claims(nonce=RAW_NONCE)), None, "Nonces mismatch", ""),
        (lambda f: f.sign(f.claims()), None, "Passed nonce and nonce in id_token should either both exist or not.", ""),
        (lambda f: f.sign(f.claims(nonce=HASHED_NONCE)), IdTokenCheck(nonce=""), "Passed nonce and nonce in id_token should either both exist or not.", ""),
        (lambda f: forged(f, f.claims(nonce=HASHED_NONCE)), None, "Bad ID token", "failed to verify signature"),
        (lambda f: f.sign(f.claims(nonce=HASHED_NONCE))[:-6] + "AAAAAA", None, "Bad ID token", "failed to verify signature"),
        (lambda f: unsigned(f.claims(nonce=HASHED_NONCE)), None, "Bad ID token", "unsupported algorithm"),
        (lambda f: jwt.encode({"alg": "HS256", "kid": "rsa-1"}, f.claims(nonce=HASHED_NONCE), OctKey.import_key(b"k" * 32)), None, "Bad ID token", "unsupported algorithm"),
        (lambda f: f.sign(f.claims(nonce=HASHED_NONCE), alg="PS256"), None, "Bad ID token", "unsupported algorithm"),
        (lambda f: f.sign(f.claims(sub=None, nonce=HASHED_NONCE)), None, "Missing sub claim in id_token", ""),
        (lambda f: "not-a-jwt", None, "Bad ID token", "3 parts"),
        (lambda f: f.sign(f.claims(nonce=HASHED_NONCE, at_hash="xyz")), IdTokenCheck(nonce=RAW_NONCE, access_token="tok"), "Bad ID token", "access token hash"),
    ],
    ids=[
        "wrong-iss", "wrong-aud", "expired", "no-exp", "not-yet-valid", "nonce-mismatch", "raw-nonce-in-token", "nonce-only-in-request",
        "nonce-only-in-token", "forged-signature", "tampered-signature", "alg-none", "alg-hs256", "alg-not-offered", "no-sub", "garbage",
        "at-hash",
    ],
)  # fmt: skip
async def test_bad_id_tokens_are_rejected(make: Any, check: IdTokenCheck | None, description: str, detail: str, client: httpx.AsyncClient, clock: FixedClock) -> None:
    with google_fake() as fake:
        with pytest.raises(IdTokenRejected) as rejected:
            await grant(fake, client, clock, make(fake), check)
    assert rejected.value.description == description
    assert detail in rejected.value.detail
    assert rejected.value.error == ("invalid nonce" if description == "Nonces mismatch" else "invalid request")


async def test_skip_nonce_check_lets_tokens_without_the_request_nonce_in(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with google_fake() as fake:
        token = fake.sign(fake.claims(nonce="whatever"))
        assert (await grant(fake, client, clock, token, skip_nonce_check=True)).subject == "oidc-sub-1"


async def test_a_rotated_key_is_fetched_when_its_kid_is_unknown(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with google_fake() as fake:
        verifier = build_provider("google", settings(), deps(client, clock, "google", fake)).id_token
        assert verifier is not None
        check = IdTokenCheck(nonce="")
        await verifier.verify_id_token(fake.sign(fake.claims()), check)
        rotated = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"}, private=True)
        fake.extra_keys.append(rotated)
        clock.advance(11)
        assert (await verifier.verify_id_token(fake.sign(fake.claims(), key=rotated), check)).subject == "oidc-sub-1"
        assert len(fake.seen("/jwks")) == 2
        stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-9"}, private=True)
        for _ in range(3):
            with pytest.raises(IdTokenRejected, match="signature"):
                await verifier.verify_id_token(fake.sign(fake.claims(), key=stranger), check)
        assert len(fake.seen("/jwks")) == 2  # an unknown kid refetches at most once per min_refresh
        clock.advance(11)
        with pytest.raises(IdTokenRejected, match="signature"):
            await verifier.verify_id_token(fake.sign(fake.claims(), key=stranger), check)
        assert len(fake.seen("/jwks")) == 3


# --- discovery and its cache --------------------------------------------------------------
async def test_discovery_is_cached_for_its_ttl_and_served_stale_when_the_issuer_fails(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with google_fake() as fake:
        verifier = build_provider("google", settings(), deps(client, clock, "google", fake)).id_token
        assert verifier is not None
        token = fake.sign(fake.claims(exp=int(time.time()) + 7 * 86400))
        check = IdTokenCheck()
        for _ in range(3):
            await verifier.verify_id_token(token, check)
        assert len(fake.seen("/.well-known/openid-configuration")) == 1 and len(fake.seen("/jwks")) == 1
        clock.advance(3601)
        await verifier.verify_id_token(token, check)
        assert len(fake.seen("/.well-known/openid-configuration")) == 2 and len(fake.seen("/jwks")) == 2
        clock.advance(3601)
        fake.faults["/.well-known/openid-configuration"] = Reply(503, "down")
        fake.faults["/jwks"] = Reply(500, "down")
        assert (await verifier.verify_id_token(token, check)).subject == "oidc-sub-1"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Reply(500, "oops"), "HTTP 500"),
        (Reply(200, "{", {"Content-Type": "application/json"}), "not JSON"),
        (Reply(200, {"issuer": "https://elsewhere.example", "jwks_uri": "x"}), "issuer did not match"),
        (Reply(200, "[]", {"Content-Type": "application/json"}), "not a JSON object"),
        (Reply(200, {"issuer": "ISSUER"}), "without jwks_uri"),
        (Reply(200, {}, delay=1.0), "no answer within"),
    ],
)
async def test_discovery_failures(fault: Reply, message: str, client: httpx.AsyncClient, clock: FixedClock) -> None:
    with google_fake() as fake:
        if isinstance(fault.body, dict) and fault.body.get("issuer") == "ISSUER":
            fault = Reply(200, {"issuer": fake.issuer})
        fake.faults["/.well-known/openid-configuration"] = fault
        cache = OidcProviderCache(client=client, clock=clock, timeout=0.3)
        with pytest.raises(OAuthProviderError, match=message):
            await cache.metadata(fake.issuer)


async def test_jwks_failures_and_a_refused_issuer(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with google_fake() as fake:
        token = fake.sign(fake.claims())
        for fault, message in [(Reply(404, "no"), "HTTP 404"), (Reply(200, {"nokeys": []}), "without keys"), (Reply(200, "x", {"Content-Type": "application/json"}), "not JSON")]:
            fake.faults["/jwks"] = fault
            cache = OidcProviderCache(client=client, clock=clock)
            with pytest.raises(OAuthProviderError, match=message):
                await cache.verify(token, issuer=fake.issuer, check=IdTokenCheck())
        fake.faults["/jwks"] = Reply(200, {"keys": [{"kty": "RSA", "kid": "rsa-1", "n": "!!", "e": "AQAB"}, {"kty": "oct", "k": "c2VjcmV0"}, "junk"]})
        with pytest.raises(IdTokenRejected, match="signature"):
            await OidcProviderCache(client=client, clock=clock).verify(token, issuer=fake.issuer, check=IdTokenCheck())
    with pytest.raises(OAuthProviderError, match="could not reach"):
        await OidcProviderCache(client=client, clock=clock).metadata(f"http://127.0.0.1:{free_port()}")


# --- Keycloak -----------------------------------------------------------------------------
async def test_keycloak_code_flow_reads_userinfo_and_its_id_tokens_verify_against_the_realm(client: httpx.AsyncClient, clock: FixedClock) -> None:
    realm = "/realms/demo"
    info = {"sub": "f:7c1", "name": "Kay Cloak", "email": "kay@example.com", "email_verified": True, "preferred_username": "kay", "groups": ["admins"]}
    with FakeProvider(issuer_path=realm, token_path=realm + "/protocol/openid-connect/token", routes={realm + "/protocol/openid-connect/userinfo": bearer(info)}) as fake:
        built = build_provider("keycloak", settings(fake.issuer + "/"), ProviderDeps(client=client, cache=OidcProviderCache(client=client, clock=clock)))
        assert built.oauth is not None and built.id_token is not None
        url = await built.oauth.authorization_url(AuthorizationRequest(state=STATE))
        assert url.startswith(fake.issuer + "/protocol/openid-connect/auth?") and query_of(url)["scope"] == "profile email"
        data = await built.oauth.user_data(await built.oauth.exchange_code(CODE))
        assert data.emails == (ProviderEmail("kay@example.com", True, True),)
        assert data.claims.custom_claims == {"preferred_username": "kay", "groups": ["admins"]} and data.claims.iss == fake.issuer + "/"
        # the id_token grant uses GOTRUE_EXTERNAL_KEYCLOAK_URL as the issuer, exactly
        built = build_provider("keycloak", settings(fake.issuer), ProviderDeps(client=client, cache=OidcProviderCache(client=client, clock=clock)))
        assert built.id_token is not None
        token = fake.sign(fake.claims(email="kay@example.com", email_verified=True, nonce=HASHED_NONCE, realm_access={"roles": ["x"]}))
        data = await built.id_token.verify_id_token(token, IdTokenCheck(nonce=RAW_NONCE))
    assert data.subject == "oidc-sub-1" and data.emails == (ProviderEmail("kay@example.com", True, True),)
    assert "realm_access" not in data.claims.identity_data() and data.claims.aud == ("client-id",)
    assert build_provider("keycloak", settings(""), ProviderDeps(client=client, cache=OidcProviderCache(client=client, clock=clock))).oauth_unavailable == (
        "unable to find URL for the Keycloak provider"
    )


# --- Apple --------------------------------------------------------------------------------
async def test_apple_form_post_credentials_in_the_form_and_the_first_callbacks_name(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with FakeProvider(client_auth="post", with_id_token=True, id_token_claims=dict(APPLE_ID_TOKEN), algorithms=("RS256",)) as fake:
        provider = build_provider("apple", settings(), deps(client, clock, "apple", fake)).oauth
        assert provider is not None and provider.form_post
        query = query_of(await provider.authorization_url(AuthorizationRequest(state=STATE)))
        assert query["response_mode"] == "form_post" and query["scope"] == "email name"
        tokens = await provider.exchange_code(CODE)
        assert "authorization" not in fake.seen("/token")[0].headers
        user = json.dumps({"name": {"firstName": "Ada", "lastName": "Lovelace"}, "email": "x7@privaterelay.appleid.com"})
        data = await provider.user_data(tokens, {"user": user, "state": STATE})
    assert data.emails == (ProviderEmail("x7@privaterelay.appleid.com", True, True),)
    assert (data.claims.name, data.claims.full_name) == ("Ada Lovelace", "Ada Lovelace")
    assert data.subject == APPLE_ID_TOKEN["sub"]
    assert data.claims.custom_claims == {"is_private_email": True, "auth_time": 1700000000, "transfer_sub": APPLE_ID_TOKEN["transfer_sub"]}


async def test_apple_id_tokens_from_another_issuer_are_refused_before_any_fetch(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with FakeProvider() as fake:
        verifier = build_provider("apple", settings(secret=""), deps(client, clock, "apple", fake)).id_token
        assert verifier is not None  # the id_token grant needs no secret
        with pytest.raises(IdTokenRejected, match="not an Apple issuer"):
            await verifier.verify_id_token(fake.sign(fake.claims(iss="https://evil.example")), IdTokenCheck())
        assert fake.requests == []


def test_apple_client_secret_is_an_es256_jwt_for_apple(clock: FixedClock) -> None:
    key = ECKey.generate_key("P-256", private=True)
    secret = apple_client_secret(team_id="TEAM123456", key_id="KEY1234567", client_id="com.example.web", private_key_pem=key.as_pem(private=True).decode(), now=clock.now())
    token = jwt.decode(secret, key, algorithms=["ES256"])
    assert token.header == {"alg": "ES256", "kid": "KEY1234567", "typ": "JWT"} or token.header == {"alg": "ES256", "kid": "KEY1234567"}
    issued = int(clock.now().timestamp())
    assert token.claims == {"iss": "TEAM123456", "sub": "com.example.web", "aud": "https://appleid.apple.com", "iat": issued, "exp": issued + 180 * 86400}
    with pytest.raises(ValueError, match="180 days"):
        apple_client_secret(team_id="T", key_id="K", client_id="c", private_key_pem=key.as_pem(private=True).decode(), now=clock.now(), lifetime=timedelta(days=181))


# --- Azure --------------------------------------------------------------------------------
async def test_azure_verifies_the_tenant_token_and_reads_xms_edov(client: httpx.AsyncClient, clock: FixedClock) -> None:
    tenant = "/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    # the documented sample plus the optional `email` and `xms_edov` claims (optional-claims-reference)
    claims = {**AZURE_ID_TOKEN, "email": "AbeLi@microsoft.com", "xms_edov": "1"}
    with FakeProvider(issuer_path=tenant, token_path="/tenant/oauth2/v2.0/token", with_id_token=True, id_token_claims=claims) as fake:
        azure_deps = deps(client, clock, "azure", fake, issuer_pattern=f"^{fake.url}/")
        provider = build_provider("azure", settings(fake.url + "/tenant"), azure_deps).oauth
        assert provider is not None
        url = await provider.authorization_url(AuthorizationRequest(state=STATE))
        assert url.startswith(fake.url + "/tenant/oauth2/v2.0/authorize?") and query_of(url)["scope"] == "openid"
        data = await provider.user_data(await provider.exchange_code(CODE))
        assert data.emails == (ProviderEmail("AbeLi@microsoft.com", True, True),) and data.subject == AZURE_ID_TOKEN["sub"]
        assert data.claims.full_name == "Abe Lincoln" and data.claims.preferred_username == "AbeLi@microsoft.com"
        assert {"tid", "oid", "email", "xms_edov"} <= set(data.claims.custom_claims) and "aio" not in data.claims.custom_claims
        fake.id_token_claims["xms_edov"] = False
        unverified = await provider.user_data(await provider.exchange_code(CODE))
        assert unverified.emails == (ProviderEmail("AbeLi@microsoft.com", False, True),)
        fake.token_extra = {"id_token": ""}
        with pytest.raises(OAuthProviderError, match="no OIDC ID token"):
            await provider.user_data(await provider.exchange_code(CODE))


async def test_azure_refuses_tokens_that_name_a_foreign_issuer(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with FakeProvider() as fake:
        verifier = build_provider("azure", settings(), ProviderDeps(client=client, cache=OidcProviderCache(client=client, clock=clock))).id_token
        assert verifier is not None
        with pytest.raises(IdTokenRejected, match="issuer not valid"):
            await verifier.verify_id_token(fake.sign(fake.claims()), IdTokenCheck())
        assert fake.requests == []  # the attacker's discovery document is never fetched


# --- LinkedIn, Kakao, Facebook ---------------------------------------------------------------
async def test_linkedin_oidc_reads_its_string_email_verified(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with FakeProvider(token_path="/oauth/v2/accessToken", with_id_token=True, id_token_claims=dict(LINKEDIN_ID_TOKEN)) as fake:
        provider = build_provider("linkedin_oidc", settings(fake.url), deps(client, clock, "linkedin_oidc", fake)).oauth
        assert provider is not None
        assert (await provider.authorization_url(AuthorizationRequest(state=STATE))).startswith(fake.url + "/oauth/v2/authorization?")
        data = await provider.user_data(await provider.exchange_code(CODE))
        assert data.emails == (ProviderEmail("doe@email.com", True, True),) and data.claims.name == "John Doe"
        assert (data.subject, data.claims.locale, data.claims.picture) == ("782bbtaQ", "en_US", LINKEDIN_ID_TOKEN["picture"])
        fake.id_token_claims["email_verified"] = "yes"
        with pytest.raises(IdTokenRejected, match="Bad ID token"):
            await provider.user_data(await provider.exchange_code(CODE))


async def test_kakao_and_facebook_id_tokens(client: httpx.AsyncClient, clock: FixedClock) -> None:
    with FakeProvider() as fake:
        kakao = await grant(fake, client, clock, fake.sign(fake.claims(nickname="길동", email="k@kakao.com", picture="p", nonce=HASHED_NONCE)), name="kakao")
        assert kakao.emails == (ProviderEmail("k@kakao.com", True, True),) and kakao.claims.preferred_username == "길동"
        facebook = await grant(fake, client, clock, fake.sign(fake.claims(email="f@fb.com", name="F B", nonce="anything")), name="facebook")
        assert facebook.emails == (ProviderEmail("f@fb.com", True, True),) and facebook.claims.email_verified
        with pytest.raises(IdTokenRejected, match="audience"):
            await grant(fake, client, clock, fake.sign(fake.claims(aud="x")), name="facebook")
