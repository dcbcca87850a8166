"""pytrue's migrations: GoTrue's auth schema from empty, idempotence, and leaving GoTrue's schema alone."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from pgcluster import PgDatabase, catalog_snapshot, load_gotrue_schema, snapshot_diff
from psycopg import sql
from pytrue.adapters.postgres.migrate import (
    IncompatibleSchemaError,
    MigrationError,
    load_migrations,
    migrate,
    render,
    schema_status,
)

MIGRATIONS = ["0001_auth_schema", "0002_pytrue_rate_limits", "0003_pytrue_mail_outbox"]
# pytrue's own tables (ADR 0003: migration bookkeeping; ADR 0007: shared rate limits; ADR 0017: mail outbox),
# not GoTrue's.
PYTRUE_TABLES = ("pytrue_migrations", "pytrue_rate_limits", "pytrue_mail_outbox")
NIL = "00000000-0000-0000-0000-000000000000"

CORE_TABLES = {
    "users", "identities", "sessions", "refresh_tokens", "one_time_tokens", "audit_log_entries",
    "flow_state", "mfa_factors", "mfa_challenges", "mfa_amr_claims", "instances", "schema_migrations",
}  # fmt: skip
OTHER_TABLES = {
    "sso_providers", "sso_domains", "saml_providers", "saml_relay_states", "oauth_clients",
    "oauth_authorizations", "oauth_consents", "oauth_client_states", "custom_oauth_providers",
    "webauthn_credentials", "webauthn_challenges",
}  # fmt: skip

# (table, column) -> (type, not null, default, generated)
KEY_COLUMNS = {
    ("users", "id"): ("uuid", True, "", ""),
    ("users", "email"): ("character varying(255)", False, "", ""),
    ("users", "phone"): ("text", False, "NULL::character varying", ""),
    ("users", "confirmation_token"): ("character varying(255)", False, "", ""),
    ("users", "reauthentication_token"): ("character varying(255)", False, "''::character varying", ""),
    ("users", "confirmed_at"): (
        "timestamp with time zone",
        False,
        "LEAST(email_confirmed_at, phone_confirmed_at)",
        "s",
    ),
    ("users", "is_sso_user"): ("boolean", True, "false", ""),
    ("users", "is_anonymous"): ("boolean", True, "false", ""),
    ("users", "raw_app_meta_data"): ("jsonb", False, "", ""),
    ("identities", "id"): ("uuid", True, "gen_random_uuid()", ""),
    ("identities", "provider_id"): ("text", True, "", ""),
    ("identities", "email"): ("text", False, "lower((identity_data ->> 'email'::text))", "s"),
    ("sessions", "refreshed_at"): ("timestamp without time zone", False, "", ""),
    ("sessions", "aal"): ("auth.aal_level", False, "", ""),
    ("sessions", "ip"): ("inet", False, "", ""),
    ("sessions", "refresh_token_counter"): ("bigint", False, "", ""),
    ("refresh_tokens", "id"): ("bigint", True, "nextval('auth.refresh_tokens_id_seq'::regclass)", ""),
    ("refresh_tokens", "user_id"): ("character varying(255)", False, "", ""),
    ("refresh_tokens", "session_id"): ("uuid", False, "", ""),
    ("audit_log_entries", "payload"): ("json", False, "", ""),
    ("audit_log_entries", "ip_address"): ("character varying(64)", True, "''::character varying", ""),
    ("one_time_tokens", "token_type"): ("auth.one_time_token_type", True, "", ""),
    ("one_time_tokens", "created_at"): ("timestamp without time zone", True, "now()", ""),
    ("flow_state", "auth_code"): ("text", False, "", ""),
    ("flow_state", "email_optional"): ("boolean", True, "false", ""),
    ("mfa_factors", "factor_type"): ("auth.factor_type", True, "", ""),
    ("mfa_amr_claims", "id"): ("uuid", True, "", ""),
    ("schema_migrations", "version"): ("character varying(255)", True, "", ""),
}

# name -> (table, kind, definition fragment)
KEY_CONSTRAINTS = {
    "users_pkey": ("users", "p", "PRIMARY KEY (id)"),
    "users_phone_key": ("users", "u", "UNIQUE (phone)"),
    "identities_pkey": ("identities", "p", "PRIMARY KEY (id)"),
    "identities_provider_id_provider_unique": ("identities", "u", "UNIQUE (provider_id, provider)"),
    "identities_user_id_fkey": ("identities", "f", "REFERENCES auth.users(id) ON DELETE CASCADE"),
    "sessions_user_id_fkey": ("sessions", "f", "REFERENCES auth.users(id) ON DELETE CASCADE"),
    "refresh_tokens_token_unique": ("refresh_tokens", "u", "UNIQUE (token)"),
    "refresh_tokens_session_id_fkey": ("refresh_tokens", "f", "REFERENCES auth.sessions(id) ON DELETE CASCADE"),
    "one_time_tokens_user_id_fkey": ("one_time_tokens", "f", "REFERENCES auth.users(id) ON DELETE CASCADE"),
    "one_time_tokens_token_hash_check": ("one_time_tokens", "c", "char_length(token_hash) > 0"),
    "mfa_amr_claims_session_id_authentication_method_pkey": (
        "mfa_amr_claims",
        "u",
        "UNIQUE (session_id, authentication_method)",
    ),
    "amr_id_pk": ("mfa_amr_claims", "p", "PRIMARY KEY (id)"),
    "mfa_factors_user_id_fkey": ("mfa_factors", "f", "REFERENCES auth.users(id) ON DELETE CASCADE"),
    "mfa_challenges_auth_factor_id_fkey": ("mfa_challenges", "f", "REFERENCES auth.mfa_factors(id) ON DELETE CASCADE"),
    "mfa_amr_claims_session_id_fkey": ("mfa_amr_claims", "f", "REFERENCES auth.sessions(id) ON DELETE CASCADE"),
    "schema_migrations_pkey": ("schema_migrations", "p", "PRIMARY KEY (version)"),
}

# name -> definition fragments
KEY_INDEXES = {
    "users_email_partial_key": ["CREATE UNIQUE INDEX", "(email) WHERE (is_sso_user = false)"],
    "users_instance_id_email_idx": ["(instance_id, lower((email)::text))"],
    "confirmation_token_idx": ["UNIQUE", "WHERE ((confirmation_token)::text !~ '^[0-9 ]*$'::text)"],
    "recovery_token_idx": ["UNIQUE", "WHERE ((recovery_token)::text !~ '^[0-9 ]*$'::text)"],
    "email_change_token_current_idx": ["UNIQUE", "(email_change_token_current) WHERE"],
    "email_change_token_new_idx": ["UNIQUE", "(email_change_token_new) WHERE"],
    "reauthentication_token_idx": ["UNIQUE", "(reauthentication_token) WHERE"],
    "one_time_tokens_user_id_token_type_key": ["CREATE UNIQUE INDEX", "(user_id, token_type)"],
    "one_time_tokens_token_hash_hash_idx": ["USING hash (token_hash)"],
    "one_time_tokens_relates_to_hash_idx": ["USING hash (relates_to)"],
    "identities_email_idx": ["(email text_pattern_ops)"],
    "refresh_tokens_session_id_revoked_idx": ["(session_id, revoked)"],
    "sessions_not_after_idx": ["(not_after DESC)"],
    "unique_phone_factor_per_user": ["UNIQUE", "(user_id, phone)"],
    "schema_migrations_version_idx": ["UNIQUE", "(version)"],
}

# The one deliberate difference from a Supabase project's schema (see docs/adr/0003).
KNOWN_DIFFERENCES = {
    "columns": {
        "-": [("schema_migrations", "version", "character varying(255)", True, "", "", "")],
        "+": [("schema_migrations", "version", "character varying(14)", True, "", "", "")],
    },
}


def _without_tracking(snapshot: dict[str, frozenset[tuple[object, ...]]]) -> dict[str, frozenset[tuple[object, ...]]]:
    def keep(row: tuple[object, ...]) -> bool:
        return not any(str(value).startswith(PYTRUE_TABLES) for value in row[:3])

    return {key: frozenset(filter(keep, rows)) for key, rows in snapshot.items()}


def _by(snapshot: dict[str, frozenset[tuple[object, ...]]], key: str, width: int) -> dict[tuple[object, ...], tuple]:
    return {row[:width]: row for row in snapshot[key]}


async def test_migrate_from_empty_creates_the_schema(fresh_db: PgDatabase) -> None:
    assert await migrate(fresh_db.dsn) == MIGRATIONS

    snapshot = catalog_snapshot(fresh_db.admin_dsn)
    tables = {row[0] for row in snapshot["tables"] if row[1] == "r"}
    assert CORE_TABLES | OTHER_TABLES | set(PYTRUE_TABLES) == tables
    columns = _by(snapshot, "columns", 2)
    for (table, column), (type_, not_null, default, generated) in KEY_COLUMNS.items():
        assert columns[(table, column)][2:6] == (type_, not_null, default, generated), (table, column)
    constraints = {row[1]: row for row in snapshot["constraints"]}
    for name, (table, kind, fragment) in KEY_CONSTRAINTS.items():
        assert constraints[name][0] == table and constraints[name][2] == kind, name
        assert fragment in constraints[name][3], name
    indexes = {row[1]: row[2] for row in snapshot["indexes"]}
    for name, fragments in KEY_INDEXES.items():
        assert all(fragment in indexes[name] for fragment in fragments), (name, indexes[name])


async def test_enums_functions_rls_and_versions(fresh_db: PgDatabase) -> None:
    await migrate(fresh_db.dsn)

    snapshot = catalog_snapshot(fresh_db.admin_dsn)
    enums = dict(snapshot["enums"])
    assert enums["factor_type"] == "totp,webauthn,phone"
    assert enums["aal_level"] == "aal1,aal2,aal3"
    assert enums["one_time_token_type"].split(",")[0] == "confirmation_token"
    assert len(enums) == 9
    functions = {row[0]: row[1:] for row in snapshot["functions"]}
    assert functions == {
        "uid": ("", "uuid", "s", "sql", False),
        "role": ("", "text", "s", "sql", False),
        "email": ("", "text", "s", "sql", False),
        "jwt": ("", "jsonb", "s", "sql", False),
    }
    rls = {row[0] for row in snapshot["tables"] if row[2]}
    assert rls >= CORE_TABLES
    with psycopg.connect(fresh_db.dsn) as conn:
        versions = {row[0] for row in conn.execute("select version from auth.schema_migrations")}
    assert versions == set(load_migrations()[0].gotrue_versions)
    assert len(versions) == 70 and "00" in versions and "20260625000000" in versions


async def test_second_run_is_a_no_op(fresh_db: PgDatabase) -> None:
    await migrate(fresh_db.dsn)
    before = catalog_snapshot(fresh_db.admin_dsn)

    assert await migrate(fresh_db.dsn) == []

    assert snapshot_diff(before, catalog_snapshot(fresh_db.admin_dsn)) == {}


async def test_migrations_are_idempotent_sql(fresh_db: PgDatabase) -> None:
    await migrate(fresh_db.dsn)
    before = catalog_snapshot(fresh_db.admin_dsn)

    with psycopg.connect(fresh_db.dsn, autocommit=True) as conn:
        for migration in load_migrations():
            conn.execute(migration.render("auth"))

    assert snapshot_diff(before, catalog_snapshot(fresh_db.admin_dsn)) == {}


async def test_runs_as_the_non_superuser_schema_owner(fresh_db: PgDatabase) -> None:
    await migrate(fresh_db.dsn)

    with psycopg.connect(fresh_db.dsn) as conn:
        user, superuser = conn.execute(
            "select current_user, rolsuper from pg_roles where rolname = current_user"
        ).fetchone() or ("", True)
    assert (user, superuser) == ("supabase_auth_admin", False)
    owners = {row[4] for row in catalog_snapshot(fresh_db.admin_dsn)["tables"]}
    assert owners == {"supabase_auth_admin"}


async def test_status_reports_each_state(fresh_db: PgDatabase) -> None:
    empty = await schema_status(fresh_db.dsn)
    assert (empty.state, empty.pending, empty.ready) == ("empty", tuple(MIGRATIONS), False)

    await migrate(fresh_db.dsn)
    done = await schema_status(fresh_db.dsn)

    assert (done.state, done.applied, done.pending, done.ready) == ("pytrue", tuple(MIGRATIONS), (), True)
    assert done.latest_gotrue_version == "20260625000000"
    assert done.has_gotrue_version("20251007112900")


async def test_status_flags_an_edited_migration(fresh_db: PgDatabase) -> None:
    await migrate(fresh_db.dsn)
    with psycopg.connect(fresh_db.dsn, autocommit=True) as conn:
        conn.execute("update auth.pytrue_migrations set checksum = 'edited'")

    status = await schema_status(fresh_db.dsn)

    assert status.modified == tuple(MIGRATIONS)
    assert await migrate(fresh_db.dsn) == []


async def test_concurrent_starters_apply_once(fresh_db: PgDatabase) -> None:
    results = await asyncio.gather(*(migrate(fresh_db.dsn) for _ in range(4)))

    assert sorted(name for applied in results for name in applied) == MIGRATIONS


async def test_custom_namespace(fresh_db: PgDatabase) -> None:
    with pytest.raises(MigrationError, match="may not create"):
        await migrate(fresh_db.dsn, namespace="tenant_auth")
    with psycopg.connect(fresh_db.admin_dsn, autocommit=True) as conn:
        conn.execute(f'grant create on database "{fresh_db.name}" to supabase_auth_admin')

    assert await migrate(fresh_db.dsn, namespace="tenant_auth") == MIGRATIONS

    snapshot = catalog_snapshot(fresh_db.admin_dsn, "tenant_auth")
    assert {row[0] for row in snapshot["tables"]} >= CORE_TABLES
    assert catalog_snapshot(fresh_db.admin_dsn, "auth")["tables"] == frozenset()
    assert (await schema_status(fresh_db.dsn, namespace="tenant_auth")).ready


@pytest.mark.parametrize("namespace", ["Auth", "auth;drop schema public", "", "a" * 64, '"auth"', "1auth"])
def test_rejects_unsafe_namespaces(namespace: str) -> None:
    with pytest.raises(ValueError):
        render("select 1 from {{namespace}}.users", namespace)


def test_render_quotes_the_namespace() -> None:
    assert render("create table {{namespace}}.t (); {{ namespace }}", "auth") == 'create table "auth".t (); "auth"'


async def test_gotrue_fixture_matches_our_schema(fresh_db: PgDatabase, migrated_db: PgDatabase) -> None:
    load_gotrue_schema(fresh_db)

    ours = _without_tracking(catalog_snapshot(migrated_db.admin_dsn))
    gotrue = catalog_snapshot(fresh_db.admin_dsn)

    assert snapshot_diff(ours, gotrue) == KNOWN_DIFFERENCES


async def test_gotrue_schema_is_recognised_and_left_alone(fresh_db: PgDatabase) -> None:
    load_gotrue_schema(fresh_db)
    before = catalog_snapshot(fresh_db.admin_dsn)

    status = await schema_status(fresh_db.dsn)
    applied = await migrate(fresh_db.dsn)
    after = catalog_snapshot(fresh_db.admin_dsn)

    # Only pytrue's own tables are added (rate limits, ADR 0007; mail outbox, ADR 0017); GoTrue's
    # objects are untouched and nothing is recorded, so the schema stays GoTrue-managed.
    owned = ("0002_pytrue_rate_limits", "0003_pytrue_mail_outbox")
    assert (status.state, status.ready, status.pending, status.missing_gotrue_versions) == (
        "gotrue", False, owned, ()
    )  # fmt: skip
    assert status.latest_gotrue_version == "20260625000000"
    assert applied == list(owned)
    assert snapshot_diff(before, _without_tracking(after)) == {}
    assert {row[0] for row in after["tables"]} - {row[0] for row in before["tables"]} == {
        "pytrue_rate_limits",
        "pytrue_mail_outbox",
        "pytrue_mail_outbox_id_seq",
    }
    again = await schema_status(fresh_db.dsn)
    assert (again.state, again.ready, again.pending, again.applied) == ("gotrue", True, (), ())
    assert await migrate(fresh_db.dsn) == []
    assert snapshot_diff(after, catalog_snapshot(fresh_db.admin_dsn)) == {}
    with psycopg.connect(fresh_db.dsn) as conn:
        count = conn.execute("select count(*) from auth.schema_migrations").fetchone()
    assert count == (70,)


async def test_gotrue_schema_without_create_privilege_fails_loudly(fresh_db: PgDatabase) -> None:
    load_gotrue_schema(fresh_db)
    role = f"limited_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(fresh_db.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login bypassrls password 'limited'").format(sql.Identifier(role)))
        conn.execute(sql.SQL("grant usage on schema auth to {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("grant select on all tables in schema auth to {}").format(sql.Identifier(role)))
    dsn = psycopg.conninfo.make_conninfo(fresh_db.dsn, user=role, password="limited")
    before = catalog_snapshot(fresh_db.admin_dsn)

    try:
        with pytest.raises(MigrationError, match="pytrue_rate_limits"):
            await migrate(dsn)
        assert snapshot_diff(before, catalog_snapshot(fresh_db.admin_dsn)) == {}
    finally:
        with psycopg.connect(fresh_db.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("drop owned by {0}; drop role {0}").format(sql.Identifier(role)))


async def test_outdated_gotrue_schema_is_refused_not_upgraded(fresh_db: PgDatabase) -> None:
    load_gotrue_schema(fresh_db)
    with psycopg.connect(fresh_db.dsn, autocommit=True) as conn:
        conn.execute("delete from auth.schema_migrations where version > '20240214120130'")
    before = catalog_snapshot(fresh_db.admin_dsn)

    status = await schema_status(fresh_db.dsn)
    with pytest.raises(IncompatibleSchemaError, match="20240427152123"):
        await migrate(fresh_db.dsn)

    missing = ("20240306115329", "20240314092811", "20240427152123")
    assert (status.state, status.ready, status.missing_gotrue_versions) == ("gotrue", False, missing)
    assert snapshot_diff(before, catalog_snapshot(fresh_db.admin_dsn)) == {}


async def test_unrecorded_auth_tables_are_refused(fresh_db: PgDatabase) -> None:
    with psycopg.connect(fresh_db.dsn, autocommit=True) as conn:
        conn.execute("create table auth.users (id uuid primary key)")

    with pytest.raises(MigrationError, match="no migration records"):
        await migrate(fresh_db.dsn)
    assert (await schema_status(fresh_db.dsn)).state == "foreign"


def _set_claims(conn: psycopg.Connection, settings: dict[str, str]) -> tuple[object, ...]:
    for name, value in settings.items():
        conn.execute("select set_config(%s, %s, true)", [name, value])
    row = conn.execute("select auth.uid(), auth.role(), auth.email(), auth.jwt()").fetchone()
    assert row is not None
    return tuple(row)


def test_jwt_helpers_read_request_claims(pg_dsn: str) -> None:
    sub = uuid.uuid4()
    claims = f'{{"sub": "{sub}", "role": "authenticated", "email": "a@b.co"}}'
    with psycopg.connect(pg_dsn) as conn:
        assert _set_claims(conn, {"request.jwt.claims": claims}) == (
            sub, "authenticated", "a@b.co", {"sub": str(sub), "role": "authenticated", "email": "a@b.co"}
        )  # fmt: skip


def test_legacy_claim_settings_win(pg_dsn: str) -> None:
    legacy, modern = uuid.uuid4(), uuid.uuid4()
    settings = {
        "request.jwt.claims": f'{{"sub": "{modern}", "role": "authenticated", "email": "new@b.co"}}',
        "request.jwt.claim.sub": str(legacy),
        "request.jwt.claim.email": "",
        "request.jwt.claim": '{"sub": "legacy"}',
    }
    with psycopg.connect(pg_dsn) as conn:
        assert _set_claims(conn, settings) == (legacy, "authenticated", "new@b.co", {"sub": "legacy"})


def test_empty_or_missing_claims_are_null(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        assert _set_claims(conn, {}) == (None, None, None, None)
    with psycopg.connect(pg_dsn) as conn:
        empty = {"request.jwt.claims": "", "request.jwt.claim.sub": "", "request.jwt.claim": ""}
        assert _set_claims(conn, empty) == (None, None, None, None)


def test_api_roles_can_call_the_helpers(migrated_db: PgDatabase) -> None:
    sub = uuid.uuid4()
    with psycopg.connect(migrated_db.admin_dsn) as conn:
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", [f'{{"sub": "{sub}"}}'])
        assert conn.execute("select auth.uid()").fetchone() == (sub,)


def _add_user(conn: psycopg.Connection, email: str = "a@b.co", **columns: object) -> uuid.UUID:
    user = uuid.uuid4()
    values = {"instance_id": NIL, "id": user, "email": email, **columns}
    names = sql.SQL(", ").join(map(sql.Identifier, values))
    placeholders = sql.SQL(", ").join(sql.Placeholder() * len(values))
    conn.execute(sql.SQL("insert into auth.users ({}) values ({})").format(names, placeholders), list(values.values()))
    return user


def _expect_violation(conn: psycopg.Connection, error: type[Exception], query: str, params: list[object]) -> None:
    with pytest.raises(error), conn.transaction():
        conn.execute(query, params)  # type: ignore[arg-type]


def test_generated_columns(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        user = _add_user(conn, email_confirmed_at="2024-01-02Z", phone_confirmed_at="2024-01-01Z")
        confirmed = conn.execute("select confirmed_at::date::text from auth.users where id = %s", [user]).fetchone()
        identity = conn.execute(
            "insert into auth.identities (provider_id, user_id, identity_data, provider)"
            " values (%s, %s, '{\"email\": \"A@B.CO\"}', 'email') returning email, id",
            [str(user), user],
        ).fetchone()
        update = "update auth.users set confirmed_at = now() where id = %s"
        _expect_violation(conn, psycopg.errors.GeneratedAlways, update, [user])
        conn.rollback()
    assert confirmed == ("2024-01-01",)
    assert identity is not None and identity[0] == "a@b.co" and isinstance(identity[1], uuid.UUID)


def test_unique_email_except_for_sso_users(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        _add_user(conn)
        insert = "insert into auth.users (id, email, is_sso_user) values (%s, 'a@b.co', %s)"
        _expect_violation(conn, psycopg.errors.UniqueViolation, insert, [uuid.uuid4(), False])
        conn.execute(insert, [uuid.uuid4(), True])
        conn.rollback()


def test_one_live_one_time_token_per_kind(pg_dsn: str) -> None:
    insert = (
        "insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to)"
        " values (%s, %s, 'recovery_token', %s, 'a@b.co')"
    )
    with psycopg.connect(pg_dsn) as conn:
        user = _add_user(conn)
        conn.execute(insert, [uuid.uuid4(), user, "h1"])
        _expect_violation(conn, psycopg.errors.UniqueViolation, insert, [uuid.uuid4(), user, "h2"])
        conn.rollback()


def test_deleting_a_user_cascades(pg_dsn: str) -> None:
    session = uuid.uuid4()
    with psycopg.connect(pg_dsn) as conn:
        user = _add_user(conn)
        conn.execute(
            "insert into auth.identities (provider_id, user_id, identity_data, provider)"
            " values (%s, %s, '{}', 'email')",
            [str(user), user],
        )
        conn.execute("insert into auth.sessions (id, user_id, aal) values (%s, %s, 'aal1')", [session, user])
        conn.execute(
            "insert into auth.refresh_tokens (instance_id, token, user_id, session_id, revoked)"
            " values (%s, 'tok', %s, %s, false)",
            [NIL, str(user), session],
        )
        conn.execute(
            "insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)"
            " values (%s, %s, now(), now(), 'password')",
            [uuid.uuid4(), session],
        )
        conn.execute("delete from auth.users where id = %s", [user])
        left = conn.execute(
            "select (select count(*) from auth.identities) + (select count(*) from auth.sessions)"
            " + (select count(*) from auth.refresh_tokens) + (select count(*) from auth.mfa_amr_claims)"
        ).fetchone()
        conn.rollback()
    assert left == (0,)
