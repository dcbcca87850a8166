"""Drop-in: pytrue started over a database GoTrue populated keeps GoTrue's users, sessions and rows working.

The database is laid out from the GoTrue schema fixture and filled with rows exactly as GoTrue
writes them (schema.md §12); pytrue's startup migration must recognise it and change nothing,
the user signs in with the bcrypt password, both refresh-token generations still refresh
(tokens.md §5–6), and every row pytrue writes keeps GoTrue's invariants.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import bcrypt
import jwt
import psycopg
import pytest
from litestar.testing import AsyncTestClient
from pgcluster import PgDatabase, catalog_snapshot, load_gotrue_schema, snapshot_diff
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from support.api import PostgresApi
from support.app import JWT_SECRET, make_settings

from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app

NIL = uuid.UUID("00000000-0000-0000-0000-000000000000")
EMAIL = "legacy.user@example.com"
PASSWORD = "gotrue-era-password"
TOKEN_COLUMNS = (
    "confirmation_token", "recovery_token", "email_change_token_new", "email_change_token_current",
    "email_change", "phone_change", "phone_change_token", "reauthentication_token",
)  # fmt: skip
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True, slots=True)
class GoTrueRows:
    user_id: uuid.UUID
    identity_id: uuid.UUID
    session_v1: uuid.UUID
    session_legacy: uuid.UUID
    token_v1: str
    token_legacy: str


def _seed(dsn: str) -> GoTrueRows:
    """Insert a confirmed email user, its identity, two sessions and their refresh tokens, as GoTrue does."""
    user_id, identity_id = uuid.uuid4(), uuid.uuid4()
    session_v1, session_legacy = uuid.uuid4(), uuid.uuid4()
    token_v1 = "".join(secrets.choice(BASE32) for _ in range(12))
    token_legacy = secrets.token_urlsafe(16)
    assert len(token_legacy) == 22
    signed_in = datetime.now(timezone.utc) - timedelta(hours=1)
    created = signed_in - timedelta(days=30)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10, prefix=b"2a")).decode()
    assert hashed.startswith("$2a$10$")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, "
            "invited_at, confirmation_token, confirmation_sent_at, recovery_token, recovery_sent_at, "
            "email_change_token_new, email_change, email_change_sent_at, last_sign_in_at, raw_app_meta_data, "
            "raw_user_meta_data, is_super_admin, created_at, updated_at, phone, phone_confirmed_at, phone_change, "
            "phone_change_token, phone_change_sent_at, email_change_token_current, email_change_confirm_status, "
            "banned_until, reauthentication_token, reauthentication_sent_at, is_sso_user, deleted_at, is_anonymous) "
            "VALUES (%s, %s, 'authenticated', 'authenticated', %s, %s, %s, NULL, '', %s, '', NULL, '', '', NULL, "
            "%s, %s, %s, NULL, %s, %s, NULL, NULL, '', '', NULL, '', 0, NULL, '', NULL, false, NULL, false)",
            (
                NIL, user_id, EMAIL, hashed, created, created, signed_in,
                Jsonb({"provider": "email", "providers": ["email"]}),
                Jsonb({"sub": str(user_id), "email": EMAIL, "email_verified": True, "phone_verified": False}),
                created, signed_in,
            ),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, "
            "created_at, updated_at, id) VALUES (%s, %s, %s, 'email', %s, %s, %s, %s)",
            (
                str(user_id), user_id,
                Jsonb({"sub": str(user_id), "email": EMAIL, "email_verified": False, "phone_verified": False}),
                created, created, created, identity_id,
            ),
        )  # fmt: skip
        for session_id, token in ((session_v1, token_v1), (session_legacy, token_legacy)):
            conn.execute(
                "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, factor_id, aal, not_after, "
                "refreshed_at, user_agent, ip, tag) VALUES (%s, %s, %s, %s, NULL, 'aal1', NULL, NULL, "
                "'supabase-js/2.0', '203.0.113.7', NULL)",
                (session_id, user_id, signed_in, signed_in),
            )
            conn.execute(
                "INSERT INTO auth.mfa_amr_claims (session_id, created_at, updated_at, authentication_method, id) "
                "VALUES (%s, %s, %s, 'password', %s)",
                (session_id, signed_in, signed_in, uuid.uuid4()),
            )
            conn.execute(
                "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, "
                "parent, session_id) VALUES (%s, %s, %s, false, %s, %s, NULL, %s)",
                (NIL, token, str(user_id), signed_in, signed_in, session_id),
            )
            conn.execute(
                "INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) "
                "VALUES (%s, %s, %s, %s, '203.0.113.7')",
                (
                    NIL, uuid.uuid4(),
                    json.dumps({
                        "actor_id": str(user_id), "actor_username": EMAIL, "actor_via_sso": False,
                        "action": "login", "log_type": "account", "traits": {"provider": "email"},
                    }),
                    signed_in,
                ),
            )  # fmt: skip
    return GoTrueRows(user_id, identity_id, session_v1, session_legacy, token_v1, token_legacy)


def _fetch(dsn: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


@dataclass(slots=True)
class DropIn:
    database: PgDatabase
    rows: GoTrueRows
    schema_before: dict[str, frozenset[tuple[object, ...]]]
    api: PostgresApi


@pytest.fixture
async def dropin(fresh_db: PgDatabase) -> AsyncIterator[DropIn]:
    load_gotrue_schema(fresh_db)
    rows = _seed(fresh_db.dsn)
    before = catalog_snapshot(fresh_db.admin_dsn)
    settings = make_settings({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": fresh_db.dsn})
    container = build_container(settings)
    async with AsyncTestClient(app=create_app(container)) as client:
        yield DropIn(fresh_db, rows, before, PostgresApi(client, container))


def _claims(access_token: str) -> dict[str, Any]:
    return jwt.decode(access_token, JWT_SECRET, algorithms=["HS256"], audience="authenticated")


async def test_startup_migration_recognises_gotrue_schema_and_changes_nothing(dropin: DropIn) -> None:
    # The only additions are pytrue's own tables (rate limits, docs/adr/0007; mail outbox, docs/adr/0017);
    # GoTrue's objects stay as they were.
    diff = snapshot_diff(dropin.schema_before, catalog_snapshot(dropin.database.admin_dsn))
    assert not any(changes["-"] for changes in diff.values()), diff
    added = [row for changes in diff.values() for row in changes["+"]]
    owned = ("pytrue_rate_limits", "pytrue_mail_outbox")
    assert added and all(any(str(value).startswith(owned) for value in row[:3]) for row in added)
    versions = _fetch(dropin.database.dsn, "SELECT count(*) AS n FROM auth.schema_migrations")
    assert versions[0]["n"] == 70


async def test_gotrue_user_signs_in_with_bcrypt_password_and_is_rehashed(dropin: DropIn) -> None:
    dsn, rows = dropin.database.dsn, dropin.rows
    identities_before = _fetch(dsn, "SELECT * FROM auth.identities ORDER BY id")

    response = await dropin.api.password_grant(EMAIL, PASSWORD)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == str(rows.user_id)
    claims = _claims(body["access_token"])
    assert claims["sub"] == str(rows.user_id)
    assert claims["email"] == EMAIL
    (user,) = _fetch(dsn, "SELECT * FROM auth.users")
    assert user["encrypted_password"].startswith("$argon2id$")
    assert user["last_sign_in_at"] > datetime.now(timezone.utc) - timedelta(minutes=1)
    assert user["updated_at"] > user["created_at"] + timedelta(days=29)
    # the new hash is the one that verifies from now on, the old password still works
    again = await dropin.api.password_grant(EMAIL, PASSWORD)
    assert again.status_code == 200, again.text
    wrong = await dropin.api.password_grant(EMAIL, "not-the-password")
    assert wrong.status_code == 400
    assert _fetch(dsn, "SELECT * FROM auth.identities ORDER BY id") == identities_before

    session_id = uuid.UUID(claims["session_id"])
    (session,) = _fetch(dsn, "SELECT * FROM auth.sessions WHERE id = %s", (session_id,))
    assert session["user_id"] == rows.user_id
    assert session["aal"] == "aal1"
    amr = _fetch(dsn, "SELECT authentication_method FROM auth.mfa_amr_claims WHERE session_id = %s", (session_id,))
    assert [r["authentication_method"] for r in amr] == ["password"]
    (token,) = _fetch(dsn, "SELECT * FROM auth.refresh_tokens WHERE token = %s", (body["refresh_token"],))
    assert token["instance_id"] == NIL
    assert token["user_id"] == str(rows.user_id)
    assert token["session_id"] == session_id
    assert token["revoked"] is False
    assert len(token["token"]) == 12 and set(token["token"]) <= set(BASE32)
    _assert_gotrue_invariants(dsn, rows)


@pytest.mark.parametrize("which", ["token_v1", "token_legacy"])
async def test_gotrue_refresh_tokens_keep_refreshing(dropin: DropIn, which: str) -> None:
    dsn, rows = dropin.database.dsn, dropin.rows
    presented = getattr(rows, which)
    session_id = rows.session_v1 if which == "token_v1" else rows.session_legacy
    identities_before = _fetch(dsn, "SELECT * FROM auth.identities ORDER BY id")
    started = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=5)

    response = await dropin.api.refresh(presented)

    assert response.status_code == 200, response.text
    body = response.json()
    assert _claims(body["access_token"])["session_id"] == str(session_id)
    assert body["user"]["id"] == str(rows.user_id)
    new_token = body["refresh_token"]
    assert new_token != presented
    (old,) = _fetch(dsn, "SELECT * FROM auth.refresh_tokens WHERE token = %s", (presented,))
    assert old["revoked"] is True
    (new,) = _fetch(dsn, "SELECT * FROM auth.refresh_tokens WHERE token = %s", (new_token,))
    assert new["instance_id"] == NIL
    assert new["user_id"] == str(rows.user_id)
    assert new["parent"] == presented
    assert new["session_id"] == session_id
    assert new["revoked"] is False
    assert new["id"] > old["id"]
    (session,) = _fetch(dsn, "SELECT * FROM auth.sessions WHERE id = %s", (session_id,))
    assert session["refreshed_at"] is not None and session["refreshed_at"].tzinfo is None
    assert session["refreshed_at"] >= started
    live = _fetch(dsn, "SELECT token FROM auth.refresh_tokens WHERE session_id = %s AND NOT revoked", (session_id,))
    assert [r["token"] for r in live] == [new_token]

    # the child GoTrue-style token refreshes too, and the other session is untouched
    second = await dropin.api.refresh(new_token)
    assert second.status_code == 200, second.text
    assert _claims(second.json()["access_token"])["session_id"] == str(session_id)
    other = rows.token_legacy if which == "token_v1" else rows.token_v1
    (untouched,) = _fetch(dsn, "SELECT revoked FROM auth.refresh_tokens WHERE token = %s", (other,))
    assert untouched["revoked"] is False
    assert _fetch(dsn, "SELECT * FROM auth.identities ORDER BY id") == identities_before
    _assert_gotrue_invariants(dsn, rows)


async def test_everything_at_once_then_invariants(dropin: DropIn) -> None:
    dsn, rows = dropin.database.dsn, dropin.rows
    assert (await dropin.api.password_grant(EMAIL, PASSWORD)).status_code == 200
    for token in (rows.token_v1, rows.token_legacy):
        response = await dropin.api.refresh(token)
        assert response.status_code == 200, response.text
    (user,) = _fetch(dsn, "SELECT * FROM auth.users")
    assert user["encrypted_password"].startswith("$argon2id$")
    _assert_gotrue_invariants(dsn, rows)


def _assert_gotrue_invariants(dsn: str, rows: GoTrueRows) -> None:
    users = _fetch(dsn, "SELECT * FROM auth.users")
    assert len(users) == 1
    for user in users:
        assert user["instance_id"] == NIL
        assert (user["aud"], user["role"]) == ("authenticated", "authenticated")
        assert user["email"] == EMAIL
        for column in TOKEN_COLUMNS:
            assert user[column] == "", (column, user[column])
        assert user["raw_app_meta_data"]["provider"] == "email"
        assert user["raw_app_meta_data"]["providers"] == ["email"]
        assert user["raw_user_meta_data"]["sub"] == str(rows.user_id)
        assert user["is_sso_user"] is False and user["is_anonymous"] is False
        assert user["email_confirmed_at"] is not None and user["confirmed_at"] is not None

    identities = _fetch(dsn, "SELECT * FROM auth.identities")
    assert [(i["id"], i["provider"], i["provider_id"]) for i in identities] == [
        (rows.identity_id, "email", str(rows.user_id))
    ]
    assert identities[0]["identity_data"]["sub"] == str(rows.user_id)
    assert identities[0]["email"] == EMAIL

    tokens = _fetch(dsn, "SELECT * FROM auth.refresh_tokens ORDER BY id")
    by_token = {t["token"]: t for t in tokens}
    sessions = {s["id"]: s for s in _fetch(dsn, "SELECT * FROM auth.sessions")}
    for token in tokens:
        assert token["instance_id"] == NIL
        assert token["user_id"] == str(rows.user_id)
        assert token["session_id"] in sessions
        assert token["revoked"] is not None
        if token["parent"] is not None:
            parent = by_token[token["parent"]]
            assert parent["revoked"] is True
            assert parent["session_id"] == token["session_id"]
    claims = _fetch(dsn, "SELECT session_id, authentication_method FROM auth.mfa_amr_claims")
    for session_id in sessions:
        assert any(c["session_id"] == session_id for c in claims), session_id
    for session in sessions.values():
        assert session["user_id"] == rows.user_id
        assert session["created_at"].tzinfo is not None
        if session["refreshed_at"] is not None:
            assert session["refreshed_at"].tzinfo is None

    audit = _fetch(dsn, "SELECT * FROM auth.audit_log_entries")
    assert len(audit) > 2
    for entry in audit:
        payload = entry["payload"]
        assert isinstance(payload, dict), payload
        assert payload["actor_id"] == str(rows.user_id), payload
        assert isinstance(payload["action"], str) and payload["action"]
        assert isinstance(payload["log_type"], str) and payload["log_type"]
        assert entry["instance_id"] == NIL
    assert {e["payload"]["action"] for e in audit} >= {"login"}


def _add_session(dsn: str, user_id: uuid.UUID, session_id: uuid.UUID, *, hmac_key: str | None = None,
                 counter: int | None = None) -> None:  # fmt: skip
    signed_in = datetime.now(timezone.utc) - timedelta(minutes=30)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, refresh_token_hmac_key, "
            "refresh_token_counter) VALUES (%s, %s, %s, %s, 'aal1', %s, %s)",
            (session_id, user_id, signed_in, signed_in, hmac_key, counter),
        )
        conn.execute(
            "INSERT INTO auth.mfa_amr_claims (session_id, created_at, updated_at, authentication_method, id) "
            "VALUES (%s, %s, %s, 'password', %s)",
            (session_id, signed_in, signed_in, uuid.uuid4()),
        )


def _add_token(dsn: str, user_id: uuid.UUID, session_id: uuid.UUID, token: str, *, parent: str | None,
               revoked: bool, age: timedelta) -> None:  # fmt: skip
    at = datetime.now(timezone.utc) - age
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, "
            "parent, session_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (NIL, token, str(user_id), revoked, at, at, parent, session_id),
        )


async def test_every_live_token_of_a_gotrue_session_refreshes_once(dropin: DropIn) -> None:
    """GoTrue's reuse interval left two live siblings (12 and 22 characters) in one session:
    each refreshes; presenting a used one afterwards is still a reuse that revokes the session's
    live tokens (issue 15's regression)."""
    dsn, rows = dropin.database.dsn, dropin.rows
    session_id = uuid.uuid4()
    _add_session(dsn, rows.user_id, session_id)
    parent = "".join(secrets.choice(BASE32) for _ in range(12))
    twelve = "".join(secrets.choice(BASE32) for _ in range(12))
    twenty_two = secrets.token_urlsafe(16)
    _add_token(dsn, rows.user_id, session_id, parent, parent=None, revoked=True, age=timedelta(minutes=20))
    _add_token(dsn, rows.user_id, session_id, twelve, parent=parent, revoked=False, age=timedelta(minutes=19))
    _add_token(dsn, rows.user_id, session_id, twenty_two, parent=parent, revoked=False, age=timedelta(minutes=19))

    children = []
    for presented in (twelve, twenty_two):
        response = await dropin.api.refresh(presented)
        assert response.status_code == 200, response.text
        assert _claims(response.json()["access_token"])["session_id"] == str(session_id)
        children.append(response.json()["refresh_token"])

    live = _fetch(dsn, "SELECT token, parent FROM auth.refresh_tokens WHERE session_id = %s AND NOT revoked "
                       "ORDER BY id", (session_id,))  # fmt: skip
    assert [(r["token"], r["parent"]) for r in live] == [(children[0], twelve), (children[1], twenty_two)]
    # each child refreshes in turn
    for child in children:
        assert (await dropin.api.refresh(child)).status_code == 200

    reused = await dropin.api.refresh(twelve)
    assert reused.status_code == 400, reused.text
    assert reused.json()["error_code"] == "refresh_token_already_used"
    assert _fetch(dsn, "SELECT 1 FROM auth.refresh_tokens WHERE session_id = %s AND NOT revoked", (session_id,)) == []
    assert _fetch(dsn, "SELECT 1 FROM auth.sessions WHERE id = %s", (session_id,)) != []
    _assert_gotrue_invariants(dsn, rows)


async def test_a_v2_token_minted_by_gotrue_refreshes(dropin: DropIn) -> None:
    """A session GoTrue set up for v2 tokens (key and counter on the row, no refresh_tokens row),
    presented with the token GoTrue's own encoder minted for its counter."""
    from support.gotrue_vectors import GOTRUE_KEY, GOTRUE_MINTED, GOTRUE_SESSION

    from pytrue.domain.counter_token import encode_key, parse_counter_token

    dsn, rows = dropin.database.dsn, dropin.rows
    _add_session(dsn, rows.user_id, GOTRUE_SESSION, hmac_key=encode_key(GOTRUE_KEY), counter=2)

    response = await dropin.api.refresh(GOTRUE_MINTED[2])

    assert response.status_code == 200, response.text
    issued = parse_counter_token(response.json()["refresh_token"])
    assert issued is not None and (issued.session_id, issued.counter) == (GOTRUE_SESSION, 3)
    assert _claims(response.json()["access_token"])["session_id"] == str(GOTRUE_SESSION)
    (session,) = _fetch(dsn, "SELECT * FROM auth.sessions WHERE id = %s", (GOTRUE_SESSION,))
    assert session["refresh_token_counter"] == 3
    assert session["refresh_token_hmac_key"] == encode_key(GOTRUE_KEY)
    assert session["refreshed_at"] is not None and session["refreshed_at"].tzinfo is None
    assert _fetch(dsn, "SELECT 1 FROM auth.refresh_tokens WHERE session_id = %s", (GOTRUE_SESSION,)) == []
    # the token GoTrue minted before it (counter 1) is now two behind: a reuse that ends the session
    reused = await dropin.api.refresh(GOTRUE_MINTED[1])
    assert reused.status_code == 400 and reused.json()["error_code"] == "refresh_token_already_used"
    assert _fetch(dsn, "SELECT 1 FROM auth.sessions WHERE id = %s", (GOTRUE_SESSION,)) == []
    _assert_gotrue_invariants(dsn, rows)
