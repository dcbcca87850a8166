"""Shared assertions for the HTTP tests on the in-memory adapters."""

from __future__ import annotations

from typing import Any

V2024 = {"X-Supabase-Api-Version": "2024-01-01"}


def rows(api: Any) -> tuple[int, int, int, int, int]:
    """Row counts of the in-memory store: users, sessions, refresh tokens, one-time tokens, audit."""
    store = api.store
    return (
        len(store.users),
        len(store.sessions),
        len(store.refresh_tokens),
        len(store.one_time_tokens),
        len(store.audit),
    )


def assert_error(response: Any, status: int, code: str, msg: str | None = None) -> dict[str, Any]:
    """A legacy-shape GoTrue error with this status, code and (optionally) message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and body["error_code"] == code
    assert response.headers["x-sb-error-code"] == code
    if msg is not None:
        assert body["msg"] == msg
    return body
