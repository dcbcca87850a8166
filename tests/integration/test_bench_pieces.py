"""The benchmark's pieces work (bench/run.py itself needs wrk and minutes; it is not run here)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from lua import SCRIPTS, parse_wrk  # noqa: E402
from seed import TEMPLATE_EMAIL, seed_users  # noqa: E402

PASSWORD = "bench-Password-1"


async def test_seeded_users_are_real_users_that_sign_in_and_refresh(api: Any) -> None:
    created = await api.signup(TEMPLATE_EMAIL, PASSWORD)
    assert created.status_code == 200, created.text
    dsn = api.container.settings().database_url

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
