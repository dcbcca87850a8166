"""Import a million users with `pytrue users import` into the embedded PostgreSQL; print users/s.

    .venv/bin/python bench/import_users.py [--users 1000000] [--batch-size 1000] [--no-rerun] [--no-export]

Generates a JSON Lines file (emails, confirmed flags, metadata, a phone for one user in ten, a
GitHub identity for one in twenty-five) whose password hashes are bcrypt strings drawn from a
small pool computed once: an import stores hashes as they are, so hashing a million times would
measure bcrypt, not the import. Starts a throw-away PostgreSQL (the `pgserver` wheel), migrates
it with `pytrue migrate`, then times the command as an operator runs it: a fresh import, a
re-run of the same file (every user skipped) and an export of everything.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bcrypt

SECRET = "bench-import-secret-that-is-long-enough-0123456789"


def generate(path: Path, users: int) -> None:
    pool = [bcrypt.hashpw(f"password-{n}".encode(), bcrypt.gensalt(10)).decode() for n in range(16)]
    with path.open("w") as out:
        for i in range(users):
            row: dict[str, Any] = {
                "email": f"user{i}@bench.example.com",
                "password_hash": pool[i % len(pool)],
                "email_confirmed": i % 3 != 0,
                "created_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z",
                "user_metadata": {"full_name": f"User {i}", "plan": "free" if i % 5 else "pro"},
            }
            if i % 10 == 0:
                row["phone"] = f"4477{i:09d}"
            if i % 25 == 0:
                row["identities"] = [
                    {"provider": "email"},
                    {"provider": "github", "provider_id": str(10_000_000 + i), "identity_data": {"user_name": f"u{i}"}},
                ]
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


def _env(dsn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOTRUE_") and k != "DATABASE_URL"}
    env.update(
        GOTRUE_SITE_URL="http://localhost:3000",
        API_EXTERNAL_URL="http://localhost:9999",
        GOTRUE_JWT_SECRET=SECRET,
        GOTRUE_DB_DRIVER="postgres",
        DATABASE_URL=dsn,
    )
    return env


def pytrue(dsn: str, cwd: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytrue", *args], cwd=cwd, env=_env(dsn), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"pytrue {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def database_size(dsn: str) -> str:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('auth.users')), "
            "pg_size_pretty(pg_total_relation_size('auth.identities')), (SELECT count(*) FROM auth.users), "
            "(SELECT count(*) FROM auth.identities)"
        ).fetchone()
    assert row is not None
    return f"auth.users {row[0]} ({row[2]} rows), auth.identities {row[1]} ({row[3]} rows)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-rerun", action="store_true", help="skip timing a second run of the same file")
    parser.add_argument("--no-export", action="store_true", help="skip timing the export")
    args = parser.parse_args()

    from pytrue.adapters.postgres.cluster import LocalCluster

    with tempfile.TemporaryDirectory(prefix="pytrue-import-bench-") as scratch:
        workdir = Path(scratch)
        users_file = workdir / "users.jsonl"
        started = time.perf_counter()
        generate(users_file, args.users)
        generated = time.perf_counter() - started
        size_mib = users_file.stat().st_size / 2**20
        print(f"generated {args.users:,} users ({size_mib:,.0f} MiB of JSON Lines) in {generated:.1f} s", flush=True)
        cluster = LocalCluster(workdir / "pg", persistent=False)
        cluster.start()
        try:
            dsn = cluster.provision(database="importbench")
            pytrue(dsn, workdir, "migrate")
            elapsed, out = pytrue(dsn, workdir, "users", "import", str(users_file), "--json", "--batch-size", str(args.batch_size))
            summary = json.loads(out)
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(
                f"import:  {summary['imported']:,} imported, {summary['skipped']:,} skipped, {summary['rejected']:,} rejected "
                f"in {elapsed:.1f} s = {summary['imported'] / elapsed:,.0f} users/s "
                f"(batches of {args.batch_size}; peak RSS of the command {peak_mib:,.0f} MiB)",
                flush=True,
            )
            print(f"stored:  {database_size(dsn)}", flush=True)
            if not args.no_rerun:
                elapsed, out = pytrue(dsn, workdir, "users", "import", str(users_file), "--json", "--batch-size", str(args.batch_size))
                again = json.loads(out)
                print(
                    f"re-run:  {again['imported']:,} imported, {again['skipped']:,} skipped in {elapsed:.1f} s "
                    f"= {again['skipped'] / elapsed:,.0f} rows/s",
                    flush=True,
                )
            if not args.no_export:
                elapsed, _ = pytrue(dsn, workdir, "users", "export", str(workdir / "export.jsonl"))
                lines = sum(1 for _ in (workdir / "export.jsonl").open())
                print(f"export:  {lines:,} users in {elapsed:.1f} s = {lines / elapsed:,.0f} users/s", flush=True)
        finally:
            cluster.stop()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
