"""The v2 counter rules as a state machine on PostgreSQL (tests/support/counter_machine.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from support.app import make_settings
from support.counter_machine import CounterMachine

from pytrue.entrypoints.containers import build_container


def test_counter_rules_on_postgres(pg_dsn: str) -> None:
    reader = psycopg.connect(pg_dsn, autocommit=True)

    class PgCounterMachine(CounterMachine):
        @staticmethod
        def build(env: dict[str, str]) -> Any:
            return build_container(make_settings({**env, "GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": pg_dsn}))

        def read_session(self, session_id: UUID) -> Any:
            return reader.execute(
                "SELECT refresh_token_counter, refresh_token_hmac_key FROM auth.sessions WHERE id = %s", (session_id,)
            ).fetchone()

    try:
        run_state_machine_as_test(
            PgCounterMachine, settings=settings(max_examples=20, stateful_step_count=30, deadline=None)
        )
    finally:
        reader.close()
