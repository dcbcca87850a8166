"""Refresh-token races on PostgreSQL: many pytrue instances, one database (tokens.md §6).

Several apps, each with its own connection pool, stand in for several server processes: the
row locks are the only thing serialising them. The apps are driven through httpx's ASGI
transport on the test's event loop (litestar's AsyncTestClient runs each request to completion
in a portal thread, which would serialise the "simultaneous" requests). Whatever the interleaving, a token is rotated
once, every loser gets the child (the lost-response rule) or `409 conflict`, never a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import psycopg
import pytest
from pgcluster import PgDatabase
from psycopg.rows import dict_row
from support.api import PostgresApi
from support.app import JWT_SECRET

from pytrue.adapters.postgres.repositories import PgRefreshTokenRepository
from pytrue.application.ports import RowLocked

APPS = 5
REQUESTS = 50

Cluster = Callable[..., Awaitable[list[PostgresApi]]]


def _rows(dsn: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def _session_of(access_token: str) -> str:
    claims = jwt.decode(access_token, JWT_SECRET, algorithms=["HS256"], audience="authenticated")
    return str(claims["session_id"])


async def _signed_in(api: PostgresApi, email: str = "race@example.com") -> tuple[str, str]:
    response = await api.signup(email, "s3cret-pass")
    assert response.status_code == 200, response.text
    body = response.json()
    return body["refresh_token"], _session_of(body["access_token"])


@pytest.fixture
def lock_misses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every `RowLocked` the repository raises, to prove the requests really overlapped."""
    misses: list[str] = []
    original = PgRefreshTokenRepository.lock

    async def lock(self: PgRefreshTokenRepository, token: str) -> Any:
        try:
            return await original(self, token)
        except RowLocked:
            misses.append(token)
            raise

    monkeypatch.setattr(PgRefreshTokenRepository, "lock", lock)
    return misses


@pytest.mark.parametrize("interval", [0, 10])
async def test_fifty_simultaneous_refreshes_rotate_once(
    apps: Cluster, database: PgDatabase, lock_misses: list[str], interval: int
) -> None:
    cluster = await apps(APPS, {"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": str(interval)})
    token, session_id = await _signed_in(cluster[0])
    before = _rows(database.dsn, "SELECT id FROM auth.refresh_tokens")

    responses = await asyncio.gather(*(cluster[i % APPS].refresh(token) for i in range(REQUESTS)))

    assert lock_misses, "the refreshes never contended for the row lock"
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, [(r.status_code, r.text) for r in responses if r.status_code not in (200, 409)]
    assert statuses.count(200) >= 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error_code"] == "conflict"
    after = _rows(database.dsn, "SELECT * FROM auth.refresh_tokens ORDER BY id")
    new = [row for row in after if row["id"] not in {b["id"] for b in before}]
    assert len(new) == 1, new
    child = new[0]
    assert (child["parent"], str(child["session_id"]), child["revoked"]) == (token, session_id, False)
    issued = {r.json()["refresh_token"] for r in responses if r.status_code == 200}
    assert issued == {child["token"]}
    assert {_session_of(r.json()["access_token"]) for r in responses if r.status_code == 200} == {session_id}
    live = [row for row in after if str(row["session_id"]) == session_id and not row["revoked"]]
    assert [row["token"] for row in live] == [child["token"]]

    # the child is an ordinary token afterwards
    follow = await cluster[1].refresh(child["token"])
    assert follow.status_code == 200, follow.text


async def test_simultaneous_refreshes_of_different_sessions_do_not_conflict(
    apps: Cluster, database: PgDatabase
) -> None:
    cluster = await apps(APPS)
    tokens = [await _signed_in(cluster[0], f"user{i}@example.com") for i in range(10)]

    responses = await asyncio.gather(*(cluster[i % APPS].refresh(t) for i, (t, _) in enumerate(tokens)))

    assert [r.status_code for r in responses] == [200] * len(tokens), [r.text for r in responses]
    live = _rows(database.dsn, "SELECT session_id, count(*) AS n FROM auth.refresh_tokens WHERE NOT revoked "
                 "GROUP BY session_id")
    assert sorted(row["n"] for row in live) == [1] * len(tokens)


async def test_reuse_after_the_interval_revokes_the_family(apps: Cluster, database: PgDatabase) -> None:
    first, second = await apps(2, {"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": "0"})
    original, session_id = await _signed_in(first)
    child = await first.refresh(original)
    assert child.status_code == 200, child.text
    grandchild = await second.refresh(child.json()["refresh_token"])
    assert grandchild.status_code == 200, grandchild.text

    reused = await second.refresh(original)

    assert reused.status_code == 400, reused.text
    assert reused.json()["error_code"] == "refresh_token_already_used"
    live = _rows(
        database.dsn, "SELECT token FROM auth.refresh_tokens WHERE session_id = %s AND NOT revoked", (session_id,)
    )
    assert live == []
    assert _rows(database.dsn, "SELECT id FROM auth.sessions WHERE id = %s", (session_id,)) != []
    # the whole family is dead, on every instance
    for api, token in ((first, grandchild.json()["refresh_token"]), (second, child.json()["refresh_token"])):
        response = await api.refresh(token)
        assert response.status_code == 400, response.text
        assert response.json()["error_code"] == "refresh_token_already_used"


async def test_reuse_inside_the_interval_issues_a_sibling(apps: Cluster, database: PgDatabase) -> None:
    first, second = await apps(2, {"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": "10"})
    original, session_id = await _signed_in(first)
    child = (await first.refresh(original)).json()["refresh_token"]
    grandchild = (await second.refresh(child)).json()["refresh_token"]

    again = await second.refresh(original)

    assert again.status_code == 200, again.text
    sibling = again.json()["refresh_token"]
    assert sibling not in (child, grandchild)
    (row,) = _rows(database.dsn, "SELECT parent, revoked FROM auth.refresh_tokens WHERE token = %s", (sibling,))
    assert (row["parent"], row["revoked"]) == (original, False)
    live = _rows(
        database.dsn,
        "SELECT token FROM auth.refresh_tokens WHERE session_id = %s AND NOT revoked ORDER BY id",
        (session_id,),
    )
    # GoTrue's rule (ADR 0012): only the presented token is used up, the grandchild stays live
    assert [r["token"] for r in live] == [grandchild, sibling]
