#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (unit, integration on a throw-away PostgreSQL, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -q "$@"
