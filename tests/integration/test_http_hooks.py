"""The Standard Webhooks hook client against a local receiver that verifies every signature."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import standardwebhooks
from support.fake_http import FakeHttpServer, Reply, Seen
from support.smtp import free_port

from pytrue.adapters.hooks.config import parse_hook_secrets
from pytrue.adapters.hooks.http import HttpHook
from pytrue.application.ports import HookFailed

KEYS = [base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(2)]
CONFIGURED = "|".join(f"v1,whsec_{key}" for key in KEYS)
PAYLOAD = {"user": {"id": "8f0c1c6e-4a3b-4f3e-9a57-0d5c0b1f2a3c", "phone": "15551234567"}, "sms": {"otp": "123456"}}
OK = Reply(200, {"decision": "continue"})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as shared:
        yield shared


class Receiver:
    """A hook endpoint: refuses (401) anything whose signature does not verify with every key,
    then answers with `replies` in turn (the last one repeats)."""

    def __init__(self, *replies: Reply, keys: list[str] = KEYS, port: int = 0) -> None:
        self.replies = list(replies) or [OK]
        self.verifiers = [standardwebhooks.Webhook("whsec_" + key) for key in keys]
        self.server = FakeHttpServer(self._handle, port=port)
        self.url = self.server.url + "/hooks/send-sms"

    @property
    def requests(self) -> list[Seen]:
        return self.server.requests

    def _handle(self, seen: Seen) -> Reply:
        headers = {name: seen.headers.get(name, "") for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        try:
            for verifier in self.verifiers:
                verifier.verify(seen.body, headers)
        except standardwebhooks.webhooks.WebhookVerificationError:
            return Reply(401, {"error": "bad signature"})
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def __enter__(self) -> Receiver:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)


def hook(client: httpx.AsyncClient, uri: str, **kw: Any) -> HttpHook:
    kw.setdefault("secrets", parse_hook_secrets(CONFIGURED))
    kw.setdefault("timeout", 2.0)
    kw.setdefault("backoff", 0.05)
    return HttpHook(client=client, uri=uri, **kw)


async def refused(call: Callable[[], Any]) -> HookFailed:
    with pytest.raises(HookFailed) as caught:
        await call()
    return caught.value


async def test_a_signed_post_returns_the_hooks_answer(client: httpx.AsyncClient) -> None:
    with Receiver() as receiver:
        answer = await hook(client, receiver.url).invoke(PAYLOAD)
    assert answer == {"decision": "continue"}
    (seen,) = receiver.requests
    assert seen.method == "POST" and seen.path == "/hooks/send-sms"
    assert seen.headers["content-type"] == "application/json"
    assert seen.json() == PAYLOAD
    assert abs(int(seen.headers["webhook-timestamp"]) - time.time()) < 5
    signatures = seen.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(signature.startswith("v1,") for signature in signatures)


async def test_a_signature_the_receiver_cannot_verify_is_gotrues_401_answer(client: httpx.AsyncClient) -> None:
    other = parse_hook_secrets("v1,whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    with Receiver() as receiver:
        error = await refused(lambda: hook(client, receiver.url, secrets=other).invoke(PAYLOAD))
    assert (error.status, error.code, error.message) == (500, "unexpected_failure", "Hook requires authorization token")


@pytest.mark.parametrize("reply", [Reply(204), Reply(202, {"ok": True}), Reply(200, "null", {"Content-Type": "application/json"})])
async def test_no_content_accepted_and_null(reply: Reply, client: httpx.AsyncClient) -> None:
    with Receiver(reply) as receiver:
        answer = await hook(client, receiver.url).invoke(PAYLOAD)
    assert answer == ({"ok": True} if reply.status == 202 else {})


async def test_the_hook_refusing_carries_its_message_and_status(client: httpx.AsyncClient) -> None:
    body = {"error": {"http_code": 429, "message": "Too many texts to this number"}}
    with Receiver(Reply(200, body)) as receiver:
        error = await refused(lambda: hook(client, receiver.url).invoke(PAYLOAD))
    assert (error.status, error.code, error.message, error.rejected) == (
        429,
        "unknown",
        "Too many texts to this number",
        True,
    )


@pytest.mark.parametrize("error_body", [{"message": "no"}, {"message": "no", "http_code": 0}, {"message": "no", "http_code": 99}])
async def test_a_refusal_without_a_usable_status_is_a_500(error_body: dict[str, Any], client: httpx.AsyncClient) -> None:
    with Receiver(Reply(200, {"error": error_body})) as receiver:
        error = await refused(lambda: hook(client, receiver.url).invoke(PAYLOAD))
    assert (error.status, error.code, error.message, error.rejected) == (500, "unexpected_failure", "no", True)


async def test_an_error_object_without_a_message_is_no_refusal(client: httpx.AsyncClient) -> None:
    with Receiver(Reply(200, {"error": {"http_code": 400}})) as receiver:
        assert await hook(client, receiver.url).invoke(PAYLOAD) == {"error": {"http_code": 400}}


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Invalid payload sent to hook"),
        (500, "Unexpected status code returned from hook: 500"),
        (502, "Unexpected status code returned from hook: 502"),
        (307, "Unexpected status code returned from hook: 307"),
        (503, "Service currently unavailable due to hook"),
        (429, "Service currently unavailable due to hook"),
    ],
)
async def test_other_statuses_are_final(status: int, message: str, client: httpx.AsyncClient) -> None:
    reply = Reply(status, {"error": "x"}, {"Location": "http://127.0.0.1:1/"} if status == 307 else {})
    with Receiver(reply) as receiver:
        error = await refused(lambda: hook(client, receiver.url).invoke(PAYLOAD))
    assert (error.status, error.code, error.message) == (500, "unexpected_failure", message)
    assert len(receiver.requests) == 1


async def test_busy_with_retry_after_is_tried_again_at_once_with_the_same_id(client: httpx.AsyncClient) -> None:
    busy = Reply(503, b"", {"Retry-After": "1"})
    with Receiver(busy, OK) as receiver:
        started = time.monotonic()
        answer = await hook(client, receiver.url, backoff=5.0).invoke(PAYLOAD)
    assert answer == {"decision": "continue"}
    assert time.monotonic() - started < 1.0
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body


async def test_busy_every_time_gives_up_after_the_retries(client: httpx.AsyncClient) -> None:
    with Receiver(Reply(429, b"", {"Retry-After": "0"})) as receiver:
        error = await refused(lambda: hook(client, receiver.url).invoke(PAYLOAD))
    assert (error.status, error.message) == (500, "Service currently unavailable due to hook")
    assert len(receiver.requests) == 3


async def test_an_answer_later_than_the_timeout_is_hook_timeout_without_retry(client: httpx.AsyncClient) -> None:
    with Receiver(Reply(200, {}, delay=1.5)) as receiver:
        started = time.monotonic()
        error = await refused(lambda: hook(client, receiver.url, timeout=0.3).invoke(PAYLOAD))
    assert time.monotonic() - started < 1.2
    assert (error.status, error.code) == (422, "hook_timeout")
    assert error.message == "Failed to reach hook within maximum time of 0.300000 seconds"
    assert len(receiver.requests) == 1


async def test_a_refused_connection_is_retried_then_hook_timeout_after_retry(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    error = await refused(lambda: hook(client, f"http://127.0.0.1:{free_port()}/", backoff=0.1).invoke(PAYLOAD))
    assert 0.2 <= time.monotonic() - started < 1.5
    assert (error.status, error.code, error.message) == (
        422,
        "hook_timeout_after_retry",
        "Failed to reach hook after maximum retries",
    )


async def test_retries_that_outlast_the_deadline_are_hook_timeout(client: httpx.AsyncClient) -> None:
    call = hook(client, f"http://127.0.0.1:{free_port()}/", timeout=0.2, backoff=10.0)
    started = time.monotonic()
    error = await refused(lambda: call.invoke(PAYLOAD))
    assert time.monotonic() - started < 1.0
    assert (error.code, error.message) == ("hook_timeout", "Failed to reach hook within maximum time of 0.200000 seconds")


async def test_a_connection_that_comes_back_is_used(client: httpx.AsyncClient) -> None:
    port = free_port()
    task = asyncio.create_task(hook(client, f"http://127.0.0.1:{port}/", backoff=0.3).invoke(PAYLOAD))
    await asyncio.sleep(0.1)
    with Receiver(port=port) as receiver:
        assert await task == {"decision": "continue"}
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("extra", [0, 1])
async def test_the_answer_may_be_at_most_the_limit(extra: int, client: httpx.AsyncClient) -> None:
    limit = 1024
    padding = "x" * (limit - len(json.dumps({"p": ""})) + extra)
    body = json.dumps({"p": padding})
    assert len(body) == limit + extra
    with Receiver(Reply(200, body, {"Content-Type": "application/json"})) as receiver:
        call = hook(client, receiver.url, response_limit=limit)
        if extra:
            error = await refused(lambda: call.invoke(PAYLOAD))
            assert (error.status, error.code) == (422, "hook_payload_over_size_limit")
            assert error.message == "Payload size exceeded size limit of 1024 bytes"
        else:
            assert (await call.invoke(PAYLOAD))["p"] == padding


async def test_the_default_limit_is_gotrues_200_kib(client: httpx.AsyncClient) -> None:
    body = json.dumps({"p": "x" * 210_000})
    with Receiver(Reply(200, body, {"Content-Type": "application/json"})) as receiver:
        error = await refused(lambda: hook(client, receiver.url).invoke(PAYLOAD))
    assert error.message == "Payload size exceeded size limit of 204800 bytes"


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("", "Invalid Content-Type: Missing Content-Type header"),
        ("text/plain", "Invalid JSON response. Received content-type: text/plain"),
        ("; charset=utf-8", "Invalid Content-Type header: mime: no media type"),
        ("application/", "Invalid Content-Type header: mime: expected token after slash"),
    ],
)
async def test_the_answer_must_be_json(content_type: str, message: str, client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with Receiver(Reply(200, b'{"a": 1}', headers)) as receiver:
        error = await refused(lambda: hook(client, receiver.url).invoke(PAYLOAD))
    assert (error.status, error.code, error.message) == (400, "hook_payload_invalid_content_type", message)


async def test_json_with_parameters_is_json(client: httpx.AsyncClient) -> None:
    with Receiver(Reply(200, b'{"a": 1}', {"Content-Type": "Application/JSON; charset=utf-8"})) as receiver:
        assert await hook(client, receiver.url).invoke(PAYLOAD) == {"a": 1}


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]"])
async def test_an_answer_that_is_no_json_object(body: bytes, client: httpx.AsyncClient) -> None:
    with Receiver(Reply(200, body, {"Content-Type": "application/json"})) as receiver:
        error = await refused(lambda: hook(client, receiver.url).invoke(PAYLOAD))
    assert (error.status, error.message) == (500, "Error unmarshaling JSON output.")


async def test_an_unserialisable_payload_sends_nothing(client: httpx.AsyncClient) -> None:
    with Receiver() as receiver:
        error = await refused(lambda: hook(client, receiver.url).invoke({"x": object()}))
    assert error.message == "Error marshaling JSON input."
    assert receiver.requests == []
