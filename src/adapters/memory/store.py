"""The in-memory store: plain dicts guarded by one lock, with an undo log per unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pytrue.domain.audit import AuditLogEntry
from pytrue.domain.flow_state import FlowState, OAuthClientState
from pytrue.domain.mfa import Challenge, Factor
from pytrue.domain.one_time_token import OneTimeToken
from pytrue.domain.session import RefreshToken, Session
from pytrue.domain.user import User


@dataclass(slots=True)
class InMemoryStore:
    """All rows of one in-memory database. Units of work run one at a time."""

    users: dict[UUID, User] = field(default_factory=dict)
    sessions: dict[UUID, Session] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    one_time_tokens: dict[tuple[UUID, str], OneTimeToken] = field(default_factory=dict)
    flow_states: dict[UUID, FlowState] = field(default_factory=dict)
    oauth_client_states: dict[UUID, OAuthClientState] = field(default_factory=dict)
    factors: dict[UUID, Factor] = field(default_factory=dict)
    mfa_challenges: dict[UUID, Challenge] = field(default_factory=dict)
    audit: list[AuditLogEntry] = field(default_factory=list)
    outbox: dict[int, Any] = field(default_factory=dict)  # adapters.memory.outbox.OutboxRow by id
    next_refresh_token_id: int = 1
    next_outbox_id: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def clear(self) -> None:
        """Empty every table (pytrue.testing's `reset`); call it while no unit of work runs."""
        for table in (
            self.users, self.sessions, self.refresh_tokens, self.one_time_tokens, self.flow_states,
            self.oauth_client_states, self.factors, self.mfa_challenges, self.outbox,
        ):
            table.clear()
        self.audit.clear()
        self.next_refresh_token_id = 1
        self.next_outbox_id = 0


Undo = Callable[[], None]


def set_item(table: dict, key: object, value: object, undo: list[Undo]) -> None:  # type: ignore[type-arg]
    """Write `table[key] = value`, remembering how to restore the previous state."""
    if key in table:
        previous = table[key]
        undo.append(lambda: table.__setitem__(key, previous))
    else:
        undo.append(lambda: table.pop(key, None))
    table[key] = value


def delete_item(table: dict, key: object, undo: list[Undo]) -> None:  # type: ignore[type-arg]
    if key in table:
        previous = table.pop(key)
        undo.append(lambda: table.__setitem__(key, previous))
