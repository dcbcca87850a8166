"""The pure parts of the OAuth adapters: authorization URLs, token bodies, id_token claim mapping."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.adapters.oauth import claims as claim_maps
from pytrue.adapters.oauth.base import choose_host
from pytrue.adapters.oauth.oauth2 import RESERVED_PARAMS, OAuth2Client, s256_challenge, split_scopes
from pytrue.adapters.oauth.oidc import access_token_hash
from pytrue.adapters.oauth.oidc_providers import azure_endpoints
from pytrue.application.ports import AuthorizationRequest, IdTokenRejected
from pytrue.domain.external import ProviderEmail

CLIENT = OAuth2Client(
    client_id="cid", secret="s", redirect_uri="https://auth.example/callback", auth_url="https://p.example/authorize",
    token_url="https://p.example/token", scopes=("email", "profile"),
)  # fmt: skip
keys = st.one_of(st.sampled_from(sorted(RESERVED_PARAMS) + ["scope", "prompt", "Client_ID", "nonce"]), st.text(min_size=1, max_size=6))


@given(st.dictionaries(keys, st.text(max_size=8), max_size=6), st.text(min_size=1, max_size=40))
def test_the_callers_parameters_never_replace_the_servers(extra: dict[str, str], state: str) -> None:
    url = CLIENT.authorization_url(AuthorizationRequest(state=state, extra_params=extra))
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert query["client_id"] == ["cid"] and query["state"] == [state] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["https://auth.example/callback"]
    assert "code_challenge" not in query and "client_secret" not in query
    assert all(len(values) == 1 for values in query.values())


def test_pkce_and_scopes() -> None:
    url = CLIENT.authorization_url(AuthorizationRequest(state="s", scopes="a,,b", code_verifier="x" * 43))
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["email profile a b"] and query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [s256_challenge("x" * 43)]
    # RFC 7636 appendix B
    assert s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert split_scopes("") == [] and split_scopes("a b,c") == ["a b", "c"]


def test_choose_host_and_azure_tenants() -> None:
    assert choose_host("", "gitlab.com") == "https://gitlab.com"
    assert choose_host("https://git.example.com/", "gitlab.com") == "https://git.example.com"
    assert azure_endpoints("")[2] == ""
    tenant = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad"
    assert azure_endpoints(tenant) == (tenant + "/oauth2/v2.0/authorize", tenant + "/oauth2/v2.0/token", tenant + "/v2.0")
    assert azure_endpoints("https://login.microsoftonline.com/common")[2] == ""
    assert azure_endpoints("https://contoso.ciamlogin.com/contoso.onmicrosoft.com")[2] == "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0"


def test_access_token_hash_is_the_left_half_of_the_digest() -> None:
    # OpenID Connect Core, example in appendix A.3 (RS256)
    assert access_token_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "RS256") == "77QmUPtjPfzWtF2AnpK9RQ"


@pytest.mark.parametrize(
    ("edov", "email", "verified"),
    [(None, "a@b.c", True), (True, "a@b.c", True), ("1", "a@b.c", True), ("true", "a@b.c", True), (False, "a@b.c", False),
     ("0", "a@b.c", False), (1, "a@b.c", False), (True, "", False)],
)  # fmt: skip
def test_azure_trusts_an_email_by_xms_edov(edov: Any, email: str, verified: bool) -> None:
    raw = {"sub": "s", "email": email} | ({} if edov is None else {"xms_edov": edov})
    assert claim_maps.azure_email_verified(raw) is verified


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("true", True), ("false", False), (False, False), ("maybe", None), (None, None)])
def test_apple_private_email_flag(value: Any, expected: bool | None) -> None:
    data = claim_maps.apple({"sub": "001", "email": "x@privaterelay.appleid.com", "is_private_email": value})
    assert data.claims.custom_claims.get("is_private_email") == expected
    assert data.emails == (ProviderEmail("x@privaterelay.appleid.com", True, True),)


def test_generic_and_vercel_claims() -> None:
    data = claim_maps.generic({"sub": "1", "email": "g@x.io", "email_verified": True, "custom_claims": {"tier": "pro"}, "groups": ["a"]})
    assert data.emails == (ProviderEmail("g@x.io", True, True),) and data.claims.custom_claims == {"tier": "pro"}
    vercel = claim_maps.vercel_marketplace({"sub": "s", "global_user_id": "g1", "user_email": "v@x.io", "user_name": "V"})
    assert vercel.subject == "global_user_id:g1" and vercel.claims.provider_id == "global_user_id:g1"
    assert claim_maps.snapchat({"sub": "s", "email": "s@x.io"}).claims.email_verified is True
    with pytest.raises(IdTokenRejected):
        claim_maps.linkedin({"sub": "s", "email_verified": True})


def test_oauth1_signature_matches_twitters_documented_example() -> None:
    from pytrue.adapters.oauth.twitter import hmac_sha1_signature, signature_base

    params = [
        ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
        ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
        ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1318622958"),
        ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        ("oauth_version", "1.0"),
    ]
    base = signature_base("post", "https://api.twitter.com/1.1/statuses/update.json?include_entities=true", params)
    assert base.startswith("POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key")
    signature = hmac_sha1_signature(base, "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
    assert signature == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
