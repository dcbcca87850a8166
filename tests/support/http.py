"""Shared assertions for the HTTP tests (contract suites and memory-only unit tests)."""

from __future__ import annotations

import base64
import json
from typing import Any

V2024 = {"X-Supabase-Api-Version": "2024-01-01"}


def rows(api: Any) -> tuple[int, int, int, int, int]:
    """Row counts of the in-memory store: users, sessions, refresh tokens, one-time tokens, audit.

    Memory only; tests that should hold on both storages use `await api.counts()` instead.
    """
    store = api.store
    return (
        len(store.users),
        len(store.sessions),
        len(store.refresh_tokens),
        len(store.one_time_tokens),
        len(store.audit),
    )


def without_audit(counts: dict[str, int]) -> dict[str, int]:
    """`await api.counts()` less the audit log, for refusals that may still audit an attempt."""
    return {table: n for table, n in counts.items() if table != "audit_log_entries"}


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: for reading what pytrue put in a token it issued."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def assert_error(response: Any, status: int, code: str, msg: str | None = None) -> dict[str, Any]:
    """A legacy-shape GoTrue error with this status, code and (optionally) message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and body["error_code"] == code
    assert response.headers["x-sb-error-code"] == code
    if msg is not None:
        assert body["msg"] == msg
    return body
