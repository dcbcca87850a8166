"""Counting guesses at emailed and texted codes in the shared store (docs/adr/0016)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pytrue.application.ports import RateLimiter, UnitOfWork
from pytrue.domain.one_time_token import PURPOSE_OF_TOKEN_TYPE
from pytrue.domain.user import User

KEY_PREFIX = "otp:"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Guess:
    """One counted attempt at one code: `number` is its rank among all attempts at that code."""

    number: int
    limit: int

    @property
    def admitted(self) -> bool:
        """Whether this attempt may still be compared with the code (the first `limit` are)."""
        return self.number <= self.limit

    @property
    def last(self) -> bool:
        """A wrong attempt from here on leaves no attempt to the code: it is spent now."""
        return self.number >= self.limit


@dataclass(slots=True, kw_only=True)
class CodeAttempts:
    """Every attempt at a code is counted per user, code kind and code, in the store every worker
    and replica shares; only the first `limit` are compared, and the `limit`-th wrong one spends the
    code (the next correct guess is refused like an expired code). A new code has its own count.

    An attempt at an address with no user or no live code is counted too (under the address), so
    it costs what an attempt at a real code costs.
    """

    limiter: RateLimiter
    limit: int

    async def at_code(self, user_id: UUID, token_type: str, stored: str, now: datetime) -> Guess:
        key = f"{KEY_PREFIX}{token_type}:{user_id}:{_digest(stored)}"
        return Guess(await self.limiter.count(key, now), self.limit)

    async def at_nothing(self, kind: str, address: str, now: datetime) -> Guess:
        key = f"{KEY_PREFIX}{kind}:{_digest(address.lower())}:none"
        return Guess(await self.limiter.count(key, now), self.limit)

    @staticmethod
    async def spend(uow: UnitOfWork, user_id: UUID, spent: dict[str, str], now: datetime) -> None:
        """Forget the guessed codes (token type -> the stored value that was counted) and commit.

        Under the user's row lock, and only a code still stored as counted: one issued meanwhile stays.
        """
        user: User | None = await uow.users.get_for_update(user_id)
        if user is None:
            return
        changed = False
        for token_type, stored in spent.items():
            purpose = PURPOSE_OF_TOKEN_TYPE[token_type]
            if user.forget_code(purpose.column, stored, now):
                await uow.one_time_tokens.delete(user.id, token_type)
                changed = True
        if changed:
            await uow.users.update(user)
            await uow.commit()
