"""An HTTP client bound to one pytrue app, with storage-neutral row counts for contract tests."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from pytrue.entrypoints.containers import Application
from support.app import anon_key, service_role_key

TABLES = ("users", "identities", "sessions", "refresh_tokens", "one_time_tokens", "audit_log_entries", "flow_state")


class Api:
    """Carries the keys a Supabase client would; `counts()` says how many rows each table holds."""

    def __init__(self, client: AsyncTestClient, container: Application) -> None:
        self.client = client
        self.container = container
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
    @property
    def inbox(self) -> Any:
        """The development inbox: every message the server sent (no SMTP configured in tests)."""
        return self.container.core.dev_inbox()

    def mail(self, to: str, kind: str | None = None) -> Any:
        """The newest message to `to` (of `kind`), failing the test when there is none."""
        found = self.inbox.latest(to, kind)
        assert found is not None, f"no {kind or ''} mail to {to}: {[(m.kind, m.to) for m in self.inbox.messages]}"
        return found

    def mails(self) -> int:
        return len(self.inbox.messages)


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


class PostgresApi(Api):
    async def counts(self) -> dict[str, int]:
        import psycopg

        dsn = self.container.settings().database_url
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            result = {}
            for table in TABLES:
                cur = await conn.execute(f"SELECT count(*) FROM auth.{table}")
                row = await cur.fetchone()
                result[table] = int(row[0]) if row else 0
            return result
