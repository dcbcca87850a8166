#!/usr/bin/env bash
# Compare this checkout with an earlier commit in one sitting: bash bench/compare.sh BASE [--rounds 2] [--help]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    bash scripts/setup.sh
fi
exec .venv/bin/python bench/compare.py "$@"
