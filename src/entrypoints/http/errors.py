"""GoTrue's error bodies: one status table, two shapes negotiated by `X-Supabase-Api-Version`."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from pytrue.adapters.crypto.passwords import HasherOverloaded
from pytrue.application.ports import HookFailed, StorageUnavailable
from pytrue.application.use_cases.external import OAuthError
from pytrue.domain.errors import DomainError, WeakPassword
from pytrue.domain.session import RefreshTokenAlreadyUsed
from pytrue.entrypoints import json_logs as observability
from pytrue.entrypoints.http.request_log import note_error

log = logging.getLogger("pytrue.http")

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = "2024-01-01"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

STATUS: dict[str, int] = {
    "validation_failed": 400,
    "bad_json": 400,
    "email_exists": 422,
    "phone_exists": 422,
    "bad_jwt": 403,
    "not_admin": 403,
    "no_authorization": 401,
    "user_not_found": 404,
    "session_not_found": 400,
    "session_expired": 400,
    "refresh_token_not_found": 400,
    "refresh_token_already_used": 400,
    "signup_disabled": 422,
    "user_banned": 400,
    "email_provider_disabled": 400,
    "phone_provider_disabled": 400,
    "anonymous_provider_disabled": 422,
    "sms_send_failed": 422,
    "email_not_confirmed": 400,
    "phone_not_confirmed": 400,
    "user_already_exists": 422,
    "conflict": 409,
    "same_password": 422,
    "weak_password": 422,
    "invalid_credentials": 400,
    "request_entity_too_large": 413,
    "over_request_rate_limit": 429,
    "over_email_send_rate_limit": 429,
    "unexpected_failure": 500,
    "otp_expired": 403,
    "otp_disabled": 422,
    "flow_state_not_found": 404,
    "flow_state_expired": 422,
    "bad_code_verifier": 400,
    "reauthentication_needed": 400,
    "reauthentication_not_valid": 422,
    "current_password_required": 400,
    "current_password_invalid": 400,
    "user_sso_managed": 422,
    "over_sms_send_rate_limit": 429,
    "request_timeout": 504,
    "bad_oauth_callback": 400,
    "bad_oauth_state": 400,
    "flow_state_already_used": 400,
    "oauth_invalid_state": 400,
    "oauth_client_state_not_found": 422,
    "oauth_client_state_expired": 422,
    "provider_email_needs_verification": 422,
    "provider_disabled": 400,
    "identity_already_exists": 422,
    "identity_not_found": 422,
    "single_identity_not_deletable": 422,
    "email_conflict_identity_not_deletable": 422,
    "manual_linking_disabled": 404,
    "invite_not_found": 404,
    "captcha_failed": 400,
    "mfa_factor_not_found": 404,
    "mfa_factor_name_conflict": 422,
    "too_many_enrolled_mfa_factors": 422,
    "insufficient_aal": 422,
    "mfa_verification_failed": 422,
    "mfa_verification_rejected": 403,
    "mfa_challenge_expired": 422,
    "mfa_ip_address_mismatch": 422,
    "mfa_verified_factor_exists": 422,
    "mfa_totp_enroll_not_enabled": 422,
    "mfa_totp_verify_not_enabled": 422,
    "mfa_phone_enroll_not_enabled": 422,
    "mfa_phone_verify_not_enabled": 422,
    "mfa_webauthn_enroll_not_enabled": 422,
    "mfa_webauthn_verify_not_enabled": 422,
    "unexpected_audience": 403,
}

STATUS_IN_CONTEXT: dict[tuple[str, str], int] = {
    ("validation_failed", "path"): 404,
    ("validation_failed", "unprocessable"): 422,
    ("bad_jwt", "subject"): 400,
    ("user_not_found", "bearer"): 403,
    ("user_not_found", "unprocessable"): 422,
    ("insufficient_aal", "forbidden"): 403,
    ("no_authorization", "forbidden"): 403,
    ("mfa_factor_not_found", "unprocessable"): 422,
    ("session_not_found", "bearer"): 403,
    ("session_not_found", "path"): 404,
    ("session_expired", "bearer"): 403,
    ("user_banned", "bearer"): 403,
    ("user_banned", "verify"): 403,
    ("flow_state_not_found", "verify"): 400,
    ("email_not_confirmed", "unprocessable"): 422,
    ("phone_not_confirmed", "unprocessable"): 422,
    ("email_provider_disabled", "login"): 422,
    ("phone_provider_disabled", "login"): 422,
}

UNEXPECTED = "Unexpected failure, please check server logs for more information"


def status_of(error: DomainError) -> int:
    return STATUS_IN_CONTEXT.get((error.code, error.where), STATUS.get(error.code, 400))


def wants_2024(request: Request[Any, Any, Any]) -> bool:
    raw = request.headers.get(API_VERSION_HEADER)
    if not raw or not _DATE.match(raw):
        return False
    return raw >= API_VERSION_2024


def error_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    *,
    extra: dict[str, Any] | None = None,
) -> Response[bytes]:
    headers = {"x-sb-error-code": code}
    note_error(message)
    if wants_2024(request):
        body: dict[str, Any] = {"code": code, "message": message}
        headers[API_VERSION_HEADER] = API_VERSION_2024
    else:
        body = {"code": status, "error_code": code, "msg": message}
        if status >= 500:
            body["error_id"] = request_id(request)
    if extra:
        body.update(extra)
    return Response(
        content=msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers
    )


def request_id(request: Request[Any, Any, Any]) -> str:
    """The request's id, as its log lines carry it (`http/request_log.py`)."""
    known = observability.request_id()
    if known:
        return known
    header = request.app.state.get("request_id_header") if request.app else None
    if header:
        value = request.headers.get(header)
        if value:
            return value
    return str(uuid.uuid4())


def domain_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, DomainError)
    extra = None
    if isinstance(exc, WeakPassword):
        extra = {"weak_password": {"reasons": list(exc.reasons)}}
    response = error_response(request, status_of(exc), exc.code, exc.message, extra=extra)
    if isinstance(exc, RefreshTokenAlreadyUsed) and exc.session_ended:
        response.headers["sb-auth-refresh-token-rotated"] = "true"
    return response


def oauth_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """GoTrue's OAuthError: always 400, `{"error", "error_description"}` in either API version."""
    assert isinstance(exc, OAuthError)
    note_error(exc.description or exc.error)
    body = {"error": exc.error, "error_description": exc.description} if exc.description else {"error": exc.error}
    return Response(content=msgspec.json.encode(body), status_code=400, media_type="application/json")


def hook_failed_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A hook refused or failed: the status, code and message it carries (GoTrue's answer)."""
    assert isinstance(exc, HookFailed)
    log.warning("hook failed: %s %s (HTTP %s)", exc.code, exc.message, exc.status)
    return error_response(request, exc.status, exc.code, exc.message)


def http_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 413:
        return error_response(request, 413, "request_entity_too_large", "Request body too large (max 1048576 bytes)")
    if status == 404:
        return error_response(request, 404, "not_found", "Not Found")
    if status == 405:
        return error_response(request, 405, "method_not_allowed", "Method Not Allowed")
    if status >= 500:
        return unexpected_error_handler(request, exc)
    return error_response(request, status, "validation_failed", "Invalid request")


def storage_unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("storage unavailable: %s", type(exc).__name__)
    return error_response(request, 503, "unexpected_failure", "The database is unavailable, please retry after a moment.")


OVERLOAD_RETRY_AFTER_SECONDS = "1"


def hasher_overloaded_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Too many password hashes already wait: fail fast with a 503 clients may retry."""
    log.warning("password hasher overloaded: %s %s refused", request.method, request.url.path)
    response = error_response(
        request, 503, "unexpected_failure", "The server is busy, please retry after a moment."
    )
    response.headers["Retry-After"] = OVERLOAD_RETRY_AFTER_SECONDS
    return response


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("unexpected failure on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "unexpected_failure", UNEXPECTED)


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    OAuthError: oauth_error_handler,
    HookFailed: hook_failed_handler,
    StorageUnavailable: storage_unavailable_handler,
    HasherOverloaded: hasher_overloaded_handler,
    HTTPException: http_exception_handler,
    Exception: unexpected_error_handler,
}
