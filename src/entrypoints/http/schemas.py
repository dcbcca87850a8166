"""Request bodies as msgspec structs: unknown keys ignored, `null` read as absent."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from pytrue.domain.errors import DomainError

T = TypeVar("T")


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


class AdminDeleteBody(msgspec.Struct, kw_only=True):
    should_soft_delete: bool | None = None


def decode_body(raw: bytes, kind: type[T]) -> T:
    """Decode a JSON body leniently; anything unreadable is GoTrue's `bad_json`."""
    if not raw.strip():
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DomainError("bad_json", f"Could not parse request body as JSON: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200]
