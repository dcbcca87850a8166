"""The request id and the one `request completed` line per request, as GoTrue's request logger writes them.

`wrap` goes around the whole Litestar ASGI handler (outside its exception handling, so a 404 or a
405 is logged too). Per request it sets the request id, from GOTRUE_API_REQUEST_ID_HEADER when that
header is configured and present, else a random UUID, into `observability.current`, echoes it in
the response under the configured header, and after the response logs `request completed` with
GoTrue's fields (component, method, path, remote_addr, referer, request_id, status, duration in
nanoseconds, grant_type on /token, error_code, error, auth_event, user_id, session_id). The level
follows the status: error for 5xx, warning for 4xx, info otherwise; `/health` is not logged.
Nothing but the id and the clock is computed for a line the level drops.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from pytrue.application.ports import AccessTokenVerifier
from pytrue.domain.redirects import RedirectPolicy
from pytrue.entrypoints.http.requests import _ip
from pytrue.entrypoints.json_logs import RequestLog, current

log = logging.getLogger("pytrue.http")

_ADMIN_USER = re.compile(r"^/admin/users/([0-9a-fA-F-]{36})(?:/|$)")


def level_for(status: int) -> int:
    if status >= 500:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    return logging.INFO


def wrap(app: ASGIApp, request_id_header: str, redirects: RedirectPolicy) -> ASGIApp:
    header = request_id_header.lower().encode("latin-1") if request_id_header else b""
    echo_name = header

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter_ns()
        entry = RequestLog(headers=scope["headers"], id_header=header)
        token = current.set(entry)
        response: dict[str, Any] = {"status": 500, "headers": ()}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = message.get("headers") or ()
                if echo_name:
                    message["headers"] = [*response["headers"], (echo_name, entry.request_id.encode("latin-1"))]
            await send(message)

        try:
            await app(scope, receive, send_logged)
        finally:
            try:
                status = response["status"]
                level = level_for(status)
                if scope["path"] != "/health" and log.isEnabledFor(level):
                    log.log(level, "request completed", extra={"fields": _fields(scope, entry, response, started, redirects)})
            finally:
                current.reset(token)

    return handle


def _fields(scope: Scope, entry: RequestLog, response: dict[str, Any], started: int, redirects: RedirectPolicy) -> dict[str, Any]:
    path: str = scope["path"]
    headers = {name: value for name, value in scope["headers"]}
    fields: dict[str, Any] = {
        "component": "api",
        "method": scope["method"],
        "path": path,
        "remote_addr": _remote_addr(scope, headers),
        "referer": _referer(scope, headers, redirects),
        "request_id": entry.request_id,
        "status": response["status"],
        "duration": time.perf_counter_ns() - started,
    }
    if path == "/token":
        fields["grant_type"] = _query(scope, "grant_type")
    for name, value in response["headers"]:
        if name == b"x-sb-error-code":
            fields["error_code"] = value.decode("latin-1")
            break
    if entry.error:
        fields["error"] = entry.error
    if entry.auth_event is not None:
        fields["auth_event"] = entry.auth_event
    admin_target = _ADMIN_USER.match(path)
    if admin_target is not None:
        fields["user_id"] = admin_target.group(1)  # GoTrue's admin routes log the user they act on
    elif entry.user_id:
        fields["user_id"] = entry.user_id
    if entry.session_id:
        fields["session_id"] = entry.session_id
    return fields


def _query(scope: Scope, name: str) -> str:
    raw: bytes = scope.get("query_string", b"")
    if not raw:
        return ""
    values = parse_qs(raw.decode("latin-1")).get(name)
    return values[0] if values else ""


def _remote_addr(scope: Scope, headers: dict[bytes, bytes]) -> str:
    """GoTrue's GetIPAddress: the first valid X-Forwarded-For address, else the peer's."""
    for candidate in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(","):
        ip = _ip(candidate)
        if ip is not None:
            return ip
    client = scope.get("client")
    return (_ip(client[0]) or client[0]) if client else ""


def _referer(scope: Scope, headers: dict[bytes, bytes], redirects: RedirectPolicy) -> str:
    """GoTrue's GetReferrer: a valid redirect_to (header or query), else a valid Referer, else SITE_URL."""
    redirect_to = headers.get(b"redirect_to", b"").decode("latin-1") or _query(scope, "redirect_to")
    return redirects.resolve(redirect_to or None, headers.get(b"referer", b"").decode("latin-1") or None)


def note_error(message: str) -> None:
    """The error an error response carries, for the request's completed line (GoTrue's `error`)."""
    entry = current.get()
    if entry is not None:
        entry.error = message


class NotingVerifier:
    """The access-token verifier, noting each verified token's `sub` and `session_id` for the log
    lines of the request being served (GoTrue's `user_id`; pytrue's `session_id` too)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: AccessTokenVerifier) -> None:
        self._inner = inner

    def verify(self, token: str, now: datetime) -> dict[str, Any]:
        claims = self._inner.verify(token, now)
        entry = current.get()
        if entry is not None:
            sub = claims.get("sub")
            session_id = claims.get("session_id")
            if isinstance(sub, str) and sub:
                entry.user_id = sub
            if isinstance(session_id, str) and session_id:
                entry.session_id = session_id
        return claims
