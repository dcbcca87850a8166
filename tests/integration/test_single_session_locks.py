"""GOTRUE_SESSIONS_SINGLE_PER_USER on PostgreSQL: the user's row is locked for the check, never waited for."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from pytrue.application.ports import RowLocked


async def test_for_user_with_lock_user_does_not_wait_for_a_held_user_row(api: Any) -> None:
    signed_up = await api.signup()
    user_id = UUID(signed_up.json()["user"]["id"])
    dsn = api.container.settings().db.url
    async with await psycopg.AsyncConnection.connect(dsn) as holder:
        await holder.execute("SELECT id FROM auth.users WHERE id = %s FOR UPDATE", (user_id,))
        async with api.container.adapters.uow()() as uow:
            with pytest.raises(RowLocked):
                await uow.sessions.for_user(user_id, lock_user=True)
        async with api.container.adapters.uow()() as uow:
            assert len(await uow.sessions.for_user(user_id)) == 1  # a plain read does not lock
        await holder.rollback()


async def test_a_refresh_retries_while_the_user_row_is_held_then_conflicts(make_api: Any) -> None:
    api = await make_api({"GOTRUE_SESSIONS_SINGLE_PER_USER": "true"})
    signed_up = (await api.signup()).json()
    grant = api.container.use_cases.refresh_token_grant()
    grant.retry_limit = timedelta(milliseconds=200)
    dsn = api.container.settings().db.url
    async with await psycopg.AsyncConnection.connect(dsn) as holder:
        await holder.execute("SELECT id FROM auth.users WHERE id = %s FOR UPDATE", (signed_up["user"]["id"],))
        before = await api.counts()
        response = await api.refresh(signed_up["refresh_token"])
        assert response.status_code == 409 and response.json()["error_code"] == "conflict"
        await holder.rollback()
    assert await api.counts() == before
    assert (await api.refresh(signed_up["refresh_token"])).status_code == 200
