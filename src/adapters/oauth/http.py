"""Calls to a provider over the shared client; every failure becomes an `OAuthProviderError`."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import httpx

from pytrue.application.ports import OAuthProviderError

DEFAULT_TIMEOUT = 10.0
MAX_DETAIL = 300
MAX_BODY = 1 << 20


class ProviderHttp:
    """One provider's view of the shared client: a timeout, a name for messages, secrets to hide."""

    __slots__ = ("client", "timeout", "name", "_secrets")

    def __init__(self, *, client: httpx.AsyncClient, name: str, timeout: float = DEFAULT_TIMEOUT, secrets: tuple[str, ...] = ()) -> None:
        if timeout <= 0:
            raise ValueError("the OAuth provider timeout must be positive")
        self.client = client
        self.timeout = timeout
        self.name = name
        self._secrets = tuple(s for s in secrets if s)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = await self.client.request(
                method,
                url,
                headers=dict(headers or {}),
                data=dict(form) if form is not None else None,
                params=dict(params) if params is not None else None,
                timeout=self.timeout,
                follow_redirects=False,
            )
        except httpx.TimeoutException:
            raise self.error(f"no answer within {self.timeout:g} seconds", reason="timeout") from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise self.error(f"could not reach the provider ({type(error).__name__})", reason="unreachable") from None
        if len(response.content) > MAX_BODY:
            raise self.error("answer too large", reason="malformed", status=response.status_code)
        return response

    async def get_json(self, url: str, *, bearer: str = "", headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None) -> Any:
        """GET a JSON resource with the access token, as `makeRequest` does: a non-2xx status fails."""
        sent = {"Accept": "application/json", **(headers or {})}
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        response = await self.request("GET", url, headers=sent, params=params)
        self.check_status(response)
        return self.json(response)

    def check_status(self, response: httpx.Response) -> None:
        if not 200 <= response.status_code < 300:
            detail = response.text.strip() or response.reason_phrase
            raise self.error(f"HTTP {response.status_code}: {detail}", reason="status", status=response.status_code)

    def json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            raise self.error(f"unexpected response (HTTP {response.status_code}, not JSON)", reason="malformed", status=response.status_code) from None

    def token_body(self, response: httpx.Response) -> dict[str, Any]:
        """A token endpoint's answer: JSON, or a form body (GitHub without `Accept`)."""
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("application/x-www-form-urlencoded", "text/plain"):
            return dict(parse_qsl(response.text, keep_blank_values=True))
        body = self.json(response)
        if not isinstance(body, dict):
            raise self.error("unexpected token response (not a JSON object)", reason="malformed", status=response.status_code)
        return body

    def error(self, detail: str, *, reason: str, status: int | None = None) -> OAuthProviderError:
        message = f"{self.name}: {detail}"
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        if len(message) > MAX_DETAIL:
            message = message[:MAX_DETAIL] + "…"
        return OAuthProviderError(message, reason=reason, status=status)


def basic_auth(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: both parts form-encoded before the Basic scheme (as Go's oauth2 does)."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def as_dict(value: Any, what: str, http: ProviderHttp) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise http.error(f"unexpected {what} (not a JSON object)", reason="malformed")
    return value


def string(value: Any) -> str:
    """A JSON value read into a Go `string` field: strings as they are, anything else empty."""
    return value if isinstance(value, str) else ""


def integer_text(value: Any) -> str:
    """A numeric id (GitHub, GitLab, Kakao) as Go's `strconv.Itoa` writes it."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return ""
