"""Users, identities and sessions rendered exactly as GoTrue's JSON (api.md §0.7–0.8)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pytrue.application.results import AuthResult
from pytrue.domain.mfa import Factor
from pytrue.domain.session import Session
from pytrue.domain.user import Identity, User


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def identity_json(identity: Identity) -> dict[str, Any]:
    body: dict[str, Any] = {
        "identity_id": str(identity.id),
        "id": identity.provider_id,
        "user_id": str(identity.user_id),
        "identity_data": identity.identity_data,
        "provider": identity.provider,
        "created_at": timestamp(identity.created_at),
        "updated_at": timestamp(identity.updated_at),
    }
    if identity.last_sign_in_at is not None:
        body["last_sign_in_at"] = timestamp(identity.last_sign_in_at)
    if identity.email:
        body["email"] = identity.email
    return body


_OPTIONAL_STAMPS = (
    "email_confirmed_at",
    "phone_confirmed_at",
    "confirmation_sent_at",
    "confirmed_at",
    "recovery_sent_at",
    "email_change_sent_at",
    "phone_change_sent_at",
    "reauthentication_sent_at",
    "invited_at",
    "last_sign_in_at",
)


def factor_json(factor: Factor) -> dict[str, Any]:
    """GoTrue's Factor JSON (secrets and WebAuthn credentials never leave the server)."""
    body: dict[str, Any] = {
        "id": str(factor.id),
        "created_at": timestamp(factor.created_at),
        "updated_at": timestamp(factor.updated_at),
        "status": factor.status,
    }
    if factor.friendly_name:
        body["friendly_name"] = factor.friendly_name
    body["factor_type"] = factor.factor_type
    body["phone"] = factor.phone
    body["last_challenged_at"] = timestamp(factor.last_challenged_at) if factor.last_challenged_at else None
    if factor.web_authn_aaguid is not None:
        body["web_authn_aaguid"] = str(factor.web_authn_aaguid)
    return body


def user_json(user: User) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(user.id),
        "aud": user.aud,
        "role": user.role,
        "email": user.email,
        "phone": user.phone,
    }
    for name in _OPTIONAL_STAMPS:
        value = getattr(user, name)
        if value is not None:
            body[name] = timestamp(value)
    if user.email_change:
        body["new_email"] = user.email_change
    if user.phone_change:
        body["new_phone"] = user.phone_change
    body["app_metadata"] = user.app_metadata or {}
    body["user_metadata"] = user.user_metadata or {}
    body["identities"] = [identity_json(i) for i in user.identities]
    if user.factors:
        body["factors"] = [factor_json(f) for f in user.factors]
    body["created_at"] = timestamp(user.created_at)
    body["updated_at"] = timestamp(user.updated_at)
    if user.banned_until is not None:
        body["banned_until"] = timestamp(user.banned_until)
    if user.deleted_at is not None:
        body["deleted_at"] = timestamp(user.deleted_at)
    body["is_anonymous"] = user.is_anonymous
    return body


def session_json(session: Session) -> dict[str, Any]:
    """A session as the session-management extension lists it (docs/adr/0024); never a token or key."""
    return {
        "id": str(session.id),
        "created_at": timestamp(session.created_at),
        "updated_at": timestamp(session.updated_at),
        "refreshed_at": timestamp(session.refreshed_at),
        "user_agent": session.user_agent,
        "ip": session.ip,
        "aal": session.aal,
        "not_after": timestamp(session.not_after),
        "tag": session.tag,
    }


def token_headers(result: AuthResult) -> dict[str, str]:
    """GoTrue's informational `sb-auth-*` headers of a token response (tokens.md §3); clients ignore them."""
    notes = result.diagnostics
    headers = {"sb-auth-user-id": str(result.user.id), "sb-auth-session-id": str(result.session.id)}
    if notes.counter is None:
        headers["sb-auth-refresh-token-prefix"] = result.refresh_token[:5]
    else:
        headers["sb-auth-refresh-token-counter"] = str(notes.counter)
    if notes.reused is not None:
        headers["sb-auth-refresh-token-reuse"] = "true" if notes.reused else "false"
    if notes.reuse_causes:
        headers["sb-auth-refresh-token-reuse-cause"] = ",".join(notes.reuse_causes)
    return headers


def token_json(result: AuthResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": result.access_token,
        "token_type": "bearer",
        "expires_in": result.expires_in,
        "expires_at": result.expires_at,
        "refresh_token": result.refresh_token,
        "user": user_json(result.user),
    }
    if result.provider_token:
        body["provider_token"] = result.provider_token
    if result.provider_refresh_token:
        body["provider_refresh_token"] = result.provider_refresh_token
    if result.weak_password is not None:
        body["weak_password"] = {
            "message": result.weak_password.message,
            "reasons": list(result.weak_password.reasons),
        }
    return body
