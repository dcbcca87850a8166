"""Sessions, refresh tokens and the rules of rotation, reuse and expiry (GoTrue tokens.md §6–7)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from uuid import UUID

from pytrue.domain.counter_token import CounterToken, decode_key, encode_counter_token, encode_key
from pytrue.domain.errors import DomainError, ValidationFailed
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
    # v2 refresh tokens (tokens.md §5.1): the session's HMAC key as stored (base64url) and the
    # counter of the last token issued; both None for a session of legacy tokens.
    refresh_token_hmac_key: str | None = None
    refresh_token_counter: int | None = None

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
        allow_low_aal: timedelta | None = None,
        needs_mfa: bool = False,
    ) -> None:
        """Raise `session_expired` when the session is past its hard, timebox or inactivity limit,
        or (`GOTRUE_SESSIONS_ALLOW_LOW_AAL`, `needs_mfa`: the user has a verified factor) an aal1
        session has outlived its low-AAL allowance."""
        reason = self.expiry(
            now, timebox=timebox, inactivity_timeout=inactivity_timeout, presented_token_updated_at=presented_token_updated_at,
            allow_low_aal=allow_low_aal, needs_mfa=needs_mfa,
        )  # fmt: skip
        if reason is not None:
            raise SessionExpired(reason, where=where)

    def expiry(
        self,
        now: datetime,
        *,
        timebox: timedelta | None,
        inactivity_timeout: timedelta | None,
        presented_token_updated_at: datetime | None = None,
        allow_low_aal: timedelta | None = None,
        needs_mfa: bool = False,
    ) -> str | None:
        """GoTrue's message for the limit the session is past, or None while it is alive."""
        if self.not_after is not None and now > self.not_after:
            return "Invalid Refresh Token: Session Expired"
        if timebox is not None and now > self.created_at + timebox:
            return "Invalid Refresh Token: Session Expired"
        if inactivity_timeout is not None:
            if now > self.last_refreshed(presented_token_updated_at) + inactivity_timeout:
                return "Invalid Refresh Token: Session Expired (Inactivity)"
        if allow_low_aal is not None and needs_mfa and self.aal not in ("aal2", "aal3") and now > self.created_at + allow_low_aal:
            return "Invalid Refresh Token: Session Expired (Low AAL: User Needs MFA Verification)"
        return None

    def determine_tag(self, tags: tuple[str, ...]) -> str:
        """The tag the session counts under: its own when listed, else the first (none without tags)."""
        if not tags:
            return ""
        return self.tag if self.tag and self.tag in tags else tags[0]

    @property
    def issues_counter_tokens(self) -> bool:
        return self.refresh_token_hmac_key is not None and self.refresh_token_counter is not None

    def start_counter_tokens(self, key: bytes) -> None:
        """From now on this session's refresh token is its key-signed counter, starting at 0."""
        self.refresh_token_hmac_key = encode_key(key)
        self.refresh_token_counter = 0

    def upgrade_to_counter_tokens(self, key: bytes) -> None:
        """A legacy session switches to v2 tokens; one already set up (by an earlier upgrade) moves on."""
        if self.issues_counter_tokens:
            self.refresh_token_counter = (self.refresh_token_counter or 0) + 1
        else:
            self.start_counter_tokens(key)

    def counter_token(self) -> str:
        """The v2 refresh token for the session's current counter."""
        key = decode_key(self.refresh_token_hmac_key or "")
        if key is None or self.refresh_token_counter is None:
            raise ValueError("the session does not issue v2 refresh tokens")
        return encode_counter_token(self.id, self.refresh_token_counter, key)

    def issued(self, token: CounterToken) -> bool:
        """Whether `token` was signed with this session's key (it may still be an old counter)."""
        if token.session_id != self.id or not self.issues_counter_tokens:
            return False
        key = decode_key(self.refresh_token_hmac_key or "")
        return key is not None and token.is_signed_by(key)

    def skip_counter_for_mfa(self) -> None:
        """An MFA step-up moves the counter by two, so the token held before it can no longer
        mint (aal2) tokens: it is then more than one step behind (tokens.md §7)."""
        if self.refresh_token_counter is not None:
            self.refresh_token_counter += 2

    def mark_refreshed(self, now: datetime, user_agent: str | None, ip: str | None) -> None:
        self.refreshed_at = now
        self.updated_at = now
        self.user_agent = user_agent
        self.ip = ip


def ensure_newest_login(
    session: Session,
    others: list[Session],
    now: datetime,
    *,
    tags: tuple[str, ...],
    timebox: timedelta | None,
    inactivity_timeout: timedelta | None,
    presented_token_updated_at: datetime | None = None,
    allow_low_aal: timedelta | None = None,
    needs_mfa: bool = False,
) -> None:
    """`GOTRUE_SESSIONS_SINGLE_PER_USER`: only the user's most recently refreshed live session of
    its tag may refresh. A later sign-in (or refresh) of another session with the same tag makes
    this one refuse with `session_expired`; dead sessions and other tags do not count. The other
    sessions are judged by their own `refreshed_at` (or creation), never by the presented token."""
    mine = session.determine_tag(tags)
    last = session.last_refreshed(presented_token_updated_at)
    for other in others:
        if other.id == session.id or other.determine_tag(tags) != mine:
            continue
        if other.expiry(
            now, timebox=timebox, inactivity_timeout=inactivity_timeout, allow_low_aal=allow_low_aal, needs_mfa=needs_mfa
        ) is not None:
            continue
        if other.last_refreshed(None) > last:
            raise SessionExpired("Invalid Refresh Token: Session Expired (Revoked by Newer Login)")


class SessionExpired(DomainError):
    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__("session_expired", message, where=where)


class SessionNotFound(DomainError):
    """The named session is not one of the user's (or does not exist): the two are never told apart."""

    def __init__(self) -> None:
        super().__init__("session_not_found", "Session not found", where="path")


def parse_session_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise ValidationFailed("session_id must be an UUID", where="path") from None


def owned_session(session: Session | None, user_id: UUID) -> Session:
    """`session` when it belongs to `user_id`; `SessionNotFound` otherwise."""
    if session is None or session.user_id != user_id:
        raise SessionNotFound()
    return session


class RefreshTokenAlreadyUsed(DomainError):
    """A used refresh token presented outside every allowance; `session_ended` when the session
    was deleted for it (v2 tokens), which GoTrue reports in `sb-auth-refresh-token-rotated`."""

    def __init__(self, *, session_ended: bool = False) -> None:
        super().__init__("refresh_token_already_used", "Invalid Refresh Token: Already Used")
        self.session_ended = session_ended


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


# --- v2 tokens: the session counter (tokens.md §6.4) ---------------------------------------------


class CounterAction(Enum):
    NEXT = "next"  # the current token: issue the next counter
    REISSUE = "reissue"  # an allowed reuse: the token of the current counter again
    REUSE_DETECTED = "reuse_detected"


REUSE_CONCURRENT = "concurrent-refresh"
REUSE_FAIL_TO_SAVE = "fail-to-save"
REUSE_ALWAYS_ALLOWED = "always-allow"


@dataclass(frozen=True, slots=True)
class CounterPlan:
    action: CounterAction
    causes: tuple[str, ...] = ()


def plan_counter_refresh(
    presented: int,
    current: int,
    *,
    now: datetime,
    last_refreshed: datetime,
    reuse_interval: timedelta,
    allow_reuse: bool,
) -> CounterPlan:
    """Decide what presenting counter `presented` means when the session is at `current`.

    The current counter moves on. An older one is a reuse, forgiven when it is just one behind
    (the client lost the last response), when the session was refreshed less than the reuse
    interval ago (tabs refreshing at once), or always when so configured; a forgiven reuse gets
    the current token back. A counter ahead of the session was never issued here."""
    if presented > current:
        raise ValidationFailed("Invalid Refresh Token: Not Issued By This Server")
    if presented == current:
        return CounterPlan(CounterAction.NEXT)
    causes = []
    if abs(now - last_refreshed) < reuse_interval:
        causes.append(REUSE_CONCURRENT)
    if current - presented == 1:
        causes.append(REUSE_FAIL_TO_SAVE)
    if allow_reuse:
        causes.append(REUSE_ALWAYS_ALLOWED)
    action = CounterAction.REISSUE if causes else CounterAction.REUSE_DETECTED
    return CounterPlan(action, tuple(causes))


def upgrade_selects(session_id: UUID, percentage: int) -> bool:
    """Whether a legacy session is among the `percentage` upgraded to v2 tokens: decided by the
    session id alone, so a session once chosen stays chosen while the percentage holds."""
    if percentage <= 0:
        return False
    return percentage >= 100 or zlib.crc32(session_id.bytes) % 100 < percentage
