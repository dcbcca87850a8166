"""CPU per request of one endpoint, in-process: the ASGI app called directly, no HTTP server.

    .venv/bin/python bench/inprocess.py [--endpoint health|user|refresh|password] [--requests N]
                                         [--concurrency C] [--profile FILE] [--cheap-hash]

Starts a throw-away PostgreSQL, migrates it, signs up one user through the app, then calls the
app's ASGI callable N times (C at a time, as a server's event loop would) and prints the
process CPU time per request. With --profile, a cProfile of the measured calls is written to
FILE and its top entries printed. This isolates what the Python side of one request costs
(Litestar, the use case, psycopg) from granian, wrk and the network; PostgreSQL's CPU time
(all its processes, from /proc) is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PASSWORD = "bench-password-1"


async def _call(app: Any, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 9999),
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def _lifespan(app: Any) -> tuple[asyncio.Task[None], asyncio.Queue[dict[str, Any]]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send))
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    return task, inbox


async def run(args: argparse.Namespace, dsn: str) -> None:
    os.environ.update(
        {
            "GOTRUE_DB_DRIVER": "postgres",
            "DATABASE_URL": dsn,
            "GOTRUE_SITE_URL": "http://localhost:3000",
            "API_EXTERNAL_URL": "http://localhost:9999",
            "GOTRUE_JWT_SECRET": secrets.token_urlsafe(48),
            "GOTRUE_MAILER_AUTOCONFIRM": "true",
            "GOTRUE_LOG_LEVEL": "warn",
            "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "1000000000",
        }
    )
    if args.cheap_hash:
        # the work around the hash, not the hash: a trivial argon2id
        os.environ.update({"GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": "64", "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": "1"})
    from pytrue.entrypoints.http.asgi import create

    app = create()
    task, inbox = await _lifespan(app)
    json_headers = {"content-type": "application/json"}
    status, body = await _call(
        app, "POST", "/signup", "", json_headers, json.dumps({"email": "u@bench.local", "password": PASSWORD}).encode()
    )
    assert status == 200, body
    session = json.loads(body)
    refresh_tokens = [session["refresh_token"]]
    access = session["access_token"]
    for _ in range(args.concurrency - 1):
        status, body = await _call(
            app, "POST", "/token", "grant_type=password", json_headers,
            json.dumps({"email": "u@bench.local", "password": PASSWORD}).encode(),
        )
        assert status == 200, body
        refresh_tokens.append(json.loads(body)["refresh_token"])

    async def one(lane: int) -> None:
        if args.endpoint == "user":
            status, body = await _call(app, "GET", "/user", "", {"authorization": f"Bearer {access}"}, b"")
        elif args.endpoint == "refresh":
            status, body = await _call(
                app, "POST", "/token", "grant_type=refresh_token", json_headers,
                json.dumps({"refresh_token": refresh_tokens[lane]}).encode(),
            )
            if status == 200:
                refresh_tokens[lane] = json.loads(body)["refresh_token"]
        elif args.endpoint == "password":
            status, body = await _call(
                app, "POST", "/token", "grant_type=password", json_headers,
                json.dumps({"email": "u@bench.local", "password": PASSWORD}).encode(),
            )
        elif args.endpoint == "health":
            status, body = await _call(app, "GET", "/health", "", {}, b"")
        else:
            raise SystemExit(f"unknown endpoint {args.endpoint}")
        assert status == 200, (status, body)

    async def lane(number: int, count: int) -> None:
        for _ in range(count):
            await one(number)

    per_lane = args.requests // args.concurrency
    await asyncio.gather(*(lane(n, per_lane // 10) for n in range(args.concurrency)))  # warm-up
    profiler = cProfile.Profile() if args.profile else None
    from run import _postgres_cpu_seconds

    cpu, wall, pg = time.process_time(), time.perf_counter(), _postgres_cpu_seconds()
    if profiler:
        profiler.enable()
    await asyncio.gather(*(lane(n, per_lane) for n in range(args.concurrency)))
    if profiler:
        profiler.disable()
    cpu, wall, pg = time.process_time() - cpu, time.perf_counter() - wall, _postgres_cpu_seconds() - pg
    total = per_lane * args.concurrency
    print(
        f"{args.endpoint}: {total} requests, per request: {cpu / total * 1e6:.0f} µs of Python CPU, "
        f"{pg / total * 1e6:.0f} µs of PostgreSQL CPU, {wall / total * 1e6:.0f} µs wall (concurrency {args.concurrency})"
    )
    if profiler:
        profiler.dump_stats(args.profile)
        stats = pstats.Stats(args.profile)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    await inbox.put({"type": "lifespan.shutdown"})
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", default="user")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile")
    parser.add_argument("--cheap-hash", action="store_true", help="argon2id with m=64 KiB, t=1: measures what surrounds the hash")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pytrue.adapters.postgres.cluster import LocalCluster

    workdir = Path(tempfile.mkdtemp(prefix="pytrue-inprocess-"))
    workdir.chmod(0o755)
    cluster = LocalCluster(workdir / "pg", persistent=False)
    try:
        cluster.start()
        dsn = cluster.provision(database="inprocess")
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(run(args, dsn))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
