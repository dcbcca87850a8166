"""How the pool's connections convert values (adapters/postgres/types.py)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import psycopg

from pytrue.adapters.postgres import types


def _sql(api: Any, query: str, *params: Any) -> None:
    with psycopg.connect(api.container.settings().db.url, autocommit=True) as conn:
        conn.execute(query, params)


async def _signed_in(api: Any) -> dict[str, Any]:
    response = await api.signup("types@example.com", "s3cret-pass")
    assert response.status_code == 200, response.text
    return response.json()


async def test_metadata_beyond_what_msgspec_decodes_is_still_read(api: Any) -> None:
    session = await _signed_in(api)
    # jsonb keeps numbers as `numeric`: an integer beyond 64 bits, and one beyond a float's range
    _sql(
        api,
        "update auth.users set raw_user_meta_data = "
        "'{\"n\": 1180591620717411303424, \"big\": 1e400, \"name\": \"Zoë\"}'::jsonb where id = %s",
        UUID(session["user"]["id"]),
    )
    response = await api.client.get("/user", headers=api.headers(session["access_token"]))
    assert response.status_code == 200, response.text
    metadata = response.json()["user_metadata"]
    assert metadata["n"] == 1180591620717411303424
    assert metadata["name"] == "Zoë"


async def test_session_addresses_are_read_as_text(api: Any) -> None:
    session = await _signed_in(api)
    async with api.container.adapters.uow()() as uow:
        user, _ = await uow.users.get_with_session(UUID(session["user"]["id"]), None)
        assert user is not None
    with psycopg.connect(api.container.settings().db.url) as conn:
        row = conn.execute("select id from auth.sessions where user_id = %s", (user.id,)).fetchone()
        assert row is not None
        session_id = row[0]
    for stored, shown in [("203.0.113.7", "203.0.113.7"), ("2001:db8:0:0::1", "2001:db8::1"), ("10.1.0.0/16", "10.1.0.0/16")]:
        _sql(api, "update auth.sessions set ip = %s::inet where id = %s", stored, session_id)
        async with api.container.adapters.uow()() as uow:
            read = await uow.sessions.get(session_id)
        assert read is not None
        assert read.ip == shown


def test_json_round_trips_as_the_standard_library_reads_it() -> None:
    document = {"a": [1, 2.5, -0.0, None, True], "b": {"c": "\u00e9\u2603", "d": 2**70}}
    assert json.loads(types.dumps(document)) == document
    assert types.loads(types.dumps(document)) == document
    assert types.loads(b'{"x": 1e400}') == {"x": float("inf")}
    assert types.dumps({"a": 1}) == b'{"a":1}'  # compact, as GoTrue writes it
