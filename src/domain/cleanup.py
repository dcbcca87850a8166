"""Which stale rows the database cleanup removes, how old they must be and how many go at once (tokens.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

GRACE = timedelta(hours=24)
ENDED_SESSION_GRACE = timedelta(hours=72)
ANONYMOUS_USER_AGE = timedelta(days=30)
BATCH = 100
SESSION_BATCH = 10


class StaleRows(Enum):
    """One kind of row the cleanup removes (or, for tokens of ended sessions, revokes)."""

    REVOKED_REFRESH_TOKENS = "revoked_refresh_tokens"
    TOKENS_OF_ENDED_SESSIONS = "tokens_of_ended_sessions"
    ENDED_SESSIONS = "ended_sessions"
    SAML_RELAY_STATES = "saml_relay_states"
    FLOW_STATES = "flow_states"
    OAUTH_CLIENT_STATES = "oauth_client_states"
    MFA_CHALLENGES = "mfa_challenges"
    UNVERIFIED_FACTORS = "unverified_factors"
    WEBAUTHN_CHALLENGES = "webauthn_challenges"
    ANONYMOUS_USERS = "anonymous_users"
    TIMEBOXED_SESSIONS = "timeboxed_sessions"
    INACTIVE_SESSIONS = "inactive_sessions"
    INACTIVE_UNREFRESHED_SESSIONS = "inactive_unrefreshed_sessions"


@dataclass(frozen=True, slots=True)
class CleanupRule:
    """Rows of `kind` whose reference time is before `now - age` go, at most `batch` per step.

    The reference time is the kind's own: `updated_at` of a revoked token, `not_after` of a
    session, `created_at` of a state, challenge, factor, user or timeboxed session,
    `expires_at` of a WebAuthn challenge, `refreshed_at` of an inactive session (or the
    `updated_at` of its live token when it was never refreshed).
    """

    kind: StaleRows
    age: timedelta
    batch: int = BATCH

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("a cleanup batch takes at least one row")

    def cutoff(self, now: datetime) -> datetime:
        return now - self.age


def cleanup_rules(
    *,
    anonymous_users_enabled: bool = False,
    sessions_timebox: timedelta | None = None,
    sessions_inactivity_timeout: timedelta | None = None,
) -> tuple[CleanupRule, ...]:
    """GoTrue's statements in GoTrue's order; the optional ones only when their feature is configured.

    Sessions past `not_after` lose their tokens after a day and go themselves after three, ten at
    a time, so that the cascade to their tokens stays small.
    """
    rules = [
        CleanupRule(StaleRows.REVOKED_REFRESH_TOKENS, GRACE),
        CleanupRule(StaleRows.TOKENS_OF_ENDED_SESSIONS, GRACE),
        CleanupRule(StaleRows.ENDED_SESSIONS, ENDED_SESSION_GRACE, SESSION_BATCH),
        CleanupRule(StaleRows.SAML_RELAY_STATES, GRACE),
        CleanupRule(StaleRows.FLOW_STATES, GRACE),
        CleanupRule(StaleRows.OAUTH_CLIENT_STATES, GRACE),
        CleanupRule(StaleRows.MFA_CHALLENGES, GRACE),
        CleanupRule(StaleRows.UNVERIFIED_FACTORS, GRACE),
        CleanupRule(StaleRows.WEBAUTHN_CHALLENGES, timedelta(0)),
    ]
    if anonymous_users_enabled:
        rules.append(CleanupRule(StaleRows.ANONYMOUS_USERS, ANONYMOUS_USER_AGE))
    if sessions_timebox is not None:
        rules.append(CleanupRule(StaleRows.TIMEBOXED_SESSIONS, sessions_timebox + GRACE))
    if sessions_inactivity_timeout is not None:
        rules.append(CleanupRule(StaleRows.INACTIVE_SESSIONS, sessions_inactivity_timeout + GRACE))
        rules.append(CleanupRule(StaleRows.INACTIVE_UNREFRESHED_SESSIONS, sessions_inactivity_timeout + GRACE))
    return tuple(rules)
