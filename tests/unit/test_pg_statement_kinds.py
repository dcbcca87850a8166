"""Which statements may run before a PostgreSQL unit of work opens its transaction."""

from __future__ import annotations

import pytest

from pytrue.adapters.postgres.repositories import reads_only


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM {s}.sessions WHERE id = %s",
        "  select 1",
        "SELECT u.*, i.id AS identity_id FROM (SELECT id FROM {s}.users LIMIT 1) u LEFT JOIN {s}.identities i ON true",
        "SELECT before_update FROM {s}.t",  # a column name is not a locking clause
    ],
)
def test_plain_selects_read_only(query: str) -> None:
    assert reads_only(query)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT id FROM {s}.refresh_tokens WHERE token = %s FOR UPDATE SKIP LOCKED",
        "SELECT id FROM {s}.sessions WHERE id = %s for no key update",
        "SELECT id FROM {s}.sessions WHERE id = %s FOR SHARE",
        "SELECT id FROM {s}.sessions WHERE id = %s FOR KEY SHARE NOWAIT",
        "INSERT INTO {s}.users (id) VALUES (%s)",
        "UPDATE {s}.users SET email = %s",
        "DELETE FROM {s}.sessions WHERE id = %s",
        "WITH gone AS (DELETE FROM {s}.sessions RETURNING id) SELECT count(*) FROM gone",
    ],
)
def test_writes_and_locks_need_the_transaction(query: str) -> None:
    assert not reads_only(query)
