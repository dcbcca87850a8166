#!/usr/bin/env bash
# PostgreSQL's CPU and WAL per operation, pytrue against GoTrue's statement sequences
# (docs/benchmarks.md, "The database's cost per operation"):
#   bash bench/dbcost.sh [--users 10000] [--ops 2000] [--concurrency 1] [--out bench/results/DATE-dbcost.json]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    bash scripts/setup.sh
fi
exec .venv/bin/python bench/dbcost.py "$@"
