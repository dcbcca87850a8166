"""Sessions, refresh tokens and the rules of rotation, reuse and expiry (GoTrue tokens.md §6–7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from uuid import UUID

from pytrue.domain.errors import DomainError
from pytrue.domain.user import NIL_UUID


@dataclass(slots=True, kw_only=True)
class AmrClaim:
    """How the session was authenticated (`password`, `otp`, …) and when."""

    method: str
    timestamp: datetime


@dataclass(slots=True, kw_only=True)
class Session:
    """A signed-in device. Deleting it is how access tokens are revoked."""

    id: UUID
    user_id: UUID
    created_at: datetime
    updated_at: datetime
    aal: str = "aal1"
    factor_id: UUID | None = None
    not_after: datetime | None = None
    refreshed_at: datetime | None = None
    user_agent: str | None = None
    ip: str | None = None
    tag: str | None = None
    amr: list[AmrClaim] = field(default_factory=list)

    def add_amr(self, method: str, now: datetime) -> None:
        for claim in self.amr:
            if claim.method == method:
                claim.timestamp = now
                return
        self.amr.append(AmrClaim(method=method, timestamp=now))

    def amr_newest_first(self) -> list[AmrClaim]:
        return sorted(self.amr, key=lambda c: c.timestamp, reverse=True)

    def last_refreshed(self, presented_token_updated_at: datetime | None) -> datetime:
        if self.refreshed_at is not None:
            return self.refreshed_at
        if presented_token_updated_at is not None and presented_token_updated_at > self.created_at:
            return presented_token_updated_at
        return self.created_at

    def ensure_valid(
        self,
        now: datetime,
        *,
        timebox: timedelta | None,
        inactivity_timeout: timedelta | None,
        presented_token_updated_at: datetime | None = None,
        where: str = "",
    ) -> None:
        """Raise `session_expired` when the session is past its hard, timebox or inactivity limit."""
        if self.not_after is not None and now > self.not_after:
            raise SessionExpired("Invalid Refresh Token: Session Expired", where=where)
        if timebox is not None and now > self.created_at + timebox:
            raise SessionExpired("Invalid Refresh Token: Session Expired", where=where)
        if inactivity_timeout is not None:
            if now > self.last_refreshed(presented_token_updated_at) + inactivity_timeout:
                raise SessionExpired("Invalid Refresh Token: Session Expired (Inactivity)", where=where)

    def mark_refreshed(self, now: datetime, user_agent: str | None, ip: str | None) -> None:
        self.refreshed_at = now
        self.updated_at = now
        self.user_agent = user_agent
        self.ip = ip


class SessionExpired(DomainError):
    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__("session_expired", message, where=where)


@dataclass(slots=True, kw_only=True)
class RefreshToken:
    """A row of `auth.refresh_tokens`: opaque token, its parent and whether it was used up."""

    id: int | None
    token: str
    user_id: str
    session_id: UUID | None
    parent: str | None = None
    revoked: bool = False
    created_at: datetime
    updated_at: datetime
    instance_id: UUID = NIL_UUID

    def revoke(self, now: datetime) -> None:
        if not self.revoked:
            self.revoked = True
            self.updated_at = now


class RefreshAction(Enum):
    ROTATE = "rotate"
    RETURN_CHILD = "return_child"
    REUSE_DETECTED = "reuse_detected"


@dataclass(frozen=True, slots=True)
class RefreshPlan:
    action: RefreshAction
    child: RefreshToken | None = None


def plan_refresh(
    presented: RefreshToken,
    newest_live: RefreshToken | None,
    now: datetime,
    reuse_interval: timedelta,
) -> RefreshPlan:
    """Decide what presenting `presented` means, given the session's newest live token.

    A live token rotates. A used token whose direct child is still the newest live one gets
    that child back (the client lost the previous response). Any other used token rotates
    when presented within the reuse interval after it was used, and is a reuse otherwise.
    """
    if not presented.revoked:
        return RefreshPlan(RefreshAction.ROTATE)
    if newest_live is not None and newest_live.parent == presented.token:
        return RefreshPlan(RefreshAction.RETURN_CHILD, newest_live)
    if now > presented.updated_at + reuse_interval:
        return RefreshPlan(RefreshAction.REUSE_DETECTED)
    return RefreshPlan(RefreshAction.ROTATE)
