"""Auth hooks with the official JS client (`@supabase/auth-js`) against `pytrue serve`: the
scenarios in `js/hooks_scenario.mjs`. In memory the hooks are HTTP endpoints (a local receiver
checking the Standard Webhooks signature); on PostgreSQL they are `pg-functions://` functions
created in the server's database, so both transports are met the way a user meets them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from contract.auth_hooks import ComputingHook
from contract.phone_flows import HOOK_KEY
from e2e_support import Server, run_auth_js, start_server, stop_server
from support.fake_http import Reply

JS_DIR = Path(__file__).resolve().parent / "js"
SCENARIO_TIMEOUT = 60
BLOCKED = {"error": {"http_code": 400, "message": "Sign-ups from this domain are closed"}}
ON_HOLD = {"error": {"http_code": 403, "message": "Account on hold"}}

FUNCTIONS = """
CREATE FUNCTION auth.e2e_claims(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF (event->'claims'->'user_metadata'->>'on_hold')::boolean IS TRUE THEN
    RETURN '{"error": {"http_code": 403, "message": "Account on hold"}}'::jsonb;
  END IF;
  RETURN jsonb_build_object('claims', (event->'claims') || jsonb_build_object(
    'tenant', 'acme', 'plan', coalesce(event->'claims'->'user_metadata'->>'plan', 'free'),
    'method', event->>'authentication_method'));
END $$;
CREATE FUNCTION auth.e2e_before(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF event->'user'->>'email' LIKE '%@blocked.test' THEN
    RETURN '{"error": {"http_code": 400, "message": "Sign-ups from this domain are closed"}}'::jsonb;
  END IF;
  RETURN '{}'::jsonb;
END $$;
"""


def _answer(payload: dict[str, Any]) -> Reply:
    name = payload["metadata"]["name"]
    if name == "before-user-created":
        return Reply(200, BLOCKED if payload["user"]["email"].endswith("@blocked.test") else {})
    claims = payload["claims"]
    if (claims.get("user_metadata") or {}).get("on_hold"):
        return Reply(200, ON_HOLD)
    plan = (claims.get("user_metadata") or {}).get("plan", "free")
    return Reply(200, {"claims": {**claims, "tenant": "acme", "plan": plan, "method": payload["authentication_method"]}})


def _http_hooks(url: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in ("custom_access_token", "before_user_created"):
        prefix = f"GOTRUE_HOOK_{name.upper()}_"
        env |= {prefix + "ENABLED": "true", prefix + "URI": f"{url}/{name}", prefix + "SECRETS": "v1,whsec_" + HOOK_KEY}
    return env


@pytest.fixture(scope="module", params=["memory", "postgres"])
def hooks_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"pytrue-hooks-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "memory":
            receiver = ComputingHook(_answer)
            stack.enter_context(receiver.server)
            env = _http_hooks(receiver.server.url)
        else:
            from pytrue.adapters.postgres.cluster import LocalCluster

            cluster = LocalCluster(workdir / "pg", persistent=False)
            cluster.start()
            stack.callback(cluster.stop)
            dsn = cluster.provision()
            env = {
                "GOTRUE_DB_DRIVER": "postgres",
                "DATABASE_URL": dsn,
                "GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED": "true",
                "GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI": "pg-functions://postgres/auth/e2e_claims",
                "GOTRUE_HOOK_BEFORE_USER_CREATED_ENABLED": "true",
                "GOTRUE_HOOK_BEFORE_USER_CREATED_URI": "pg-functions://postgres/auth/e2e_before",
            }
        process, running = start_server(workdir, env)
        stack.callback(stop_server, process)
        if request.param == "postgres":
            with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:  # the schema exists once the server is up
                conn.execute(FUNCTIONS)  # type: ignore[arg-type]
        yield running


def test_auth_js_hooks(hooks_server: Server, node_executable: str, auth_js_installed: Path) -> None:
    summary = run_auth_js(node_executable, "hooks_scenario.mjs", JS_DIR, hooks_server, SCENARIO_TIMEOUT)
    assert summary["failed"] == {}
    assert set(summary["passed"]) == {
        "customClaimsReachTheClient",
        "aRefusingAccessTokenHookIsAnAuthError",
        "beforeUserCreatedRefusesASignUp",
    }
