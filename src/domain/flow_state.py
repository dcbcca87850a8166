"""PKCE flow states (`auth.flow_state`): a code challenge waiting for its verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from pytrue.domain.errors import DomainError, ValidationFailed

METHOD_S256 = "s256"
METHOD_PLAIN = "plain"

# `type` of an email link -> the flow's authentication_method (and the session's AMR method)
AUTH_METHOD_OF_LINK = {
    "signup": "email/signup",
    "invite": "invite",
    "magiclink": "magiclink",
    "recovery": "recovery",
    "email_change": "email_change",
}

# ... and the flow state's provider_type
PROVIDER_TYPE_OF_LINK = {
    "signup": "email",
    "invite": "invite",
    "magiclink": "magiclink",
    "recovery": "recovery",
    "email_change": "email_change",
}


def parse_challenge_method(raw: str) -> str:
    method = raw.strip().lower()
    if method not in (METHOD_S256, METHOD_PLAIN):
        raise ValidationFailed(f"code challenge method not supported: {raw}")
    return method


@dataclass(slots=True, kw_only=True)
class FlowState:
    id: UUID
    user_id: UUID | None
    auth_code: str | None
    code_challenge_method: str | None
    code_challenge: str | None
    provider_type: str
    authentication_method: str
    provider_access_token: str | None = None
    provider_refresh_token: str | None = None
    auth_code_issued_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    # OAuth context (`/authorize` → `/callback`)
    invite_token: str | None = None
    referrer: str | None = None
    oauth_client_state_id: UUID | None = None
    linking_target_id: UUID | None = None
    email_optional: bool = False

    @property
    def is_pkce(self) -> bool:
        return bool(self.code_challenge)

    def is_expired(self, now: datetime, lifetime: timedelta) -> bool:
        """GoTrue's rule: magic links count from when the code was issued, everything else from creation."""
        start = self.created_at
        if self.authentication_method == "magiclink" and self.auth_code_issued_at is not None:
            start = self.auth_code_issued_at
        return now > start + lifetime

    def verify(self, code_verifier: str) -> None:
        if self.code_challenge_method == METHOD_S256:
            digest = hashlib.sha256(code_verifier.encode("utf-8")).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        else:
            expected = code_verifier
        if not hmac.compare_digest(expected.encode("utf-8"), (self.code_challenge or "").encode("utf-8")):
            raise DomainError("bad_code_verifier", "code challenge does not match previously saved code verifier")


OAUTH_CLIENT_STATE_TIMEOUT = timedelta(minutes=5)


@dataclass(slots=True, kw_only=True)
class OAuthClientState:
    """`auth.oauth_client_states`: pytrue's own PKCE verifier towards a provider that requires PKCE."""

    id: UUID
    provider_type: str
    code_verifier: str | None
    created_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now - self.created_at > OAUTH_CLIENT_STATE_TIMEOUT
