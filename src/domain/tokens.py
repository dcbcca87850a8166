"""Access-token claims as GoTrue issues them (tokens.md §1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pytrue.domain.session import Session
from pytrue.domain.user import User


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessTokenSpec:
    """What the domain decides about an access token; an adapter signs it."""

    claims: dict[str, Any]
    issued_at: int
    expires_at: int


def access_token_spec(
    *, user: User, session: Session, now: datetime, lifetime_seconds: int, issuer: str, allow_low_aal: timedelta | None = None
) -> AccessTokenSpec:
    iat = int(now.timestamp())
    exp = iat + lifetime_seconds
    if allow_low_aal is not None and session.aal not in ("aal2", "aal3") and user.has_verified_factor:
        # an aal1 session of a user who could reach aal2 lives only so long (GOTRUE_SESSIONS_ALLOW_LOW_AAL)
        exp = min(exp, int((session.created_at + allow_low_aal).timestamp()))
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "aud": user.aud,
        "exp": exp,
        "iat": iat,
        "email": user.email,
        "phone": user.phone,
        "app_metadata": user.app_metadata,
        "user_metadata": user.user_metadata,
        "role": user.role,
        "aal": session.aal,
        "session_id": str(session.id),
        "is_anonymous": user.is_anonymous,
    }
    if issuer:
        claims["iss"] = issuer
    amr = [
        {"method": c.method, "timestamp": int(c.timestamp.timestamp())}
        for c in session.amr_newest_first()
    ]
    if amr:
        claims["amr"] = amr
    return AccessTokenSpec(claims=claims, issued_at=iat, expires_at=exp)


# What a custom access token hook must leave in the claims, and the types it must keep: GoTrue's
# "minimum viable token" JSON schema (draft-07), checked here without a schema library.
REQUIRED_CLAIMS = ("aud", "exp", "iat", "sub", "email", "phone", "role", "aal", "session_id", "is_anonymous")
_CLAIM_TYPES: dict[str, tuple[str, ...]] = {
    "aud": ("string", "array"),
    "exp": ("integer",),
    "jti": ("string",),
    "iat": ("integer",),
    "iss": ("string",),
    "nbf": ("integer",),
    "sub": ("string",),
    "email": ("string",),
    "phone": ("string",),
    "app_metadata": ("object",),
    "user_metadata": ("object",),
    "role": ("string",),
    "aal": ("string",),
    "amr": ("array",),
    "session_id": ("string",),
    "client_id": ("string",),
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def custom_claims_problems(claims: dict[str, Any]) -> list[str]:
    """What is wrong with the claims a custom access token hook answered, in GoTrue's words
    (`(root): sub is required`, `exp: Invalid type. Expected: integer, given: string`); empty
    when they can be signed."""
    problems = [f"(root): {name} is required" for name in REQUIRED_CLAIMS if name not in claims]
    for name, allowed in _CLAIM_TYPES.items():
        if name not in claims:
            continue
        given = _json_type(claims[name])
        if given not in allowed:
            problems.append(f"{name}: Invalid type. Expected: {', '.join(allowed)}, given: {given}")
    amr = claims.get("amr")
    if isinstance(amr, list):
        for position, entry in enumerate(amr):
            if _json_type(entry) not in ("string", "object"):
                problems.append(f"amr.{position}: Must validate at least one schema (anyOf)")
    return problems
