#!/usr/bin/env bash
# Creates .venv and installs pytrue with its test dependencies; installs the Node clients for e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
if [ -f tests/e2e/js/package.json ] && command -v npm >/dev/null 2>&1; then
  (cd tests/e2e/js && npm ci --silent --no-audit --no-fund)
fi
