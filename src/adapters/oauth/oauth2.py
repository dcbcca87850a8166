"""The OAuth 2.0 authorization-code flow (RFC 6749, PKCE RFC 7636) as Go's oauth2 package speaks it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from pytrue.adapters.oauth.http import ProviderHttp, basic_auth
from pytrue.application.ports import AuthorizationRequest, OAuthProviderError, ProviderTokens

# never taken from the caller's extra parameters (GoTrue's reservedOAuthParams, less `nonce`)
RESERVED_PARAMS = frozenset(
    {"client_id", "client_secret", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method", "code_verifier"}
)

ClientAuth = Literal["auto", "basic", "post"]


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def split_scopes(scopes: str) -> list[str]:
    """GoTrue appends `strings.Split(scopes, ",")`: empty parts are kept out here."""
    return [s for s in scopes.split(",") if s] if scopes else []


@dataclass(frozen=True, slots=True, kw_only=True)
class OAuth2Client:
    """One registered client at one provider: endpoints, credentials and default scopes.

    `client_auth`: `basic` (HTTP Basic), `post` (in the form), or `auto`, Go's default:
    Basic first, then the form once if the endpoint refuses it."""

    client_id: str
    secret: str
    redirect_uri: str
    auth_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    client_auth: ClientAuth = "auto"
    extra_auth_params: tuple[tuple[str, str], ...] = ()
    extra_token_params: tuple[tuple[str, str], ...] = ()
    scope_separator: str = " "

    def authorization_url(self, request: AuthorizationRequest) -> str:
        params: dict[str, str] = {"client_id": self.client_id, "response_type": "code"}
        if self.redirect_uri:
            params["redirect_uri"] = self.redirect_uri
        scopes = [*self.scopes, *split_scopes(request.scopes)]
        if scopes:
            params["scope"] = self.scope_separator.join(scopes)
        params["state"] = request.state
        params.update(self.extra_auth_params)
        for key, value in request.extra_params.items():
            if key.lower() in RESERVED_PARAMS:
                continue
            params["provider" if key == "workos_provider" else key] = value
        if request.nonce:
            params["nonce"] = request.nonce
        if request.code_verifier:
            params["code_challenge"] = s256_challenge(request.code_verifier)
            params["code_challenge_method"] = "S256"
        query = urlencode(sorted(params.items()))
        return self.auth_url + ("&" if "?" in self.auth_url else "?") + query

    async def exchange_code(self, http: ProviderHttp, code: str, *, code_verifier: str = "") -> ProviderTokens:
        form = {"grant_type": "authorization_code", "code": code}
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        if code_verifier:
            form["code_verifier"] = code_verifier
        form.update(self.extra_token_params)
        if self.client_auth == "post":
            return await self._post(http, form, in_form=True)
        try:
            return await self._post(http, form, in_form=False)
        except OAuthProviderError as error:
            if self.client_auth == "basic" or error.reason not in ("status", "refused"):
                raise
            first = error
        try:
            return await self._post(http, form, in_form=True)
        except OAuthProviderError:
            raise first from None  # the provider's answer to the usual way says more

    async def _post(self, http: ProviderHttp, form: Mapping[str, str], *, in_form: bool) -> ProviderTokens:
        headers = {"Accept": "application/json"}
        sent = dict(form)
        if in_form:
            sent["client_id"] = self.client_id
            sent["client_secret"] = self.secret
        else:
            headers["Authorization"] = basic_auth(self.client_id, self.secret)
        response = await http.request("POST", self.token_url, headers=headers, form=sent)
        if not 200 <= response.status_code < 300:
            detail = _error_text(response.text)
            raise http.error(f"token endpoint HTTP {response.status_code}: {detail}", reason="status", status=response.status_code)
        body = http.token_body(response)
        if body.get("error"):
            raise http.error(f"token endpoint refused: {_describe(body)}", reason="refused", status=response.status_code)
        return parse_tokens(body, http)


def parse_tokens(body: Mapping[str, Any], http: ProviderHttp) -> ProviderTokens:
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise http.error("server response missing access_token", reason="malformed")
    known = {"access_token", "token_type", "refresh_token", "expires_in", "id_token", "scope"}
    return ProviderTokens(
        access_token=access,
        token_type=_text(body.get("token_type")),
        refresh_token=_text(body.get("refresh_token")),
        expires_in=_seconds(body.get("expires_in")),
        id_token=_text(body.get("id_token")),
        scope=_text(body.get("scope")),
        extra={k: v for k, v in body.items() if k not in known},
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _seconds(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _describe(body: Mapping[str, Any]) -> str:
    description = body.get("error_description")
    return f"{body.get('error')}" + (f" ({description})" if isinstance(description, str) and description else "")


def _error_text(text: str) -> str:
    return text.strip()[:200] or "(empty body)"
