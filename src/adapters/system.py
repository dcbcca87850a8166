"""Clocks and random-token sources: the system ones, and deterministic ones for tests and scripts."""

from __future__ import annotations

import base64
import random
import secrets
import string
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from uuid import UUID

__all__ = ["FixedClock", "OffsetClock", "SecretsTokenGenerator", "SeededTokenGenerator", "SystemClock"]

PASSWORD_ALPHABET = string.ascii_letters + string.digits + "!@#$%^&*()-_=+[]{}:;,.?~"

_REFRESH_TOKEN_BYTES = 8
_REFRESH_TOKEN_LENGTH = 12
_HMAC_KEY_BYTES = 32


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self._now = _as_utc(now)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **timedelta_kwargs: float) -> datetime:
        self._now += timedelta(seconds=seconds, **timedelta_kwargs)
        return self._now

    def set(self, now: datetime) -> None:
        self._now = _as_utc(now)


class OffsetClock:
    """The system time moved forward by an offset that only grows when told to (pytrue.testing's
    `advance_clock`): codes and tokens expire without sleeping, while time keeps running."""

    def __init__(self) -> None:
        self._offset = timedelta()

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds: float = 0, **timedelta_kwargs: float) -> datetime:
        step = timedelta(seconds=seconds, **timedelta_kwargs)
        if step < timedelta():
            raise ValueError("the clock only moves forward")
        self._offset += step
        return self.now()

    def reset(self) -> None:
        self._offset = timedelta()


def _as_utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError("the clock needs a timezone-aware datetime")
    return moment.astimezone(timezone.utc)


class _TokenGenerator:
    """The `TokenGenerator` port over three primitives a randomness source supplies."""

    def uuid(self) -> UUID:
        return UUID(bytes=self._bytes(16), version=4)

    def refresh_token(self) -> str:
        encoded = base64.b32encode(self._bytes(_REFRESH_TOKEN_BYTES)).decode("ascii")
        return encoded.lower()[:_REFRESH_TOKEN_LENGTH]

    def hmac_key(self) -> bytes:
        return self._bytes(_HMAC_KEY_BYTES)

    def random_bytes(self, count: int) -> bytes:
        return self._bytes(count)

    def otp(self, length: int) -> str:
        if length < 1:
            raise ValueError("an OTP has at least one digit")
        return str(self._below(10**length)).zfill(length)

    def password(self, length: int) -> str:
        if length < 0:
            raise ValueError("a password length cannot be negative")
        return "".join(self._choice(PASSWORD_ALPHABET) for _ in range(length))

    def _bytes(self, count: int) -> bytes:
        raise NotImplementedError

    def _below(self, bound: int) -> int:
        raise NotImplementedError

    def _choice(self, options: Sequence[str]) -> str:
        raise NotImplementedError


class SecretsTokenGenerator(_TokenGenerator):
    """Tokens from the operating system's CSPRNG."""

    def _bytes(self, count: int) -> bytes:
        return secrets.token_bytes(count)

    def _below(self, bound: int) -> int:
        return secrets.randbelow(bound)

    def _choice(self, options: Sequence[str]) -> str:
        return secrets.choice(options)


class SeededTokenGenerator(_TokenGenerator):
    """Reproducible tokens from a seeded PRNG; never for production secrets."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def _bytes(self, count: int) -> bytes:
        return self._random.randbytes(count)

    def _below(self, bound: int) -> int:
        return self._random.randrange(bound)

    def _choice(self, options: Sequence[str]) -> str:
        return self._random.choice(options)
