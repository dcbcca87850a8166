"""The v2 counter rules as a state machine on the in-memory adapters (tests/support/counter_machine.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hypothesis import settings
from support.app import make_settings
from support.counter_machine import CounterMachine

from pytrue.entrypoints.containers import build_container


class MemoryCounterMachine(CounterMachine):
    @staticmethod
    def build(env: dict[str, str]) -> Any:
        return build_container(make_settings(env))

    def read_session(self, session_id: UUID) -> Any:
        session = self.container.adapters.store().sessions.get(session_id)
        return None if session is None else (session.refresh_token_counter, session.refresh_token_hmac_key)


MemoryCounterMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestMemoryCounterMachine = MemoryCounterMachine.TestCase
