"""Raw-SQL repositories over GoTrue's `auth` schema; database errors become domain errors here."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from psycopg import AsyncConnection, errors
from psycopg.pq import ExecStatus
from psycopg.types.json import Json, Jsonb

from pytrue.adapters.postgres.rows import (
    FACTOR_COLUMNS,
    USER_COLUMNS,
    challenge_from_row,
    factor_from_row,
    USER_FIELDS,
    identity_from_row,
    naive_utc,
    utc,
    refresh_token_from_row,
    session_from_row,
    user_from_row,
    user_params,
)
from pytrue.application.ports import LockedRefreshToken, RowLocked, UserListQuery
from pytrue.domain.audit import AuditFilter, AuditLogEntry
from pytrue.domain.errors import DomainError, EmailExists, PhoneExists
from pytrue.domain.flow_state import FlowState, OAuthClientState
from pytrue.domain.mfa import Challenge, Factor
from pytrue.domain.one_time_token import OneTimeToken
from pytrue.domain.session import AmrClaim, RefreshToken, Session
from pytrue.domain.user import NIL_UUID, Identity, User


_NO_ROWS: list[dict[str, Any]] = []

# Identity columns under names that cannot clash with a user's, for one-statement user loads.
_IDENTITY_COLUMNS = ("id", "user_id", "provider", "provider_id", "identity_data", "last_sign_in_at", "created_at", "updated_at")
_IDENTITY_SELECT = ", ".join(f"i.{c} AS identity_{c}" for c in _IDENTITY_COLUMNS)
# A user's factors (no secrets) as one JSON column of the user's row: no extra round trip for GET /user.
_FACTORS_JSON = (
    "(SELECT json_agg(json_build_object('id', f.id, 'user_id', f.user_id, 'friendly_name', f.friendly_name, "
    "'factor_type', f.factor_type, 'status', f.status, 'created_at', f.created_at, 'updated_at', f.updated_at, "
    "'phone', f.phone, 'last_challenged_at', f.last_challenged_at, 'web_authn_aaguid', f.web_authn_aaguid) "
    "ORDER BY f.created_at, f.id) FROM {s}.mfa_factors f WHERE f.user_id = users.id) AS factors_json"
)
_SESSION_COLUMNS = (
    "id", "user_id", "created_at", "updated_at", "aal", "factor_id", "not_after", "refreshed_at", "user_agent", "ip", "tag",
    "refresh_token_hmac_key", "refresh_token_counter",
)
_SESSION_SELECT = ", ".join(f"s.{c} AS session_{c}" for c in _SESSION_COLUMNS)


_USER_ASSIGNMENTS = ", ".join(f"{c} = %({c})s" for c in USER_FIELDS if c != "id")


def _addresses(user: User) -> tuple[Any, ...]:
    """What the users table's address constraints look at (the email key is partial on is_sso_user)."""
    return (user.email, user.phone, user.is_sso_user)


def _identity_of(row: dict[str, Any]) -> Identity:
    return identity_from_row({c: row[f"identity_{c}"] for c in _IDENTITY_COLUMNS})


_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def reads_only(query: str) -> bool:
    """A plain SELECT: it takes no row lock, so under READ COMMITTED it may run before BEGIN."""
    return query.lstrip()[:6].upper() == "SELECT" and _LOCKING.search(query) is None


class Transaction(Protocol):
    """The unit of work's transaction: opened lazily, with writes queued until a result is needed.

    `begin()` and `_defer()` only queue statements; they reach the server in one pipeline with the
    next statement whose result is read (or with COMMIT), i.e. in one round trip."""

    begun: bool
    pending: list[tuple[str, Any]]
    # The amr claims each session had when this unit of work read it (by either repository):
    # saving the session again writes only claims that changed.
    stored_amr: dict[UUID, set[tuple[str, datetime]]]
    # the audit entries added, reported to the unit of work's `on_audit` after COMMIT
    audited: list[AuditLogEntry]

    async def begin(self) -> None: ...


class _Repository:
    """Statements of one unit of work. The pool's connections are in autocommit mode: `tx` opens
    the transaction before the first statement that is not a plain SELECT, so every repository
    of a unit of work must be given it (adapters/postgres/uow.py)."""

    def __init__(self, conn: AsyncConnection[Any], schema: str, tx: Transaction) -> None:
        self._conn = conn
        self._s = schema
        self._tx = tx

    async def _defer(self, query: str, params: Any = None) -> None:
        """Queue a write whose result nobody reads; it is sent with the next statement that is read.

        Only for statements that cannot fail for a reason the caller handles: a unique violation
        of a queued statement surfaces at the next read or at COMMIT (translated there)."""
        tx = self._tx
        if not tx.begun:
            await tx.begin()
        tx.pending.append((query.replace("{s}", self._s), params))

    async def _rows(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        tx = self._tx
        if not tx.begun and not reads_only(query):
            await tx.begin()
        query = query.replace("{s}", self._s)
        if tx.pending:
            return (await self._pipelined([(query, params)]))[0]
        # Rows as dicts keyed by the result's field names, read straight from the result: cheaper
        # than `dict_row`, which builds a `Column` description of every field for every statement.
        async with self._conn.cursor() as cur:
            await cur.execute(query, params)  # type: ignore[arg-type]
            return await _dicts(cur)

    async def _rows_of_each(self, statements: list[tuple[str, Any]]) -> list[list[dict[str, Any]]]:
        """Several statements whose rows are read, sent with what is queued in one round trip.

        The server runs them one after the other, each with a snapshot taken when it starts: a
        statement sees what the ones before it locked and what other transactions committed
        before it started, as if it had been sent on its own."""
        tx = self._tx
        if not tx.begun and not all(reads_only(query) for query, _ in statements):
            await tx.begin()
        return await self._pipelined([(query.replace("{s}", self._s), params) for query, params in statements])

    async def _pipelined(self, statements: list[tuple[str, Any]]) -> list[list[dict[str, Any]]]:
        """The queued statements and these in one pipeline: one round trip."""
        batch = _coalesced(self._tx.pending)
        self._tx.pending.clear()
        conn = self._conn
        try:
            async with conn.pipeline():
                if batch:
                    writes = conn.cursor()  # one cursor for every queued write: their results are not read
                    for queued, queued_params in batch:
                        await writes.execute(queued, queued_params)  # type: ignore[arg-type]
                cursors = []
                for query, params in statements:
                    cur = conn.cursor()
                    await cur.execute(query, params)  # type: ignore[arg-type]
                    cursors.append(cur)
            return [await _dicts(cur) for cur in cursors]
        except errors.UniqueViolation as exc:
            raise _translate_unique(exc) from None

    async def _one(self, query: str, params: Any = None) -> dict[str, Any] | None:
        rows = await self._rows(query, params)
        return rows[0] if rows else None


_ONE_ROW = re.compile(r"^INSERT\b.*\bVALUES\s*(\([^()]*\))$", re.DOTALL)


def _coalesced(batch: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Queued statements, with consecutive one-row INSERTs of the same statement as one multi-row
    INSERT (a refresh's two audit rows): one statement for the server to run instead of several."""
    out: list[tuple[str, Any]] = []
    last_query, row_clause = "", None
    for query, params in batch:
        if row_clause is not None and query == last_query:
            merged, merged_params = out[-1]
            out[-1] = (f"{merged}, {row_clause}", (*merged_params, *params))
            continue
        match = _ONE_ROW.match(query) if params else None
        last_query, row_clause = query, match.group(1) if match else None
        out.append((query, params))
    return out


async def _dicts(cur: Any) -> list[dict[str, Any]]:
    result = cur.pgresult
    if result is None or result.status != ExecStatus.TUPLES_OK:
        return _NO_ROWS
    names = [result.fname(i).decode() for i in range(result.nfields)]
    return [dict(zip(names, values, strict=True)) for values in await cur.fetchall()]


def _translate_unique(exc: errors.UniqueViolation) -> Exception:
    """An address already taken becomes `phone_exists`/`email_exists`; any other clash stays an error."""
    constraint = exc.diag.constraint_name or ""
    if "phone" in constraint:
        return PhoneExists()
    if "email" in constraint or constraint.startswith("identities_"):
        return EmailExists()
    return exc


def _identity_state(identity: Identity) -> tuple[Any, ...]:
    return (
        identity.provider_id, identity.user_id, identity.provider, json.dumps(identity.identity_data, sort_keys=True, default=str),
        identity.last_sign_in_at, identity.created_at, identity.updated_at,
    )


class PgUserRepository(_Repository):
    def __init__(self, conn: AsyncConnection[Any], schema: str, tx: Transaction) -> None:
        super().__init__(conn, schema, tx)
        # The identities each user had when this unit of work read it: saving the user again
        # writes only identities that changed (a sign-in rewrote an identical row every time).
        self._stored_identities: dict[UUID, dict[UUID, tuple[Any, ...]]] = {}
        # ... and their addresses: an update that changes none of them cannot fail with
        # `email_exists`/`phone_exists`, so it is queued like the writes nobody reads.
        self._stored_addresses: dict[UUID, tuple[Any, ...]] = {}

    def _loaded(self, user: User) -> User:
        self._stored_identities[user.id] = {i.id: _identity_state(i) for i in user.identities}
        self._stored_addresses[user.id] = _addresses(user)
        return user

    async def _with_identities(self, rows: list[dict[str, Any]]) -> list[User]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        identity_rows, factor_rows = await self._rows_of_each(
            [
                ("SELECT * FROM {s}.identities WHERE user_id = ANY(%s) ORDER BY created_at, id", (ids,)),
                (f"SELECT {FACTOR_COLUMNS} FROM {{s}}.mfa_factors WHERE user_id = ANY(%s) ORDER BY created_at, id", (ids,)),
            ]
        )
        by_user: dict[UUID, list[Identity]] = {i: [] for i in ids}
        for row in identity_rows:
            by_user[row["user_id"]].append(identity_from_row(row))
        factors: dict[UUID, list[Factor]] = {i: [] for i in ids}
        for row in factor_rows:
            factor = factor_from_row(row)
            factor.secret = ""
            factors[factor.user_id].append(factor)
        users = []
        for r in rows:
            user = user_from_row(r, by_user[r["id"]])
            user.factors = factors[r["id"]]
            users.append(self._loaded(user))
        return users

    @staticmethod
    def _one_user_query(where: str) -> str:
        return (
            f"SELECT u.*, {_IDENTITY_SELECT} FROM (SELECT {USER_COLUMNS}, {_FACTORS_JSON} FROM {{s}}.users WHERE {where} LIMIT 1) u "
            "LEFT JOIN {s}.identities i ON i.user_id = u.id ORDER BY i.created_at, i.id"
        )

    def _user_of(self, rows: list[dict[str, Any]]) -> User | None:
        if not rows:
            return None
        identities = [_identity_of(r) for r in rows if r["identity_id"] is not None]
        return self._loaded(_with_factors(user_from_row(rows[0], identities), rows[0].get("factors_json")))

    async def _one_user(self, where: str, params: Any) -> User | None:
        """The first user matching `where`, with its identities, in one statement."""
        return self._user_of(await self._rows(self._one_user_query(where), params))

    async def get(self, user_id: UUID) -> User | None:
        return await self._one_user("id = %s", (user_id,))

    async def get_for_update(self, user_id: UUID) -> User | None:
        # Lock first, then read, as two statements in one round trip: the read starts after the
        # lock is granted, with a snapshot of its own, so it sees what the holder committed (a
        # locking sub-select joined to identities would, after waiting, see the new user row with
        # the identities of before).
        locked, rows = await self._rows_of_each(
            [
                ("SELECT id FROM {s}.users WHERE id = %s FOR UPDATE", (user_id,)),
                (self._one_user_query("id = %s"), (user_id,)),
            ]
        )
        return self._user_of(rows) if locked else None

    async def get_with_session(self, user_id: UUID, session_id: UUID | None) -> tuple[User | None, Session | None]:
        return self._user_and_session(await self._rows(self._user_and_session_query("%(user)s"), {"user": user_id, "session": session_id}))

    async def get_by_session(self, session_id: UUID, *, lock: bool = False) -> tuple[User | None, Session | None]:
        query = self._user_and_session_query("(SELECT user_id FROM {s}.sessions WHERE id = %(session)s)")
        params = {"session": session_id}
        if not lock:
            return self._user_and_session(await self._rows(query, params))
        # The lock, then the read in the same round trip: the read's snapshot is taken after the
        # lock is granted, so it sees what a refresh that held the row committed.
        locked, rows = await self._rows_of_each(
            [("SELECT id FROM {s}.sessions WHERE id = %(session)s FOR UPDATE SKIP LOCKED", params), (query, params)]
        )
        user, session = self._user_and_session(rows)
        if not locked and session is not None:
            raise RowLocked(str(session_id)[:8])
        return user, session

    @staticmethod
    def _user_and_session_query(user_id: str) -> str:
        return (
            f"SELECT u.*, {_IDENTITY_SELECT}, {_SESSION_SELECT}, a.authentication_method AS amr_method, "
            f"a.updated_at AS amr_updated_at FROM (SELECT {USER_COLUMNS}, {_FACTORS_JSON} FROM {{s}}.users WHERE id = {user_id}) u "
            "LEFT JOIN {s}.identities i ON i.user_id = u.id "
            "LEFT JOIN {s}.sessions s ON s.id = %(session)s "
            "LEFT JOIN {s}.mfa_amr_claims a ON a.session_id = s.id "
            "ORDER BY i.created_at, i.id"
        )

    def _user_and_session(self, rows: list[dict[str, Any]]) -> tuple[User | None, Session | None]:
        if not rows:
            return None, None
        identities: dict[UUID, Identity] = {}
        amr: dict[str, AmrClaim] = {}
        for row in rows:
            if row["identity_id"] is not None and row["identity_id"] not in identities:
                identities[row["identity_id"]] = _identity_of(row)
            if row["amr_method"] is not None and row["amr_method"] not in amr:
                amr[row["amr_method"]] = AmrClaim(method=row["amr_method"], timestamp=row["amr_updated_at"])
        # Not snapshotted (`_loaded`): the bearer-token path reads far more often than it writes.
        user = _with_factors(user_from_row(rows[0], list(identities.values())), rows[0].get("factors_json"))
        if rows[0]["session_id"] is None:
            return user, None
        session_row = {c: rows[0][f"session_{c}"] for c in _SESSION_COLUMNS}
        self._tx.stored_amr[session_row["id"]] = {(claim.method, claim.timestamp) for claim in amr.values()}
        return user, session_from_row(session_row, list(amr.values()))

    async def get_by_email(self, email: str, aud: str) -> User | None:
        # Either arm of the union is an index look-up; `lower(email) = … OR id IN (…)` was a scan.
        return await self._one_user(
            "instance_id = %(nil)s AND aud = %(aud)s AND is_sso_user = false AND id IN ("
            "SELECT id FROM {s}.users WHERE instance_id = %(nil)s AND lower(email) = %(email)s "
            "UNION ALL SELECT user_id FROM {s}.identities WHERE email = %(email)s)",
            {"nil": NIL_UUID, "aud": aud, "email": email.lower()},
        )

    async def get_by_identity(self, provider_id: str, provider: str) -> User | None:
        return await self._one_user(
            "id = (SELECT user_id FROM {s}.identities WHERE provider_id = %s AND provider = %s)", (provider_id, provider)
        )

    async def identities_with_emails(self, emails: tuple[str, ...]) -> list[Identity]:
        rows = await self._rows(
            "SELECT * FROM {s}.identities WHERE email = ANY(%s) ORDER BY created_at, id", (list(emails),)
        )
        return [identity_from_row(row) for row in rows]

    async def users_with_emails(self, emails: tuple[str, ...]) -> list[User]:
        rows = await self._rows(
            f"SELECT {USER_COLUMNS} FROM {{s}}.users WHERE lower(email) = ANY(%s) AND is_sso_user = false "
            "ORDER BY created_at, id",
            (list(emails),),
        )
        return await self._with_identities(rows)

    async def get_by_phone(self, phone: str, aud: str) -> User | None:
        return await self._one_user(
            "instance_id = %s AND aud = %s AND is_sso_user = false AND phone = %s", (NIL_UUID, aud, phone)
        )

    async def get_by_phone_change(self, phone: str, aud: str) -> User | None:
        rows = await self._rows(
            f"SELECT {USER_COLUMNS} FROM {{s}}.users WHERE instance_id = %s AND aud = %s "
            "AND is_sso_user = false AND phone_change = %s LIMIT 1",
            (NIL_UUID, aud, phone),
        )
        users = await self._with_identities(rows)
        return users[0] if users else None

    async def add(self, user: User) -> None:
        placeholders = ", ".join(f"%({c})s" for c in USER_FIELDS)
        try:
            await self._rows(f"INSERT INTO {{s}}.users ({USER_COLUMNS}) VALUES ({placeholders})", user_params(user))
            await self._save_identities(user, new_user=True)
        except errors.UniqueViolation as exc:
            raise _translate_unique(exc) from None

    async def update(self, user: User) -> None:
        query = f"UPDATE {{s}}.users SET {_USER_ASSIGNMENTS} WHERE id = %(id)s"
        try:
            if self._stored_addresses.get(user.id) == _addresses(user):
                await self._defer(query, user_params(user))
            else:
                await self._rows(query, user_params(user))
                self._stored_addresses[user.id] = _addresses(user)
            await self._save_identities(user)
        except errors.UniqueViolation as exc:
            raise _translate_unique(exc) from None

    async def _save_identities(self, user: User, *, new_user: bool = False) -> None:
        stored = {} if new_user else self._stored_identities.get(user.id)
        current = {i.id: _identity_state(i) for i in user.identities}
        # Drop identities that are gone, unless this unit of work read the user and none is gone
        # (a user inserted just now has none to drop).
        if stored is None or not stored.keys() <= current.keys():
            await self._rows(
                "DELETE FROM {s}.identities WHERE user_id = %s AND NOT (id = ANY(%s))",
                (user.id, list(current)),
            )
        for identity in user.identities:
            if stored is not None and stored.get(identity.id) == current[identity.id]:
                continue  # unchanged since it was read
            await self._rows(
                "INSERT INTO {s}.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, "
                "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "provider_id = excluded.provider_id, identity_data = excluded.identity_data, "
                "last_sign_in_at = excluded.last_sign_in_at, updated_at = excluded.updated_at",
                (
                    identity.id,
                    identity.provider_id,
                    identity.user_id,
                    Jsonb(identity.identity_data),
                    identity.provider,
                    identity.last_sign_in_at,
                    identity.created_at,
                    identity.updated_at,
                ),
            )
        self._stored_identities[user.id] = current

    async def delete(self, user_id: UUID) -> None:
        await self._rows("DELETE FROM {s}.users WHERE id = %s", (user_id,))

    async def list(self, query: UserListQuery) -> tuple[list[User], int]:
        where = "instance_id = %(nil)s AND aud = %(aud)s"
        params: dict[str, Any] = {"nil": NIL_UUID, "aud": query.aud}
        if query.filter:
            where += " AND (email LIKE %(like)s OR raw_user_meta_data->>'full_name' ILIKE %(like)s)"
            params["like"] = f"%{query.filter}%"
        total_row = await self._one(f"SELECT count(*) AS n FROM {{s}}.users WHERE {where}", params)
        order = "DESC" if query.descending else "ASC"
        params.update(limit=query.per_page, offset=(query.page - 1) * query.per_page)
        rows = await self._rows(
            f"SELECT {USER_COLUMNS} FROM {{s}}.users WHERE {where} ORDER BY created_at {order}, id {order} "
            "LIMIT %(limit)s OFFSET %(offset)s",
            params,
        )
        return await self._with_identities(rows), int(total_row["n"] if total_row else 0)


class PgSessionRepository(_Repository):
    async def get(self, session_id: UUID) -> Session | None:
        rows = await self._rows(
            "SELECT s.*, a.authentication_method AS amr_method, a.updated_at AS amr_updated_at "
            "FROM {s}.sessions s LEFT JOIN {s}.mfa_amr_claims a ON a.session_id = s.id WHERE s.id = %s",
            (session_id,),
        )
        if not rows:
            return None
        amr = [
            AmrClaim(method=r["amr_method"], timestamp=r["amr_updated_at"]) for r in rows if r["amr_method"] is not None
        ]
        self._tx.stored_amr[session_id] = {(claim.method, claim.timestamp) for claim in amr}
        return session_from_row(rows[0], amr)

    async def add(self, session: Session) -> None:
        await self._defer(
            "INSERT INTO {s}.sessions (id, user_id, created_at, updated_at, factor_id, aal, not_after, "
            "refreshed_at, user_agent, ip, tag, refresh_token_hmac_key, refresh_token_counter) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                session.id, session.user_id, session.created_at, session.updated_at, session.factor_id,
                session.aal, session.not_after, naive_utc(session.refreshed_at), session.user_agent,
                session.ip, session.tag, session.refresh_token_hmac_key, session.refresh_token_counter,
            ),
        )
        await self._save_amr(session)

    async def update(self, session: Session) -> None:
        await self._defer(
            "UPDATE {s}.sessions SET updated_at = %s, factor_id = %s, aal = %s, not_after = %s, "
            "refreshed_at = %s, user_agent = %s, ip = %s, tag = %s, refresh_token_hmac_key = %s, "
            "refresh_token_counter = %s WHERE id = %s",
            (
                session.updated_at, session.factor_id, session.aal, session.not_after,
                naive_utc(session.refreshed_at), session.user_agent, session.ip, session.tag,
                session.refresh_token_hmac_key, session.refresh_token_counter, session.id,
            ),
        )
        await self._save_amr(session)

    async def _save_amr(self, session: Session) -> None:
        stored = self._tx.stored_amr.get(session.id, set())
        gone = {method for method, _ in stored} - {claim.method for claim in session.amr}
        if gone:  # an unenrolled factor's method leaves the sessions it stepped up
            await self._defer(
                "DELETE FROM {s}.mfa_amr_claims WHERE session_id = %s AND authentication_method = ANY(%s)",
                (session.id, sorted(gone)),
            )
        for claim in session.amr:
            if (claim.method, claim.timestamp) in stored:
                continue
            await self._defer(
                "INSERT INTO {s}.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) "
                "VALUES (gen_random_uuid(), %s, %s, %s, %s) ON CONFLICT ON CONSTRAINT "
                "mfa_amr_claims_session_id_authentication_method_pkey DO UPDATE SET updated_at = excluded.updated_at",
                (session.id, claim.timestamp, claim.timestamp, claim.method),
            )

    async def delete(self, session_id: UUID) -> None:
        await self._rows("DELETE FROM {s}.sessions WHERE id = %s", (session_id,))

    async def delete_for_user(self, user_id: UUID, *, keep: UUID | None = None) -> None:
        if keep is None:
            await self._rows("DELETE FROM {s}.sessions WHERE user_id = %s", (user_id,))
        else:
            await self._rows("DELETE FROM {s}.sessions WHERE user_id = %s AND id <> %s", (user_id, keep))

    async def delete_below_aal2(self, user_id: UUID, *, keep: UUID) -> None:
        await self._rows(
            "DELETE FROM {s}.sessions WHERE user_id = %s AND id <> %s AND (aal IS NULL OR aal < 'aal2')", (user_id, keep)
        )

    async def using_factor(self, factor_id: UUID) -> list[Session]:
        rows = await self._rows(
            "SELECT s.*, a.authentication_method AS amr_method, a.updated_at AS amr_updated_at "
            "FROM {s}.sessions s LEFT JOIN {s}.mfa_amr_claims a ON a.session_id = s.id WHERE s.factor_id = %s "
            "ORDER BY s.id",
            (factor_id,),
        )
        by_session: dict[UUID, list[dict[str, Any]]] = {}
        for row in rows:
            by_session.setdefault(row["id"], []).append(row)
        sessions = []
        for session_id, group in by_session.items():
            amr = [AmrClaim(method=r["amr_method"], timestamp=r["amr_updated_at"]) for r in group if r["amr_method"] is not None]
            self._tx.stored_amr[session_id] = {(claim.method, claim.timestamp) for claim in amr}
            sessions.append(session_from_row(group[0], amr))
        return sessions

    _FOR_USER = (
        "SELECT s.*, a.authentication_method AS amr_method, a.updated_at AS amr_updated_at "
        "FROM {s}.sessions s LEFT JOIN {s}.mfa_amr_claims a ON a.session_id = s.id "
        "WHERE s.user_id = %(user)s ORDER BY s.created_at DESC, s.id DESC"
    )

    async def for_user(self, user_id: UUID, *, lock_user: bool = False) -> list[Session]:
        params = {"user": user_id}
        if lock_user:
            # The lock, then the read in the same round trip (the read's snapshot follows the lock).
            locked, rows = await self._rows_of_each(
                [("SELECT id FROM {s}.users WHERE id = %(user)s FOR UPDATE SKIP LOCKED", params), (self._FOR_USER, params)]
            )
            if not locked:
                raise RowLocked(str(user_id)[:8])
        else:
            rows = await self._rows(self._FOR_USER, params)
        grouped: dict[UUID, tuple[dict[str, Any], list[AmrClaim]]] = {}
        for row in rows:
            _, amr = grouped.setdefault(row["id"], (row, []))
            if row["amr_method"] is not None:
                amr.append(AmrClaim(method=row["amr_method"], timestamp=row["amr_updated_at"]))
        sessions = []
        for session_id, (row, amr) in grouped.items():
            self._tx.stored_amr[session_id] = {(claim.method, claim.timestamp) for claim in amr}
            sessions.append(session_from_row(row, amr))
        return sessions


class PgRefreshTokenRepository(_Repository):
    _COLUMNS = "id, token, user_id, session_id, parent, revoked, created_at, updated_at"

    async def get(self, token: str) -> RefreshToken | None:
        # By the token alone (unique index), the instance checked here: with `instance_id = …` in the
        # WHERE clause PostgreSQL may pick the (instance_id, user_id) index, on which every token of
        # the instance matches, and filter them one by one (seen with 2 000 tokens: 0.2 ms, growing).
        row = await self._one(
            f"SELECT {self._COLUMNS}, instance_id FROM {{s}}.refresh_tokens WHERE token = %s", (token,)
        )
        if row is None or row["instance_id"] != NIL_UUID:
            return None
        return refresh_token_from_row(row)

    async def lock(self, token: str) -> LockedRefreshToken | None:
        # One round trip: the token and its session locked by one statement (the session in a
        # sub-select, so a token without a session still comes back), then the session's newest
        # live token, read by a second statement so that its snapshot is taken after the locks:
        # a rotation that committed while the first statement ran is seen.
        locked, newest = await self._rows_of_each(
            [
                (
                    f"WITH t AS (SELECT {self._COLUMNS}, instance_id FROM {{s}}.refresh_tokens WHERE token = %s "
                    "FOR UPDATE SKIP LOCKED) "
                    "SELECT t.*, (SELECT s.id FROM {s}.sessions s WHERE s.id = t.session_id FOR UPDATE SKIP LOCKED) "
                    "AS locked_session FROM t",
                    (token,),
                ),
                (
                    f"SELECT {self._COLUMNS} FROM {{s}}.refresh_tokens WHERE session_id = "
                    "(SELECT session_id FROM {s}.refresh_tokens WHERE token = %s) AND revoked = false "
                    "ORDER BY id DESC LIMIT 1",
                    (token,),
                ),
            ]
        )
        # A row that exists but is not returned locked is held by another transaction.
        if not locked:
            if await self._one("SELECT 1 FROM {s}.refresh_tokens WHERE token = %s", (token,)):
                raise RowLocked(token[:4])
            return None
        row = locked[0]
        if row["session_id"] is not None and row["locked_session"] is None:
            if await self._one("SELECT 1 FROM {s}.sessions WHERE id = %s", (row["session_id"],)):
                raise RowLocked(token[:4])
        if row["instance_id"] != NIL_UUID:
            return None
        return LockedRefreshToken(
            token=refresh_token_from_row(row), newest_live=refresh_token_from_row(newest[0]) if newest else None
        )

    async def add(self, token: RefreshToken) -> None:
        # Queued: sent with the next statement that is read, or with COMMIT.
        await self._defer(
            "INSERT INTO {s}.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, "
            "session_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (NIL_UUID, token.token, token.user_id, token.revoked, token.created_at, token.updated_at,
             token.parent, token.session_id),
        )

    async def swap(self, presented: RefreshToken, child: RefreshToken | None, now: datetime) -> None:
        used = "UPDATE {s}.refresh_tokens SET revoked = true, updated_at = %s WHERE id = %s"
        if child is None:
            await self._defer(used, (now, presented.id))
            return
        # One statement for the server to run: the used row and its child.
        await self._defer(
            f"WITH used AS ({used}) "
            "INSERT INTO {s}.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, "
            "session_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (now, presented.id, NIL_UUID, child.token, child.user_id, child.revoked, child.created_at,
             child.updated_at, child.parent, child.session_id),
        )

    async def revoke_live_for_session(self, session_id: UUID, now: datetime) -> None:
        await self._defer(
            "UPDATE {s}.refresh_tokens SET revoked = true, updated_at = %s WHERE session_id = %s AND revoked = false",
            (now, session_id),
        )

    async def delete(self, token_id: int) -> None:
        await self._rows("DELETE FROM {s}.refresh_tokens WHERE id = %s", (token_id,))

    async def newest_live(self, session_id: UUID) -> RefreshToken | None:
        row = await self._one(
            f"SELECT {self._COLUMNS} FROM {{s}}.refresh_tokens WHERE session_id = %s AND revoked = false "
            "ORDER BY id DESC LIMIT 1 FOR UPDATE",
            (session_id,),
        )
        return refresh_token_from_row(row) if row else None


class PgOneTimeTokenRepository(_Repository):
    async def replace(self, token: OneTimeToken) -> None:
        await self._rows(
            "DELETE FROM {s}.one_time_tokens WHERE user_id = %s AND token_type = %s", (token.user_id, token.token_type)
        )
        await self._rows(
            "INSERT INTO {s}.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (token.id, token.user_id, token.token_type, token.token_hash, token.relates_to.lower(),
             naive_utc(token.created_at), naive_utc(token.updated_at)),
        )

    async def delete_for_user(self, user_id: UUID) -> None:
        await self._rows("DELETE FROM {s}.one_time_tokens WHERE user_id = %s", (user_id,))

    async def find(self, token_hash: str, token_types: tuple[str, ...]) -> OneTimeToken | None:
        row = await self._one(
            "SELECT id, user_id, token_type::text AS token_type, token_hash, relates_to, created_at, updated_at "
            "FROM {s}.one_time_tokens WHERE token_hash = %s AND token_type::text = ANY(%s) "
            "ORDER BY created_at DESC LIMIT 1",
            (token_hash, list(token_types)),
        )
        return _one_time_token(row) if row else None

    async def for_user(self, user_id: UUID, token_type: str) -> OneTimeToken | None:
        row = await self._one(
            "SELECT id, user_id, token_type::text AS token_type, token_hash, relates_to, created_at, updated_at "
            "FROM {s}.one_time_tokens WHERE user_id = %s AND token_type::text = %s",
            (user_id, token_type),
        )
        return _one_time_token(row) if row else None

    async def delete(self, user_id: UUID, token_type: str) -> None:
        await self._rows(
            "DELETE FROM {s}.one_time_tokens WHERE user_id = %s AND token_type::text = %s", (user_id, token_type)
        )


def _one_time_token(row: dict[str, Any]) -> OneTimeToken:
    return OneTimeToken(
        id=row["id"],
        user_id=row["user_id"],
        token_type=row["token_type"],
        token_hash=row["token_hash"],
        relates_to=row["relates_to"],
        created_at=utc(row["created_at"]),  # type: ignore[arg-type]
        updated_at=utc(row["updated_at"]),  # type: ignore[arg-type]
    )


_FLOW_COLUMNS = (
    "id, user_id, auth_code, code_challenge_method::text AS code_challenge_method, code_challenge, "
    "provider_type, provider_access_token, provider_refresh_token, created_at, updated_at, "
    "authentication_method, auth_code_issued_at, invite_token, referrer, oauth_client_state_id, linking_target_id, "
    "email_optional"
)


def _flow_state(row: dict[str, Any]) -> FlowState:
    return FlowState(
        id=row["id"],
        user_id=row["user_id"],
        auth_code=row["auth_code"],
        code_challenge_method=row["code_challenge_method"],
        code_challenge=row["code_challenge"],
        provider_type=row["provider_type"],
        authentication_method=row["authentication_method"],
        provider_access_token=row["provider_access_token"],
        provider_refresh_token=row["provider_refresh_token"],
        auth_code_issued_at=utc(row["auth_code_issued_at"]),
        created_at=utc(row["created_at"]),  # type: ignore[arg-type]
        updated_at=utc(row["updated_at"]),  # type: ignore[arg-type]
        invite_token=row["invite_token"],
        referrer=row["referrer"],
        oauth_client_state_id=row["oauth_client_state_id"],
        linking_target_id=row["linking_target_id"],
        email_optional=row["email_optional"],
    )


class PgFlowStateRepository(_Repository):
    async def add(self, flow: FlowState) -> None:
        await self._rows(
            "INSERT INTO {s}.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, "
            "provider_type, provider_access_token, provider_refresh_token, created_at, updated_at, "
            "authentication_method, auth_code_issued_at, invite_token, referrer, oauth_client_state_id, "
            "linking_target_id, email_optional) "
            "VALUES (%s, %s, %s, %s::{s}.code_challenge_method, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (flow.id, flow.user_id, flow.auth_code, flow.code_challenge_method, flow.code_challenge,
             flow.provider_type, flow.provider_access_token, flow.provider_refresh_token,
             flow.created_at, flow.updated_at, flow.authentication_method, flow.auth_code_issued_at,
             flow.invite_token, flow.referrer, flow.oauth_client_state_id, flow.linking_target_id, flow.email_optional),
        )

    async def get(self, flow_id: UUID, *, lock: bool = False) -> FlowState | None:
        locking = " FOR UPDATE" if lock else ""
        row = await self._one(f"SELECT {_FLOW_COLUMNS} FROM {{s}}.flow_state WHERE id = %s{locking}", (flow_id,))
        return _flow_state(row) if row else None

    async def update(self, flow: FlowState) -> None:
        await self._rows(
            "UPDATE {s}.flow_state SET user_id = %s, auth_code_issued_at = %s, updated_at = %s, "
            "provider_access_token = %s, provider_refresh_token = %s WHERE id = %s",
            (flow.user_id, flow.auth_code_issued_at, flow.updated_at, flow.provider_access_token,
             flow.provider_refresh_token, flow.id),
        )

    async def by_auth_code(self, auth_code: str, *, lock: bool = False) -> FlowState | None:
        locking = " FOR UPDATE" if lock else ""
        row = await self._one(
            f"SELECT {_FLOW_COLUMNS} FROM {{s}}.flow_state WHERE auth_code = %s{locking}", (auth_code,)
        )
        return _flow_state(row) if row else None

    async def latest_for_user(self, user_id: UUID, authentication_method: str) -> FlowState | None:
        row = await self._one(
            f"SELECT {_FLOW_COLUMNS} FROM {{s}}.flow_state WHERE user_id = %s AND authentication_method = %s "
            "ORDER BY created_at DESC LIMIT 1",
            (user_id, authentication_method),
        )
        return _flow_state(row) if row else None

    async def delete(self, flow_id: UUID) -> None:
        await self._rows("DELETE FROM {s}.flow_state WHERE id = %s", (flow_id,))


class PgOAuthClientStateRepository(_Repository):
    async def add(self, state: OAuthClientState) -> None:
        await self._rows(
            "INSERT INTO {s}.oauth_client_states (id, provider_type, code_verifier, created_at) VALUES (%s, %s, %s, %s)",
            (state.id, state.provider_type, state.code_verifier, state.created_at),
        )

    async def take(self, state_id: UUID) -> OAuthClientState | None:
        rows = await self._rows(
            "DELETE FROM {s}.oauth_client_states WHERE id = %s RETURNING id, provider_type, code_verifier, created_at",
            (state_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return OAuthClientState(
            id=row["id"], provider_type=row["provider_type"], code_verifier=row["code_verifier"], created_at=utc(row["created_at"])  # type: ignore[arg-type]
        )


class PgAuditLog(_Repository):
    async def add(self, entry: AuditLogEntry) -> None:
        await self._defer(
            "INSERT INTO {s}.audit_log_entries (instance_id, id, payload, created_at, ip_address) "
            "VALUES (%s, %s, %s, %s, %s)",
            (entry.instance_id, entry.id, Json(entry.payload), entry.created_at, entry.ip_address),
        )
        self._tx.audited.append(entry)

    async def search(self, where: AuditFilter, *, page: int, per_page: int) -> tuple[list[AuditLogEntry], int]:
        clause = "instance_id = %(nil)s"
        params: dict[str, Any] = {"nil": NIL_UUID}
        if where.active:
            # the keys come from the domain's fixed scope table, never from the request
            clause += " AND (" + " OR ".join(f"payload->>'{key}' ILIKE %(like)s" for key in where.keys) + ")"
            params["like"] = f"%{where.text}%"
        total = await self._one(f"SELECT count(*) AS n FROM {{s}}.audit_log_entries WHERE {clause}", params)
        params.update(limit=per_page, offset=(page - 1) * per_page)
        rows = await self._rows(
            f"SELECT id, payload, created_at, ip_address FROM {{s}}.audit_log_entries WHERE {clause} "
            "ORDER BY created_at DESC, ctid DESC LIMIT %(limit)s OFFSET %(offset)s",
            params,
        )
        entries = [
            AuditLogEntry(id=r["id"], payload=r["payload"] or {}, created_at=utc(r["created_at"]), ip_address=r["ip_address"] or "")
            for r in rows
        ]
        return entries, int(total["n"] if total else 0)


def _with_factors(user: User, factors_json: Any) -> User:
    if factors_json:
        rows = json.loads(factors_json) if isinstance(factors_json, str) else factors_json
        user.factors = [factor_from_row(row) for row in rows]
    return user


class PgFactorRepository(_Repository):
    async def for_user(self, user_id: UUID) -> list[Factor]:
        rows = await self._rows(
            f"SELECT {FACTOR_COLUMNS} FROM {{s}}.mfa_factors WHERE user_id = %s ORDER BY created_at, id", (user_id,)
        )
        return [factor_from_row(r) for r in rows]

    async def get(self, factor_id: UUID, *, lock: bool = False) -> Factor | None:
        suffix = " FOR UPDATE" if lock else ""
        row = await self._one(f"SELECT {FACTOR_COLUMNS} FROM {{s}}.mfa_factors WHERE id = %s{suffix}", (factor_id,))
        return factor_from_row(row) if row else None

    async def add(self, factor: Factor) -> None:
        try:
            await self._rows(
                f"INSERT INTO {{s}}.mfa_factors ({FACTOR_COLUMNS}) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                _factor_params(factor),
            )
        except errors.UniqueViolation:
            raise DomainError(
                "mfa_factor_name_conflict", f'A factor with the friendly name "{factor.friendly_name}" for this user already exists'
            ) from None

    async def update(self, factor: Factor) -> None:
        await self._defer(
            "UPDATE {s}.mfa_factors SET friendly_name = %s, status = %s, updated_at = %s, secret = %s, phone = %s, "
            "last_challenged_at = %s, web_authn_credential = %s, web_authn_aaguid = %s, last_webauthn_challenge_data = %s "
            "WHERE id = %s",
            (
                factor.friendly_name, factor.status, factor.updated_at, factor.secret or None, factor.phone or None,
                factor.last_challenged_at, _jsonb(factor.web_authn_credential), factor.web_authn_aaguid,
                _jsonb(factor.last_webauthn_challenge_data), factor.id,
            ),
        )

    async def delete(self, factor_ids: list[UUID]) -> None:
        if factor_ids:
            await self._rows("DELETE FROM {s}.mfa_factors WHERE id = ANY(%s)", (list(factor_ids),))

    async def add_challenge(self, challenge: Challenge) -> None:
        await self._defer(
            "INSERT INTO {s}.mfa_challenges (id, factor_id, created_at, verified_at, ip_address, otp_code, web_authn_session_data) "
            "VALUES (%s, %s, %s, %s, %s::inet, %s, %s)",
            (
                challenge.id, challenge.factor_id, challenge.created_at, challenge.verified_at, challenge.ip_address,
                challenge.otp_code or None, _jsonb(challenge.web_authn_session_data),
            ),
        )

    async def get_challenge(self, challenge_id: UUID, factor_id: UUID, *, lock: bool = False) -> Challenge | None:
        suffix = " FOR UPDATE" if lock else ""
        row = await self._one(
            "SELECT id, factor_id, created_at, verified_at, host(ip_address) AS ip_address, otp_code, web_authn_session_data "
            f"FROM {{s}}.mfa_challenges WHERE id = %s AND factor_id = %s{suffix}",
            (challenge_id, factor_id),
        )
        return challenge_from_row(row) if row else None

    async def update_challenge(self, challenge: Challenge) -> None:
        await self._defer(
            "UPDATE {s}.mfa_challenges SET verified_at = %s, otp_code = %s, web_authn_session_data = %s WHERE id = %s",
            (challenge.verified_at, challenge.otp_code or None, _jsonb(challenge.web_authn_session_data), challenge.id),
        )

    async def delete_challenge(self, challenge_id: UUID) -> None:
        await self._rows("DELETE FROM {s}.mfa_challenges WHERE id = %s", (challenge_id,))

    async def verified_challenges(self, factor_id: UUID, since: datetime) -> list[Challenge]:
        rows = await self._rows(
            "SELECT id, factor_id, created_at, verified_at, host(ip_address) AS ip_address, otp_code, web_authn_session_data "
            "FROM {s}.mfa_challenges WHERE factor_id = %s AND verified_at IS NOT NULL AND verified_at > %s",
            (factor_id, since),
        )
        return [challenge_from_row(r) for r in rows]


def _jsonb(value: Any) -> Any:
    return None if value is None else Jsonb(value)


def _factor_params(factor: Factor) -> tuple[Any, ...]:
    return (
        factor.id, factor.user_id, factor.friendly_name, factor.factor_type, factor.status, factor.created_at,
        factor.updated_at, factor.secret or None, factor.phone or None, factor.last_challenged_at,
        _jsonb(factor.web_authn_credential), factor.web_authn_aaguid, _jsonb(factor.last_webauthn_challenge_data),
    )
