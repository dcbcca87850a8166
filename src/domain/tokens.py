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
