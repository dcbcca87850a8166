"""`pytrue testserver`: the test server for suites in other languages (docs/testing.md).

It prints one JSON line — url, anon_key, service_role_key, jwt_secret, storage (and dsn on
PostgreSQL), control (the `/__pytrue/` routes' base) — then serves until its standard input
closes (or SIGTERM/SIGINT), so a parent test process ends it by closing the pipe.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "testserver",
        help="an in-memory pytrue for other languages' tests: prints URL and keys as JSON, serves until stdin closes",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--storage", choices=("memory", "postgres"), default="memory")
    parser.add_argument("--dsn", help="PostgreSQL database for --storage postgres (default: an embedded cluster)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="a GoTrue variable (repeatable); GOTRUE_* and PYTRUE_* variables of the environment are read too",
    )
    parser.set_defaults(func=run)


def _environment(pairs: list[str]) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name.startswith(("GOTRUE_", "PYTRUE_"))}
    env.pop("PYTRUE_WORKERS", None)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"pytrue testserver: --env expects NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def run(args: argparse.Namespace) -> None:
    from pytrue.entrypoints.settings import SettingsError
    from pytrue.testing.server import AuthServer

    options: dict[str, Any] = {"storage": args.storage, "host": args.host, "port": args.port, "control": True}
    if args.dsn:
        options["dsn"] = args.dsn
    try:
        server = AuthServer(env=_environment(args.env), **options)
        server.start()
    except (SettingsError, TypeError) as error:
        raise SystemExit(f"pytrue testserver: {error}") from None
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    try:
        description = {
            "url": server.url,
            "anon_key": server.anon_key,
            "service_role_key": server.service_role_key,
            "jwt_secret": server.jwt_secret,
            "storage": server.storage,
            "control": f"{server.url}/__pytrue",
        }
        if server.storage == "postgres":
            description["dsn"] = server.dsn
        sys.stdout.write(json.dumps(description) + "\n")
        sys.stdout.flush()
        threading.Thread(target=_wait_for_eof, args=(done,), daemon=True).start()
        done.wait()
    finally:
        server.stop()


def _wait_for_eof(done: threading.Event) -> None:
    # the raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader's lock
    # aborts the interpreter at exit (after SIGTERM)
    try:
        fd = sys.stdin.fileno()
        while os.read(fd, 65536):
            pass
    except (OSError, ValueError):
        pass
    done.set()
