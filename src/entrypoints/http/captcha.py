"""The CAPTCHA check of the routes GoTrue protects (its `verifyCaptcha` middleware), before the handler's work."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from pytrue.application.captcha import CaptchaGate
from pytrue.application.use_cases.authenticate import AuthorizeAdmin
from pytrue.domain.errors import DomainError
from pytrue.entrypoints.http.requests import bearer_token, client_ip, provided
from pytrue.entrypoints.http.schemas import decode_body

# grant types GoTrue lets through without a CAPTCHA token (its isIgnoreCaptchaRoute)
UNGUARDED_GRANTS = frozenset({"pkce", "refresh_token", "id_token"})


class _MetaSecurity(msgspec.Struct, kw_only=True):
    captcha_token: str | None = None


class _CaptchaBody(msgspec.Struct, kw_only=True):
    gotrue_meta_security: _MetaSecurity | None = None


async def require_captcha(request: Request[Any, Any, Any], raw: bytes) -> None:
    """`captcha_failed` unless the body's `gotrue_meta_security.captcha_token` passes the provider
    (or the caller presents an admin token, or CAPTCHA is off)."""
    gate: CaptchaGate = provided(request, "captcha_gate")
    if not gate.enabled:
        return
    if request.headers.get("authorization"):
        authorize_admin: AuthorizeAdmin = provided(request, "authorize_admin")
        try:
            await authorize_admin(bearer_token(request))
            return
        except DomainError:
            pass
    body = decode_body(raw, _CaptchaBody)
    token = body.gotrue_meta_security.captcha_token if body.gotrue_meta_security else None
    await gate.check(token or "", client_ip(request) or "")
