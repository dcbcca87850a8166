"""Providers that speak OpenID Connect: Google, Azure, Apple, Keycloak, LinkedIn, and id_token
verifiers for Kakao, Facebook (Limited Login) and Snapchat."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from pytrue.adapters.oauth import claims as claim_maps
from pytrue.adapters.oauth.base import OidcProvider, choose_host
from pytrue.adapters.oauth.claims import ClaimsMapper
from pytrue.adapters.oauth.http import string
from pytrue.adapters.oauth.oidc import OidcProviderCache
from pytrue.application.ports import IdTokenCheck, IdTokenRejected, ProviderTokens
from pytrue.domain.external import Claims, ProviderEmail, UserProvidedData

GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_USERINFO = "https://www.googleapis.com/userinfo/v2/me"
APPLE_ISSUERS = ("https://appleid.apple.com", "https://account.apple.com")
LINKEDIN_ISSUER = "https://www.linkedin.com/oauth"
KAKAO_ISSUER = "https://kauth.kakao.com"
FACEBOOK_ISSUER = "https://www.facebook.com"
SNAPCHAT_ISSUER = "https://accounts.snapchat.com/accounts/oauth2/token"
VERCEL_MARKETPLACE_ISSUER = "https://marketplace.vercel.com"
AZURE_COMMON = "https://login.microsoftonline.com/common/v2.0"
AZURE_ORGANIZATIONS = "https://login.microsoftonline.com/organizations/v2.0"
AZURE_ISSUER = re.compile(r"^https://login[.]microsoftonline[.]com/([^/]+)/v2[.]0/?$")
AZURE_CIAM_ISSUER = re.compile(r"^https://[a-z0-9-]+[.]ciamlogin[.]com/([^/]+)/v2[.]0/?$")


def unverified_issuer(id_token: str) -> str:
    """The `iss` of a token before verification, to pick the issuer whose keys must have signed it."""
    parts = id_token.split(".") if isinstance(id_token, str) else []
    if len(parts) != 3:
        raise IdTokenRejected("Bad ID token", detail="invalid ID token")
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, RecursionError):
        raise IdTokenRejected("Bad ID token", detail="invalid ID token") from None
    return string(payload.get("iss")) if isinstance(payload, dict) else ""


class Google(OidcProvider):
    """Google: the verified id_token from the code exchange; without one, the v2 userinfo API."""

    default_scopes = ("email", "profile")

    def userinfo_data(self, body: Mapping[str, Any]) -> UserProvidedData:
        email, uid, name, picture = string(body.get("email")), string(body.get("id")), string(body.get("name")), string(body.get("picture"))
        verified = body.get("verified_email") is True or body.get("email_verified") is True
        claims = Claims(
            iss=self.userinfo_url, sub=uid, name=name, picture=picture, email=email, email_verified=verified,
            avatar_url=picture, full_name=name, provider_id=uid,
        )  # fmt: skip
        return UserProvidedData(emails=(ProviderEmail(email, verified, True),) if email else (), claims=claims)


class Keycloak(OidcProvider):
    """Keycloak realm at `url`: the person from its userinfo endpoint (extra claims kept as
    custom claims); id_tokens verified against the realm's discovery document."""

    default_scopes = ("profile", "email")
    _standard = frozenset({"name", "sub", "email", "email_verified"})

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        return await self.userinfo(tokens)

    def userinfo_data(self, body: Mapping[str, Any]) -> UserProvidedData:
        email, sub, name = string(body.get("email")), string(body.get("sub")), string(body.get("name"))
        verified = body.get("email_verified") is True
        custom = {k: v for k, v in body.items() if k not in self._standard}
        claims = Claims(
            iss=self.issuer, sub=sub, name=name, email=email, email_verified=verified, custom_claims=custom,
            full_name=name, provider_id=sub,
        )  # fmt: skip
        return UserProvidedData(emails=(ProviderEmail(email, verified, True),) if email else (), claims=claims)


class LinkedinOidc(OidcProvider):
    default_scopes = ("openid", "email", "profile")


class Apple(OidcProvider):
    """Sign in with Apple: `response_mode=form_post` (the callback is a POST), client credentials
    in the form, the id_token's issuer either Apple issuer, the name only in the first callback's
    `user` field."""

    default_scopes = ("email", "name")
    form_post = True

    def __init__(self, *, accepted_issuers: tuple[str, ...] = APPLE_ISSUERS, **kwargs: Any) -> None:
        super().__init__(skip_issuer_check=True, client_auth="post", extra_auth_params=(("response_mode", "form_post"),), **kwargs)
        self.accepted_issuers = accepted_issuers

    async def user_data(self, tokens: ProviderTokens, callback: Mapping[str, str] | None = None) -> UserProvidedData:
        data = await super().user_data(tokens, callback)
        raw_user = (callback or {}).get("user", "")
        if raw_user:
            try:
                user = json.loads(raw_user)
            except (ValueError, RecursionError):
                raise self.http.error("unreadable user field in the callback", reason="malformed") from None
            name = user.get("name") if isinstance(user, dict) and isinstance(user.get("name"), dict) else {}
            full = f"{string(name.get('firstName'))} {string(name.get('lastName'))}".strip()
            data = replace(data, claims=replace(data.claims, name=full, full_name=full))
        return data

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        if not tokens.id_token:
            raise self.http.error("no id_token in the token response", reason="missing")
        return await super().profile(tokens)

    async def _verified(self, id_token: str, check: IdTokenCheck) -> UserProvidedData:
        issuer = unverified_issuer(id_token)
        if issuer not in self.accepted_issuers:
            raise IdTokenRejected("Bad ID token", detail=f"issuer {issuer!r} is not an Apple issuer")
        return await super()._verified(id_token, check)


def azure_endpoints(url: str) -> tuple[str, str, str]:
    """Authorization and token URLs under `url` (default the common tenant), and the issuer
    tokens must have when `url` names one tenant (else "": any Azure issuer)."""
    host = choose_host(url, "login.microsoftonline.com/common")
    expected = ""
    if url:
        expected = host + "/v2.0"
        if not (AZURE_ISSUER.match(expected) or AZURE_CIAM_ISSUER.match(expected)) or expected in (AZURE_COMMON, AZURE_ORGANIZATIONS):
            expected = ""
    return host + "/oauth2/v2.0/authorize", host + "/oauth2/v2.0/token", expected


class Azure(OidcProvider):
    """Microsoft identity platform v2: an id_token is required; its issuer picks the tenant whose
    discovery document and keys verify it (the tenant's when `url` names one)."""

    default_scopes = ("openid",)

    def __init__(self, *, expected_issuer: str = "", issuer_allowed: Callable[[str], bool] | None = None, **kwargs: Any) -> None:
        super().__init__(mapper=claim_maps.azure, **kwargs)
        self.expected_issuer = expected_issuer
        self.issuer_allowed = issuer_allowed or self._azure_issuer

    def _azure_issuer(self, issuer: str) -> bool:
        """A Microsoft issuer (v2, or v1 `sts.windows.net` as the id_token grant allows), or a CIAM
        issuer when `url` names a CIAM tenant. Stricter than GoTrue, whose callback check lets any
        issuer through when no CIAM tenant is configured and then fetches that issuer's keys."""
        if AZURE_ISSUER.match(issuer) or issuer.startswith("https://sts.windows.net/"):
            return True
        return bool(AZURE_CIAM_ISSUER.match(self.expected_issuer) and AZURE_CIAM_ISSUER.match(issuer))

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        if not tokens.id_token:
            raise self.http.error("no OIDC ID token present in response", reason="missing")
        return await super().profile(tokens)

    async def _verified(self, id_token: str, check: IdTokenCheck) -> UserProvidedData:
        issuer = unverified_issuer(id_token)
        if not issuer or not self.issuer_allowed(issuer):
            raise IdTokenRejected("Bad ID token", detail=f"azure: ID token issuer not valid {issuer!r}")
        if self.expected_issuer and issuer != self.expected_issuer:
            raise IdTokenRejected("Bad ID token", detail=f"azure: ID token issuer {issuer!r} does not match expected issuer {self.expected_issuer!r}")
        raw = await self.cache.verify(id_token, issuer=issuer, check=check)
        return self.mapper(raw)


class IdTokenVerifier:
    """An issuer's id_tokens for the id_token grant alone (Kakao, Facebook Limited Login, Snapchat,
    Vercel Marketplace): any of `client_ids` as audience; `skip_nonce` drops the nonce rule."""

    def __init__(
        self,
        *,
        name: str,
        issuer: str,
        client_ids: tuple[str, ...],
        cache: OidcProviderCache,
        mapper: ClaimsMapper,
        skip_nonce: bool = False,
        discovery_url: str = "",
    ) -> None:
        self.name = name
        self.issuer = issuer
        self.client_ids = client_ids
        self.cache = cache
        self.mapper = mapper
        self.skip_nonce = skip_nonce
        self.discovery_url = discovery_url

    async def verify_id_token(self, id_token: str, check: IdTokenCheck) -> UserProvidedData:
        if not check.audiences:
            check = replace(check, audiences=self.client_ids)
        if self.skip_nonce:
            check = replace(check, nonce=None)
        raw = await self.cache.verify(id_token, issuer=self.issuer, check=check, discovery_url=self.discovery_url)
        data = self.mapper(raw)
        if not data.subject:
            raise IdTokenRejected("Missing sub claim in id_token")
        return data


class SkipNonce:
    """`GOTRUE_EXTERNAL_<P>_SKIP_NONCE_CHECK`: the id_token grant's nonce rule is not applied."""

    def __init__(self, inner: OidcProvider) -> None:
        self.inner = inner
        self.name = inner.name

    async def verify_id_token(self, id_token: str, check: IdTokenCheck) -> UserProvidedData:
        return await self.inner.verify_id_token(id_token, replace(check, nonce=None))
