"""External sign-in: `GET /authorize` and `GET|POST /callback` (api.md §14)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, Response, get, route
from litestar.di import NamedDependency

from pytrue.application.config import Settings
from pytrue.application.use_cases.external import (
    Authorize,
    AuthorizeCommand,
    CallbackCommand,
    CallbackFailed,
    ExternalCallback,
    OAuthError,
)
from pytrue.domain.errors import DomainError
from pytrue.entrypoints.http.errors import status_of
from pytrue.entrypoints.http.requests import request_audience, request_context

log = logging.getLogger("pytrue.http")

# GoTrue's oauthErrorMap: an HTTP status → OAuth's `error`
_OAUTH_ERRORS = {400: "invalid_request", 401: "unauthorized_client", 403: "access_denied", 500: "server_error", 503: "temporarily_unavailable"}
_ACCESS_DENIED = frozenset({"signup_disabled", "user_banned", "provider_email_needs_verification"})


def _redirect(location: str, status: int) -> Response[bytes]:
    return Response(content=b"", status_code=status, headers={"Location": location})


@get("/authorize")
async def authorize(request: Request[Any, Any, Any], authorize_external: NamedDependency[Authorize]) -> Response[bytes]:
    query = request.query_params
    url = await authorize_external(
        AuthorizeCommand(
            provider=query.get("provider", ""),
            scopes=query.get("scopes", ""),
            redirect_to=query.get("redirect_to", ""),
            code_challenge=query.get("code_challenge", ""),
            code_challenge_method=query.get("code_challenge_method", ""),
            invite_token=query.get("invite_token", ""),
            query=tuple(parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)),
            ctx=request_context(request),
        )
    )
    return _redirect(url, 302)


@route("/callback", http_method=["GET", "POST"])
async def callback(
    request: Request[Any, Any, Any], external_callback: NamedDependency[ExternalCallback], settings: NamedDependency[Settings]
) -> Response[bytes]:
    params: dict[str, str] = {}
    if request.method == "POST":
        body = await request.body()
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    else:
        params = {k: v for k, v in request.query_params.items()}
    try:
        location = await external_callback(
            CallbackCommand(params=params, aud=request_audience(request, settings.jwt), ctx=request_context(request))
        )
    except CallbackFailed as failed:
        return _error_redirect(failed)
    return _redirect(location, 302)


def _error_fields(cause: Exception) -> dict[str, str]:
    if isinstance(cause, OAuthError):
        return {"error": cause.error, "error_description": cause.description}
    if isinstance(cause, DomainError):
        status = status_of(cause)
        error = "access_denied" if cause.code in _ACCESS_DENIED else _OAUTH_ERRORS.get(status, "server_error")
        if status >= 500:
            log.error("callback failed: %s", cause.message)
        return {"error": error, "error_code": cause.code, "error_description": cause.message}
    return {"error": "server_error", "error_description": str(cause)}


def _error_redirect(failed: CallbackFailed) -> Response[bytes]:
    fields = _error_fields(failed.cause)
    parts = urlsplit(failed.redirect_to)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(fields)
    if failed.state_error:
        return _redirect(urlunsplit(parts._replace(query=urlencode(sorted(query.items())))), 303)
    fragment = {k: fields[k] for k in ("error", "error_description", "error_code") if fields.get(k)}
    fragment["sb"] = ""
    location = urlunsplit(parts._replace(query=urlencode(sorted(query.items())), fragment=urlencode(sorted(fragment.items()))))
    return _redirect(location, 302)
