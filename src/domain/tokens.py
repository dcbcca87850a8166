"""Access-token claims as GoTrue issues them (tokens.md §1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
    *, user: User, session: Session, now: datetime, lifetime_seconds: int, issuer: str
) -> AccessTokenSpec:
    iat = int(now.timestamp())
    exp = iat + lifetime_seconds
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
