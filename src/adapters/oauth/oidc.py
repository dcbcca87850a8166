"""OpenID Connect: discovery documents and JWKS, cached per issuer, and id_token verification.

As go-oidc and GoTrue's `OIDCProviderCache` do it: the discovery document's `issuer` must be the
issuer asked for; a cached entry lives `ttl` and is served stale when a refresh fails; an
unknown `kid` refetches the key set (at most every `min_refresh`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from pytrue.adapters.oauth.http import ProviderHttp, as_dict
from pytrue.application.ports import Clock, IdTokenCheck, IdTokenRejected, OAuthProviderError

SUPPORTED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_KEY_CLASSES: dict[str, type[Key]] = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}
NOT_BEFORE_LEEWAY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcMetadata:
    """The parts of a discovery document pytrue uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class _JwksKey:
    kid: str
    kty: str
    alg: str
    key: Key


class OidcProviderCache:
    """Discovery documents and key sets by issuer over the shared client (`GOTRUE_EXTERNAL_OIDC_PROVIDER_CACHE_TTL`)."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        clock: Clock,
        ttl: timedelta = timedelta(hours=1),
        timeout: float = 10.0,
        min_refresh: timedelta = timedelta(seconds=10),
    ) -> None:
        self._client = client
        self._clock = clock
        self._ttl = ttl
        self._timeout = timeout
        self._min_refresh = min_refresh
        self._documents: dict[str, _Entry] = {}
        self._keys: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _http(self, name: str) -> ProviderHttp:
        return ProviderHttp(client=self._client, name=name, timeout=self._timeout)

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def metadata(self, issuer: str, *, discovery_url: str = "") -> OidcMetadata:
        url = discovery_url or issuer.rstrip("/") + "/.well-known/openid-configuration"
        entry = self._documents.get(issuer)
        if entry is not None and self._clock.now() - entry.fetched_at < self._ttl:
            return entry.value
        async with self._lock("doc:" + issuer):
            entry = self._documents.get(issuer)
            if entry is not None and self._clock.now() - entry.fetched_at < self._ttl:
                return entry.value
            try:
                document = await self._fetch_metadata(issuer, url)
            except OAuthProviderError:
                if entry is not None:
                    return entry.value
                raise
            self._documents[issuer] = _Entry(document, self._clock.now())
            return document

    async def _fetch_metadata(self, issuer: str, url: str) -> OidcMetadata:
        http = self._http(f"OIDC discovery of {issuer}")
        body = as_dict(await http.get_json(url), "discovery document", http)
        if body.get("issuer") != issuer:
            raise http.error(f"issuer did not match the issuer returned by provider, expected {issuer!r} got {body.get('issuer')!r}", reason="malformed")
        jwks_uri = body.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise http.error("discovery document without jwks_uri", reason="malformed")
        offered = body.get("id_token_signing_alg_values_supported")
        algorithms = tuple(a for a in offered if a in SUPPORTED_ALGORITHMS) if isinstance(offered, list) else ()
        return OidcMetadata(
            issuer=issuer,
            authorization_endpoint=_text(body.get("authorization_endpoint")),
            token_endpoint=_text(body.get("token_endpoint")),
            userinfo_endpoint=_text(body.get("userinfo_endpoint")),
            jwks_uri=jwks_uri,
            algorithms=algorithms or ("RS256",),
        )

    async def _key_set(self, jwks_uri: str, *, refresh: bool) -> tuple[_JwksKey, ...]:
        entry = self._keys.get(jwks_uri)
        now = self._clock.now()
        fresh = entry is not None and now - entry.fetched_at < self._ttl
        if fresh and not (refresh and now - entry.fetched_at >= self._min_refresh):
            return entry.value
        async with self._lock("jwks:" + jwks_uri):
            latest = self._keys.get(jwks_uri)
            if latest is not None and latest is not entry and self._clock.now() - latest.fetched_at < self._ttl:
                return latest.value
            try:
                keys = await self._fetch_keys(jwks_uri)
            except OAuthProviderError:
                if latest is not None:
                    return latest.value
                raise
            self._keys[jwks_uri] = _Entry(keys, self._clock.now())
            return keys

    async def _fetch_keys(self, jwks_uri: str) -> tuple[_JwksKey, ...]:
        http = self._http("OIDC key set")
        body = as_dict(await http.get_json(jwks_uri), "key set", http)
        raw_keys = body.get("keys")
        if not isinstance(raw_keys, list):
            raise http.error("key set without keys", reason="malformed")
        keys = []
        for raw in raw_keys:
            parsed = _import(raw)
            if parsed is not None:
                keys.append(parsed)
        return tuple(keys)

    async def verify(
        self,
        id_token: str,
        *,
        issuer: str,
        check: IdTokenCheck,
        skip_issuer_check: bool = False,
        discovery_url: str = "",
    ) -> dict[str, Any]:
        """The verified claims of `id_token`, or `IdTokenRejected` ("Bad ID token" and the reason)."""
        metadata = await self.metadata(issuer, discovery_url=discovery_url)
        header, payload = _split(id_token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in metadata.algorithms:
            raise _bad(f"id token signed with unsupported algorithm, expected {list(metadata.algorithms)} got {alg!r}")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _bad("malformed jwt header: kid is not a string")
        candidates = _candidates(await self._key_set(metadata.jwks_uri, refresh=False), alg, kid)
        if not candidates:
            candidates = _candidates(await self._key_set(metadata.jwks_uri, refresh=True), alg, kid)
        if not _signature_ok(id_token, candidates, alg):
            raise _bad("failed to verify signature")
        claims = _claims(payload)
        self._check_claims(claims, issuer=metadata.issuer, check=check, skip_issuer_check=skip_issuer_check, alg=alg)
        return claims

    def _check_claims(self, claims: Mapping[str, Any], *, issuer: str, check: IdTokenCheck, skip_issuer_check: bool, alg: str) -> None:
        if not skip_issuer_check and claims.get("iss") != issuer:
            raise _bad(f"id token issued by a different provider, expected {issuer!r} got {claims.get('iss')!r}")
        now = self._clock.now().timestamp()
        exp = claims.get("exp")
        if not _number(exp) or now > float(exp):
            raise _bad("token is expired")
        nbf = claims.get("nbf")
        if _number(nbf) and now + NOT_BEFORE_LEEWAY.total_seconds() < float(nbf):
            raise _bad("current time before the nbf (not before) time")
        audiences = _audiences(claims.get("aud"))
        wanted = [a for a in check.audiences if a]
        if (wanted or check.audience_required) and not any(a in audiences for a in wanted):
            raise IdTokenRejected(f"Unacceptable audience in id_token: [{' '.join(audiences)}]")
        if check.nonce is not None:
            _check_nonce(claims.get("nonce"), check.nonce)
        at_hash = claims.get("at_hash")
        if check.access_token and isinstance(at_hash, str) and at_hash:
            if not hmac.compare_digest(at_hash, access_token_hash(check.access_token, alg)):
                raise _bad("access token hash does not match value in ID token")


def access_token_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the token's hash with the signature's SHA-2 size."""
    size = alg[-3:] if alg[-3:] in ("256", "384", "512") else "512"
    digest = hashlib.new("sha" + size, access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _check_nonce(token_nonce: Any, given: str) -> None:
    has_token = isinstance(token_nonce, str) and token_nonce != ""
    if has_token != (given != ""):
        raise IdTokenRejected("Passed nonce and nonce in id_token should either both exist or not.")
    if has_token and not hmac.compare_digest(hashlib.sha256(given.encode()).hexdigest(), token_nonce):
        raise IdTokenRejected("Nonces mismatch", error="invalid nonce")


def _bad(detail: str) -> IdTokenRejected:
    return IdTokenRejected("Bad ID token", detail=detail)


def _b64json(segment: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _split(token: str) -> tuple[dict[str, Any], str]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise _bad("malformed jwt, expected 3 parts")
    header = _b64json(parts[0])
    if not isinstance(header, dict):
        raise _bad("malformed jwt header")
    return header, parts[1]


def _claims(payload: str) -> dict[str, Any]:
    claims = _b64json(payload)
    if not isinstance(claims, dict):
        raise _bad("malformed jwt payload")
    return claims


def _import(raw: Any) -> _JwksKey | None:
    if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
        return None
    kty = raw.get("kty")
    key_class = _KEY_CLASSES.get(kty) if isinstance(kty, str) else None
    if key_class is None:
        return None
    public = {k: v for k, v in raw.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    try:
        key = key_class.import_key(public)
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    return _JwksKey(kid=_text(raw.get("kid")), kty=kty, alg=_text(raw.get("alg")), key=key)


def _candidates(keys: tuple[_JwksKey, ...], alg: str, kid: str | None) -> list[_JwksKey]:
    kty = _KEY_TYPES.get(alg[:2])
    return [k for k in keys if k.kty == kty and (not k.alg or k.alg == alg) and (kid is None or k.kid == kid)]


def _signature_ok(token: str, candidates: list[_JwksKey], alg: str) -> bool:
    for candidate in candidates:
        try:
            jws.deserialize_compact(token, candidate.key, algorithms=[alg])
        except (JoseError, ValueError, TypeError):
            continue
        return True
    return False


def _audiences(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [a for a in value if isinstance(a, str)]
    return []


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
