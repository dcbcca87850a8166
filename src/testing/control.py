"""The test server's control routes under `/__pytrue/`, for test suites in other languages.

`pytrue testserver` serves them next to the GoTrue API, so a Node (or any HTTP) test can read
the inbox, make users and sessions, move the clock and reset, as the Python helpers do. Every
call needs the service_role key as bearer token. `pytrue serve` never has them.

    GET  /__pytrue/inbox?to=&kind=        the emails, oldest first
    GET  /__pytrue/inbox/latest?to=&kind= the newest email (404 when none)
    GET  /__pytrue/outbox?to=             the text messages
    GET  /__pytrue/otp?to=                {"otp": code of the newest email or text to `to`}
    POST /__pytrue/users                  create_user: {email, password, phone, user_metadata, app_metadata, confirmed}
    POST /__pytrue/confirm                {email}
    POST /__pytrue/session                {user_id} or {email}: session_for
    POST /__pytrue/clock                  {seconds}: advance_clock
    POST /__pytrue/reset                  reset
"""

from __future__ import annotations

import dataclasses
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from pytrue.testing.server import AsyncAuthServer

PREFIX = "/__pytrue/"
MAX_BODY = 1_000_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def with_control_routes(app: App, server: AsyncAuthServer) -> App:
    """`app` with the control routes in front of it."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await app(scope, receive, send)
            return
        try:
            _authorise(scope, server.service_role_key)
            body = await _body(receive) if scope["method"] == "POST" else {}
            status, answer = await _route(server, scope["method"], scope["path"][len(PREFIX):], _query(scope), body)
        except _Refused as refused:
            status, answer = refused.status, {"error": str(refused)}
        except LookupError as missing:
            status, answer = 404, {"error": str(missing.args[0] if missing.args else missing)}
        except Exception as error:
            from pytrue.domain.errors import DomainError
            from pytrue.testing.server import AuthServerError

            if isinstance(error, AuthServerError):  # an admin call a helper made was refused: its answer
                status, answer = error.status, error.body
            elif isinstance(error, DomainError):  # session_for a banned user
                status, answer = 403, {"error_code": error.code, "error": str(error)}
            else:
                raise
        await _respond(send, status, answer)

    return asgi


def _authorise(scope: Scope, key: str) -> None:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise _Refused(401, "the control routes need the service_role key as bearer token")


def _query(scope: Scope) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {name: values[-1] for name, values in parsed.items()}


async def _body(receive: Receive) -> dict[str, Any]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _Refused(413, "request body too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _Refused(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise _Refused(400, "the body must be a JSON object")
    return body


async def _route(server: AsyncAuthServer, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    route = (method, path.rstrip("/"))
    if route == ("GET", "inbox"):
        return 200, [dataclasses.asdict(mail) for mail in server.inbox.all(query.get("to"), query.get("kind"))]
    if route == ("GET", "inbox/latest"):
        return 200, dataclasses.asdict(server.inbox.latest(_text(query, "to"), query.get("kind")))
    if route == ("GET", "outbox"):
        return 200, [dataclasses.asdict(sms) for sms in server.outbox.all(query.get("to"))]
    if route == ("GET", "otp"):
        return 200, {"otp": server.otp_for(_text(query, "to"))}
    if route == ("POST", "users"):
        allowed = {"email", "password", "phone", "user_metadata", "app_metadata", "confirmed", "role", "id"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise _Refused(400, f"unknown fields: {', '.join(unknown)}")
        return 200, await server.create_user(**body)
    if route == ("POST", "confirm"):
        return 200, await server.confirm(_text(body, "email"))
    if route == ("POST", "session"):
        who = body.get("user_id") or body.get("email")
        if not isinstance(who, str) or not who:
            raise _Refused(400, "session needs user_id or email")
        try:
            return 200, await server.session_for(who)
        except ValueError:
            raise _Refused(400, "user_id is not a UUID") from None
    if route == ("POST", "clock"):
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise _Refused(400, "clock needs seconds, a number >= 0")
        server.advance_clock(seconds)
        return 200, {"advanced": seconds}
    if route == ("POST", "reset"):
        await server.reset()
        return 200, {"reset": True}
    raise _Refused(404, f"no control route {method} {PREFIX}{path}")


def _text(source: dict[str, Any], name: str) -> str:
    value = source.get(name)
    if not isinstance(value, str) or not value:
        raise _Refused(400, f"{name} is required")
    return value


async def _respond(send: Send, status: int, answer: Any) -> None:
    payload = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
