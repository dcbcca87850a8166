"""Storing a freshly issued code: the one write step emailed and texted codes share."""

from __future__ import annotations

from datetime import datetime

from pytrue.application.ports import TokenGenerator, UnitOfWork
from pytrue.domain.one_time_token import OneTimeToken, TokenPurpose, stored_hash
from pytrue.domain.user import User


async def locked(uow: UnitOfWork, user: User | None) -> User | None:
    """The same user re-read under its row lock, so that what this request writes back is current
    (a user found by address was read without one)."""
    return None if user is None else await uow.users.get_for_update(user.id)


async def store_code(
    uow: UnitOfWork,
    tokens: TokenGenerator,
    user: User,
    purpose: TokenPurpose,
    address: str,
    code: str,
    now: datetime,
    *,
    pkce: bool = False,
) -> str:
    """Write `code`'s hash into `purpose`'s column with its sent-at time, and into `one_time_tokens`
    (replacing the user's row of that type, `relates_to` the address it went to), as GoTrue does.

    Returns the stored hash."""
    stored = stored_hash(address, code, pkce=pkce)
    setattr(user, purpose.column, stored)
    setattr(user, purpose.sent_at, now)
    user.touch(now)
    await uow.users.update(user)
    await uow.one_time_tokens.replace(
        OneTimeToken(
            id=tokens.uuid(),
            user_id=user.id,
            token_type=purpose.token_type,
            token_hash=stored,
            relates_to=address,
            created_at=now,
            updated_at=now,
        )
    )
    return stored
