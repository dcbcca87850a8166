"""Local stand-ins for OAuth 2.0 / OpenID Connect providers on real sockets.

One `FakeProvider` plays one provider: its token endpoint checks the client's credentials (HTTP
Basic or in the form, as the provider accepts them), the code, the redirect URI and the PKCE
verifier; its resource paths answer canned bodies as the provider would; as an OIDC issuer it
serves a discovery document and a JWKS and signs real id_tokens with a generated key.

Its authorization endpoint (any GET path in `authorize_paths`) plays the browser side: it
redirects to the `redirect_uri` it was given with a fresh one-use code and the `state`. A
`login_hint` naming one of `personas` signs that person in: the code, then the access token,
are bound to them, `persona(seen)` finds them again from a resource request's bearer token, and
their `claims` go into the id_token (with the `nonce` the authorization request carried).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey
from support.fake_http import FakeHttpServer, Reply, Seen

CODE = "the-code"
ACCESS_TOKEN = "provider-access-token"
REFRESH_TOKEN = "provider-refresh-token"


def basic_credentials(seen: Seen) -> tuple[str, str] | None:
    header = seen.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return unquote_plus(user), unquote_plus(password)


def oauth_error(status: int, error: str, description: str = "") -> Reply:
    return Reply(status, {"error": error, "error_description": description})


@dataclass
class FakeProvider:
    """`routes` maps a path (no query) to a reply or a function of the request; `faults` take
    precedence (a path → reply) so a test can break one endpoint. `client_auth`: `basic`,
    `post` or `either`. `code_verifier`, when set, must come with the code."""

    client_id: str = "client-id"
    secret: str = "client-secret"
    redirect_uri: str = "http://localhost:9999/callback"
    token_path: str = "/token"
    client_auth: str = "either"
    code_verifier: str = ""
    token_extra: dict[str, Any] = field(default_factory=dict)
    routes: dict[str, Reply | Callable[[Seen], Reply]] = field(default_factory=dict)
    faults: dict[str, Reply] = field(default_factory=dict)
    with_id_token: bool = False
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    key: Key = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"}, private=True))
    ec_key: Key = field(default_factory=lambda: ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"}, private=True))
    extra_keys: list[Key] = field(default_factory=list)
    issuer_path: str = ""
    discovery_issuer: str | None = None
    authorize_paths: tuple[str, ...] = ("/authorize",)
    personas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.server = FakeHttpServer(self.handle)
        self.tokens_issued = 0
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, str, str]] = {}  # code → (persona, nonce, redirect_uri)
        self._access: dict[str, str] = {}  # access token → persona

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.url

    @property
    def issuer(self) -> str:
        return self.server.url + self.issuer_path

    @property
    def requests(self) -> list[Seen]:
        return self.server.requests

    def seen(self, path: str) -> list[Seen]:
        return [s for s in self.requests if urlsplit(s.path).path == path]

    def __enter__(self) -> FakeProvider:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    # --- id_tokens -----------------------------------------------------------------------
    def sign(self, claims: Mapping[str, Any], *, alg: str = "RS256", key: Key | None = None, header: Mapping[str, Any] | None = None) -> str:
        signer = key or (self.ec_key if alg.startswith("ES") else self.key)
        head = {"alg": alg, "kid": signer.kid, **(header or {})}
        return jwt.encode(head, dict(claims), signer, algorithms=[alg])

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.issuer, "sub": "oidc-sub-1", "aud": self.client_id, "iat": now, "exp": now + 600, **self.id_token_claims}
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def jwks(self) -> dict[str, Any]:
        keys = [self.key, self.ec_key, *self.extra_keys]
        return {"keys": [k.as_dict(private=False) | {"use": "sig", "kid": k.kid} for k in keys]}

    # --- the HTTP side ------------------------------------------------------------------
    def handle(self, seen: Seen) -> Reply:
        path = urlsplit(seen.path).path
        if path in self.faults:
            return self.faults[path]
        if path == self.issuer_path + "/.well-known/openid-configuration":
            return Reply(200, self.discovery())
        if path == "/jwks":
            return Reply(200, self.jwks())
        if path == self.token_path and seen.method == "POST":
            return self.token(seen)
        if path in self.authorize_paths and seen.method == "GET":
            return self.authorize(seen)
        route = self.routes.get(path)
        if route is None:
            return Reply(404, {"message": "Not Found"})
        return route(seen) if callable(route) else route

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer if self.discovery_issuer is not None else self.issuer,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + self.token_path,
            "userinfo_endpoint": self.url + "/userinfo",
            "jwks_uri": self.url + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(self.algorithms),
        }

    def authorize(self, seen: Seen) -> Reply:
        """The user consents at once: back to `redirect_uri` with a one-use code and the state."""
        query = query_of(seen.path)
        target = query.get("redirect_uri", "")
        if not target:
            return Reply(400, {"error": "invalid_request", "error_description": "redirect_uri missing"})
        persona = query.get("login_hint", "")
        if persona and persona not in self.personas:
            return Reply(400, {"error": "access_denied", "error_description": f"unknown persona {persona}"})
        code = "code-" + uuid.uuid4().hex
        with self._lock:
            self._codes[code] = (persona, query.get("nonce", ""), target)
        answer = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        return Reply(302, b"", headers={"Location": f"{target}{'&' if '?' in target else '?'}{urlencode(answer)}"})

    def persona(self, seen: Seen) -> dict[str, Any]:
        """The persona a resource request's bearer token was issued to (KeyError when none)."""
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            return self.personas[self._access[token]]

    def token(self, seen: Seen) -> Reply:
        form = seen.form
        issued = None
        with self._lock:
            if form.get("code", "") in self._codes:
                issued = self._codes.pop(form.get("code", ""))
        if issued is not None:
            return self._token_for(seen, *issued)
        basic = basic_credentials(seen)
        in_form = (form.get("client_id"), form.get("client_secret"))
        if self.client_auth == "basic" and basic is None:
            return oauth_error(401, "invalid_client", "basic authentication required")
        if self.client_auth == "post" and basic is not None:
            return oauth_error(401, "invalid_client", "credentials must be in the form")
        credentials = basic if basic is not None else in_form
        if credentials != (self.client_id, self.secret):
            return oauth_error(401, "invalid_client", "bad client credentials")
        if form.get("grant_type") != "authorization_code":
            return oauth_error(400, "unsupported_grant_type")
        if form.get("code") != CODE or form.get("redirect_uri") != self.redirect_uri:
            return oauth_error(400, "invalid_grant", "bad code or redirect_uri")
        if form.get("code_verifier", "") != self.code_verifier:
            return oauth_error(400, "invalid_grant", "code_verifier mismatch")
        return self._issue(ACCESS_TOKEN, {})

    def _token_for(self, seen: Seen, persona: str, nonce: str, redirect_uri: str) -> Reply:
        """The token answer for a code this server's authorization endpoint issued."""
        form = seen.form
        basic = basic_credentials(seen)
        credentials = basic if basic is not None else (form.get("client_id"), form.get("client_secret"))
        if credentials != (self.client_id, self.secret):
            return oauth_error(401, "invalid_client", "bad client credentials")
        if form.get("redirect_uri") != redirect_uri:
            return oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request's")
        access = f"{ACCESS_TOKEN}-{uuid.uuid4().hex}"
        with self._lock:
            self._access[access] = persona
        claims = dict(self.personas.get(persona, {}).get("claims", {}))
        if nonce:
            claims["nonce"] = nonce
        return self._issue(access, claims)

    def _issue(self, access: str, claims: dict[str, Any]) -> Reply:
        self.tokens_issued += 1
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer", "refresh_token": REFRESH_TOKEN, "expires_in": 3600}
        if self.with_id_token:
            body["id_token"] = self.sign(self.claims(**claims))
        body.update(self.token_extra)
        return Reply(200, body)


def bearer(body: Any, *, token: str = ACCESS_TOKEN, headers: Mapping[str, str] | None = None) -> Callable[[Seen], Reply]:
    """A resource that answers `body` to the right bearer token (and required headers), else 401."""

    def answer(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {token}":
            return Reply(401, {"message": "Bad credentials"})
        for name, value in (headers or {}).items():
            if seen.headers.get(name.lower()) != value:
                return Reply(400, {"message": f"missing header {name}"})
        return Reply(200, body)

    return answer


def query_of(url: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
