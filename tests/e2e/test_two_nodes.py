"""Two `pytrue serve` processes on different ports share one database through PgBouncer
(transaction mode), as two machines would: what one node does, the other sees at once.

The email and SMS budgets (`GOTRUE_RATE_LIMIT_EMAIL_SENT`, `_SMS_SENT`) are shared too: texts go
through Twilio's API to a local stand-in, which counts what it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from e2e_support import clean_environment, pytrue_command, server_environment, sign_api_key, start_server, stop_server

from pytrue.adapters.postgres.bouncer import LocalPgBouncer, pgbouncer_binary
from pytrue.adapters.postgres.cluster import AUTH_ADMIN_ROLE, DEFAULT_PASSWORD, LocalCluster
from support.sms_providers import TwilioApi

EMAIL_BUDGET = 4
SMS_BUDGET = 3
PASSWORD = "s3cret-pass"


@dataclass(frozen=True)
class Nodes:
    urls: tuple[str, str]
    anon_key: str
    service_key: str
    dsn: str  # supabase_auth_admin, straight to PostgreSQL, for inspecting rows
    twilio: TwilioApi


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    if pgbouncer_binary() is None:  # pragma: no cover - scripts/setup.sh installs it
        pytest.fail("pgbouncer is not installed; run scripts/setup.sh")
    workdir = tmp_path_factory.mktemp("two-nodes")
    cluster = LocalCluster(workdir / "pg", persistent=False)
    cluster.start()
    with contextlib.ExitStack() as stack:
        stack.callback(cluster.stop)
        twilio = stack.enter_context(TwilioApi())
        dsn = cluster.provision(password=DEFAULT_PASSWORD)
        bouncer = stack.enter_context(LocalPgBouncer(cluster.dsn, {AUTH_ADMIN_ROLE: DEFAULT_PASSWORD}, pool_size=6))
        pooled = bouncer.dsn(dsn)
        secret = secrets.token_urlsafe(48)
        env = {
            "DATABASE_URL": pooled,
            "GOTRUE_DB_DRIVER": "postgres",
            "PYTRUE_DB_POOL_MODE": "transaction",
            "GOTRUE_DB_MAX_POOL_SIZE": "6",
            "GOTRUE_JWT_SECRET": secret,
            "GOTRUE_MAILER_AUTOCONFIRM": "false",
            "GOTRUE_RATE_LIMIT_EMAIL_SENT": f"{EMAIL_BUDGET}/1h",
            "GOTRUE_SMTP_MAX_FREQUENCY": "1s",
            "GOTRUE_EXTERNAL_PHONE_ENABLED": "true",
            "GOTRUE_SMS_PROVIDER": "twilio",
            "GOTRUE_SMS_TWILIO_ACCOUNT_SID": twilio.account_sid,
            "GOTRUE_SMS_TWILIO_AUTH_TOKEN": twilio.auth_token,
            "GOTRUE_SMS_TWILIO_MESSAGE_SERVICE_SID": "+15550001111",
            "PYTRUE_SMS_TWILIO_API_URL": twilio.url,
            "GOTRUE_RATE_LIMIT_SMS_SENT": f"{SMS_BUDGET}/1h",
        }
        migrate_env = clean_environment({**server_environment(0, secret), **env})
        subprocess.run([*pytrue_command(), "migrate"], env=migrate_env, check=True, capture_output=True)
        urls = []
        for name in ("a", "b"):
            (workdir / name).mkdir()
            process, server = start_server(workdir / name, {**env, "PYTRUE_SKIP_MIGRATIONS": "1"}, ["--workers", "1"])
            stack.callback(stop_server, process)
            urls.append(server.url)
        yield Nodes(
            urls=(urls[0], urls[1]),
            anon_key=sign_api_key(secret, "anon"),
            service_key=sign_api_key(secret, "service_role"),
            dsn=dsn,
            twilio=twilio,
        )


def _headers(nodes: Nodes, token: str | None = None) -> dict[str, str]:
    return {"apikey": nodes.anon_key, "Authorization": f"Bearer {token or nodes.anon_key}"}


def _admin(nodes: Nodes) -> dict[str, str]:
    return {"apikey": nodes.service_key, "Authorization": f"Bearer {nodes.service_key}"}


async def _session(client: httpx.AsyncClient, nodes: Nodes, email: str) -> dict[str, str]:
    """A confirmed user made on node A, signed in on node B."""
    created = await client.post(
        f"{nodes.urls[0]}/admin/users",
        json={"email": email, "password": PASSWORD, "email_confirm": True},
        headers=_admin(nodes),
    )
    assert created.status_code == 200, created.text
    signed_in = await client.post(
        f"{nodes.urls[1]}/token?grant_type=password",
        json={"email": email, "password": PASSWORD},
        headers=_headers(nodes),
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"id": created.json()["id"], **signed_in.json()}


async def _refresh(client: httpx.AsyncClient, nodes: Nodes, node: int, token: str) -> httpx.Response:
    return await client.post(
        f"{nodes.urls[node]}/token?grant_type=refresh_token", json={"refresh_token": token}, headers=_headers(nodes)
    )


def _rows(dsn: str, query: str, params: object = None) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


async def test_a_refresh_race_spread_over_both_nodes_yields_one_child(nodes: Nodes) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        session = await _session(client, nodes, "race@example.com")
        token = session["refresh_token"]
        responses = await asyncio.gather(*(_refresh(client, nodes, i % 2, token) for i in range(20)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, [r.text for r in responses if r.status_code not in (200, 409)]
    children = _rows(nodes.dsn, "select token from auth.refresh_tokens where parent = %s", [token])
    assert len(children) == 1, children
    assert {r.json()["refresh_token"] for r in responses if r.status_code == 200} == {children[0][0]}


async def test_a_sign_out_on_one_node_is_refused_by_the_other_at_once(nodes: Nodes) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        session = await _session(client, nodes, "signout@example.com")
        out = await client.post(f"{nodes.urls[0]}/logout", headers=_headers(nodes, session["access_token"]))
        assert out.status_code == 204, out.text
        refused = await _refresh(client, nodes, 1, session["refresh_token"])
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_code"] == "refresh_token_not_found", refused.text


async def test_an_admin_ban_on_one_node_is_enforced_by_the_other_on_the_next_request(nodes: Nodes) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        session = await _session(client, nodes, "banned@example.com")
        banned = await client.put(
            f"{nodes.urls[0]}/admin/users/{session['id']}", json={"ban_duration": "24h"}, headers=_admin(nodes)
        )
        assert banned.status_code == 200, banned.text
        user = await client.get(f"{nodes.urls[1]}/user", headers=_headers(nodes, session["access_token"]))
        refresh = await _refresh(client, nodes, 1, session["refresh_token"])
        sign_in = await client.post(
            f"{nodes.urls[1]}/token?grant_type=password",
            json={"email": "banned@example.com", "password": PASSWORD},
            headers=_headers(nodes),
        )
    assert (user.status_code, user.json()["error_code"]) == (403, "user_banned"), user.text
    assert (refresh.status_code, refresh.json()["error_code"]) == (400, "user_banned"), refresh.text
    assert (sign_in.status_code, sign_in.json()["error_code"]) == (400, "user_banned"), sign_in.text


async def test_the_email_budget_is_shared_by_both_nodes(nodes: Nodes) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        responses = []
        for i in range(EMAIL_BUDGET + 2):
            responses.append(
                await client.post(
                    f"{nodes.urls[i % 2]}/signup",
                    json={"email": f"budget{i}@example.com", "password": PASSWORD},
                    headers=_headers(nodes),
                )
            )
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * EMAIL_BUDGET + [429, 429], [r.text for r in responses]
    assert {r.json()["error_code"] for r in responses[EMAIL_BUDGET:]} == {"over_email_send_rate_limit"}
    # the refused sign-ups kept nothing
    kept = _rows(nodes.dsn, "select email from auth.users where email like 'budget%%' order by email")
    assert [row[0] for row in kept] == [f"budget{i}@example.com" for i in range(EMAIL_BUDGET)]


async def test_the_sms_budget_is_shared_by_both_nodes(nodes: Nodes) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        responses = []
        for i in range(SMS_BUDGET + 2):
            responses.append(
                await client.post(
                    f"{nodes.urls[i % 2]}/signup",
                    json={"phone": f"+1555010{i:04d}", "password": PASSWORD},
                    headers=_headers(nodes),
                )
            )
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * SMS_BUDGET + [429, 429], [r.text for r in responses]
    assert {r.json()["error_code"] for r in responses[SMS_BUDGET:]} == {"over_sms_send_rate_limit"}
    assert len(nodes.twilio.server.requests) == SMS_BUDGET
    kept = _rows(nodes.dsn, "select phone from auth.users where phone like '1555010%%' order by phone")
    assert [row[0] for row in kept] == [f"1555010{i:04d}" for i in range(SMS_BUDGET)]
