"""Start-up time of pytrue.testing's in-process server (issue 14; target: under 200 ms in memory).

    .venv/bin/python bench/startup.py [--starts N] [--resets N] [--postgres]

Each figure is measured in a fresh interpreter where it matters:
- import: `import pytrue.testing` alone, then everything the first start imports (Litestar, the
  container's adapters, httpx, uvicorn) — paid once per test process;
- first start: `AuthServer().start()` right after that import (cold: lazy imports included);
- start / stop: further servers in the same process (what a fixture pays per server);
- reset: `reset()` between tests (what the `pytrue` fixture pays per test);
- with --postgres, one start on an embedded throw-away cluster (initdb included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import pytrue.testing
t1 = time.perf_counter()
from pytrue.testing import AuthServer
server = AuthServer()
server.start()
t2 = time.perf_counter()
server.stop()
print(json.dumps({"import": t1 - t0, "first_start": t2 - t1}))
"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    p90 = values[max(0, int(len(values) * 0.9) - 1)]
    return f"{name:<14} median {_ms(statistics.median(values)):>10}   p90 {_ms(p90):>10}   min {_ms(values[0]):>10}   (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--resets", type=int, default=200)
    parser.add_argument("--cold", type=int, default=5, help="fresh interpreters for the import and first start")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    cold = [json.loads(subprocess.check_output([sys.executable, "-c", CHILD], text=True)) for _ in range(args.cold)]

    import httpx

    from pytrue.testing import AuthServer

    AuthServer().start()  # warm the imports, as a test process's first server did
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(args.starts):
        server = AuthServer()
        began = time.perf_counter()
        server.start()
        started = time.perf_counter()
        assert httpx.get(server.url + "/health").status_code == 200
        stopping = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - stopping)
        starts.append(started - began)

    resets: list[float] = []
    with AuthServer() as server:
        for i in range(args.resets):
            server.create_user(f"user{i}@example.com", "bench-password-1")
            began = time.perf_counter()
            server.reset()
            resets.append(time.perf_counter() - began)

    print(f"pytrue.testing start-up, {time.strftime('%Y-%m-%d %H:%M:%S')}, load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    print(_summary("import", [c["import"] for c in cold]))
    print(_summary("first start", [c["first_start"] for c in cold]))
    print(_summary("start", starts))
    print(_summary("stop", stops))
    print(_summary("reset", resets))
    if args.postgres:
        server = AuthServer(storage="postgres")
        began = time.perf_counter()
        server.start()
        pg_start = time.perf_counter() - began
        server.stop()
        print(f"{'postgres start':<14} {_ms(pg_start)} (embedded cluster: initdb, start, migrations)")


if __name__ == "__main__":
    main()
