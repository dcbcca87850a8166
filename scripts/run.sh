#!/usr/bin/env bash
# Sets everything up and starts the zero-configuration development server on http://localhost:9999.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pytrue dev "$@"
