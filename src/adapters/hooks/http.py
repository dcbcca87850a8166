"""The Standard Webhooks HTTP hook client: a signed JSON POST, with GoTrue's timeout, retries and answers."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import msgspec

from pytrue.adapters.hooks.config import HookSecret
from pytrue.application.ports import HookFailed, UnitOfWork

log = logging.getLogger("pytrue.hooks")

DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 2.0
RESPONSE_LIMIT = 200 * 1024
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_RETRY = object()

INVALID_CONTENT_TYPE = "hook_payload_invalid_content_type"


class HttpHook:
    """Posts the payload to one hook URI, signed with every configured secret.

    GoTrue's rules: one deadline (`timeout`) covers every attempt; a connection that fails is
    tried again after `backoff`, up to `retries` attempts in all; 429 or 503 with `retry-after`
    is tried again at once; any other answer is final. 204 means no output; 200 and 202 must
    be JSON of at most `response_limit` bytes, and `{"error": {"message", "http_code"}}` is the
    hook refusing the request. The message keeps one `webhook-id` across its attempts, as the
    Standard Webhooks spec asks (GoTrue draws a new one for each).
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        uri: str,
        secrets: Sequence[HookSecret],
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        response_limit: int = RESPONSE_LIMIT,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        if not secrets:
            raise ValueError("an HTTP hook needs at least one secret")
        if timeout <= 0 or retries < 1 or backoff < 0 or response_limit < 1:
            raise ValueError("hook timeout, retries, backoff and response limit must be positive")
        self._client = client
        self._uri = uri
        self._secrets = tuple(secrets)
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._limit = response_limit
        self._clock = clock
        self._new_id = new_id

    async def invoke(self, payload: Mapping[str, Any], *, uow: UnitOfWork | None = None) -> dict[str, Any]:
        try:
            body = msgspec.json.encode(dict(payload))
        except (TypeError, ValueError, OverflowError):
            raise HookFailed("Error marshaling JSON input.") from None
        message_id = self._new_id()
        try:
            async with asyncio.timeout(self._timeout):
                data = await self._attempts(message_id, body)
        except TimeoutError:
            raise self._timed_out() from None
        return _output(data)

    async def _attempts(self, message_id: str, body: bytes) -> bytes | None:
        for attempt in range(self._retries):
            try:
                async with self._client.stream(
                    "POST",
                    self._uri,
                    content=body,
                    headers=self._headers(message_id, body),
                    timeout=self._timeout,
                    follow_redirects=False,
                ) as response:
                    outcome = await self._answer(response)
            except httpx.TimeoutException:
                raise self._timed_out() from None
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                log.warning("hook attempt %d failed: %s", attempt + 1, type(error).__name__)
                if attempt == self._retries - 1:
                    raise HookFailed(
                        "Failed to reach hook after maximum retries", status=422, code="hook_timeout_after_retry"
                    ) from None
                await asyncio.sleep(self._backoff)
                continue
            if outcome is not _RETRY:
                return outcome  # type: ignore[return-value]
            log.warning("hook attempt %d: busy, retrying", attempt + 1)
        raise HookFailed("Service currently unavailable due to hook")

    def _headers(self, message_id: str, body: bytes) -> dict[str, str]:
        timestamp = int(self._clock())
        return {
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(secret.sign(message_id, timestamp, body) for secret in self._secrets),
        }

    async def _answer(self, response: httpx.Response) -> object:
        status = response.status_code
        if status == 204:
            return None
        if status in (200, 202):
            _check_content_type(response.headers.get("content-type", ""))
            data = await self._read(response)
            _check_refusal(data)
            return data
        if status in (429, 503):
            if response.headers.get("retry-after"):
                return _RETRY
            raise HookFailed("Service currently unavailable due to hook")
        if status == 400:
            raise HookFailed("Invalid payload sent to hook")
        if status == 401:
            raise HookFailed("Hook requires authorization token")
        raise HookFailed(f"Unexpected status code returned from hook: {status}")

    async def _read(self, response: httpx.Response) -> bytes:
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > self._limit:
                raise HookFailed(
                    f"Payload size exceeded size limit of {self._limit} bytes",
                    status=422,
                    code="hook_payload_over_size_limit",
                )
        return bytes(data)

    def _timed_out(self) -> HookFailed:
        return HookFailed(
            f"Failed to reach hook within maximum time of {self._timeout:f} seconds", status=422, code="hook_timeout"
        )


def _check_content_type(content_type: str) -> None:
    """Go's `mime.ParseMediaType` checks of the media type, then JSON only."""
    if not content_type:
        raise HookFailed("Invalid Content-Type: Missing Content-Type header", status=400, code=INVALID_CONTENT_TYPE)
    media = content_type.split(";", 1)[0].strip().lower()
    problem = _media_type_problem(media)
    if problem:
        raise HookFailed(f"Invalid Content-Type header: mime: {problem}", status=400, code=INVALID_CONTENT_TYPE)
    if media != "application/json":
        raise HookFailed(
            f"Invalid JSON response. Received content-type: {content_type}", status=400, code=INVALID_CONTENT_TYPE
        )


def _media_type_problem(media: str) -> str:
    kind = _TOKEN.match(media)
    if kind is None:
        return "no media type"
    rest = media[kind.end() :]
    if not rest:
        return ""
    if not rest.startswith("/"):
        return "expected slash after first token"
    subtype = _TOKEN.match(rest, 1)
    if subtype is None:
        return "expected token after slash"
    return "unexpected content after media subtype" if rest[subtype.end() :] else ""


def _check_refusal(data: bytes) -> None:
    """`{"error": {"message": …, "http_code": …}}` with a message: the hook refuses the request."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return
    check_refusal(body)


def check_refusal(body: Any) -> None:
    """The decoded answer of any transport: `{"error": {"message", "http_code"}}` refuses."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        return
    code = error.get("http_code")  # type: ignore[union-attr]
    status = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599 else 500
    raise HookFailed(message, status=status, code="unexpected_failure" if status == 500 else "unknown", rejected=True)


def _output(data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise HookFailed("Error unmarshaling JSON output.") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise HookFailed("Error unmarshaling JSON output.")
    return body
