"""Request bodies as msgspec structs: unknown keys ignored, `null` read as absent.

`decode_body` is also the one place that refuses what PostgreSQL cannot store or a decoder should
not chase (docs/adr/0018): a NUL character in any string or key (`validation_failed`), and JSON
nested deeper than `MAX_JSON_DEPTH` (`bad_json`), on every storage alike.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from pytrue.domain.errors import DomainError, ValidationFailed

T = TypeVar("T")

MAX_JSON_DEPTH = 64
NUL_MESSAGE = "Request contains a NUL character (\\u0000), which is not allowed"
_NUL_ESCAPE = b"\\u0000"


class SignUpBody(msgspec.Struct, kw_only=True):
    email: str | None = None
    phone: str | None = None
    password: str | None = None
    data: dict[str, Any] | None = None
    channel: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class PasswordGrantBody(msgspec.Struct, kw_only=True):
    email: str | None = None
    phone: str | None = None
    password: str | None = None


class RefreshGrantBody(msgspec.Struct, kw_only=True):
    refresh_token: str | None = None


class UpdateUserBody(msgspec.Struct, kw_only=True):
    email: str | None = None
    phone: str | None = None
    password: str | None = None
    data: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
    nonce: str | None = None
    current_password: str | None = None
    channel: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class AdminUserBody(msgspec.Struct, kw_only=True):
    id: str | None = None
    aud: str | None = None
    role: str | None = None
    email: str | None = None
    phone: str | None = None
    password: str | None = None
    password_hash: str | None = None
    email_confirm: bool | None = None
    phone_confirm: bool | None = None
    user_metadata: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
    ban_duration: str | None = None


class VerifyBody(msgspec.Struct, kw_only=True):
    type: str | None = None
    token: str | None = None
    token_hash: str | None = None
    email: str | None = None
    phone: str | None = None
    redirect_to: str | None = None


class OtpBody(msgspec.Struct, kw_only=True):
    email: str | None = None
    phone: str | None = None
    create_user: bool | None = None
    data: dict[str, Any] | None = None
    channel: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class MagicLinkBody(msgspec.Struct, kw_only=True):
    email: str | None = None
    data: dict[str, Any] | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class RecoverBody(msgspec.Struct, kw_only=True):
    email: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class ResendBody(msgspec.Struct, kw_only=True):
    type: str | None = None
    email: str | None = None
    phone: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class InviteBody(msgspec.Struct, kw_only=True):
    email: str | None = None
    data: dict[str, Any] | None = None


class GenerateLinkBody(msgspec.Struct, kw_only=True):
    type: str | None = None
    email: str | None = None
    new_email: str | None = None
    password: str | None = None
    data: dict[str, Any] | None = None
    redirect_to: str | None = None


class PkceGrantBody(msgspec.Struct, kw_only=True):
    auth_code: str | None = None
    code_verifier: str | None = None


class IdTokenGrantBody(msgspec.Struct, kw_only=True):
    id_token: str | None = None
    access_token: str | None = None
    nonce: str | None = None
    provider: str | None = None
    client_id: str | None = None
    issuer: str | None = None
    link_identity: bool | None = None


class EnrollFactorBody(msgspec.Struct, kw_only=True):
    factor_type: str | None = None
    friendly_name: str | None = None
    issuer: str | None = None
    phone: str | None = None


class ChallengeFactorBody(msgspec.Struct, kw_only=True):
    channel: str | None = None
    webauthn: dict[str, Any] | None = None  # auth-js sends {rpId, rpOrigins}; GoTrue reads neither


class VerifyFactorBody(msgspec.Struct, kw_only=True):
    challenge_id: str | None = None
    code: str | None = None
    webauthn: dict[str, Any] | None = None  # {type: create|request, credential_response: {...}}


class AdminFactorBody(msgspec.Struct, kw_only=True):
    friendly_name: str | None = None
    phone: str | None = None


class AdminDeleteBody(msgspec.Struct, kw_only=True):
    should_soft_delete: bool | None = None


def decode_body(raw: bytes, kind: type[T]) -> T:
    """Decode a JSON body leniently; anything unreadable is GoTrue's `bad_json`."""
    if not raw.strip():
        raw = b"{}"
    try:
        body = msgspec.json.decode(raw, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DomainError("bad_json", f"Could not parse request body as JSON: {_reason(exc)}") from None
    except RecursionError:
        raise _too_deep() from None
    if _NUL_ESCAPE in raw or raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        check_json_value(msgspec.json.decode(raw))
    return body


def check_json_value(value: Any) -> None:
    """Refuse a decoded JSON value holding a NUL in any string or key, or nested deeper than MAX_JSON_DEPTH."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValidationFailed(NUL_MESSAGE)
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def _too_deep() -> DomainError:
    return DomainError("bad_json", f"Could not parse request body as JSON: nested deeper than {MAX_JSON_DEPTH} levels")


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200]
