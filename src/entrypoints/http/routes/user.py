"""The signed-in user's own account: read, update, sign out; list and end their sessions (a pytrue extension)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from pytrue.application.config import Settings
from pytrue.application.use_cases.authenticate import AuthenticateUser
from pytrue.application.use_cases.session_management import ListSessions, RevokeSession
from pytrue.application.use_cases.user import Logout, UpdateUser, UpdateUserCommand
from pytrue.domain.errors import ValidationFailed
from pytrue.entrypoints.http.requests import (
    bearer_token,
    json_response,
    provided,
    redirect_to,
    request_audience,
    request_context,
)
from pytrue.entrypoints.http import limits
from pytrue.entrypoints.http.schemas import UpdateUserBody, decode_body
from pytrue.entrypoints.http.serialize import session_json, user_json


@get("/user")
async def get_user(request: Request[Any, Any, Any]) -> Response[bytes]:
    authenticate_user: AuthenticateUser = provided(request, "authenticate_user")
    settings: Settings = provided(request, "settings")
    principal = await authenticate_user(bearer_token(request))
    token_aud = principal.claims.get("aud")
    if isinstance(token_aud, list):
        token_aud = token_aud[0] if token_aud else None
    if not isinstance(token_aud, str) or request_audience(request, settings.jwt, principal.claims) != token_aud:
        raise ValidationFailed("Token audience doesn't match request audience")
    assert principal.user is not None
    return json_response(user_json(principal.user))


@put("/user")
async def update_user(
    request: Request[Any, Any, Any],
    authenticate_user: NamedDependency[AuthenticateUser],
    update_user_use_case: NamedDependency[UpdateUser],
) -> Response[bytes]:
    await limits.limit(request, limits.USER)
    principal = await authenticate_user(bearer_token(request))
    body = decode_body(await request.body(), UpdateUserBody)
    user = await update_user_use_case(
        principal,
        UpdateUserCommand(
            password=body.password,
            current_password=body.current_password,
            nonce=body.nonce,
            data=body.data,
            app_metadata=body.app_metadata,
            email=body.email,
            phone=body.phone,
            channel=body.channel,
            redirect_to=redirect_to(request),
            code_challenge=body.code_challenge,
            code_challenge_method=body.code_challenge_method,
            ctx=request_context(request),
        ),
    )
    return json_response(user_json(user))


@post("/logout", status_code=200)
async def logout(
    request: Request[Any, Any, Any],
    authenticate_user: NamedDependency[AuthenticateUser],
    logout_use_case: NamedDependency[Logout],
) -> Response[bytes]:
    principal = await authenticate_user(bearer_token(request))
    await logout_use_case(principal, request.query_params.get("scope", ""))
    return Response(content=b"", status_code=204)


@get("/user/sessions")
async def list_sessions(
    request: Request[Any, Any, Any],
    authenticate_user: NamedDependency[AuthenticateUser],
    list_sessions_use_case: NamedDependency[ListSessions],
) -> Response[bytes]:
    principal = await authenticate_user(bearer_token(request))
    listed = await list_sessions_use_case(principal)
    items = [{**session_json(s), "current": s.id == listed.current} for s in listed.sessions]
    return json_response({"sessions": items})


@delete("/user/sessions/{session_id:str}", status_code=200)
async def revoke_session(
    request: Request[Any, Any, Any],
    session_id: FromPath[str],
    authenticate_user: NamedDependency[AuthenticateUser],
    revoke_session_use_case: NamedDependency[RevokeSession],
) -> Response[bytes]:
    principal = await authenticate_user(bearer_token(request))
    await revoke_session_use_case(principal, session_id)
    return json_response({})
