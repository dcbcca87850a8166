"""The test databases `make_api` leases: recycled only when nothing but rows changed, and then empty."""

from __future__ import annotations

import psycopg
import pytest
from pgcluster import Databases


def _count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"select count(*) from {table}").fetchone()
        return int(row[0]) if row else -1


def test_a_given_back_database_is_leased_again_without_the_rows_written(warm_templates: Databases) -> None:
    first = warm_templates.lease()
    with psycopg.connect(first.dsn, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, email, created_at, updated_at) "
            "values (gen_random_uuid(), 'authenticated', 'a@example.com', now(), now())"
        )
        conn.execute("insert into auth.audit_log_entries (id, payload) values (gen_random_uuid(), '{}')")
        open_session = psycopg.connect(first.dsn)  # left open: give_back must end it
    migrations = _count(first.dsn, "auth.schema_migrations")
    warm_templates.give_back(first)
    again = warm_templates.lease()
    try:
        assert again.name == first.name
        with pytest.raises(psycopg.OperationalError):
            open_session.execute("select 1")
        assert _count(again.dsn, "auth.users") == 0
        assert _count(again.dsn, "auth.audit_log_entries") == 0
        assert _count(again.dsn, "auth.schema_migrations") == migrations > 0
    finally:
        open_session.close()
        warm_templates.give_back(again)


def test_a_database_whose_schema_changed_is_dropped_not_recycled(warm_templates: Databases) -> None:
    leased = warm_templates.lease()
    with psycopg.connect(leased.admin_dsn, autocommit=True) as conn:
        conn.execute("alter table auth.users add column nickname text")
    warm_templates.give_back(leased)
    with psycopg.connect(warm_templates.server.admin_dsn) as conn:
        row = conn.execute("select count(*) from pg_database where datname = %s", (leased.name,)).fetchone()
    assert row == (0,)
    fresh = warm_templates.lease()
    try:
        with psycopg.connect(fresh.dsn) as conn:
            columns = conn.execute(
                "select count(*) from information_schema.columns "
                "where table_schema = 'auth' and table_name = 'users' and column_name = 'nickname'"
            ).fetchone()
        assert columns == (0,)
    finally:
        warm_templates.give_back(fresh)


def test_changed_database_settings_are_not_recycled(warm_templates: Databases) -> None:
    leased = warm_templates.lease()
    with psycopg.connect(leased.admin_dsn, autocommit=True) as conn:
        conn.execute(f'alter database "{leased.name}" set search_path = public')
    warm_templates.give_back(leased)
    fresh = warm_templates.lease()
    try:
        assert fresh.name != leased.name
    finally:
        warm_templates.give_back(fresh)


def test_changed_seed_rows_are_not_recycled(warm_templates: Databases) -> None:
    leased = warm_templates.lease()
    with psycopg.connect(leased.admin_dsn, autocommit=True) as conn:
        conn.execute("delete from auth.schema_migrations")
    warm_templates.give_back(leased)
    fresh = warm_templates.lease()
    try:
        assert fresh.name != leased.name
        assert _count(fresh.dsn, "auth.schema_migrations") > 0
    finally:
        warm_templates.give_back(fresh)
