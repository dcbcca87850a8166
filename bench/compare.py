"""Compare this checkout with an earlier commit, measured alternately in one sitting.

    bash bench/compare.sh BASE [--rounds 2] [--endpoints health,user,refresh,password]
                               [--duration 8] [--users 10000] [--head-args "--refresh-algorithm 2"]

This machine's speed drifts by ±10 % within minutes (docs/benchmarks.md, "Machine"), so two
builds measured at different times cannot be compared. This checks BASE out in a temporary git
worktree (with its own virtualenv, from its own `scripts/setup.sh`), then runs both builds'
`bench/run.sh` one after the other, round after round, swapping which goes first each round,
and prints every round's requests per second side by side with the change of the medians.
`--base-args`/`--head-args` pass extra options to one build's `bench/run.sh` (for example v2
refresh tokens on this checkout against legacy ones on BASE, which may be the same commit).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent

Rounds = dict[str, list[dict[str, float]]]  # build -> one {endpoint: req/s} per round


def order(round_number: int, builds: tuple[str, str]) -> tuple[str, str]:
    """Which build goes first: alternating, so that a drift during the sitting favours neither."""
    return builds if round_number % 2 else (builds[1], builds[0])


def rates(summary: dict[str, Any], users: int) -> dict[str, float]:
    """Requests per second per endpoint, from one `bench/run.py --json` file."""
    results = summary["runs"][str(users)]["results"]
    return {endpoint: float(r["rps"]) for endpoint, r in results.items() if "rps" in r and endpoint != "hash_bound"}


def table(rounds: Rounds, builds: tuple[str, str], endpoints: list[str]) -> list[str]:
    base, head = builds
    lines = [f"{'endpoint':10} {base + ' (req/s per round)':>34} {head + ' (req/s per round)':>34} {'change':>8}"]
    for endpoint in endpoints:
        before = [r[endpoint] for r in rounds[base] if endpoint in r]
        after = [r[endpoint] for r in rounds[head] if endpoint in r]
        if not before or not after:
            continue
        change = statistics.median(after) / statistics.median(before) - 1
        lines.append(
            f"{endpoint:10} {', '.join(f'{v:.1f}' for v in before):>34} "
            f"{', '.join(f'{v:.1f}' for v in after):>34} {change:+8.1%}"
        )
    return lines


def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the commit to compare with (anything `git worktree add` takes)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--endpoints", default="health,user,refresh,password")
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--base-args", default="", help="extra bench/run.sh options for BASE")
    parser.add_argument("--head-args", default="", help="extra bench/run.sh options for this checkout")
    args = parser.parse_args(argv)
    extra = {"base": shlex.split(args.base_args), "head": shlex.split(args.head_args)}
    endpoints = args.endpoints.split(",")

    workdir = Path(tempfile.mkdtemp(prefix="pytrue-compare-"))
    base_tree = workdir / "base"
    _run(["git", "worktree", "add", "--detach", str(base_tree), args.base], HERE)
    try:
        if not (base_tree / "bench" / "run.sh").exists():
            print(f"compare: {args.base} has no bench/run.sh", file=sys.stderr)
            return 2
        _run(["bash", "scripts/setup.sh"], base_tree)
        trees = {"base": base_tree, "head": HERE}
        rounds: Rounds = {"base": [], "head": []}
        for number in range(1, args.rounds + 1):
            for build in order(number, ("base", "head")):
                out = workdir / f"{build}-{number}.json"
                print(f"compare: round {number}/{args.rounds}, {build}", flush=True)
                _run(
                    [
                        "bash", "bench/run.sh", "--users", str(args.users), "--endpoints", args.endpoints,
                        "--duration", str(args.duration), "--json", str(out), *extra[build],
                    ],
                    trees[build],
                )
                rounds[build].append(rates(json.loads(out.read_text()), args.users))
        print(f"compare: {args.base} (base) against this checkout (head), {args.users} users")
        for build in ("base", "head"):
            if extra[build]:
                print(f"  {build} run with: {' '.join(extra[build])}")
        for line in table(rounds, ("base", "head"), endpoints):
            print("  " + line)
        return 0
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=HERE, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
