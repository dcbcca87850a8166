"""Auth hooks as PostgreSQL functions (`pg-functions://postgres/<schema>/<function>`), on a real
database, directly and behind PgBouncer: the function gets GoTrue's JSON and its answer is used;
it runs in the request's transaction (what it writes goes when the request fails); a function
that raises, runs too long or does not exist fails the request with GoTrue's 500 and nothing
written; the after-user-created function, run after the commit, commits on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jwt
import psycopg
import pytest
from support.app import JWT_SECRET

PASSWORD = "s3cret-pass"

FUNCTIONS = """
CREATE TABLE auth.pytrue_test_hook_calls (name text, email text, detail text);
CREATE FUNCTION auth.pytrue_test_claims(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO auth.pytrue_test_hook_calls VALUES ('claims', event->'claims'->>'email', event->>'authentication_method');
  RETURN jsonb_build_object('claims', (event->'claims') || jsonb_build_object(
    'tenant', 'acme', 'method', event->>'authentication_method', 'hook', event->'metadata'->>'name'));
END $$;
CREATE FUNCTION auth.pytrue_test_before(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO auth.pytrue_test_hook_calls VALUES ('before', event->'user'->>'email', event->'metadata'->>'name');
  IF event->'user'->>'email' LIKE '%@blocked.test' THEN
    RETURN '{"error": {"http_code": 403, "message": "Not from there"}}'::jsonb;
  END IF;
  RETURN '{}'::jsonb;
END $$;
CREATE FUNCTION auth.pytrue_test_after(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO auth.pytrue_test_hook_calls VALUES ('after', event->'user'->>'email', event->'user'->>'id');
  RETURN NULL;
END $$;
CREATE FUNCTION auth.pytrue_test_raises(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'secret detail %', event->'claims'->>'session_id';
END $$;
CREATE FUNCTION auth.pytrue_test_slow(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(3);
  RETURN event;
END $$;
CREATE FUNCTION auth.pytrue_test_array(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[1, 2]'::jsonb $$;
"""
CLEANUP = """
DROP FUNCTION IF EXISTS auth.pytrue_test_claims(jsonb), auth.pytrue_test_before(jsonb), auth.pytrue_test_after(jsonb),
  auth.pytrue_test_raises(jsonb), auth.pytrue_test_slow(jsonb), auth.pytrue_test_array(jsonb);
DROP TABLE IF EXISTS auth.pytrue_test_hook_calls;
"""

Factory = Callable[..., Awaitable[Any]]


def _hook(name: str, function: str) -> dict[str, str]:
    prefix = f"GOTRUE_HOOK_{name.upper()}_"
    return {prefix + "ENABLED": "true", prefix + "URI": f"pg-functions://postgres/auth/{function}"}


@pytest.fixture
async def functions_api(make_api: Factory) -> AsyncIterator[Callable[[dict[str, str]], Awaitable[Any]]]:
    """`await build(env)`: an app whose database has the test's hook functions (dropped after)."""
    dsns: list[str] = []

    async def build(env: dict[str, str]) -> Any:
        api = await make_api(env)
        dsn = api.container.settings().db.url
        if dsn not in dsns:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(CLEANUP)
                conn.execute(FUNCTIONS)
            dsns.append(dsn)
        return api

    yield build
    for dsn in dsns:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(CLEANUP)


def _calls(api: Any) -> list[tuple[str, str, str]]:
    with psycopg.connect(api.container.settings().db.url, autocommit=True) as conn:
        return [tuple(row) for row in conn.execute("SELECT name, email, detail FROM auth.pytrue_test_hook_calls").fetchall()]


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience="authenticated")


async def test_a_function_customises_the_access_token_in_the_requests_transaction(functions_api: Any) -> None:
    api = await functions_api(_hook("custom_access_token", "pytrue_test_claims"))
    signed_up = await api.signup()
    assert signed_up.status_code == 200, signed_up.text
    claims = _claims(signed_up.json()["access_token"])
    assert (claims["tenant"], claims["method"], claims["hook"]) == ("acme", "password", "customize-access-token")
    refreshed = await api.refresh(signed_up.json()["refresh_token"])
    assert _claims(refreshed.json()["access_token"])["method"] == "token_refresh"
    assert _calls(api) == [("claims", "user@example.com", "password"), ("claims", "user@example.com", "token_refresh")]


async def test_before_user_created_refuses_and_its_own_write_goes_with_the_request(functions_api: Any) -> None:
    api = await functions_api(_hook("before_user_created", "pytrue_test_before") | _hook("after_user_created", "pytrue_test_after"))
    created = await api.signup("ok@example.com", PASSWORD)
    assert created.status_code == 200, created.text
    user_id = created.json()["user"]["id"]
    counts = await api.counts()
    refused = await api.signup("eve@blocked.test", PASSWORD)
    assert refused.status_code == 403 and refused.json()["msg"] == "Not from there"
    assert await api.counts() == counts
    # the refused request's transaction took the function's insert with it; the after hook committed its own
    assert _calls(api) == [("before", "ok@example.com", "before-user-created"), ("after", "ok@example.com", user_id)]


@pytest.mark.parametrize(
    ("function", "why"), [("pytrue_test_raises", "raises"), ("pytrue_test_slow", "runs past 2 s"), ("pytrue_test_missing", "is missing")]
)
async def test_a_failing_function_is_gotrues_500_with_nothing_written(functions_api: Any, function: str, why: str) -> None:
    api = await functions_api(_hook("custom_access_token", function))
    counts = await api.counts()
    failed = await api.signup()
    assert failed.status_code == 500, (why, failed.text)
    assert failed.json()["msg"] == f"Error running hook URI: pg-functions://postgres/auth/{function}", why
    assert "secret detail" not in failed.text
    assert await api.counts() == counts, why
    assert (await api.client.get("/health")).status_code == 200  # the connection went back to the pool usable


async def test_an_answer_that_is_not_an_object_is_refused(functions_api: Any) -> None:
    api = await functions_api(_hook("custom_access_token", "pytrue_test_array"))
    counts = await api.counts()
    failed = await api.signup()
    assert failed.status_code == 500 and failed.json()["msg"] == "Error unmarshaling JSON output."
    assert await api.counts() == counts
