"""A tiny Supabase-style app: accounts through supabase-auth, notes in PostgreSQL under RLS.

Each data call runs as PostgREST would run it: in one transaction, as the JWT's role, with the
claims in `request.jwt.claims`, so the policies on `auth.uid()` decide what a person sees.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from supabase_auth import SyncGoTrueClient
from supabase_auth.types import Session

SCHEMA = Path(__file__).with_name("schema.sql")


def install_schema(owner_dsn: str) -> None:
    """Create the app's table and policies (run once, as the database's owner)."""
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute(SCHEMA.read_text())


def _claims(access_token: str) -> dict[str, Any]:
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class NotesApp:
    auth_url: str
    anon_key: str
    db_dsn: str

    def auth(self) -> SyncGoTrueClient:
        return SyncGoTrueClient(
            url=self.auth_url, headers={"apikey": self.anon_key}, persist_session=False, auto_refresh_token=False
        )

    def sign_up(self, email: str, password: str, *, redirect_to: str | None = None) -> None:
        options = {"email_redirect_to": redirect_to} if redirect_to else {}
        self.auth().sign_up({"email": email, "password": password, "options": options})

    def sign_in(self, email: str, password: str) -> Session:
        session = self.auth().sign_in_with_password({"email": email, "password": password}).session
        assert session is not None
        return session

    def _as(self, conn: psycopg.Connection, access_token: str) -> None:
        claims = _claims(access_token)
        conn.execute(
            "select set_config('request.jwt.claims', %s, true), set_config('role', %s, true)",
            [json.dumps(claims), claims.get("role", "authenticated")],
        )

    def add_note(self, access_token: str, body: str) -> int:
        with psycopg.connect(self.db_dsn) as conn:
            self._as(conn, access_token)
            row = conn.execute("insert into public.notes (body) values (%s) returning id", [body]).fetchone()
            assert row is not None
            return int(row[0])

    def notes(self, access_token: str) -> list[str]:
        with psycopg.connect(self.db_dsn) as conn:
            self._as(conn, access_token)
            return [body for (body,) in conn.execute("select body from public.notes order by id")]

    def delete_note(self, access_token: str, note_id: int) -> bool:
        with psycopg.connect(self.db_dsn) as conn:
            self._as(conn, access_token)
            return conn.execute("delete from public.notes where id = %s", [note_id]).rowcount == 1
