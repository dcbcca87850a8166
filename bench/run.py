"""pytrue's benchmark: PostgreSQL + `pytrue serve --workers N` on this host, wrk as the load.

    bash bench/run.sh                       # 10 000 users
    bash bench/run.sh --users 10000,1000000 --rounds 3
                                            # both sizes, measured in turn three times, p50 compared

Steps: a throw-away PostgreSQL (LocalCluster, as `pytrue dev` uses), migrations, users seeded in
SQL (bench/seed.py), the server started with N workers; every round, sign-ins to get tokens, then
for each endpoint a warm-up and a measured wrk run; around the password run, argon2id verifies
timed alone (before its warm-up and after it) and the hashing threads' rate doing nothing else.
wrk is one process with one thread; its CPU time is measured and printed, as it shares the cores.
See docs/benchmarks.md for the method and the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lua import SCRIPTS, WrkResult, parse_wrk  # noqa: E402
from seed import TEMPLATE_EMAIL, seed_users  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-Password-1"
ENDPOINTS = ("health", "user", "refresh", "password", "signup")
PATHS = {
    "health": "/health",
    "user": "/user",
    "refresh": "/token?grant_type=refresh_token",
    "password": "/token?grant_type=password",
    "signup": "/signup",
}


def _pytrue() -> list[str]:
    script = Path(sys.executable).parent / "pytrue"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytrue.entrypoints.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_seconds() -> float:
    total = 0.0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == "postgres":
                    total += _cpu_seconds(int(proc.name))
            except OSError:
                continue
    return total


def _server_cpu_seconds(pid: int) -> float:
    try:
        return _cpu_seconds(pid) + sum(_cpu_seconds(child) for child in _children(pid))
    except OSError:
        return 0.0


def _machine_cpu_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(x) for i, x in enumerate(fields) if i not in (3, 4))  # all but idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _verify_times(encoded: str, rounds: int) -> list[float]:
    """Seconds of each of `rounds` argon2 verifies of the seeded hash, on one thread of an idle server."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        hasher.verify(encoded, PASSWORD)
        times.append(time.perf_counter() - started)
    return times


def _hashing_only_rps(encoded: str, threads: int, seconds: float) -> float:
    """Verifies per second with `threads` threads doing nothing else (argon2-cffi releases the GIL):
    what the hash bound is in practice when every core hashes at once."""
    import threading

    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(index: int) -> None:
        while time.perf_counter() < deadline:
            hasher.verify(encoded, PASSWORD)
            counts[index] += 1

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


@contextmanager
def _server(env: dict[str, str], workers: int, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*_pytrue(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"pytrue exited during start-up, see {log}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"pytrue did not start, see {log}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


async def _sign_in(url: str, users: int, count: int) -> tuple[list[str], list[str]]:
    """Sessions for `count` random seeded users: their access and refresh tokens."""
    import random

    access: list[str] = []
    refresh: list[str] = []
    limit = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(i: int) -> None:
            async with limit:
                response = await client.post(
                    "/token?grant_type=password", json={"email": f"user{i}@bench.local", "password": PASSWORD}
                )
            response.raise_for_status()
            body = response.json()
            access.append(body["access_token"])
            refresh.append(body["refresh_token"])

        await asyncio.gather(*(one(random.randrange(users)) for _ in range(count)))
    return access, refresh


def _wrk(
    url: str, endpoint: str, args: list[str], seconds: float, connections: int, scripts: Path
) -> tuple[WrkResult, float]:
    script = scripts / f"{endpoint}.lua"
    script.write_text(SCRIPTS[endpoint])
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
        "-s", str(script), url + PATHS[endpoint], "--", *args,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cpu = 0.0
    while process.poll() is None:
        cpu = max(cpu, _cpu_seconds(process.pid))
        time.sleep(0.05)
    output = process.stdout.read() if process.stdout else ""
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{output}")
    return parse_wrk(output), cpu


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _profile(args: argparse.Namespace, endpoint: str, workdir: Path) -> list[subprocess.Popen[bytes]]:
    """With --profile, py-spy samples every worker during the measured run (collapsed stacks)."""
    if not args.profile:
        return []
    spy = Path(sys.executable).parent / "py-spy"
    procs = []
    for pid in _children(args.server_pid):
        out = workdir / f"profile-{endpoint}-{pid}.txt"
        procs.append(
            subprocess.Popen(
                [str(spy), "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
                 "--duration", str(max(1, round(args.duration))), "--rate", "200", "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    print(f"  (profiling {endpoint} into {workdir}/profile-{endpoint}-*.txt)")
    return procs


def _ms(value: float) -> str:
    return f"{value:8.2f}"


def run_size(
    url: str,
    users: int,
    args: argparse.Namespace,
    scripts: Path,
    tokens: tuple[list[str], list[str]],
) -> dict[str, dict[str, float]]:
    access, refresh = tokens
    prefix = f"s{users}-{secrets.token_hex(3)}-"
    endpoint_args = {
        "health": [],
        "user": access,
        "refresh": refresh,
        "password": [str(users), PASSWORD],
        "signup": [prefix, PASSWORD],
    }
    results: dict[str, dict[str, float]] = {}
    for endpoint in args.endpoints:
        if endpoint == "password":  # time verifies alone now, in the conditions the grant meets
            verify_before = _verify_times(args.encoded_hash, 15)
        connections = args.hash_connections if endpoint in ("password", "signup") else args.connections
        if args.warmup > 0:
            warm_args = endpoint_args[endpoint]
            if endpoint == "signup":
                warm_args = [prefix + "warm-", PASSWORD]
            if endpoint == "refresh":  # the warm-up rotates the tokens: leave the measured run its own
                warm_args = refresh[len(refresh) // 2 :]
                endpoint_args["refresh"] = refresh[: len(refresh) // 2]
            warm_connections = min(connections, len(warm_args)) if endpoint == "refresh" else connections
            _wrk(url, endpoint, warm_args, args.warmup, warm_connections, scripts)
        profilers = _profile(args, endpoint, scripts.parent)
        machine_before = _machine_cpu_seconds()
        server_before, pg_before = _server_cpu_seconds(args.server_pid), _postgres_cpu_seconds()
        result, wrk_cpu = _wrk(url, endpoint, endpoint_args[endpoint], args.duration, connections, scripts)
        machine = _machine_cpu_seconds() - machine_before
        server = _server_cpu_seconds(args.server_pid) - server_before
        pg = _postgres_cpu_seconds() - pg_before
        others = max(0.0, machine - server - pg - wrk_cpu)
        for profiler in profilers:
            profiler.wait(timeout=60)
        if endpoint == "password":
            # and again after the run: one core's speed drifts by ±10 % within minutes on this
            # machine, so the bound is the median of verifies timed on both sides of the run
            verify_after = _verify_times(args.encoded_hash, 15)
            verify = statistics.median(verify_before + verify_after)
            hashing_only = _hashing_only_rps(args.encoded_hash, args.hash_threads, 4.0)
            results["hash_bound"] = {
                "verify_ms": verify * 1000,
                "verify_ms_before": statistics.median(verify_before) * 1000,
                "verify_ms_after": statistics.median(verify_after) * 1000,
                "threads": args.hash_threads,
                "rps": args.hash_threads / verify,
                "hashing_only_rps": hashing_only,
            }
            print(
                f"  (one argon2id verify alone: {statistics.median(verify_before) * 1000:.1f} ms before the run, "
                f"{statistics.median(verify_after) * 1000:.1f} ms after; bound {args.hash_threads} ÷ "
                f"{verify * 1000:.1f} ms = {args.hash_threads / verify:.1f}/s; {args.hash_threads} threads doing "
                f"nothing but verify: {hashing_only:.1f}/s)"
            )
        results[endpoint] = {
            **result.as_dict(),
            "connections": connections,
            "wrk_cpu_share": wrk_cpu / machine if machine else 0.0,
            "server_cpu_share": server / machine if machine else 0.0,
            "postgres_cpu_share": pg / machine if machine else 0.0,
            "others_cpu_share": others / machine if machine else 0.0,
            "machine_busy_cores": machine / result.seconds if result.seconds else 0.0,
        }
        print(
            f"  {endpoint:9} {result.rps:9.1f} req/s  p50 {_ms(result.p50_ms)} ms  p99 {_ms(result.p99_ms)} ms  "
            f"errors {result.errors}  (busy CPU: pytrue {100 * server / machine if machine else 0:.0f}%, "
            f"postgres {100 * pg / machine if machine else 0:.0f}%, wrk {100 * wrk_cpu / machine if machine else 0:.0f}%, "
            f"other processes {100 * others / machine if machine else 0:.0f}%)",
            flush=True,
        )
    return results


def ratios(results: dict[str, dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    health = results.get("health", {}).get("rps")
    if "password" in results:
        out["signin_share_of_hash_bound"] = results["password"]["rps"] / results["hash_bound"]["rps"]
        out["signin_share_of_hashing_only"] = results["password"]["rps"] / results["hash_bound"]["hashing_only_rps"]
    if health:
        if "user" in results:
            out["user_over_health"] = results["user"]["rps"] / health
        if "refresh" in results:
            out["refresh_over_health"] = results["refresh"]["rps"] / health
    return out


TARGETS = {"signin_share_of_hash_bound": 0.90, "user_over_health": 0.30, "refresh_over_health": 0.15}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="10000", help="users to seed; a comma list runs each size in turn")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each measured run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (database endpoints)")
    parser.add_argument("--hash-connections", type=int, default=16, help="wrk connections (hashing endpoints)")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    parser.add_argument("--argon2-memory", default="19456", help="KiB (GOTRUE_PASSWORD_HASH_ARGON2_MEMORY)")
    parser.add_argument("--argon2-iterations", default="2")
    parser.add_argument("--argon2-parallelism", default="1")
    parser.add_argument("--rounds", type=int, default=1, help="measure every size this many times, alternating")
    parser.add_argument(
        "--refresh-algorithm", choices=("0", "2"), default="0",
        help="GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION of the server: 2 measures v2 (session-counter) tokens",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="also serve each size through PgBouncer in transaction mode and measure both routes in turn",
    )
    parser.add_argument("--durable", action="store_true", help="PostgreSQL with fsync and synchronous_commit on")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    parser.add_argument("--profile", action="store_true", help="py-spy every worker (needs py-spy; implies --keep)")
    args = parser.parse_args(argv)
    args.endpoints = [e for e in args.endpoints.split(",") if e]
    sizes = [int(n) for n in args.users.split(",")]
    args.keep = args.keep or args.profile
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2

    from pytrue.adapters.postgres.cluster import LocalCluster

    workdir = Path(tempfile.mkdtemp(prefix="pytrue-bench-"))
    (workdir).chmod(0o755)
    scripts = workdir / "lua"
    scripts.mkdir()
    # Throw-away clusters run with fsync/synchronous_commit off; --durable keeps PostgreSQL's defaults.
    cluster = LocalCluster(workdir / "pg", persistent=args.durable)
    summary: dict[str, object] = {
        "machine": {
            "cores": len(os.sched_getaffinity(0)),
            "cpu": _cpu_model(),
            "loadavg_before": Path("/proc/loadavg").read_text().strip(),
        },
        "workers": args.workers,
        "durable": args.durable,
        "refresh_algorithm": args.refresh_algorithm,
        "argon2": {"m_kib": args.argon2_memory, "t": args.argon2_iterations, "p": args.argon2_parallelism},
        "runs": {},
    }
    print(f"bench: working in {workdir}; load average {summary['machine']['loadavg_before']}", flush=True)  # type: ignore[index]
    try:
        cluster.start()
        secret = secrets.token_urlsafe(48)
        args.hash_threads = args.workers * max(1, len(os.sched_getaffinity(0)) // args.workers)
        summary["hash_threads"] = args.hash_threads
        targets = [_prepare(cluster, users, secret, args) for users in sizes]
        with ExitStack() as stack:
            if args.pgbouncer:
                targets += [_through_pgbouncer(stack, cluster, target, workdir) for target in targets]
            rounds: dict[str, list[dict[str, dict[str, float]]]] = {target["label"]: [] for target in targets}
            for target in targets:
                log = workdir / f"server-{target['label']}.log"
                target["pid"] = stack.enter_context(_server(target["env"], args.workers, target["port"], log)).pid
            for number in range(1, args.rounds + 1):
                # the sizes in turn, the order reversed every other round: the machine's speed
                # drifts within a sitting, and a fixed order would lend the drift to one size
                for target in targets if number % 2 else targets[::-1]:
                    users, url, label = target["users"], target["url"], target["label"]
                    args.server_pid, args.encoded_hash = target["pid"], target["hash"]
                    tokens = asyncio.run(_sign_in(url, users, max(128, 4 * args.connections)))
                    print(
                        f"bench: round {number}/{args.rounds}, {label} users, {args.workers} workers, "
                        f"wrk -t1, {args.duration:g} s per endpoint",
                        flush=True,
                    )
                    rounds[label].append(run_size(url, users, args, scripts, tokens))
        print(f"bench: medians over {args.rounds} round(s)")
        for label in rounds:
            results = _medians(rounds[label])
            size_ratios = ratios(results)
            summary["runs"][label] = {"results": results, "ratios": size_ratios, "rounds": rounds[label]}  # type: ignore[index]
            print(f"  {label} users")
            for endpoint in args.endpoints:
                r = results[endpoint]
                print(
                    f"    {endpoint:9} {r['rps']:9.1f} req/s  p50 {_ms(r['p50_ms'])} ms  p99 {_ms(r['p99_ms'])} ms  "
                    f"errors {int(r['non_2xx'] + r['socket_errors'])}"
                )
            for name, value in size_ratios.items():
                if name in TARGETS:
                    verdict = "meets" if value >= TARGETS[name] else "BELOW"
                    print(f"    {name:28} {value:6.3f}  ({verdict} target {TARGETS[name]:.2f})")
                else:
                    print(f"    {name:28} {value:6.3f}  (for reference; no target)")
        _compare_sizes({k: v for k, v in summary["runs"].items() if k.isdigit()})  # type: ignore[attr-defined]
        _compare_routes(summary["runs"])  # type: ignore[arg-type]
        summary["loadavg_after"] = Path("/proc/loadavg").read_text().strip()
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2))
        errors = sum(
            int(r.get("non_2xx", 0) + r.get("socket_errors", 0))
            for run in summary["runs"].values()  # type: ignore[attr-defined]
            for r in run["results"].values()
        )
        print(f"bench: {errors} request errors in total; load average now {summary['loadavg_after']}")
        return 1 if errors else 0
    finally:
        cluster.stop()
        if args.keep:
            print(f"bench: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _prepare(cluster: Any, users: int, secret: str, args: argparse.Namespace) -> dict[str, Any]:
    """A database of its own for one size: migrated, seeded; the environment of its server."""
    dsn = cluster.provision(database=f"bench_{users}")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GOTRUE_", "PYTRUE_", "DATABASE_URL"))},
        "GOTRUE_DB_DRIVER": "postgres",
        "DATABASE_URL": dsn,
        "GOTRUE_SITE_URL": "http://localhost:3000",
        "API_EXTERNAL_URL": url,
        "GOTRUE_JWT_SECRET": secret,
        "GOTRUE_MAILER_AUTOCONFIRM": "true",
        "GOTRUE_LOG_LEVEL": "warn",
        "GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": args.argon2_memory,
        "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": args.argon2_iterations,
        "GOTRUE_PASSWORD_HASH_ARGON2_PARALLELISM": args.argon2_parallelism,
        "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "1000000000",
        "GOTRUE_RATE_LIMIT_EMAIL_SENT": "1000000000",
        "GOTRUE_RATE_LIMIT_VERIFY": "1000000000",
        "GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION": args.refresh_algorithm,
    }
    subprocess.run([*_pytrue(), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [*_pytrue(), "users", "create", "--email", TEMPLATE_EMAIL, "--password", PASSWORD, "--confirm"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute("select encrypted_password from auth.users where email = %s", [TEMPLATE_EMAIL]).fetchone()
    started = time.monotonic()
    seeded = seed_users(dsn, users)
    print(f"bench: {seeded} users seeded in {time.monotonic() - started:.1f} s", flush=True)
    return {"users": users, "label": str(users), "env": env, "port": port, "url": url, "hash": str(row[0]) if row else ""}


def _through_pgbouncer(stack: ExitStack, cluster: Any, target: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """The same database served by a second server whose DATABASE_URL goes through PgBouncer
    (transaction mode, as many server connections as the direct route's pools may open)."""
    from pytrue.adapters.postgres.bouncer import LocalPgBouncer
    from pytrue.adapters.postgres.cluster import AUTH_ADMIN_ROLE, DEFAULT_PASSWORD

    bouncer = stack.enter_context(
        LocalPgBouncer(cluster.dsn, {AUTH_ADMIN_ROLE: DEFAULT_PASSWORD}, pool_size=24, data_dir=workdir / f"pgbouncer-{target['users']}")
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **target["env"],
        "DATABASE_URL": bouncer.dsn(target["env"]["DATABASE_URL"]),
        "PYTRUE_DB_POOL_MODE": "transaction",
        "API_EXTERNAL_URL": url,
    }
    return {**target, "label": f"{target['users']}+pgbouncer", "env": env, "port": port, "url": url}


def _compare_routes(runs: dict[str, dict[str, dict[str, dict[str, float]]]]) -> None:
    for label in [k for k in runs if k.endswith("+pgbouncer")]:
        direct = runs.get(label.removesuffix("+pgbouncer"))
        if direct is None:
            continue
        print(f"bench: {label} against a direct connection (req/s)")
        for endpoint, result in runs[label]["results"].items():
            base = direct["results"].get(endpoint)
            if base and base.get("rps") and "rps" in result:
                change = result["rps"] / base["rps"] - 1
                print(f"  {endpoint:9} {base['rps']:9.1f} -> {result['rps']:9.1f}  ({100 * change:+.1f} %)")


def _medians(rounds: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per endpoint, the median of each measure over the rounds (errors are summed)."""
    out: dict[str, dict[str, float]] = {}
    for endpoint in rounds[0]:
        values = [r[endpoint] for r in rounds]
        out[endpoint] = {
            key: (sum(v[key] for v in values) if key in ("non_2xx", "socket_errors", "requests")
                  else statistics.median(v[key] for v in values))
            for key in values[0]
        }  # fmt: skip
    return out


def _compare_sizes(runs: dict[str, dict[str, dict[str, dict[str, float]]]]) -> None:
    sizes = sorted(runs, key=int)
    if len(sizes) < 2:
        return
    small, large = sizes[0], sizes[-1]
    print(f"bench: p50 at {large} users against {small} users (target: at most +10 %)")
    for endpoint, result in runs[large]["results"].items():
        base = runs[small]["results"].get(endpoint)
        if base and "p50_ms" in base:
            change = result["p50_ms"] / base["p50_ms"] - 1
            print(f"  {endpoint:9} {base['p50_ms']:8.2f} -> {result['p50_ms']:8.2f} ms  ({100 * change:+.1f} %)")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
