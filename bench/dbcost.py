"""The database's cost per operation: pytrue's statements against GoTrue's, on one PostgreSQL.

    bash bench/dbcost.sh [--users 10000] [--ops 2000] [--concurrency 1] [--out FILE.json]

One run: a throw-away PostgreSQL with production's durability (fsync, synchronous_commit and
full_page_writes on), pytrue's schema migrated, users seeded (bench/seed.py). For each
operation — refresh with legacy tokens, refresh with v2 tokens, password sign-in, sign-up,
GET /user — it

* calls pytrue's ASGI app in-process (no HTTP server, as bench/inprocess.py does) `--ops`
  times, and
* replays GoTrue's own statement sequence for the operation with pgbench
  (bench/gotrue_sequences/*.sql, `-M prepared` as GoTrue's pgx driver prepares and caches
  statements) `--ops` times,

and measures, around each, the CPU time of every process of this PostgreSQL (backends,
checkpointer, background writer, WAL writer, autovacuum launcher; utime+stime from /proc,
reaped backends through the postmaster's cutime/cstime) and the WAL written
(pg_current_wal_lsn() before and after; with pg_waldump, the part that is full-page images).
Each measured run starts after a CHECKPOINT, so both sides start with the same full-page-image
debt; autovacuum is off during the run (a VACUUM ANALYZE precedes the measurements).
pgbench's own connection start and its first, cold transaction are taken out: it runs once
with one transaction per client and once with N more, and the difference is divided by N.
pytrue's pool (as many connections as pgbench has clients, `--concurrency`) is warmed by a
tenth of the operations before it is measured. `--rounds R` (default 3) measures both sides R
times, in turn, the order swapped every round, and prints the medians and each round's ratio.

Passwords use a trivial argon2id (m=64 KiB, t=1; `--cheap-hash` in bench/inprocess.py): the
hash is the worker's cost, not the database's. See docs/benchmarks.md, "The database's cost
per operation".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from inprocess import _call, _lifespan  # noqa: E402
from seed import TEMPLATE_EMAIL, seed_users  # noqa: E402

SEQUENCES = HERE / "gotrue_sequences"
PASSWORD = "bench-Password-1"
NIL = "00000000-0000-0000-0000-000000000000"
JSON_HEADERS = {"content-type": "application/json", "user-agent": "pytrue-dbcost/1.0"}

# operation -> (label, GoTrue script it is compared with)
OPERATIONS: dict[str, tuple[str, str]] = {
    "refresh_legacy": ("refresh, legacy token", "refresh_legacy.sql"),
    "refresh_v2": ("refresh, v2 token", "refresh_legacy.sql"),
    "signin": ("password sign-in", "signin.sql"),
    "signup": ("sign-up", "signup.sql"),
    "user": ("GET /user", "user.sql"),
}
# GoTrue's own v2 sequence is measured too, for reference (the targets use its legacy one)
REFERENCE_SCRIPTS = {"refresh_v2": "refresh_v2.sql"}
# (operation, measure, most pytrue ÷ GoTrue)
TARGETS: list[tuple[str, str, float]] = [
    ("refresh_v2", "cpu_us", 0.5),
    ("refresh_v2", "wal_bytes", 0.5),
    ("refresh_legacy", "cpu_us", 1.0),
    ("refresh_legacy", "wal_bytes", 1.0),
    ("signin", "cpu_us", 1.0),
    ("user", "cpu_us", 1.0),
]


# --------------------------------------------------------------------------------------------
# What PostgreSQL spent


@dataclass
class Snapshot:
    cpu: float  # seconds, every process of the cluster (reaped ones through the postmaster)
    background_cpu: float  # of which the non-backend processes (checkpointer, walwriter, ...)
    lsn: str


@dataclass
class Cost:
    ops: int
    cpu_s: float
    background_cpu_s: float
    wal_bytes: int
    fpi_bytes: int | None = None  # full-page images within wal_bytes (pg_waldump), if known
    wal_records: int | None = None  # WAL records (pg_waldump)
    extra: dict[str, Any] = field(default_factory=dict)

    def minus(self, other: Cost) -> Cost:
        def sub(a: int | None, b: int | None) -> int | None:
            return None if a is None or b is None else a - b

        return Cost(
            ops=self.ops - other.ops,
            cpu_s=self.cpu_s - other.cpu_s,
            background_cpu_s=self.background_cpu_s - other.background_cpu_s,
            wal_bytes=self.wal_bytes - other.wal_bytes,
            fpi_bytes=sub(self.fpi_bytes, other.fpi_bytes),
            wal_records=sub(self.wal_records, other.wal_records),
            extra=self.extra,
        )

    def per_op(self) -> dict[str, float | None]:
        n = max(1, self.ops)
        return {
            "ops": self.ops,
            "cpu_us": self.cpu_s / n * 1e6,
            "background_cpu_us": self.background_cpu_s / n * 1e6,
            "wal_bytes": self.wal_bytes / n,
            "wal_bytes_without_fpi": (self.wal_bytes - self.fpi_bytes) / n if self.fpi_bytes is not None else None,
            "wal_records": self.wal_records / n if self.wal_records is not None else None,
            **self.extra,
        }


def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


_BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum launcher", "logical replication launcher",
               "archiver", "startup", "autovacuum worker")


def _is_background(pid: int) -> bool:
    """A server process that is not a client's backend (from its process title)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return any(title.startswith(f"postgres: {name}") for name in _BACKGROUND)


class Meter:
    """CPU and WAL of one PostgreSQL cluster: its postmaster and the postmaster's children only
    (other clusters on the machine are not counted)."""

    def __init__(self, data_dir: Path, superuser_dsn: str, waldump: str | None) -> None:
        import psycopg

        self.data_dir = data_dir
        self.postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        self.conn = psycopg.connect(superuser_dsn, autocommit=True)
        self.waldump = waldump
        self.tick = os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.conn.close()

    def children(self) -> list[int]:
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                fields = _stat_fields(int(proc.name))
                if fields and int(fields[1]) == self.postmaster:  # fields[1] is ppid
                    found.append(int(proc.name))
        return found

    def cpu(self) -> tuple[float, float]:
        """(all, background) CPU seconds: each live process's precise run time (schedstat, ns;
        utime+stime ticks where schedstat is missing) plus the postmaster's cutime+cstime, where
        the backends that have exited (pgbench's connections) end up."""
        fields = _stat_fields(self.postmaster)
        if fields is None:
            raise RuntimeError("the benchmark's PostgreSQL is gone")
        reaped = (int(fields[13]) + int(fields[14])) / self.tick
        own = self._run_time(self.postmaster, fields)
        total, background = reaped + own, own
        for pid in self.children():
            child = _stat_fields(pid)
            if child is None:
                continue
            seconds = self._run_time(pid, child) + (int(child[13]) + int(child[14])) / self.tick
            total += seconds
            if _is_background(pid):
                background += seconds
        return total, background

    def _run_time(self, pid: int, fields: list[str]) -> float:
        try:
            return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return (int(fields[11]) + int(fields[12])) / self.tick

    def snapshot(self) -> Snapshot:
        cpu, background = self.cpu()
        row = self.conn.execute("select pg_current_wal_lsn()::text").fetchone()
        return Snapshot(cpu=cpu, background_cpu=background, lsn=str(row[0]) if row else "0/0")

    def settle(self, dsn: str) -> None:
        """The same starting state for every measured run: no dead rows left to prune on access
        (VACUUM of the benchmark's database), then a CHECKPOINT (every page's next change writes
        a full-page image, on both sides alike)."""
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("vacuum")
        self.conn.execute("checkpoint")
        time.sleep(0.2)

    def wait_backends_reaped(self, before: set[int], timeout: float = 10.0) -> None:
        """Backends that pgbench opened have exited and been reaped (their CPU is in cutime)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not [pid for pid in self.children() if pid not in before and not _is_background(pid)]:
                return
            time.sleep(0.05)

    def cost(self, ops: int, before: Snapshot, after: Snapshot) -> Cost:
        row = self.conn.execute("select pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)::bigint", [after.lsn, before.lsn]).fetchone()
        wal = int(row[0]) if row else 0
        records, fpi_bytes = self.waldump_stats(before.lsn, after.lsn)
        return Cost(ops, after.cpu - before.cpu, after.background_cpu - before.background_cpu, wal, fpi_bytes, records)

    def waldump_stats(self, start: str, end: str) -> tuple[int | None, int | None]:
        """(records, full-page-image bytes) between two LSNs, from `pg_waldump --stats` (None if
        it cannot tell)."""
        if self.waldump is None or start == end:
            return (0, 0) if start == end else (None, None)
        try:
            out = subprocess.run(
                [self.waldump, "--stats", "-p", str(self.data_dir / "pg_wal"), "-s", start, "-e", end],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None, None
        return parse_waldump_stats(out.stdout)


def parse_waldump_stats(text: str) -> tuple[int | None, int | None]:
    """(records, full-page-image bytes) from the "Total" line of `pg_waldump --stats`:
    `Total  N  record-size [%]  FPI-size [%]  combined-size [%]`."""
    match = re.search(r"^Total\s+(\d+)\s+(\d+)\s+\[[^\]]*\]\s+(\d+)\s+\[", text, re.M)
    if not match:
        return None, None
    return int(match.group(1)), int(match.group(3))


# --------------------------------------------------------------------------------------------
# pytrue, in-process


def _app_environment(dsn: str, *, v2: bool, pool: int = 10) -> dict[str, str]:
    env = {
        # as many connections as pgbench has clients: each side's operations then run on as many
        # backends (with the default 10, one-at-a-time operations would rotate through ten)
        "GOTRUE_DB_MAX_POOL_SIZE": str(pool),
        "GOTRUE_DB_DRIVER": "postgres",
        "DATABASE_URL": dsn,
        "GOTRUE_SITE_URL": "http://localhost:3000",
        "API_EXTERNAL_URL": "http://localhost:9999",
        "GOTRUE_JWT_SECRET": "dbcost-" + "x" * 40,
        "GOTRUE_MAILER_AUTOCONFIRM": "true",
        # Supabase's audience and role, which the GoTrue sequences use too
        "GOTRUE_JWT_AUD": "authenticated",
        "GOTRUE_JWT_DEFAULT_GROUP_NAME": "authenticated",
        "GOTRUE_LOG_LEVEL": "warn",
        "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "1000000000",
        "GOTRUE_RATE_LIMIT_EMAIL_SENT": "1000000000",
        "GOTRUE_RATE_LIMIT_VERIFY": "1000000000",
        # the work around the hash, not the hash: a trivial argon2id
        "GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": "64",
        "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": "1",
        "GOTRUE_PASSWORD_HASH_ARGON2_PARALLELISM": "1",
    }
    if v2:
        env["GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION"] = "2"
    return env


def token_format(token: str) -> str:
    """What a refresh token is: 'v2' (51–62 chars base64url starting with A), 'legacy' (12 chars)."""
    if len(token) == 12:
        return "legacy"
    if 51 <= len(token) <= 62 and token.startswith("A") and re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return "v2"
    return f"unknown ({len(token)} chars)"


class Pytrue:
    """pytrue's app built from an environment, called in-process."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.app: Any = None

    async def __aenter__(self) -> Pytrue:
        self.saved = dict(os.environ)
        for key in [k for k in os.environ if k.startswith(("GOTRUE_", "PYTRUE_", "DATABASE_URL", "API_EXTERNAL"))]:
            del os.environ[key]
        os.environ.update(self.env)
        from pytrue.entrypoints.http.asgi import create

        self.app = create()
        self.task, self.inbox = await _lifespan(self.app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.task
        os.environ.clear()
        os.environ.update(self.saved)

    async def ok(self, method: str, path: str, query: str = "", headers: dict[str, str] | None = None,
                 body: Any = None) -> dict[str, Any]:  # fmt: skip
        raw = json.dumps(body).encode() if body is not None else b""
        status, out = await _call(self.app, method, path, query, headers or JSON_HEADERS, raw)
        if status != 200:
            raise RuntimeError(f"{method} {path}?{query}: {status} {out[:300]!r}")
        return json.loads(out)

    async def sign_in(self, i: int) -> dict[str, Any]:
        return await self.ok("POST", "/token", "grant_type=password", body={"email": f"user{i}@bench.local", "password": PASSWORD})

    async def refresh(self, token: str) -> dict[str, Any]:
        return await self.ok("POST", "/token", "grant_type=refresh_token", body={"refresh_token": token})

    async def user(self, access: str) -> dict[str, Any]:
        return await self.ok("GET", "/user", headers={"authorization": f"Bearer {access}", "user-agent": "pytrue-dbcost/1.0"})

    async def sign_up(self, email: str) -> dict[str, Any]:
        return await self.ok("POST", "/signup", body={"email": email, "password": PASSWORD})


async def _lanes(concurrency: int, items: list[Any], one: Callable[[Any], Any]) -> list[Any]:
    """Run `one` over `items`, `concurrency` at a time (lanes, as a server's event loop would)."""
    results: list[Any] = [None] * len(items)
    cursor = iter(range(len(items)))

    async def lane() -> None:
        for index in cursor:
            results[index] = await one(items[index])

    await asyncio.gather(*(lane() for _ in range(max(1, concurrency))))
    return results


async def _measure(meter: Meter, dsn: str, ops: int, run: Callable[[], Any]) -> Cost:
    meter.settle(dsn)
    before = meter.snapshot()
    await run()
    after = meter.snapshot()
    return meter.cost(ops, before, after)


async def measure_pytrue(dsn: str, meter: Meter, args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Cost]:
    import random

    rng = random.Random(args.seed)
    ops, warm, c = args.ops, max(2, args.ops // 10), args.concurrency
    results: dict[str, Cost] = {}
    wanted = set(args.operations)

    def users(n: int) -> list[int]:
        return [rng.randrange(1, args.users) for _ in range(n)]

    async with Pytrue(_app_environment(dsn, v2=False, pool=args.pool_size)) as app:
        # sign-in: every measured sign-in is a random seeded user's new session; its tokens
        # serve GET /user and the legacy refresh below
        await _lanes(c, users(warm), app.sign_in)
        sessions: list[dict[str, Any]] = []

        async def sign_ins() -> None:
            sessions.extend(await _lanes(c, users(ops), app.sign_in))

        cost = await _measure(meter, dsn, ops, sign_ins)
        if "signin" in wanted:
            results["signin"] = cost
        formats = {token_format(s["refresh_token"]) for s in sessions}
        log(f"  pytrue sign-in issued refresh tokens: {', '.join(sorted(formats))}")

        if "user" in wanted:
            await _lanes(c, [s["access_token"] for s in sessions[:warm]], app.user)

            async def users_get() -> None:
                await _lanes(c, [s["access_token"] for s in sessions], app.user)

            results["user"] = await _measure(meter, dsn, ops, users_get)

        if "refresh_legacy" in wanted:
            # warm-up on tokens of sessions not measured, then one refresh per measured session
            extra = await _lanes(c, users(warm), app.sign_in)
            await _lanes(c, [s["refresh_token"] for s in extra], app.refresh)
            presented = [s["refresh_token"] for s in sessions]
            issued: list[dict[str, Any]] = []

            async def refreshes() -> None:
                issued.extend(await _lanes(c, presented, app.refresh))

            cost = await _measure(meter, dsn, ops, refreshes)
            seen = sorted({token_format(t) for t in presented} | {token_format(r["refresh_token"]) for r in issued})
            cost.extra["token_format"] = ", ".join(seen)
            results["refresh_legacy"] = cost

        if "signup" in wanted:
            prefix = f"dbcost-{secrets.token_hex(3)}-"
            await _lanes(c, [f"{prefix}warm{i}@bench.local" for i in range(warm)], app.sign_up)

            async def sign_ups() -> None:
                await _lanes(c, [f"{prefix}{i}@bench.local" for i in range(ops)], app.sign_up)

            results["signup"] = await _measure(meter, dsn, ops, sign_ups)

    if "refresh_v2" in wanted:
        async with Pytrue(_app_environment(dsn, v2=True, pool=args.pool_size)) as app:
            fresh = await _lanes(c, users(ops + warm), app.sign_in)
            await _lanes(c, [s["refresh_token"] for s in fresh[:warm]], app.refresh)
            presented = [s["refresh_token"] for s in fresh[warm:]]
            issued = []

            async def refreshes_v2() -> None:
                issued.extend(await _lanes(c, presented, app.refresh))

            cost = await _measure(meter, dsn, ops, refreshes_v2)
            seen = sorted({token_format(t) for t in presented} | {token_format(r["refresh_token"]) for r in issued})
            cost.extra["token_format"] = ", ".join(seen)
            results["refresh_v2"] = cost
            log(f"  pytrue with GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION=2 issued and refreshed: {cost.extra['token_format']}")
    return results


# --------------------------------------------------------------------------------------------
# GoTrue's statement sequences, with pgbench


def seed_gotrue_rows(dsn: str, users: int, sessions: int) -> None:
    """Sessions for the GoTrue sequences, written in SQL as GoTrue's login would leave them.

    Session n (1..sessions) is md5('bench-session-' || n)::uuid of user ((n-1) mod (users-1))+1,
    with an amr claim and one live legacy refresh token 100000000000+n. v2 sessions
    md5('bench-v2-session-' || n)::uuid of the same users carry an HMAC key and counter 0.
    """
    import psycopg

    user = f"md5('bench-user-' || ((n - 1) %% {users - 1} + 1))::uuid"
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        for kind, sid, key in (
            ("legacy", "md5('bench-session-' || n)::uuid", "NULL, NULL"),
            ("v2", "md5('bench-v2-session-' || n)::uuid",
             "translate(encode(sha256(('key' || n)::bytea), 'base64'), '+/=', '-_'), 0"),
        ):  # fmt: skip
            conn.execute(
                f"insert into sessions (id, user_id, created_at, updated_at, aal, user_agent, ip, "
                f"refresh_token_hmac_key, refresh_token_counter) "
                f"select {sid}, {user}, now(), now(), 'aal1', 'pytrue-dbcost/1.0', '127.0.0.1', {key} "
                f"from generate_series(1, %s) n",
                [sessions],
            )
            conn.execute(
                f"insert into mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) "
                f"select gen_random_uuid(), {sid}, now(), now(), 'password' from generate_series(1, %s) n",
                [sessions],
            )
            if kind == "legacy":
                conn.execute(
                    f"insert into refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, session_id) "
                    f"select %s, (100000000000 + n)::text, ({user})::text, false, now(), now(), {sid} "
                    f"from generate_series(1, %s) n",
                    [NIL, sessions],
                )


def pgbench_binary() -> str:
    from pytrue.adapters.postgres.cluster import iter_binaries

    for binaries in iter_binaries():
        candidate = binaries.bindir / "pgbench"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("pgbench")
    if found:
        return found
    raise SystemExit("dbcost: pgbench not found (the pgserver wheel or PostgreSQL's client tools)")


def waldump_binary() -> str | None:
    from pytrue.adapters.postgres.cluster import iter_binaries

    for binaries in iter_binaries():
        candidate = binaries.bindir / "pg_waldump"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("pg_waldump")


def pgbench(binary: str, dsn: str, script: Path, transactions: int, concurrency: int,
            variables: dict[str, int]) -> str:  # fmt: skip
    """Run one pgbench script; raise with its output if any transaction failed."""
    per_client = max(1, transactions // concurrency)
    command = [binary, "-n", "-M", "prepared", "-f", str(script), "-t", str(per_client), "-c", str(concurrency), "-j", "1"]
    for name, value in variables.items():
        command += ["-D", f"{name}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    out = subprocess.run([*command, dsn], capture_output=True, text=True, env=env, timeout=3600)
    text = out.stdout + out.stderr
    failed = re.search(r"number of failed transactions: (\d+)", text)
    processed = re.search(r"number of transactions actually processed: (\d+)", text)
    if out.returncode != 0 or (failed and int(failed.group(1))) or not processed:
        raise RuntimeError(f"pgbench {script.name} failed (exit {out.returncode}):\n{text[-3000:]}")
    if int(processed.group(1)) != per_client * concurrency:
        raise RuntimeError(f"pgbench {script.name}: {processed.group(1)} transactions of {per_client * concurrency}:\n{text}")
    return text


def measure_sequence(meter: Meter, binary: str, dsn: str, script: Path, ops: int, concurrency: int,
                     variables: dict[str, int]) -> Cost:  # fmt: skip
    """(cost of ops + c transactions) − (cost of c transactions), each run after a CHECKPOINT:
    the connection start-ups and the cold first transactions cancel out."""
    runs = []
    for transactions in (concurrency, ops + concurrency):
        meter.settle(dsn)
        backends = set(meter.children())
        before = meter.snapshot()
        pgbench(binary, dsn, script, transactions, concurrency, variables)
        meter.wait_backends_reaped(backends)
        after = meter.snapshot()
        runs.append(meter.cost(transactions, before, after))
    return runs[1].minus(runs[0])


def measure_gotrue(dsn: str, meter: Meter, args: argparse.Namespace, variables: dict[str, int]) -> dict[str, Cost]:
    binary = pgbench_binary()
    results: dict[str, Cost] = {}
    scripts = {op: OPERATIONS[op][1] for op in args.operations}
    scripts.update({f"gotrue_{op}": name for op, name in REFERENCE_SCRIPTS.items() if op in args.operations})
    done: dict[str, Cost] = {}
    for op, name in scripts.items():
        if name not in done:  # refresh_legacy.sql serves both refresh rows: measured once
            done[name] = measure_sequence(meter, binary, dsn, SEQUENCES / name, args.ops, args.concurrency, variables)
        results[op] = done[name]
    return results


# --------------------------------------------------------------------------------------------
# The run


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def medians(rounds: list[dict[str, Cost]]) -> dict[str, dict[str, Any]]:
    """Per operation, the median over the rounds of every per-operation figure (text figures,
    such as the token format seen, are joined)."""
    import statistics

    out: dict[str, dict[str, Any]] = {}
    for op in rounds[0]:
        values = [r[op].per_op() for r in rounds if op in r]
        merged: dict[str, Any] = {}
        for key in values[0]:
            column = [v[key] for v in values]
            if all(isinstance(x, int | float) for x in column):
                merged[key] = statistics.median(column)
            elif all(x is None for x in column):
                merged[key] = None
            else:
                merged[key] = ", ".join(sorted({str(x) for x in column}))
        merged["rounds"] = len(values)
        out[op] = merged
    return out


def report(pytrue: dict[str, dict[str, Any]], gotrue: dict[str, dict[str, Any]], operations: list[str],
           per_round: list[tuple[dict[str, Cost], dict[str, Cost]]]) -> tuple[list[str], dict[str, Any]]:  # fmt: skip
    lines = [
        f"{'operation':24} {'pytrue CPU':>11} {'GoTrue CPU':>11} {'ratio':>6}   {'pytrue WAL':>11} {'GoTrue WAL':>11} {'ratio':>6}"
        f"   {'w/o FPI: pytrue':>15} {'GoTrue':>7}   CPU ratio per round",
        f"{'':24} {'µs/op':>11} {'µs/op':>11} {'':>6}   {'bytes/op':>11} {'bytes/op':>11} {'':>6}",
    ]
    table: dict[str, Any] = {}
    for op in operations:
        if op not in pytrue or op not in gotrue:
            continue
        p, g = pytrue[op], gotrue[op]
        cpu_ratio, wal_ratio = _ratio(p["cpu_us"], g["cpu_us"]), _ratio(p["wal_bytes"], g["wal_bytes"])
        round_ratios = [
            _ratio(pr[op].per_op()["cpu_us"], gr[op].per_op()["cpu_us"]) for pr, gr in per_round if op in pr and op in gr
        ]
        table[op] = {
            "label": OPERATIONS[op][0],
            "gotrue_script": OPERATIONS[op][1],
            "pytrue": p,
            "gotrue": g,
            "cpu_ratio": cpu_ratio,
            "wal_ratio": wal_ratio,
            "cpu_ratio_per_round": round_ratios,
        }

        def fmt(value: float | None, spec: str) -> str:
            return format(value, spec) if value is not None else "-"

        label = OPERATIONS[op][0] + (" *" if op == "refresh_v2" else "")
        lines.append(
            f"{label:24} {p['cpu_us']:11.0f} {g['cpu_us']:11.0f} {fmt(cpu_ratio, '6.2f')}   "
            f"{p['wal_bytes']:11.0f} {g['wal_bytes']:11.0f} {fmt(wal_ratio, '6.2f')}   "
            f"{fmt(p['wal_bytes_without_fpi'], '15.0f')} {fmt(g['wal_bytes_without_fpi'], '7.0f')}   "
            + " ".join(fmt(r, ".2f") for r in round_ratios)
        )
    if "refresh_v2" in table:
        lines.append("  * compared with GoTrue's legacy refresh sequence (the target's baseline)")
        ref = gotrue.get("gotrue_refresh_v2")
        if ref is not None:
            r = ref
            table["gotrue_refresh_v2"] = {"label": "GoTrue's v2 refresh sequence (reference)", "gotrue": r}
            lines.append(f"  GoTrue's own v2 refresh sequence, for reference: {r['cpu_us']:.0f} µs/op, {r['wal_bytes']:.0f} WAL bytes/op")
    return lines, table


def check_targets(table: dict[str, Any], pytrue: dict[str, dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    lines, verdicts = [], []
    for op, measure, limit in TARGETS:
        if op not in table:
            continue
        ratio = table[op]["cpu_ratio" if measure == "cpu_us" else "wal_ratio"]
        passed = ratio is not None and ratio <= limit
        note = ""
        if op == "refresh_v2":
            fmt_seen = pytrue[op].get("token_format", "")
            if fmt_seen != "v2":
                note = f"  (pytrue issued {fmt_seen} tokens: this measures legacy, not v2)"
        what = "CPU" if measure == "cpu_us" else "WAL"
        lines.append(
            f"  {table[op]['label'] + ' ' + what:34} {ratio if ratio is not None else float('nan'):5.2f} × GoTrue  "
            f"target ≤ {limit:.1f}  {'pass' if passed else 'FAIL'}{note}"
        )
        verdicts.append({"operation": op, "measure": measure, "ratio": ratio, "limit": limit, "pass": passed, "note": note.strip()})
    return lines, verdicts


def run(args: argparse.Namespace) -> dict[str, Any]:
    from pytrue.adapters.postgres.cluster import LocalCluster

    log = (lambda s: print(s, flush=True)) if not args.quiet else (lambda s: None)
    workdir = Path(tempfile.mkdtemp(prefix="pytrue-dbcost-"))
    workdir.chmod(0o755)
    # persistent=True: PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes on),
    # not the throw-away settings; the directory is removed below all the same
    cluster = LocalCluster(workdir / "pg", persistent=True)
    summary: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "users": args.users,
        "ops": args.ops,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "pytrue_pool_size": args.pool_size,
        "machine": {"cores": len(os.sched_getaffinity(0)), "loadavg_before": Path("/proc/loadavg").read_text().strip()},
    }
    meter: Meter | None = None
    try:
        superuser = cluster.start()
        dsn = cluster.provision(database="dbcost")
        import psycopg

        with psycopg.connect(superuser, autocommit=True) as conn:
            summary["postgres"] = str(conn.execute("select version()").fetchone()[0])  # type: ignore[index]
            settings = conn.execute(
                "select name, setting from pg_settings where name in "
                "('fsync','synchronous_commit','full_page_writes','wal_level','wal_compression','shared_buffers')"
            ).fetchall()
            summary["settings"] = {name: value for name, value in settings}
            conn.execute("alter system set autovacuum = off")
            conn.execute("select pg_reload_conf()")
        log(f"dbcost: PostgreSQL in {workdir}: " + ", ".join(f"{k}={v}" for k, v in summary["settings"].items()))

        async def template() -> None:
            async with Pytrue(_app_environment(dsn, v2=False)) as app:  # migrates the schema
                await app.sign_up(TEMPLATE_EMAIL)

        asyncio.run(template())
        started = time.monotonic()
        seeded = seed_users(dsn, args.users)
        sessions = max(1000, (args.rounds + 1) * (args.ops + args.concurrency))
        seed_gotrue_rows(dsn, args.users, sessions)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("vacuum analyze")
        log(f"dbcost: {seeded} users and {sessions} + {sessions} GoTrue-side sessions seeded in {time.monotonic() - started:.1f} s")
        variables = {"nusers": args.users, "ntokens": sessions, "nsessions": sessions, "nv2": sessions}
        summary["pgbench_variables"] = variables
        if args.prepare_only:
            print(f"dbcost: ready: {dsn}\n  pgbench variables: " + " ".join(f"-D {k}={v}" for k, v in variables.items()), flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return summary

        meter = Meter(cluster.data_dir, superuser, waldump_binary())
        log(f"dbcost: pytrue in-process, {args.ops} operations each, {args.concurrency} at a time")
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:
            runner = asyncio.run
        per_round: list[tuple[dict[str, Cost], dict[str, Cost]]] = []
        for number in range(1, args.rounds + 1):
            # the two sides in turn, the order swapped every round: the machine's speed drifts
            first_pytrue = number % 2 == 1
            pytrue_round: dict[str, Cost] = {}
            gotrue_round: dict[str, Cost] = {}
            for side in ("pytrue", "gotrue") if first_pytrue else ("gotrue", "pytrue"):
                if side == "pytrue":
                    log(f"dbcost: round {number}/{args.rounds}: pytrue in-process, {args.ops} operations each, "
                        f"{args.concurrency} at a time")  # fmt: skip
                    pytrue_round = runner(measure_pytrue(dsn, meter, args, log))
                else:
                    log(f"dbcost: round {number}/{args.rounds}: GoTrue's statement sequences, pgbench -M prepared "
                        f"-c {args.concurrency}")  # fmt: skip
                    gotrue_round = measure_gotrue(dsn, meter, args, variables)
            per_round.append((pytrue_round, gotrue_round))
            args.seed += 1
        pytrue = medians([p for p, _ in per_round])
        gotrue = medians([g for _, g in per_round])
        lines, table = report(pytrue, gotrue, list(OPERATIONS), per_round)
        target_lines, verdicts = check_targets(table, pytrue)
        print(f"\nPostgreSQL's cost per operation, medians of {args.rounds} round(s) (CPU of all its processes; "
              "WAL from the LSN; each run after VACUUM and CHECKPOINT)")
        print("\n".join(lines))
        print("\nTargets")
        print("\n".join(target_lines))
        summary.update(results=table, targets=verdicts, loadavg_after=Path("/proc/loadavg").read_text().strip())
        summary["rounds"] = [
            {"pytrue": {op: asdict(c) for op, c in p.items()}, "gotrue": {op: asdict(c) for op, c in g.items()}}
            for p, g in per_round
        ]
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(summary, indent=2))
            log(f"dbcost: wrote {args.out}")
        return summary
    finally:
        if meter is not None:
            meter.close()
        cluster.stop(force=True)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000, help="users to seed (default 10 000)")
    parser.add_argument("--ops", type=int, default=2000, help="measured operations per operation type (default 2000)")
    parser.add_argument("--concurrency", type=int, default=1, help="operations in flight, both sides (default 1)")
    parser.add_argument("--pool-size", type=int, help="pytrue's GOTRUE_DB_MAX_POOL_SIZE (default: --concurrency)")
    parser.add_argument("--rounds", type=int, default=3, help="measure both sides this many times, in turn (default 3)")
    parser.add_argument("--operations", default=",".join(OPERATIONS), help="comma list of " + ", ".join(OPERATIONS))
    parser.add_argument("--out", type=Path, help="write the results as JSON here (e.g. bench/results/DATE-dbcost.json)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the users pytrue signs in")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--prepare-only", action="store_true",
                        help="start, migrate and seed, print the DSN and wait for Ctrl-C (to try the scripts by hand)")
    args = parser.parse_args(argv)
    args.operations = [op for op in args.operations.split(",") if op]
    args.pool_size = args.pool_size or args.concurrency
    unknown = set(args.operations) - set(OPERATIONS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    if args.ops < 2 or args.users < 2:
        parser.error("--ops and --users must be at least 2")
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
