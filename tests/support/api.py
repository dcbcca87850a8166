"""An HTTP client bound to one pytrue app, with storage-neutral row counts and reads for contract tests.

`counts()`, `users()`, `refresh_tokens()` and `audit_actions()` answer the same on the in-memory
adapters (from the store) and on PostgreSQL (raw SQL on `auth.*`, not through pytrue's own
repositories), so a contract test can check what was written without knowing where.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from litestar.testing import AsyncTestClient

from pytrue.entrypoints.containers import Application
from support.app import anon_key, service_role_key

TABLES = ("users", "identities", "sessions", "refresh_tokens", "one_time_tokens", "audit_log_entries", "flow_state")


class Api:
    """Carries the keys a Supabase client would; `counts()` says how many rows each table holds."""

    def __init__(self, client: AsyncTestClient, container: Application, clock: Any = None) -> None:
        self.client = client
        self.container = container
        self.clock = clock  # the FixedClock the app runs on, when the test asked for one
        settings = container.settings()
        self.anon = anon_key(settings)
        self.service = service_role_key(settings)

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.anon}", "apikey": self.anon, **extra}

    def admin(self, **extra: str) -> dict[str, str]:
        return self.headers(self.service, **extra)

    async def signup(self, email: str = "user@example.com", password: str = "s3cret-pass", **body: Any) -> Any:
        return await self.client.post(
            "/signup", json={"email": email, "password": password, **body}, headers=self.headers()
        )

    async def password_grant(self, email: str = "user@example.com", password: str = "s3cret-pass") -> Any:
        return await self.client.post(
            "/token?grant_type=password", json={"email": email, "password": password}, headers=self.headers()
        )

    async def refresh(self, token: str) -> Any:
        return await self.client.post(
            "/token?grant_type=refresh_token", json={"refresh_token": token}, headers=self.headers()
        )

    async def counts(self) -> dict[str, int]:
        raise NotImplementedError

    # --- mail -----------------------------------------------------------------------------
    def settle_mail(self, timeout: float = 10.0) -> None:
        """Wait until the app's outbox sender has tried every message queued so far.

        Mail leaves after the response (docs/adr/0017) from the app's own event loop, which runs
        in the test client's thread: this blocks until one full pass of the sender that started
        after the call has ended, so a read that follows sees the mail of every earlier request."""
        assert self.container.use_cases.outbox_sender().settle(timeout), "the outbox sender did not settle"

    @property
    def inbox(self) -> Any:
        """The development inbox: every message the server sent (no SMTP configured in tests)."""
        if self.container.settings().mailer.delivery == "outbox":
            self.settle_mail()
        return self.container.core.dev_inbox()

    def mail(self, to: str, kind: str | None = None) -> Any:
        """The newest message to `to` (of `kind`), failing the test when there is none."""
        found = self.inbox.latest(to, kind)
        assert found is not None, f"no {kind or ''} mail to {to}: {[(m.kind, m.to) for m in self.inbox.messages]}"
        return found

    def mails(self) -> int:
        return len(self.inbox.messages)

    async def outbox(self) -> list[dict[str, Any]]:
        """Messages waiting in the mail outbox, oldest first: kind, attempts, last_error, locale ("" for none)."""
        raise NotImplementedError

    async def drain_mail(self, timeout: float = 10.0) -> None:
        """Wait (retries included) until the outbox is empty, failing the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while await self.outbox():
            assert time.monotonic() < deadline, f"mail still queued after {timeout} s: {await self.outbox()}"
            self.settle_mail()
            time.sleep(0.01)

    async def users(self) -> list[dict[str, Any]]:
        """Stored user rows, oldest first: id (str), email, encrypted_password, confirmation_token, email_confirmed_at,
        user_metadata, app_metadata, banned_until, deleted_at (aware, UTC), is_sso_user. Empty text columns read as ""."""
        raise NotImplementedError

    async def user(self) -> dict[str, Any]:
        """The only stored user row (fails when there is not exactly one)."""
        rows = await self.users()
        assert len(rows) == 1, f"expected one stored user, found {len(rows)}"
        return rows[0]

    async def refresh_tokens(self) -> list[dict[str, Any]]:
        """Stored refresh tokens in issue order: token, revoked, session_id (str)."""
        raise NotImplementedError

    async def audit_actions(self) -> list[str]:
        """`payload.action` of every audit entry, in the order they were written."""
        raise NotImplementedError

    async def audit_payloads(self) -> list[dict[str, Any]]:
        """The payload of every audit entry, in the order they were written."""
        raise NotImplementedError

    async def tag_session(self, session_id: str, tag: str | None) -> None:
        """Set a session's `tag` (GoTrue's API never sets one: a database hook or an operator does)."""
        raise NotImplementedError

    async def sessions(self) -> list[dict[str, Any]]:
        """Stored sessions, oldest first: id and user_id (str), not_after and refreshed_at (aware, UTC, or None),
        refresh_token_hmac_key and refresh_token_counter (None for legacy sessions)."""
        raise NotImplementedError

    async def end_sessions(self, session_ids: list[str], not_after: datetime) -> None:
        """Give these sessions a `not_after` (pytrue sets none itself: GoTrue's SAML sessions have one)."""
        raise NotImplementedError


PHONE_COLUMNS = (
    "phone", "phone_confirmed_at", "confirmation_token", "confirmation_sent_at", "phone_change",
    "phone_change_token", "phone_change_sent_at", "reauthentication_token", "reauthentication_sent_at",
)


class MemoryApi(Api):
    @property
    def store(self) -> Any:
        return self.container.adapters.store()

    async def counts(self) -> dict[str, int]:
        store = self.store
        return {
            "users": len(store.users),
            "identities": sum(len(u.identities) for u in store.users.values()),
            "sessions": len(store.sessions),
            "refresh_tokens": len(store.refresh_tokens),
            "one_time_tokens": len(store.one_time_tokens),
            "audit_log_entries": len(store.audit),
            "flow_state": len(store.flow_states),
        }

    async def users(self) -> list[dict[str, Any]]:
        ordered = sorted(self.store.users.values(), key=lambda u: (u.created_at, str(u.id)))
        return [
            {
                "id": str(u.id),
                "email": u.email or "",
                "encrypted_password": u.encrypted_password or "",
                "confirmation_token": u.confirmation_token or "",
                "user_metadata": dict(u.user_metadata),
                "app_metadata": dict(u.app_metadata),
                "banned_until": u.banned_until,
                "deleted_at": u.deleted_at,
                "email_confirmed_at": u.email_confirmed_at,
                "is_sso_user": u.is_sso_user,
            }
            for u in ordered
        ]

    async def refresh_tokens(self) -> list[dict[str, Any]]:
        ordered = sorted(self.store.refresh_tokens.values(), key=lambda t: t.id or 0)
        return [
            {"token": t.token, "revoked": t.revoked, "session_id": None if t.session_id is None else str(t.session_id)}
            for t in ordered
        ]

    async def audit_actions(self) -> list[str]:
        return [entry.payload["action"] for entry in self.store.audit]

    async def audit_payloads(self) -> list[dict[str, Any]]:
        return [dict(entry.payload) for entry in self.store.audit]

    async def tag_session(self, session_id: str, tag: str | None) -> None:
        for session in self.store.sessions.values():
            if str(session.id) == session_id:
                session.tag = tag

    async def outbox(self) -> list[dict[str, Any]]:
        rows = sorted(self.store.outbox.values(), key=lambda row: row.id)
        return [
            {"kind": r.payload["kind"], "attempts": r.attempts, "last_error": r.last_error, "locale": r.payload.get("locale", "")}
            for r in rows
        ]

    async def sessions(self) -> list[dict[str, Any]]:
        ordered = sorted(self.store.sessions.values(), key=lambda s: (s.created_at, str(s.id)))
        return [
            {
                "id": str(s.id),
                "user_id": str(s.user_id),
                "not_after": s.not_after,
                "refreshed_at": s.refreshed_at,
                "refresh_token_hmac_key": s.refresh_token_hmac_key,
                "refresh_token_counter": s.refresh_token_counter,
            }
            for s in ordered
        ]

    async def phone_rows(self) -> list[dict[str, Any]]:
        """The phone columns of every user (as GoTrue stores them: '' for none), oldest first."""
        ordered = sorted(self.store.users.values(), key=lambda u: (u.created_at, str(u.id)))
        return [
            {"id": str(u.id), **{c: getattr(u, c) if getattr(u, c) is not None else (None if c.endswith("_at") else "")
                                 for c in PHONE_COLUMNS}}
            for u in ordered
        ]

    async def one_time_token_rows(self) -> list[dict[str, Any]]:
        rows = sorted(self.store.one_time_tokens.values(), key=lambda t: (str(t.user_id), t.token_type))
        return [
            {"user_id": str(t.user_id), "token_type": t.token_type, "token_hash": t.token_hash, "relates_to": t.relates_to}
            for t in rows
        ]

    async def identity_rows(self) -> list[dict[str, Any]]:
        rows = [i for u in self.store.users.values() for i in u.identities]
        return [
            {"user_id": str(i.user_id), "provider": i.provider, "provider_id": i.provider_id,
             "identity_data": dict(i.identity_data)}
            for i in sorted(rows, key=lambda i: (str(i.user_id), i.provider))
        ]

    async def factor_rows(self) -> list[dict[str, Any]]:
        """Every MFA factor with its WebAuthn columns, and how many challenges it has, by id."""
        return [
            {"id": str(f.id), "status": f.status, "factor_type": f.factor_type,
             "web_authn_credential": f.web_authn_credential,
             "web_authn_aaguid": None if f.web_authn_aaguid is None else str(f.web_authn_aaguid),
             "last_webauthn_challenge_data": f.last_webauthn_challenge_data,
             "challenges": sorted(str(c.id) for c in self.store.mfa_challenges.values() if c.factor_id == f.id)}
            for f in sorted(self.store.factors.values(), key=lambda f: str(f.id))
        ]  # fmt: skip

    async def end_sessions(self, session_ids: list[str], not_after: datetime) -> None:
        for session in self.store.sessions.values():
            if str(session.id) in session_ids:
                session.not_after = not_after


class PostgresApi(Api):
    async def counts(self) -> dict[str, int]:
        import psycopg

        dsn = self.container.settings().db.url
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            result = {}
            for table in TABLES:
                cur = await conn.execute(f"SELECT count(*) FROM auth.{table}")
                row = await cur.fetchone()
                result[table] = int(row[0]) if row else 0
            return result

    async def _select(self, query: str) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        dsn = self.container.settings().db.url
        async with await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row) as conn:
            cur = await conn.execute(query)  # type: ignore[arg-type]
            return list(await cur.fetchall())

    async def users(self) -> list[dict[str, Any]]:
        rows = await self._select(
            "SELECT id::text AS id, coalesce(email, '') AS email, "
            "coalesce(encrypted_password, '') AS encrypted_password, "
            "coalesce(confirmation_token, '') AS confirmation_token, "
            "coalesce(raw_user_meta_data, '{}') AS user_metadata, coalesce(raw_app_meta_data, '{}') AS app_metadata, "
            "banned_until, deleted_at, email_confirmed_at, is_sso_user FROM auth.users ORDER BY created_at, id::text"
        )
        for row in rows:  # as UTC whatever the server's TimeZone, like the in-memory store's
            for column in ("banned_until", "deleted_at", "email_confirmed_at"):
                if row[column] is not None:
                    row[column] = row[column].astimezone(timezone.utc)
        return rows

    async def phone_rows(self) -> list[dict[str, Any]]:
        text = [c for c in PHONE_COLUMNS if not c.endswith("_at")]
        stamps = [c for c in PHONE_COLUMNS if c.endswith("_at")]
        rows = await self._select(
            "SELECT id::text AS id, "
            + ", ".join([f"coalesce({c}::text, '') AS {c}" for c in text] + stamps)
            + " FROM auth.users ORDER BY created_at, id::text"
        )
        for row in rows:
            for column in stamps:
                if row[column] is not None:
                    row[column] = row[column].astimezone(timezone.utc)
        return [{"id": row["id"], **{c: row[c] for c in PHONE_COLUMNS}} for row in rows]

    async def one_time_token_rows(self) -> list[dict[str, Any]]:
        return await self._select(
            "SELECT user_id::text AS user_id, token_type::text AS token_type, token_hash, relates_to "
            "FROM auth.one_time_tokens ORDER BY user_id::text, token_type::text"
        )

    async def identity_rows(self) -> list[dict[str, Any]]:
        return await self._select(
            "SELECT user_id::text AS user_id, provider, provider_id, identity_data "
            "FROM auth.identities ORDER BY user_id::text, provider"
        )

    async def factor_rows(self) -> list[dict[str, Any]]:
        rows = await self._select(
            "SELECT f.id::text AS id, f.status::text AS status, f.factor_type::text AS factor_type, f.web_authn_credential, "
            "f.web_authn_aaguid::text AS web_authn_aaguid, f.last_webauthn_challenge_data, "
            "coalesce((SELECT array_agg(c.id::text ORDER BY c.id::text) FROM auth.mfa_challenges c WHERE c.factor_id = f.id), "
            "'{}') AS challenges FROM auth.mfa_factors f ORDER BY f.id::text"
        )
        return [{**row, "challenges": list(row["challenges"])} for row in rows]

    async def refresh_tokens(self) -> list[dict[str, Any]]:
        return await self._select(
            "SELECT token, coalesce(revoked, false) AS revoked, session_id::text AS session_id "
            "FROM auth.refresh_tokens ORDER BY id"
        )

    async def outbox(self) -> list[dict[str, Any]]:
        return await self._select(
            "SELECT kind, attempts, last_error, coalesce(payload->>'locale', '') AS locale FROM auth.pytrue_mail_outbox ORDER BY id"
        )

    async def audit_actions(self) -> list[str]:
        # Entries are only ever inserted, so physical order (ctid) is write order within one instant.
        rows = await self._select(
            "SELECT payload->>'action' AS action FROM auth.audit_log_entries ORDER BY created_at, ctid"
        )
        return [row["action"] for row in rows]

    async def audit_payloads(self) -> list[dict[str, Any]]:
        rows = await self._select("SELECT payload FROM auth.audit_log_entries ORDER BY created_at, ctid")
        return [row["payload"] for row in rows]

    async def tag_session(self, session_id: str, tag: str | None) -> None:
        import psycopg

        dsn = self.container.settings().db.url
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute("UPDATE auth.sessions SET tag = %s WHERE id = %s::uuid", (tag, session_id))

    async def sessions(self) -> list[dict[str, Any]]:
        rows = await self._select(
            "SELECT id::text AS id, user_id::text AS user_id, not_after, refreshed_at, refresh_token_hmac_key, "
            "refresh_token_counter FROM auth.sessions ORDER BY created_at, id::text"
        )
        for row in rows:
            row["not_after"] = row["not_after"] and row["not_after"].astimezone(timezone.utc)
            row["refreshed_at"] = row["refreshed_at"] and row["refreshed_at"].replace(tzinfo=timezone.utc)
        return rows

    async def end_sessions(self, session_ids: list[str], not_after: datetime) -> None:
        import psycopg

        dsn = self.container.settings().db.url
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(
                "UPDATE auth.sessions SET not_after = %s WHERE id = ANY(%s::uuid[])", (not_after, session_ids)
            )
