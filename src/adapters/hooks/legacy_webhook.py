"""GoTrue's legacy (Netlify) webhook: a JSON POST signed with an HS256 JWT over the body's SHA-256."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

import httpx
import msgspec

from pytrue.application.ports import NO_WEBHOOK_REPLY, HookFailed, WebhookReply
from pytrue.domain.user import User

log = logging.getLogger("pytrue.webhook")

SIGNATURE_HEADER = "x-webhook-signature"
NIL_UUID = "00000000-0000-0000-0000-000000000000"
ISSUER = "gotrue"
SUCCESS = frozenset({200, 202, 204})
REPLY_LIMIT = 1024 * 1024
_JWT_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")


class HttpLegacyWebhook:
    """Posts `{"event", "instance_id", "user"}` to one URL for the configured events.

    GoTrue's rules: each attempt may take `timeout` seconds; an answer other than 200, 202 or 204
    and a timed-out attempt are tried again, up to `retries` attempts in all, at once; a JSON
    answer's `user_metadata`/`app_metadata` replace the user's. Where pytrue differs: a failed
    connection is retried too (GoTrue gives up at once), and no error names the URL."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        url: str,
        secret: str,
        events: Collection[str],
        user_json: Callable[[User], dict[str, Any]],
        retries: int = 3,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retries < 1 or timeout <= 0:
            raise ValueError("webhook retries and timeout must be positive")
        self._client = client
        # credentials in the URL travel as Basic auth, never in the URL httpx logs
        parsed = httpx.URL(url)
        self._auth = httpx.BasicAuth(parsed.username, parsed.password) if parsed.username or parsed.password else None
        self._url = parsed.copy_with(username=None, password=None) if self._auth is not None else parsed
        self._key = secret.encode()
        self._events = frozenset(events)
        self._user_json = user_json
        self._retries = retries
        self._timeout = timeout
        self._clock = clock

    async def send(self, event: str, user: User) -> WebhookReply:
        if event not in self._events:
            return NO_WEBHOOK_REPLY
        body = msgspec.json.encode({"event": event, "instance_id": NIL_UUID, "user": self._user_json(user)})
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers[SIGNATURE_HEADER] = self.signature(body)
        failure = HookFailed("Failed to handle signup webhook", status=422, code="unknown")
        for attempt in range(1, self._retries + 1):
            try:
                async with asyncio.timeout(self._timeout):
                    status, answer = await self._post(body, headers)
            except (TimeoutError, httpx.TimeoutException):
                log.info("webhook %s attempt %d of %d: no answer within %gs", event, attempt, self._retries, self._timeout)
                failure = HookFailed(
                    f"Failed to perform webhook in time frame ({self._timeout:g} seconds)", status=504, code="unknown"
                )
                continue
            except httpx.ConnectError:
                log.info("webhook %s attempt %d of %d: could not connect", event, attempt, self._retries)
                failure = HookFailed("Failed to connect to the webhook", status=502, code="unknown")
                continue
            except httpx.HTTPError as error:
                log.info("webhook %s attempt %d of %d: %s", event, attempt, self._retries, type(error).__name__)
                failure = HookFailed("Failed to trigger the webhook", status=500, code="unexpected_failure")
                continue
            if status in SUCCESS:
                log.info("webhook %s attempt %d: HTTP %d", event, attempt, status)
                return _reply(answer)
            log.info("webhook %s attempt %d of %d: bad answer HTTP %d", event, attempt, self._retries, status)
            failure = HookFailed("Failed to handle signup webhook", status=422, code="unknown")
        log.warning("webhook %s failed after %d attempts: %s", event, self._retries, failure.message)
        raise failure

    def signature(self, body: bytes) -> str:
        """GoTrue's `x-webhook-signature`: an HS256 JWT `{iat, iss: gotrue, sub: nil UUID, sha256}`."""
        claims = {
            "iat": int(self._clock()),
            "iss": ISSUER,
            "sub": NIL_UUID,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        signing_input = _JWT_HEADER + b"." + base64.urlsafe_b64encode(msgspec.json.encode(claims)).rstrip(b"=")
        mac = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode("ascii")

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        async with self._client.stream(
            "POST", self._url, content=body, headers=headers, timeout=self._timeout, follow_redirects=False,
            auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
        ) as response:
            if response.status_code not in SUCCESS:
                return response.status_code, b""
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > REPLY_LIMIT:
                    raise HookFailed("Webhook returned malformed JSON", status=500, code="unexpected_failure")
            return response.status_code, bytes(data)


def _reply(data: bytes) -> WebhookReply:
    """GoTrue decodes any non-empty answer as `{"user_metadata": {...}, "app_metadata": {...}}`."""
    if not data.strip():
        return NO_WEBHOOK_REPLY
    malformed = HookFailed("Webhook returned malformed JSON", status=500, code="unexpected_failure")
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise malformed from None
    if body is None:
        return NO_WEBHOOK_REPLY
    if not isinstance(body, dict):
        raise malformed
    user_metadata, app_metadata = body.get("user_metadata"), body.get("app_metadata")
    if any(value is not None and not isinstance(value, dict) for value in (user_metadata, app_metadata)):
        raise malformed
    if user_metadata is None and app_metadata is None:
        return NO_WEBHOOK_REPLY
    return WebhookReply(user_metadata=user_metadata, app_metadata=app_metadata)
