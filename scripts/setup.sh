#!/usr/bin/env bash
# Creates .venv and installs pytrue with its test dependencies; installs the Node clients for e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# PgBouncer for the PostgreSQL suites' transaction-mode route (tests start their own on a free port).
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing pgbouncer from the distribution's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q pgbouncer >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q pgbouncer >/dev/null; }
    # the package's own service (port 6432) is not used: stop it if it was started
    if command -v service >/dev/null 2>&1; then service pgbouncer stop >/dev/null 2>&1 || true; fi
  else
    echo "setup: pgbouncer is needed by the PostgreSQL tests (Debian/Ubuntu: sudo apt-get install pgbouncer)" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
if command -v npm >/dev/null 2>&1; then
  # the e2e scenarios' clients, and the Node example run against `pytrue testserver`
  for dir in tests/e2e/js examples/node; do
    if [ -f "$dir/package.json" ]; then (cd "$dir" && npm ci --silent --no-audit --no-fund); fi
  done
fi
