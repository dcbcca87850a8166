"""Apple's client secret: an ES256 JWT signed with the team's Sign in with Apple key."""

from __future__ import annotations

from datetime import datetime, timedelta

from joserfc import jwt
from joserfc.jwk import ECKey

APPLE_AUDIENCE = "https://appleid.apple.com"
MAX_LIFETIME = timedelta(days=180)


def apple_client_secret(
    *, team_id: str, key_id: str, client_id: str, private_key_pem: str, now: datetime, lifetime: timedelta = MAX_LIFETIME
) -> str:
    """The `client_secret` Apple's token endpoint wants (iss team, sub Services ID, aud Apple,
    at most six months). GoTrue takes this JWT ready-made in `GOTRUE_EXTERNAL_APPLE_SECRET`."""
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError("an Apple client secret lives at most 180 days")
    key = ECKey.import_key(private_key_pem)
    if key.curve_name != "P-256":
        raise ValueError("Apple client secrets are signed with a P-256 key")
    issued = int(now.timestamp())
    claims = {"iss": team_id, "iat": issued, "exp": issued + int(lifetime.total_seconds()), "aud": APPLE_AUDIENCE, "sub": client_id}
    return jwt.encode({"alg": "ES256", "kid": key_id}, claims, key)
