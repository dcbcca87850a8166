"""Email flows: `/verify`, `/otp`, `/magiclink`, `/recover`, `/resend`, `/reauthenticate`, `/invite`, `/admin/generate_link`."""

from __future__ import annotations

import html

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, Response, get, post
from litestar.di import NamedDependency

from pytrue.application.config import Settings
from pytrue.application.results import AuthResult
from pytrue.application.use_cases.authenticate import AuthenticateUser, AuthorizeAdmin
from pytrue.application.use_cases.email_links import (
    MagicLinkCommand,
    Reauthenticate,
    RecoverCommand,
    RecoverPassword,
    Resend,
    ResendCommand,
    SendMagicLink,
)
from pytrue.application.use_cases.otp import OtpCommand, SendOtp
from pytrue.application.use_cases.invite import GenerateLink, GenerateLinkCommand, InviteCommand, InviteUser
from pytrue.application.use_cases.verify import Flow, Verify, VerifyCommand, VerifyResult
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.one_time_token import is_pkce
from pytrue.entrypoints.http import limits
from pytrue.entrypoints.http.captcha import require_captcha
from pytrue.entrypoints.http.errors import status_of
from pytrue.entrypoints.http.requests import (
    bearer_token,
    json_response,
    provided,
    redirect_to,
    request_audience,
    request_context,
)
from pytrue.entrypoints.http.schemas import (
    GenerateLinkBody,
    InviteBody,
    MagicLinkBody,
    OtpBody,
    RecoverBody,
    ResendBody,
    VerifyBody,
    decode_body,
)
from pytrue.entrypoints.http.serialize import token_headers, token_json, user_json

# the OAuth-style `error` a redirect carries, by HTTP status (errors.md §3.1)
OAUTH_ERROR = {
    400: "invalid_request",
    401: "unauthorized_client",
    403: "access_denied",
    500: "server_error",
    503: "temporarily_unavailable",
}


# --- /verify ------------------------------------------------------------------------------


@post("/verify", status_code=200)
async def verify_post(
    request: Request[Any, Any, Any],
    verify: NamedDependency[Verify],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    await limits.limit(request, limits.VERIFY)
    raw = await request.body()
    form = _confirmation_form(request, raw) if settings.mailer.verify_confirmation_page else None
    if form is not None:
        token, kind = form.get("token", ""), form.get("type", "")
        if not kind:
            raise ValidationFailed("Verify requires a verification type")
        if not token:
            raise ValidationFailed("Verify requires a token or a token hash")
        return await _finish_link(request, verify, settings, token, kind, form.get("redirect_to"), None)
    body = decode_body(raw, VerifyBody)
    result = await verify(
        VerifyCommand(
            type=body.type or "",
            token=body.token or "",
            token_hash=body.token_hash or "",
            email=body.email or "",
            phone=body.phone or "",
            redirect_to=body.redirect_to or "",
            aud=request_audience(request, settings.jwt),
            ctx=request_context(request),
        )
    )
    if result.message is not None:
        return json_response({"msg": result.message, "code": "200"})
    assert result.auth is not None
    return json_response(token_json(result.auth), headers=token_headers(result.auth))


@get("/verify")
async def verify_get(
    request: Request[Any, Any, Any],
    verify: NamedDependency[Verify],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    await limits.limit(request, limits.VERIFY)
    query = request.query_params
    token = query.get("token", "")
    kind = query.get("type", "")
    if not kind:
        raise ValidationFailed("Verify requires a verification type")
    if not token:
        raise ValidationFailed("Verify requires a token or a token hash")
    if settings.mailer.verify_confirmation_page:
        return _confirmation_page(token, kind, query.get("redirect_to", ""))
    return await _finish_link(request, verify, settings, token, kind, query.get("redirect_to"), request.headers.get("referer"))


async def _finish_link(
    request: Request[Any, Any, Any],
    verify: Verify,
    settings: Settings,
    token: str,
    kind: str,
    redirect_to: str | None,
    referer: str | None,
) -> Response[bytes]:
    """Spend an emailed link's token and redirect with the session (or the error), as GoTrue's GET does."""
    target = provided(request, "links").redirect_target(redirect_to, referer)
    pkce = is_pkce(token)
    try:
        result = await verify.link(
            VerifyCommand(
                type=kind,
                token_hash=token,
                aud=request_audience(request, settings.jwt),
                ctx=request_context(request),
            )
        )
    except DomainError as error:
        if error.code == "unexpected_failure":
            raise
        return _redirect(_error_url(target, error, pkce))
    return _redirect(_success_url(target, result))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Continue</title></head>
<body><form method="post">
<input type="hidden" name="token" value="{token}"><input type="hidden" name="type" value="{type}">
<input type="hidden" name="redirect_to" value="{redirect_to}">
<p>Press the button to finish signing in.</p><button type="submit">Continue</button>
</form></body></html>
"""


def _confirmation_page(token: str, kind: str, redirect_to: str) -> Response[bytes]:
    """PYTRUE_VERIFY_CONFIRMATION_PAGE: a link only shows a button; a person's POST spends it, so a
    mail scanner that fetches links signs nobody in. The page runs no script and loads nothing."""
    page = _PAGE.format(token=html.escape(token), type=html.escape(kind), redirect_to=html.escape(redirect_to))
    return Response(
        content=page.encode(),
        status_code=200,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _confirmation_form(request: Request[Any, Any, Any], raw: bytes) -> dict[str, str] | None:
    """The confirmation page's fields, when this POST is that page's form."""
    if not request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        return None
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def _redirect(location: str) -> Response[bytes]:
    return Response(content=b"", status_code=303, headers={"Location": location})


def _with(url: str, *, query: dict[str, str] | None = None, fragment: dict[str, str] | None = None) -> str:
    parts = urlsplit(url)
    new_query = parts.query
    if query:
        merged = dict(parse_qsl(parts.query, keep_blank_values=True))
        merged.update(query)
        new_query = urlencode(sorted(merged.items()))
    new_fragment = urlencode(sorted(fragment.items())) if fragment is not None else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, new_query, new_fragment))


def _success_url(target: str, result: VerifyResult) -> str:
    if result.message is not None:
        fragment = {"message": result.message, "sb": ""}
        query = {"message": result.message} if result.flow is Flow.PKCE else None
        return _with(target, query=query, fragment=fragment)
    if result.flow is Flow.PKCE:
        assert result.auth_code is not None
        return _with(target, query={"code": result.auth_code})
    assert result.auth is not None
    return _with(target, fragment=_session_fragment(result.auth, result.type))


def _session_fragment(auth: AuthResult, kind: str) -> dict[str, str]:
    return {
        "access_token": auth.access_token,
        "expires_at": str(auth.expires_at),
        "expires_in": str(auth.expires_in),
        "refresh_token": auth.refresh_token,
        "sb": "",
        "token_type": "bearer",
        "type": kind,
    }


def _error_url(target: str, error: DomainError, pkce: bool) -> str:
    params: dict[str, str] = {}
    oauth = OAUTH_ERROR.get(status_of(error))
    if oauth is not None:
        params["error"] = oauth
    params["error_code"] = error.code
    params["error_description"] = error.message
    return _with(target, query=dict(params) if pkce else None, fragment={**params, "sb": ""})


# --- asking for links and codes -------------------------------------------------------------


def _link_request(request: Request[Any, Any, Any], body: Any, settings: Settings) -> dict[str, Any]:
    """The fields every emailed-link request shares (`LinkRequest`)."""
    return {
        "aud": request_audience(request, settings.jwt),
        "redirect_to": redirect_to(request),
        "code_challenge": body.code_challenge,
        "code_challenge_method": body.code_challenge_method,
        "ctx": request_context(request),
    }


@post("/otp", status_code=200)
async def otp(
    request: Request[Any, Any, Any],
    send_otp: NamedDependency[SendOtp],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    await limits.limit(request, limits.OTP)
    raw = await request.body()
    await require_captcha(request, raw)
    body = decode_body(raw, OtpBody)
    message_id = await send_otp(
        OtpCommand(
            email=body.email,
            phone=body.phone,
            create_user=True if body.create_user is None else body.create_user,
            data=body.data or {},
            channel=body.channel,
            **_link_request(request, body, settings),
        )
    )
    return json_response(_sms_answer(message_id))


@post("/magiclink", status_code=200)
async def magiclink(
    request: Request[Any, Any, Any],
    send_magic_link: NamedDependency[SendMagicLink],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    await limits.limit(request, limits.MAGICLINK)
    raw = await request.body()
    await require_captcha(request, raw)
    body = decode_body(raw, MagicLinkBody)
    await send_magic_link(
        MagicLinkCommand(
            email=body.email,
            data=body.data or {},
            **_link_request(request, body, settings),
        )
    )
    return json_response({})


@post("/recover", status_code=200)
async def recover(
    request: Request[Any, Any, Any],
    recover_password: NamedDependency[RecoverPassword],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    await limits.limit(request, limits.RECOVER)
    raw = await request.body()
    await require_captcha(request, raw)
    body = decode_body(raw, RecoverBody)
    await recover_password(
        RecoverCommand(
            email=body.email,
            **_link_request(request, body, settings),
        )
    )
    return json_response({})


@post("/resend", status_code=200)
async def resend(
    request: Request[Any, Any, Any],
    resend_use_case: NamedDependency[Resend],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    await limits.limit(request, limits.RESEND)
    raw = await request.body()
    await require_captcha(request, raw)
    body = decode_body(raw, ResendBody)
    message_id = await resend_use_case(
        ResendCommand(
            type=body.type or "",
            email=body.email,
            phone=body.phone,
            **_link_request(request, body, settings),
        )
    )
    return json_response(_sms_answer(message_id))


@get("/reauthenticate")
async def reauthenticate(
    request: Request[Any, Any, Any],
    authenticate_user: NamedDependency[AuthenticateUser],
    reauthenticate_use_case: NamedDependency[Reauthenticate],
) -> Response[bytes]:
    principal = await authenticate_user(bearer_token(request))
    message_id = await reauthenticate_use_case(principal, request_context(request))
    return json_response(_sms_answer(message_id))


def _sms_answer(message_id: str) -> dict[str, str]:
    """GoTrue's `{"message_id": …}`, present only when there is one (`omitempty`): `test-otp` in practice."""
    return {"message_id": message_id} if message_id else {}


# --- admin ------------------------------------------------------------------------------------


@post("/invite", status_code=200)
async def invite(
    request: Request[Any, Any, Any],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    invite_user: NamedDependency[InviteUser],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    principal = await authorize_admin(bearer_token(request))
    body = decode_body(await request.body(), InviteBody)
    user = await invite_user(
        InviteCommand(
            email=body.email,
            data=body.data or {},
            aud=request_audience(request, settings.jwt, principal.claims),
            redirect_to=redirect_to(request),
            referer=request.headers.get("referer"),
            admin_role=principal.role,
            ctx=request_context(request),
        )
    )
    return json_response(user_json(user))


@post("/admin/generate_link", status_code=200)
async def generate_link(
    request: Request[Any, Any, Any],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    generate_link_use_case: NamedDependency[GenerateLink],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    principal = await authorize_admin(bearer_token(request))
    body = decode_body(await request.body(), GenerateLinkBody)
    link = await generate_link_use_case(
        GenerateLinkCommand(
            type=body.type or "",
            email=body.email,
            new_email=body.new_email,
            password=body.password,
            data=body.data,
            aud=request_audience(request, settings.jwt, principal.claims),
            redirect_to=body.redirect_to if provided(request, "links").redirects.is_valid(body.redirect_to) else redirect_to(request),
            referer=request.headers.get("referer"),
            admin_role=principal.role,
            ctx=request_context(request),
        )
    )
    response = user_json(link.user)
    response.update(
        {
            "action_link": link.action_link,
            "email_otp": link.email_otp,
            "hashed_token": link.hashed_token,
            "verification_type": link.verification_type,
            "redirect_to": link.redirect_to,
        }
    )
    return json_response(response)
