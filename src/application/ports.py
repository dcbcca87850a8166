"""Ports: what the use cases need from the world, as small protocols."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol
from uuid import UUID

from pytrue.domain.audit import AuditLogEntry
from pytrue.domain.one_time_token import OneTimeToken
from pytrue.domain.session import RefreshToken, Session
from pytrue.domain.user import User


class RowLocked(Exception):
    """A row another transaction holds; the caller retries instead of waiting on the lock."""


class StorageUnavailable(Exception):
    """The storage cannot be reached; the request fails fast and may be retried."""


@dataclass(frozen=True, slots=True)
class UserListQuery:
    aud: str
    page: int = 1
    per_page: int = 50
    filter: str = ""
    descending: bool = True


class UserRepository(Protocol):
    async def get(self, user_id: UUID) -> User | None: ...

    async def get_by_email(self, email: str, aud: str) -> User | None:
        """A non-SSO user of `aud` whose email (or an identity's email) is `email`."""
        ...

    async def get_by_phone(self, phone: str, aud: str) -> User | None: ...

    async def add(self, user: User) -> None:
        """Insert the user and its identities; `email_exists`/`phone_exists` on a clash."""
        ...

    async def update(self, user: User) -> None:
        """Write the user row and insert or update its identities."""
        ...

    async def delete(self, user_id: UUID) -> None:
        """Delete the user; identities, sessions and their tokens go with it."""
        ...

    async def list(self, query: UserListQuery) -> tuple[list[User], int]: ...


class SessionRepository(Protocol):
    async def get(self, session_id: UUID) -> Session | None: ...

    async def add(self, session: Session) -> None: ...

    async def update(self, session: Session) -> None: ...

    async def delete(self, session_id: UUID) -> None:
        """Delete a session with its refresh tokens and AMR claims."""
        ...

    async def delete_for_user(self, user_id: UUID, *, keep: UUID | None = None) -> None: ...


class RefreshTokenRepository(Protocol):
    async def get(self, token: str) -> RefreshToken | None: ...

    async def lock(self, token: str) -> RefreshToken | None:
        """Re-read the token and lock it and its session row; `RowLocked` instead of waiting."""
        ...

    async def newest_live(self, session_id: UUID) -> RefreshToken | None:
        """The session's non-revoked token with the highest id."""
        ...

    async def add(self, token: RefreshToken) -> RefreshToken:
        """Insert and return the token with its id assigned."""
        ...

    async def revoke_live_for_session(self, session_id: UUID, now: datetime) -> None: ...

    async def delete(self, token_id: int) -> None: ...


class OneTimeTokenRepository(Protocol):
    async def replace(self, token: OneTimeToken) -> None:
        """Store `token` as the user's only token of its type."""
        ...

    async def delete_for_user(self, user_id: UUID) -> None: ...


class AuditLog(Protocol):
    async def add(self, entry: AuditLogEntry) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: `async with uow:` … `await uow.commit()`; leaving without commit rolls back."""

    users: UserRepository
    sessions: SessionRepository
    refresh_tokens: RefreshTokenRepository
    one_time_tokens: OneTimeTokenRepository
    audit: AuditLog

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class PasswordHasher(Protocol):
    """Hashes are computed off the event loop; never call these while holding a connection."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, encoded: str) -> bool: ...

    def needs_rehash(self, encoded: str) -> bool: ...

    def is_supported(self, encoded: str) -> bool:
        """Whether an imported hash is in a format this hasher can verify."""
        ...

    async def burn(self, password: str) -> None:
        """Spend the time of one verification, so unknown users cost what known ones do."""
        ...


class AccessTokenSigner(Protocol):
    def sign(self, claims: dict[str, Any]) -> str: ...


class AccessTokenVerifier(Protocol):
    def verify(self, token: str, now: datetime) -> dict[str, Any]:
        """Return the claims of a well-signed, unexpired token; `BadJwt` otherwise."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class TokenGenerator(Protocol):
    def uuid(self) -> UUID: ...

    def refresh_token(self) -> str:
        """12 characters of lower-case RFC 4648 base32 from 8 random bytes."""
        ...

    def otp(self, length: int) -> str: ...

    def password(self, length: int) -> str: ...


class Mailer(Protocol):
    async def send_confirmation(self, *, user: User, otp: str, token_hash: str, redirect_to: str) -> None: ...
