"""Audit log entries as GoTrue writes them to `auth.audit_log_entries`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pytrue.domain.errors import ValidationFailed
from pytrue.domain.user import NIL_UUID, User

LOG_TYPES = {
    "login": "account",
    "logout": "account",
    "invite_accepted": "account",
    "user_signedup": "team",
    "user_invited": "team",
    "user_deleted": "team",
    "token_revoked": "token",
    "token_refreshed": "token",
    "user_modified": "user",
    "user_recovery_requested": "user",
    "user_reauthenticate_requested": "user",
    "user_confirmation_requested": "user",
    "user_repeated_signup": "user",
    "user_updated_password": "user",
    "identity_linked": "user",
    "identity_unlinked": "user",
    "factor_in_progress": "factor",
    "factor_unenrolled": "factor",
    "challenge_created": "factor",
    "verification_attempted": "factor",
    "factor_deleted": "factor",
    "factor_updated": "factor",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who did it: a user, or an admin (the nil UUID with the admin role as username)."""

    id: UUID
    username: str
    name: str | None = None
    via_sso: bool = False

    @classmethod
    def of_user(cls, user: User) -> Actor:
        full_name = user.user_metadata.get("full_name")
        return cls(
            id=user.id,
            username=user.username,
            name=full_name if isinstance(full_name, str) and full_name else None,
            via_sso=user.is_sso_user,
        )

    @classmethod
    def admin(cls, role: str) -> Actor:
        return cls(id=NIL_UUID, username=role)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditLogEntry:
    id: UUID
    payload: dict[str, Any]
    created_at: datetime
    ip_address: str = ""
    instance_id: UUID = NIL_UUID

    @classmethod
    def record(
        cls,
        *,
        entry_id: UUID,
        actor: Actor,
        action: str,
        now: datetime,
        traits: dict[str, Any] | None = None,
        ip_address: str = "",
    ) -> AuditLogEntry:
        payload: dict[str, Any] = {
            "actor_id": str(actor.id),
            "actor_username": actor.username,
            "actor_via_sso": actor.via_sso,
            "action": action,
            "log_type": LOG_TYPES[action],
        }
        if actor.name:
            payload["actor_name"] = actor.name
        if traits:
            payload["traits"] = traits
        return cls(id=entry_id, payload=payload, created_at=now, ip_address=ip_address)



# GoTrue's `/admin/audit?query=<scope>:<text>`: the payload keys each scope searches
AUDIT_QUERY_SCOPES: dict[str, tuple[str, ...]] = {
    "author": ("actor_username", "actor_name"),
    "action": ("action",),
    "type": ("log_type",),
}


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Entries whose payload has `text` (case-insensitive, SQL `ILIKE` `%text%`: `%` and `_` are
    wildcards, as in GoTrue) under any of `keys`; no keys or no text: every entry."""

    keys: tuple[str, ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, query: str) -> AuditFilter:
        if not query:
            return cls()
        scope, colon, text = query.partition(":")
        keys = AUDIT_QUERY_SCOPES.get(scope)
        if keys is None or not colon:
            raise ValidationFailed(f"Invalid query scope: {query}")
        return cls(keys=keys, text=text)

    @property
    def active(self) -> bool:
        return bool(self.keys and self.text)

    def matches(self, payload: dict[str, Any]) -> bool:
        if not self.active:
            return True
        pattern = _ilike_pattern(f"%{self.text}%")
        return any(isinstance(payload.get(key), str) and pattern.fullmatch(payload[key]) is not None for key in self.keys)


def _ilike_pattern(like: str) -> re.Pattern[str]:
    """PostgreSQL's `ILIKE` (default escape `\\`) as a regular expression."""
    out: list[str] = []
    chars = iter(like)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(re.escape(nxt))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)
