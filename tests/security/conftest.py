"""Security suites run on the in-memory adapters; their contract halves also run on PostgreSQL
through tests/integration/test_contract_postgres.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unit.conftest import api, make_api, make_rate_limiters  # noqa: E402,F401
