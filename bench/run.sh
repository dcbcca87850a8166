#!/usr/bin/env bash
# One command for pytrue's benchmark (docs/benchmarks.md): bash bench/run.sh [--users 10000,1000000] [--help]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bench: installing wrk from the distribution's packages" >&2
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        echo "bench: wrk is required (Debian/Ubuntu: sudo apt-get install wrk)" >&2
        exit 2
    fi
fi
if [ ! -x .venv/bin/python ]; then
    bash scripts/setup.sh
fi
exec .venv/bin/python bench/run.py "$@"
