"""Queued one-row INSERTs of the same statement are sent as one multi-row INSERT."""

from __future__ import annotations

from pytrue.adapters.postgres.repositories import _coalesced

AUDIT = "INSERT INTO auth.audit_log_entries (instance_id, id, payload) VALUES (%s, %s, %s)"


def test_consecutive_inserts_of_one_statement_become_one() -> None:
    batch = [("BEGIN", None), (AUDIT, (1, 2, 3)), (AUDIT, (4, 5, 6)), (AUDIT, (7, 8, 9))]
    assert _coalesced(batch) == [
        ("BEGIN", None),
        (AUDIT + ", (%s, %s, %s), (%s, %s, %s)", (1, 2, 3, 4, 5, 6, 7, 8, 9)),
    ]


def test_order_is_kept_and_only_neighbours_merge() -> None:
    update = ("UPDATE auth.sessions SET updated_at = %s WHERE id = %s", (1, 2))
    batch = [(AUDIT, (1, 2, 3)), update, (AUDIT, (4, 5, 6))]
    assert _coalesced(batch) == batch


def test_other_statements_are_never_merged() -> None:
    upsert = "INSERT INTO t (a) VALUES (%s) ON CONFLICT (a) DO NOTHING"
    returning = "INSERT INTO t (a) VALUES (%s) RETURNING id"
    named = "INSERT INTO t (a) VALUES (%(a)s)"
    update = "UPDATE t SET a = %s"
    for query, params in [(upsert, (1,)), (returning, (1,)), (named, {"a": 1}), (update, (1,))]:
        batch = [(query, params), (query, params)]
        assert _coalesced(batch) == batch, query


def test_statements_without_parameters_are_left_alone() -> None:
    batch = [("INSERT INTO t (a) VALUES (1)", None), ("INSERT INTO t (a) VALUES (1)", None)]
    assert _coalesced(batch) == batch
