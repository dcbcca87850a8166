"""Row-level security in tests: run SQL as the user an access token belongs to.

PostgREST runs each request as the token's role with its claims in `request.jwt.claims`;
`auth.uid()`, `auth.role()`, `auth.email()` and `auth.jwt()` read them. These helpers do the
same inside the caller's transaction (transaction-local settings), so a policy is exercised
exactly as Supabase's Data API would exercise it:

    with psycopg.connect(auth.superuser_dsn) as conn:  # one transaction
        act_as(conn, session["access_token"])
        conn.execute("select * from notes")  # sees only this user's rows
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["act_as", "act_as_async", "claims_of"]

_STATEMENT = "select set_config('request.jwt.claims', %s, true), set_config('role', %s, true)"


def claims_of(access_token: str) -> dict[str, Any]:
    """The claims of a JWT (not verified: the test server issued it)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as error:
        raise ValueError("not a JWT") from error
    if not isinstance(claims, dict):
        raise ValueError("not a JWT")
    return claims


def _parameters(access_token: str | None) -> list[str]:
    if access_token is None:
        return [json.dumps({"role": "anon"}), "anon"]
    claims = claims_of(access_token)
    return [json.dumps(claims), str(claims.get("role") or "authenticated")]


def act_as(conn: Any, access_token: str | None) -> None:
    """Make the rest of `conn`'s transaction run as the token's role with its claims (`anon`
    when None). `conn` is a psycopg connection not in autocommit mode."""
    conn.execute(_STATEMENT, _parameters(access_token))


async def act_as_async(conn: Any, access_token: str | None) -> None:
    """`act_as` for a psycopg `AsyncConnection`."""
    await conn.execute(_STATEMENT, _parameters(access_token))
