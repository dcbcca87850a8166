"""The mail outbox in process memory: the same contract as `pytrue_mail_outbox` (docs/adr/0017)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pytrue.adapters.memory.store import InMemoryStore, Undo, delete_item, set_item
from pytrue.application.ports import Mail, OutboxStats, QueuedMail


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow:
    id: int
    payload: dict[str, object]
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    last_error: str = ""


class InMemoryOutbox:
    """The unit of work's side: a row that is rolled back with the rest (the undo log)."""

    def __init__(self, store: InMemoryStore, undo: list[Undo], queued: list[int]) -> None:
        self._store = store
        self._undo = undo
        self._queued = queued

    async def add(self, mail: Mail, now: datetime) -> None:
        self._store.next_outbox_id += 1
        row = OutboxRow(id=self._store.next_outbox_id, payload=mail.payload(), created_at=now, next_attempt_at=now)
        set_item(self._store.outbox, row.id, row, self._undo)
        self._queued.append(row.id)


class InMemoryMailQueue:
    """The sender's side. Claims take the store's lock, so an uncommitted row is never seen."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[QueuedMail]:
        async with self._store.lock:
            due = sorted((row for row in self._store.outbox.values() if row.next_attempt_at <= now), key=lambda r: r.id)
            claimed = []
            for row in due[:limit]:
                taken = replace(row, next_attempt_at=now + lease, attempts=row.attempts + 1)
                self._store.outbox[row.id] = taken
                claimed.append(
                    QueuedMail(
                        id=row.id, mail=Mail.from_payload(row.payload), created_at=row.created_at, attempts=taken.attempts
                    )
                )
            return claimed

    async def delivered(self, message_id: int) -> None:
        delete_item(self._store.outbox, message_id, [])

    async def failed(self, message_id: int, retry_at: datetime, error: str) -> None:
        row = self._store.outbox.get(message_id)
        if row is not None:
            self._store.outbox[message_id] = replace(row, next_attempt_at=retry_at, last_error=error)

    async def stats(self) -> OutboxStats:
        rows = list(self._store.outbox.values())
        failing = [row for row in rows if row.last_error]
        newest_error = max(failing, key=lambda r: r.next_attempt_at).last_error if failing else ""
        return OutboxStats(
            depth=len(rows),
            failing=len(failing),
            oldest_created_at=min((row.created_at for row in rows), default=None),
            last_error=newest_error,
        )
