"""The cleanup rules as GoTrue's statements: each batch chosen with FOR UPDATE SKIP LOCKED, one short transaction.

A step never waits for a row a request holds (the batch skips it) and cannot hold its own locks for
long: `statement_timeout` and `lock_timeout` are set with SET LOCAL, so they end with the
transaction and leave nothing on the connection. Statements are never prepared on the server, so
a step works through PgBouncer in transaction mode. Times come from the caller, as every pytrue
timestamp does, not from the server's `now()`.

The batch is chosen in `= ANY(ARRAY(subquery))`, an InitPlan run once, not in `IN (subquery)`:
with `IN` the planner may put the LIMITed subquery on the inner side of a join and run it again,
and a step then deletes more than its batch (seen intermittently once the tables' statistics
changed: 104 rows for a batch of 100).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from psycopg import errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pytrue.application.ports import StorageUnavailable
from pytrue.domain.cleanup import CleanupRule, StaleRows

log = logging.getLogger("pytrue.cleanup")

STATEMENT_TIMEOUT = "3s"
LOCK_TIMEOUT = "200ms"
POOL_WAIT_SECONDS = 1.0

_TIMEOUTS = f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'; SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"


def _delete(table: str, where: str) -> str:
    return (
        f"DELETE FROM {{s}}.{table} WHERE id = ANY(ARRAY(SELECT id FROM {{s}}.{table} "
        f"WHERE {where} LIMIT %(batch)s FOR UPDATE SKIP LOCKED))"
    )


_STATEMENTS = {
    StaleRows.REVOKED_REFRESH_TOKENS: _delete("refresh_tokens", "revoked IS TRUE AND updated_at < %(cutoff)s"),
    StaleRows.TOKENS_OF_ENDED_SESSIONS: (
        "UPDATE {s}.refresh_tokens SET revoked = true, updated_at = %(now)s WHERE id = ANY(ARRAY("
        "SELECT rt.id FROM {s}.refresh_tokens rt JOIN {s}.sessions sess ON rt.session_id = sess.id "
        "WHERE sess.not_after < %(cutoff)s AND rt.revoked IS FALSE LIMIT %(batch)s FOR UPDATE SKIP LOCKED))"
    ),
    StaleRows.ENDED_SESSIONS: _delete("sessions", "not_after < %(cutoff)s"),
    StaleRows.SAML_RELAY_STATES: _delete("saml_relay_states", "created_at < %(cutoff)s"),
    StaleRows.FLOW_STATES: _delete("flow_state", "created_at < %(cutoff)s"),
    StaleRows.OAUTH_CLIENT_STATES: _delete("oauth_client_states", "created_at < %(cutoff)s"),
    StaleRows.MFA_CHALLENGES: _delete("mfa_challenges", "created_at < %(cutoff)s"),
    StaleRows.UNVERIFIED_FACTORS: _delete("mfa_factors", "created_at < %(cutoff)s AND status = 'unverified'"),
    StaleRows.WEBAUTHN_CHALLENGES: _delete("webauthn_challenges", "expires_at < %(cutoff)s"),
    StaleRows.ANONYMOUS_USERS: _delete("users", "created_at < %(cutoff)s AND is_anonymous IS TRUE"),
    StaleRows.TIMEBOXED_SESSIONS: _delete("sessions", "created_at < %(cutoff)s"),
    # refreshed_at is `timestamp without time zone`, written as UTC: compared with a naive UTC cutoff
    StaleRows.INACTIVE_SESSIONS: _delete("sessions", "refreshed_at IS NOT NULL AND refreshed_at < %(naive_cutoff)s"),
    StaleRows.INACTIVE_UNREFRESHED_SESSIONS: (
        "DELETE FROM {s}.sessions WHERE id = ANY(ARRAY("
        "SELECT sess.id FROM {s}.sessions sess JOIN {s}.refresh_tokens rt ON rt.session_id = sess.id "
        "WHERE sess.refreshed_at IS NULL AND rt.revoked IS FALSE AND rt.updated_at < %(cutoff)s "
        "LIMIT %(batch)s FOR UPDATE SKIP LOCKED))"
    ),
}


def statement(kind: StaleRows, schema: str) -> str:
    """The SQL of one rule for the (quoted) schema."""
    return _STATEMENTS[kind].replace("{s}", schema)


class PgStaleRowCleaner:
    """`StaleRowCleaner` on GoTrue's schema. A table or column this schema lacks (an older GoTrue
    schema used as it is) turns its rule off for the life of the process instead of failing every step."""

    def __init__(self, pool: AsyncConnectionPool, schema: str) -> None:
        self._pool = pool
        self._schema = schema
        self._missing: set[StaleRows] = set()

    async def clean(self, rule: CleanupRule, now: datetime) -> int:
        if rule.kind in self._missing:
            return 0
        cutoff = rule.cutoff(now)
        params = {
            "batch": rule.batch,
            "cutoff": cutoff,
            "naive_cutoff": cutoff.astimezone(timezone.utc).replace(tzinfo=None),
            "now": now,
        }
        query = statement(rule.kind, self._schema)
        try:
            async with self._pool.connection(timeout=POOL_WAIT_SECONDS) as conn, conn.transaction():
                await conn.execute(_TIMEOUTS, prepare=False)
                cur = await conn.execute(query, params, prepare=False)  # type: ignore[arg-type]
                return max(cur.rowcount, 0)
        except (errors.UndefinedTable, errors.UndefinedColumn) as exc:
            log.info("database cleanup: %s turned off, the schema lacks its table or column (%s)",
                     rule.kind.value, type(exc).__name__)
            self._missing.add(rule.kind)
            return 0
        except PoolTimeout as exc:
            raise StorageUnavailable(type(exc).__name__) from exc
