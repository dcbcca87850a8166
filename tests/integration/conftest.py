"""Fixtures for the integration suite: one PostgreSQL per session, a fresh database per test or module.

The server is `DATABASE_URL` (or `PYTRUE_TEST_DATABASE_URL`) when set, otherwise a throw-away
LocalCluster started once per session. Databases are cloned from templates, so a clean one costs
a CREATE DATABASE, not a migration.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pgcluster import Databases, PgDatabase, PgServer, start_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_server()
    yield server
    server.close()


@pytest.fixture(scope="session")
def pg_admin_dsn(pg_server: PgServer) -> str:
    """Superuser DSN of the session's server (database `postgres`, or DATABASE_URL's)."""
    return pg_server.admin_dsn


@pytest.fixture(scope="session")
def pg_databases(pg_server: PgServer) -> Iterator[Databases]:
    """Factory for databases cloned from the provisioned-empty or the migrated template."""
    databases = Databases(server=pg_server)
    yield databases
    databases.close()


@pytest.fixture
def fresh_db(pg_databases: Databases) -> Iterator[PgDatabase]:
    """A new database with roles and an empty `auth` schema owned by supabase_auth_admin."""
    database = pg_databases.create()
    yield database
    pg_databases.drop(database)


@pytest.fixture
def migrated_db(pg_databases: Databases) -> Iterator[PgDatabase]:
    """A new database whose `auth` schema pytrue's migrations already created."""
    database = pg_databases.create(migrated=True)
    yield database
    pg_databases.drop(database)


@pytest.fixture(scope="module")
def pg_dsn(pg_databases: Databases) -> Iterator[str]:
    """supabase_auth_admin DSN of a migrated database shared by one test module."""
    database = pg_databases.create(migrated=True)
    yield database.dsn
    pg_databases.drop(database)
