"""The benchmark's pieces work (bench/run.py itself needs wrk and minutes; it is not run here)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from lua import SCRIPTS, parse_wrk  # noqa: E402
from seed import TEMPLATE_EMAIL, seed_users  # noqa: E402
from support.storages import postgres_apis  # noqa: E402

PASSWORD = "bench-Password-1"


async def test_seeded_users_are_real_users_that_sign_in_and_refresh(api: Any) -> None:
    created = await api.signup(TEMPLATE_EMAIL, PASSWORD)
    assert created.status_code == 200, created.text
    dsn = api.container.settings().db.url

    assert seed_users(dsn, 10) == 10
    assert seed_users(dsn, 12) == 12  # tops up an earlier seeding

    counts = await api.counts()
    assert counts["users"] == 12 and counts["identities"] == 12
    signed_in = await api.password_grant("user11@bench.local", PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    assert body["user"]["email"] == "user11@bench.local"
    assert [i["identity_data"]["email"] for i in body["user"]["identities"]] == ["user11@bench.local"]
    assert body["user"]["identities"][0]["identity_data"]["sub"] == body["user"]["id"]
    refreshed = await api.refresh(body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    user = await api.client.get("/user", headers=api.headers(body["access_token"]))
    assert user.status_code == 200 and user.json()["id"] == body["user"]["id"]


WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:9200/user
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    18.29ms   27.70ms 223.43ms   91.39%
    Req/Sec     1.84k   568.61     2.72k    70.00%
  Latency Distribution
     50%    9.12ms
     75%   15.71ms
     90%   40.00ms
     99%    1.20s
  18400 requests in 10.01s, 19.31MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   1838.16
Transfer/sec:      1.93MB
"""


def test_wrk_report_is_read_with_its_units_and_errors() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 18400
    assert result.rps == 1838.16
    assert result.p50_ms == 9.12
    assert result.p99_ms == 1200.0
    assert result.non_2xx == 4 and result.socket_errors == 3 and result.errors == 7


def test_every_endpoint_has_a_script() -> None:
    assert set(SCRIPTS) == {"health", "user", "refresh", "password", "signup"}
    assert "response" in SCRIPTS["refresh"]  # rotated tokens are fed back


def test_compare_alternates_and_reports_the_change_of_medians() -> None:
    from compare import order, rates, table

    assert [order(n, ("base", "head")) for n in (1, 2, 3)] == [
        ("base", "head"), ("head", "base"), ("base", "head")
    ]
    summary = {"runs": {"10000": {"results": {
        "user": {"rps": 100.0}, "hash_bound": {"rps": 5.0}, "refresh": {"rps": 50.0},
    }}}}
    assert rates(summary, 10000) == {"user": 100.0, "refresh": 50.0}
    rounds = {
        "base": [{"user": 100.0, "refresh": 50.0}, {"user": 110.0, "refresh": 40.0}],
        "head": [{"user": 126.0, "refresh": 45.0}, {"user": 126.0, "refresh": 45.0}],
    }
    lines = table(rounds, ("base", "head"), ["user", "refresh", "password"])
    assert len(lines) == 3  # header, user, refresh (no password numbers: no row)
    assert lines[1].split()[0] == "user" and lines[1].endswith("+20.0%")
    assert lines[2].split()[0] == "refresh" and lines[2].endswith("+0.0%")


# bench/dbcost.py: PostgreSQL's CPU and WAL per operation, pytrue against GoTrue's sequences

DBCOST_SCRIPTS = sorted((BENCH / "gotrue_sequences").glob("*.sql"))


def test_every_gotrue_sequence_is_there() -> None:
    from dbcost import OPERATIONS, REFERENCE_SCRIPTS

    names = {path.name for path in DBCOST_SCRIPTS}
    assert {script for _, script in OPERATIONS.values()} | set(REFERENCE_SCRIPTS.values()) == names


async def test_each_gotrue_sequence_runs_against_the_migrated_schema(warm_templates: Any) -> None:
    """Every pgbench script runs without error on pytrue's schema with the harness's seed data
    (straight to PostgreSQL, as the benchmark runs them: `-M prepared` needs session pooling)."""
    async with postgres_apis(warm_templates) as make_api:
        await _run_each_gotrue_sequence(make_api)


async def _run_each_gotrue_sequence(make_api: Any) -> None:
    import asyncio

    from dbcost import pgbench, pgbench_binary, seed_gotrue_rows

    api = await make_api({"GOTRUE_JWT_AUD": "authenticated", "GOTRUE_JWT_DEFAULT_GROUP_NAME": "authenticated"})
    created = await api.signup(TEMPLATE_EMAIL, PASSWORD)
    assert created.status_code == 200, created.text
    dsn = api.container.settings().db.url
    assert seed_users(dsn, 12) == 12
    seed_gotrue_rows(dsn, 12, 20)
    variables = {"nusers": 12, "ntokens": 20, "nsessions": 20, "nv2": 20}
    binary = pgbench_binary()
    before = await api.counts()
    for script in DBCOST_SCRIPTS:
        # pgbench raises unless every transaction ran (a \gset that finds no row aborts it)
        output = await asyncio.to_thread(pgbench, binary, dsn, script, 3, 1, variables)
        assert "number of transactions actually processed: 3/3" in output, (script.name, output)
    after = await api.counts()
    assert after["users"] == before["users"] + 3  # signup.sql made three users


def test_refresh_token_formats_are_told_apart() -> None:
    from dbcost import token_format

    assert token_format("abcdefgh2345") == "legacy"
    assert token_format("A" + "b" * 55) == "v2"
    assert token_format("x" * 22).startswith("unknown")


def test_waldump_totals_are_read() -> None:
    from dbcost import parse_waldump_stats

    text = (
        "Type  N  (%)  Record size  (%)  FPI size  (%)  Combined size  (%)\n"
        "                                        --------                      --------\n"
        "Total                                        198                         19124 [100.00%]"
        "                 8192 [30.00%]                 27316 [100%]\n"
    )
    assert parse_waldump_stats(text) == (198, 8192)
    assert parse_waldump_stats("nothing") == (None, None)


def test_dbcost_runs_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    """The whole harness at 5 operations: its own durable PostgreSQL, pytrue in-process, pgbench.

    No timing is asserted. CPU time of pgbench's backends is read in clock ticks once they have
    exited (10 ms), so at this size GoTrue's CPU figures may round to zero; WAL is exact.
    """
    import json
    import math

    from dbcost import OPERATIONS, main

    out = tmp_path / "dbcost.json"
    assert main(["--ops", "5", "--users", "20", "--rounds", "1", "--out", str(out), "--quiet"]) == 0
    summary = json.loads(out.read_text())
    assert summary["settings"]["fsync"] == "on" and summary["settings"]["synchronous_commit"] == "on"
    results = summary["results"]
    assert set(OPERATIONS) <= set(results)
    for op in OPERATIONS:
        pytrue, gotrue = results[op]["pytrue"], results[op]["gotrue"]
        assert pytrue["ops"] == 5 and gotrue["ops"] == 5
        assert pytrue["cpu_us"] > 0, op  # live backends: read precisely (schedstat)
        assert math.isfinite(gotrue["cpu_us"]), op
        if op != "user":  # every other operation writes
            assert pytrue["wal_bytes"] > 0 and gotrue["wal_bytes"] > 0, op
    assert results["refresh_legacy"]["pytrue"]["token_format"] == "legacy"
    assert results["refresh_v2"]["pytrue"]["token_format"] in ("legacy", "v2")
    assert "gotrue_refresh_v2" in results
    assert {t["operation"] for t in summary["targets"]} == {"refresh_v2", "refresh_legacy", "signin", "user"}
