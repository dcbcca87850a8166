"""One-time tokens: the hashed codes behind email links and OTPs (`auth.one_time_tokens`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

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
