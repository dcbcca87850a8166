"""Reading GoTrue's conventions off a request: bearer token, audience, client IP, redirect."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Any

import msgspec
from litestar import Request, Response

from pytrue.application.config import Jwt
from pytrue.application.context import RequestContext
from pytrue.domain.errors import DomainError, ValidationFailed

_BEARER = re.compile(r"^bearer (\S+)$", re.IGNORECASE)


def provided(request: Request[Any, Any, Any], name: str) -> Any:
    """A use case (or `settings`, `links`) by its dependency name, without Litestar's per-request DI.

    The hot handlers (`GET /user`, `POST /token`, `POST /signup`) read their collaborators here:
    Litestar resolves two or more dependencies of a handler in an anyio task group per request,
    which cost about a sixth of `GET /user`'s CPU time (docs/benchmarks.md).
    """
    return request.app.state.provided[name]


def bearer_token(request: Request[Any, Any, Any]) -> str:
    match = _BEARER.match(request.headers.get("authorization", ""))
    if not match:
        raise DomainError("no_authorization", "This endpoint requires a valid Bearer token")
    return match.group(1)


def request_audience(request: Request[Any, Any, Any], jwt: Jwt, claims: dict[str, Any] | None = None) -> str:
    header = request.headers.get("x-jwt-aud")
    if header:
        return header
    if claims is not None and claims.get("role") not in jwt.admin_roles:
        aud = claims.get("aud")
        if isinstance(aud, list):
            aud = aud[0] if aud else ""
        if isinstance(aud, str) and aud:
            return aud
    return jwt.aud


@lru_cache(maxsize=4096)
def _ip(candidate: str) -> str | None:
    """The canonical form of an address, or None; cached, as the same clients come back."""
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    for candidate in request.headers.get("x-forwarded-for", "").split(","):
        ip = _ip(candidate)
        if ip is not None:
            return ip
    return _ip(request.client.host) if request.client else None


def request_context(request: Request[Any, Any, Any]) -> RequestContext:
    return RequestContext(
        ip=client_ip(request), user_agent=request.headers.get("user-agent"), referer=request.headers.get("referer")
    )


def redirect_to(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("redirect_to") or request.query_params.get("redirect_to") or ""


async def refuse_nul_in_query(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook: a NUL in the query string (`%00`) is refused before any handler reads it.

    Async on purpose: Litestar runs a synchronous hook in a worker thread, which cost 120 µs per request.

    PostgreSQL's text cannot hold U+0000 (docs/adr/0018); bodies are checked in `decode_body`.
    """
    query: bytes = request.scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        raise ValidationFailed("Request contains a NUL character (%00), which is not allowed")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers
    )
