"""One-time tokens: the hashed codes behind email links and OTPs (`auth.one_time_tokens`)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from pytrue.domain.errors import DomainError

CONFIRMATION_TOKEN = "confirmation_token"
REAUTHENTICATION_TOKEN = "reauthentication_token"
RECOVERY_TOKEN = "recovery_token"
EMAIL_CHANGE_TOKEN_NEW = "email_change_token_new"
EMAIL_CHANGE_TOKEN_CURRENT = "email_change_token_current"
PHONE_CHANGE_TOKEN = "phone_change_token"


def token_hash(identifier: str, otp: str) -> str:
    """GoTrue's link hash: lower-case hex SHA-224 of the address followed by the code."""
    return hashlib.sha224((identifier + otp).encode("utf-8")).hexdigest()


@dataclass(slots=True, kw_only=True)
class OneTimeToken:
    """The single live token of one kind for one user; `relates_to` is the address it went to."""

    id: UUID
    user_id: UUID
    token_type: str
    token_hash: str
    relates_to: str
    created_at: datetime
    updated_at: datetime


PKCE_PREFIX = "pkce_"


@dataclass(frozen=True, slots=True)
class TokenPurpose:
    """One kind of emailed or texted code: the user columns that hold it and its `one_time_tokens` type."""

    name: str
    column: str
    sent_at: str
    token_type: str


CONFIRMATION = TokenPurpose("confirmation", "confirmation_token", "confirmation_sent_at", CONFIRMATION_TOKEN)
RECOVERY = TokenPurpose("recovery", "recovery_token", "recovery_sent_at", RECOVERY_TOKEN)
EMAIL_CHANGE_NEW = TokenPurpose("email_change_new", "email_change_token_new", "email_change_sent_at", EMAIL_CHANGE_TOKEN_NEW)
EMAIL_CHANGE_CURRENT = TokenPurpose(
    "email_change_current", "email_change_token_current", "email_change_sent_at", EMAIL_CHANGE_TOKEN_CURRENT
)
REAUTHENTICATION = TokenPurpose(
    "reauthentication", "reauthentication_token", "reauthentication_sent_at", REAUTHENTICATION_TOKEN
)
PHONE_CHANGE = TokenPurpose("phone_change", "phone_change_token", "phone_change_sent_at", PHONE_CHANGE_TOKEN)
PURPOSE_OF_TOKEN_TYPE = {
    p.token_type: p for p in (CONFIRMATION, RECOVERY, EMAIL_CHANGE_NEW, EMAIL_CHANGE_CURRENT, REAUTHENTICATION, PHONE_CHANGE)
}


def stored_hash(identifier: str, otp: str, *, pkce: bool = False) -> str:
    """The value written to the user column and `one_time_tokens`: the hash, `pkce_`-prefixed for PKCE flows."""
    hashed = token_hash(identifier.lower(), otp)
    return PKCE_PREFIX + hashed if pkce else hashed


def otp_matches(stored: str, identifier: str, otp: str) -> bool:
    """Whether a typed code belongs to `stored` (with or without the PKCE prefix); constant time."""
    if not stored or not otp:
        return False
    computed = token_hash(identifier.lower(), otp)
    plain = stored[len(PKCE_PREFIX):] if stored.startswith(PKCE_PREFIX) else stored
    return hmac.compare_digest(plain.encode("utf-8"), computed.encode("utf-8"))


def is_pkce(stored: str) -> bool:
    return stored.startswith(PKCE_PREFIX)


def is_expired(sent_at: datetime | None, now: datetime, lifetime: timedelta) -> bool:
    """A code with no send time never verifies; otherwise it lives `lifetime` from its send."""
    return sent_at is None or now > sent_at + lifetime


def ensure_send_allowed(
    last_sent: datetime | None, now: datetime, frequency: timedelta, *, code: str = "over_email_send_rate_limit"
) -> None:
    """GoTrue's per-user frequency rule: another message only `frequency` after the last one."""
    if last_sent is None:
        return
    ready = last_sent + frequency
    if ready > now:
        raise DomainError(code, too_soon(ready, now))


def too_soon(ready: datetime, now: datetime) -> str:
    """GoTrue's frequency message: the whole seconds left until `ready` (Go truncates the duration)."""
    remaining = (ready - now) // timedelta(seconds=1)
    return f"For security purposes, you can only request this after {remaining} seconds."
