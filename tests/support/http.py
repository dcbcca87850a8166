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
