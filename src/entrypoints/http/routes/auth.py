"""Sign-up and the token endpoint."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, Response, post

from pytrue.application.config import Settings
from pytrue.application.results import AuthResult
from pytrue.application.use_cases.authenticate import AuthenticateUser
from pytrue.application.use_cases.external import OAuthError
from pytrue.application.use_cases.id_token import INVALID_REQUEST, IdTokenGrant, IdTokenGrantCommand, check_id_token_request
from pytrue.application.use_cases.refresh import RefreshTokenCommand, RefreshTokenGrant
from pytrue.application.use_cases.signin import SignInWithPassword, SignInWithPasswordCommand
from pytrue.application.use_cases.signup import SignUp, SignUpCommand
from pytrue.application.use_cases.verify import PkceGrant, PkceGrantCommand
from pytrue.domain.errors import InvalidCredentials
from pytrue.entrypoints.http.requests import bearer_token, json_response, provided, redirect_to, request_audience, request_context
from pytrue.entrypoints.http import limits
from pytrue.entrypoints.http.captcha import UNGUARDED_GRANTS, require_captcha
from pytrue.entrypoints.http.schemas import IdTokenGrantBody, PasswordGrantBody, PkceGrantBody, RefreshGrantBody, SignUpBody, decode_body
from pytrue.entrypoints.http.serialize import token_headers, token_json, user_json


@post("/signup", status_code=200)
async def signup(request: Request[Any, Any, Any]) -> Response[bytes]:
    sign_up: SignUp = provided(request, "sign_up")
    settings: Settings = provided(request, "settings")
    raw = await request.body()
    await require_captcha(request, raw)
    body = decode_body(raw, SignUpBody)
    if body.email or body.phone:
        await limits.limit(request, limits.SIGNUP)
    elif settings.external.anonymous_users.enabled:  # a disabled provider answers before the limiter
        await limits.limit(request, limits.ANONYMOUS)
    result = await sign_up(
        SignUpCommand(
            email=body.email,
            phone=body.phone,
            password=body.password,
            data=body.data or {},
            aud=request_audience(request, settings.jwt),
            redirect_to=redirect_to(request),
            channel=body.channel,
            code_challenge=body.code_challenge,
            code_challenge_method=body.code_challenge_method,
            ctx=request_context(request),
        )
    )
    if result.auth is None:
        return json_response(user_json(result.user))
    return json_response(token_json(result.auth), headers=token_headers(result.auth))


@post("/token", status_code=200)
async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
    settings: Settings = provided(request, "settings")
    raw = await request.body()
    form = _form_fields(request, raw)
    grant_type = form.get("grant_type") or request.query_params.get("grant_type", "")
    if form:
        raw = msgspec.json.encode(form)
    if grant_type not in UNGUARDED_GRANTS:
        await require_captcha(request, raw)
    await limits.limit(request, limits.TOKEN)
    if grant_type == "password":
        body = decode_body(raw, PasswordGrantBody)
        sign_in_with_password: SignInWithPassword = provided(request, "sign_in_with_password")
        result = await sign_in_with_password(
            SignInWithPasswordCommand(
                email=body.email,
                phone=body.phone,
                password=body.password or "",
                aud=request_audience(request, settings.jwt),
                ctx=request_context(request),
            )
        )
    elif grant_type == "refresh_token":
        refresh = decode_body(raw, RefreshGrantBody)
        refresh_token_grant: RefreshTokenGrant = provided(request, "refresh_token_grant")
        result = await refresh_token_grant(
            RefreshTokenCommand(refresh_token=refresh.refresh_token or "", ctx=request_context(request))
        )
    elif grant_type == "pkce":
        exchange = decode_body(raw, PkceGrantBody)
        pkce_grant: PkceGrant = provided(request, "pkce_grant")
        result = await pkce_grant(
            PkceGrantCommand(
                auth_code=exchange.auth_code or "",
                code_verifier=exchange.code_verifier or "",
                ctx=request_context(request),
            )
        )
    elif grant_type == "id_token":
        result = await _id_token_grant(request, decode_body(raw, IdTokenGrantBody), settings)
    else:
        raise InvalidCredentials("unsupported_grant_type")
    return json_response(token_json(result), headers=token_headers(result))


async def _id_token_grant(request: Request[Any, Any, Any], body: IdTokenGrantBody, settings: Settings) -> AuthResult:
    command = IdTokenGrantCommand(
        id_token=body.id_token or "",
        access_token=body.access_token or "",
        nonce=body.nonce or "",
        provider=body.provider or "",
        client_id=body.client_id or "",
        issuer=body.issuer or "",
        link_identity=bool(body.link_identity),
        aud=request_audience(request, settings.jwt),
        ctx=request_context(request),
    )
    check_id_token_request(command)
    if command.link_identity:
        if not request.headers.get("authorization"):
            raise OAuthError(INVALID_REQUEST, "Linking requires a valid user access token in Authorization")
        authenticate_user: AuthenticateUser = provided(request, "authenticate_user")
        principal = await authenticate_user(bearer_token(request))
        command = replace(command, link_target=principal.user.id if principal.user else None)
    id_token_grant: IdTokenGrant = provided(request, "id_token_grant")
    return await id_token_grant(command)


def _form_fields(request: Request[Any, Any, Any], raw: bytes) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body's fields (api.md §4: `grant_type` may be a form field)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}
