"""PostgreSQL units of work open their transaction with the first statement that needs one."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from pytrue.domain.audit import AuditLogEntry


def _audit_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select count(*) from auth.audit_log_entries").fetchone()
    return int(row[0]) if row else 0


def _entry() -> AuditLogEntry:
    return AuditLogEntry(id=uuid.uuid4(), payload={"action": "test"}, created_at=datetime.now(timezone.utc))


async def test_reads_run_outside_a_transaction_and_writes_inside_one(api: Any) -> None:
    uow_factory = api.container.adapters.uow()
    dsn = api.container.settings().db.url
    async with uow_factory() as uow:
        assert await uow.users.get(uuid.uuid4()) is None
        assert await uow.sessions.get(uuid.uuid4()) is None
        assert not uow.begun
        assert uow._conn.info.transaction_status == TransactionStatus.IDLE  # noqa: SLF001
        await uow.audit.add(_entry())
        assert uow.begun
        # BEGIN and the insert are queued, and sent with the next statement that is read
        assert uow._conn.info.transaction_status == TransactionStatus.IDLE  # noqa: SLF001
        assert len(uow.pending) == 2
        assert await uow.users.get(uuid.uuid4()) is None
        assert not uow.pending
        assert uow._conn.info.transaction_status == TransactionStatus.INTRANS  # noqa: SLF001
        # leaving without commit rolls the write back
    assert _audit_rows(dsn) == 0

    async with uow_factory() as uow:
        await uow.audit.add(_entry())
        # queued and never sent: leaving without commit sends nothing
    assert _audit_rows(dsn) == 0

    async with uow_factory() as uow:
        await uow.audit.add(_entry())
        await uow.audit.add(_entry())
        await uow.commit()  # BEGIN, both inserts and COMMIT in one pipeline
        assert not uow.begun
        assert not uow.pending
    assert _audit_rows(dsn) == 2


async def test_a_failing_queued_write_surfaces_at_commit_and_nothing_is_kept(api: Any) -> None:
    uow_factory = api.container.adapters.uow()
    dsn = api.container.settings().db.url
    entry = _entry()
    async with uow_factory() as uow:
        await uow.audit.add(entry)
        await uow.audit.add(_entry())
        await uow.audit.add(entry)  # same primary key
        # not an address clash, so not `email_exists`: the database error itself (a 500)
        with pytest.raises(psycopg.errors.UniqueViolation):
            await uow.commit()
    assert _audit_rows(dsn) == 0


async def test_a_locking_select_opens_the_transaction(api: Any) -> None:
    async with api.container.adapters.uow()() as uow:
        assert await uow.refresh_tokens.lock("not-a-real-token") is None
        assert uow.begun


async def _two_users(api: Any) -> tuple[uuid.UUID, uuid.UUID]:
    first = await api.signup("first@example.com", "s3cret-pass")
    second = await api.signup("second@example.com", "s3cret-pass")
    assert first.status_code == second.status_code == 200
    return uuid.UUID(first.json()["user"]["id"]), uuid.UUID(second.json()["user"]["id"])


async def test_an_update_that_changes_no_address_is_queued(api: Any) -> None:
    first_id, _ = await _two_users(api)
    dsn = api.container.settings().db.url
    async with api.container.adapters.uow()() as uow:
        user = await uow.users.get_for_update(first_id)  # lock and read: one round trip
        assert user is not None
        assert not uow.pending
        assert uow._conn.info.transaction_status == TransactionStatus.INTRANS  # noqa: SLF001
        user.user_metadata = {"queued": True}
        await uow.users.update(user)
        assert len(uow.pending) == 1  # the UPDATE waits for the next read or COMMIT
        await uow.commit()
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select raw_user_meta_data from auth.users where id = %s", (first_id,)).fetchone()
    assert row is not None and row[0] == {"queued": True}


async def test_an_update_that_changes_an_address_is_sent_at_once(api: Any) -> None:
    from pytrue.domain.errors import EmailExists

    first_id, _ = await _two_users(api)
    async with api.container.adapters.uow()() as uow:
        user = await uow.users.get_for_update(first_id)
        assert user is not None
        user.email = "second@example.com"
        # the clash is reported here, before the use case goes on (to send mail, for example)
        with pytest.raises(EmailExists):
            await uow.users.update(user)


async def test_get_for_update_of_an_unknown_user_is_none(api: Any) -> None:
    async with api.container.adapters.uow()() as uow:
        assert await uow.users.get_for_update(uuid.uuid4()) is None
