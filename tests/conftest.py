"""Session-wide PostgreSQL for every suite that needs one (integration, security): one server per run.

The server is `DATABASE_URL` (or `PYTRUE_TEST_DATABASE_URL`) when set, otherwise a throw-away
LocalCluster started on first use. Databases are cloned from templates, so a clean one costs a
CREATE DATABASE, not a migration. Suites on in-memory storage never start it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# pytrue's own pytest plugin (entry point pytest11) is tested with pytest's pytester
pytest_plugins = ("pytester",)

TESTS = Path(__file__).resolve().parent
for folder in (TESTS, TESTS / "integration"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    from pgcluster import start_server

    server = start_server()
    yield server
    server.close()


@pytest.fixture(scope="session")
def pg_admin_dsn(pg_server: Any) -> str:
    """Superuser DSN of the session's server (database `postgres`, or DATABASE_URL's)."""
    return pg_server.admin_dsn


@pytest.fixture(scope="session")
def pg_databases(pg_server: Any) -> Iterator[Any]:
    """Factory for databases cloned from the provisioned-empty or the migrated template."""
    from pgcluster import Databases

    databases = Databases(server=pg_server)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def warm_templates(pg_databases: Any) -> Any:
    """Build the migrated template outside any event loop (its migration runs its own loop)."""
    pg_databases.drop(pg_databases.create(migrated=True))
    return pg_databases
