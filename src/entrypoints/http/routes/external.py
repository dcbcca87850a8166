"""External sign-in: `GET /authorize` and `GET|POST /callback` (api.md §14)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

from litestar import Request, Response, delete, get, route
from litestar.di import NamedDependency
from litestar.params import FromPath

from pytrue.application.config import Settings
from pytrue.application.ports import HookFailed
from pytrue.application.use_cases.external import (
    Authorize,
    AuthorizeCommand,
    CallbackCommand,
    CallbackFailed,
    ExternalCallback,
    OAuthError,
)
from pytrue.application.results import Principal
from pytrue.application.use_cases.authenticate import AuthenticateUser
from pytrue.application.use_cases.identities import UnlinkIdentity
from pytrue.domain.errors import DomainError
from pytrue.entrypoints.http.errors import status_of
from pytrue.entrypoints.http.requests import bearer_token, json_response, request_audience, request_context

log = logging.getLogger("pytrue.http")

# GoTrue's oauthErrorMap: an HTTP status → OAuth's `error`
_OAUTH_ERRORS = {400: "invalid_request", 401: "unauthorized_client", 403: "access_denied", 500: "server_error", 503: "temporarily_unavailable"}
_ACCESS_DENIED = frozenset({"signup_disabled", "user_banned", "provider_email_needs_verification"})


def _redirect(location: str, status: int) -> Response[bytes]:
    return Response(content=b"", status_code=status, headers={"Location": location})


def _authorize_command(request: Request[Any, Any, Any], link_target: UUID | None = None) -> AuthorizeCommand:
    query = request.query_params
    return AuthorizeCommand(
        provider=query.get("provider", ""),
        scopes=query.get("scopes", ""),
        redirect_to=query.get("redirect_to", ""),
        code_challenge=query.get("code_challenge", ""),
        code_challenge_method=query.get("code_challenge_method", ""),
        invite_token=query.get("invite_token", ""),
        query=tuple(parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)),
        link_target=link_target,
        ctx=request_context(request),
    )


@get("/authorize")
async def authorize(request: Request[Any, Any, Any], authorize_external: NamedDependency[Authorize]) -> Response[bytes]:
    return _redirect(await authorize_external(_authorize_command(request)), 302)


async def _linking_principal(request: Request[Any, Any, Any], authenticate_user: AuthenticateUser, settings: Settings) -> Principal:
    """The signed-in user, once manual linking is known to be on (GoTrue: auth, then the flag)."""
    principal = await authenticate_user(bearer_token(request))
    if not settings.security.manual_linking_enabled:
        raise DomainError("manual_linking_disabled", "Manual linking is disabled")
    return principal


@get("/user/identities/authorize")
async def link_identity(
    request: Request[Any, Any, Any],
    authorize_external: NamedDependency[Authorize],
    authenticate_user: NamedDependency[AuthenticateUser],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    principal = await _linking_principal(request, authenticate_user, settings)
    assert principal.user is not None
    url = await authorize_external(_authorize_command(request, link_target=principal.user.id))
    if request.query_params.get("skip_http_redirect") == "true":
        return json_response({"url": url})
    return _redirect(url, 302)


@delete("/user/identities/{identity_id:str}", status_code=200)
async def unlink_identity(
    request: Request[Any, Any, Any],
    identity_id: FromPath[str],
    unlink_identity: NamedDependency[UnlinkIdentity],
    authenticate_user: NamedDependency[AuthenticateUser],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    principal = await _linking_principal(request, authenticate_user, settings)
    await unlink_identity(principal, identity_id, request_aud=request_audience(request, settings.jwt, principal.claims))
    return json_response({})


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
    if isinstance(cause, HookFailed):
        return {"error": _OAUTH_ERRORS.get(cause.status, "server_error"), "error_code": cause.code, "error_description": cause.message}
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
