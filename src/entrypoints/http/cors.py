"""CORS as GoTrue answers it: any origin reflected, credentials allowed, fixed header lists."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = (
    "Accept",
    "Authorization",
    "Content-Type",
    "X-Client-IP",
    "X-Client-Info",
    "X-JWT-AUD",
    "x-use-cookie",
    "X-Supabase-Api-Version",
)
EXPOSED_HEADERS = "X-Total-Count, Link, X-Supabase-Api-Version"


def cors_middleware_factory(extra_headers: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    allowed = ", ".join(ALLOWED_HEADERS + tuple(h for h in extra_headers if h))

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            headers = dict(scope["headers"])
            origin = headers.get(b"origin")
            if origin is None:
                await app(scope, receive, send)
                return
            if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
                await _preflight(send, origin, allowed)
                return

            async def send_with_cors(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), *_cors_headers(origin)]
                await send(message)

            await app(scope, receive, send_with_cors)

        return handle

    return middleware


def _cors_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
        (b"vary", b"Origin"),
    ]


async def _preflight(send: Send, origin: bytes, allowed_headers: str) -> None:
    headers = [
        *_cors_headers(origin),
        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
        (b"access-control-allow-headers", allowed_headers.encode()),
        (b"access-control-max-age", b"300"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
