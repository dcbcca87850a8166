"""What every SMS provider adapter shares: one POST over the shared client, failures as `SmsProviderError`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from pytrue.application.ports import SmsProviderError

DEFAULT_TIMEOUT = 10.0
MAX_DETAIL = 300


def require(value: str, message: str) -> str:
    if not value:
        raise ValueError(message)
    return value


class ProviderCall:
    """Posts a form to one provider and reads its JSON answer; `secrets` never appear in an error."""

    __slots__ = ("_client", "_timeout", "_name", "_secrets")

    def __init__(self, *, client: httpx.AsyncClient, timeout: float, name: str, secrets: tuple[str, ...]) -> None:
        if timeout <= 0:
            raise ValueError("the SMS provider timeout must be positive")
        self._client = client
        self._timeout = timeout
        self._name = name
        self._secrets = tuple(secret for secret in secrets if secret)

    async def post(
        self,
        url: str,
        form: Mapping[str, str],
        *,
        auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self._client.post(
                url,
                data=dict(form),
                auth=auth,
                headers=dict(headers or {}),
                timeout=self._timeout,
                follow_redirects=False,
            )
        except httpx.TimeoutException:
            raise self.error(f"no answer within {self._timeout:g} seconds") from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise self.error(f"could not reach the provider ({type(error).__name__})") from None

    def json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            raise self.error(f"unexpected response (HTTP {response.status_code}, not JSON)") from None

    def error(self, detail: str, *, message_id: str = "") -> SmsProviderError:
        """`<provider> error: detail`, as GoTrue words its own checks."""
        return self.fail(f"{self._name} error: {detail}", message_id=message_id)

    def fail(self, message: str, *, message_id: str = "") -> SmsProviderError:
        """The provider's words as they are, bounded and with any credential blotted out."""
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        if len(message) > MAX_DETAIL:
            message = message[:MAX_DETAIL] + "…"
        return SmsProviderError(message, message_id=message_id)


def text(value: Any) -> str:
    """A JSON scalar as Go's `%v` of a string field shows it (null is empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, dict) else None


def first(body: Any, name: str) -> Any:
    """The first element of the list `body[name]`, or None."""
    items = field(body, name)
    return items[0] if isinstance(items, list) and items else None
