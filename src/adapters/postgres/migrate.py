"""Applies pytrue's SQL migrations to the auth schema, or verifies a schema GoTrue already migrated."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import psycopg
from psycopg import sql

DEFAULT_NAMESPACE = "auth"
TRACKING_TABLE = "pytrue_migrations"
MINIMUM_GOTRUE_VERSION = "20240427152123"

SchemaState = Literal["empty", "pytrue", "gotrue", "foreign"]

_NAMESPACE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_FILE_NAME = re.compile(r"^(\d{4}_[a-z0-9_]+)\.sql$")
_PLACEHOLDER = re.compile(r"\{\{\s*namespace\s*\}\}")
_VERSIONS_LINE = re.compile(r"^--\s*gotrue-versions:(.*)$", re.MULTILINE)
_OWNED_LINE = re.compile(r"^--\s*pytrue-owned-tables:(.*)$", re.MULTILINE)
OWNED_PREFIX = "pytrue_"

_TRACKING_DDL = """
create table if not exists {table} (
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now(),
    constraint pytrue_migrations_pkey primary key (name)
);
alter table {table} enable row level security;
comment on table {table} is 'pytrue: its own applied migrations (GoTrue''s are in schema_migrations).';
"""


class MigrationError(RuntimeError):
    """The auth schema cannot be migrated safely."""


class IncompatibleSchemaError(MigrationError):
    """GoTrue manages the schema but has not applied migrations pytrue's core contract needs."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned SQL file; `gotrue_versions` are the GoTrue migrations its objects stand for.

    `owned_tables`: the file only creates these pytrue-owned tables (`pytrue_*`), idempotently, so it
    is also applied, untracked, to a schema GoTrue manages when one of them is missing (ADR 0007).
    """

    name: str
    template: str
    gotrue_versions: tuple[str, ...]
    owned_tables: tuple[str, ...] = ()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()

    def render(self, namespace: str) -> str:
        return render(self.template, namespace)


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """What the auth schema holds and what `migrate` would do to it.

    `empty`: nothing there yet; `pytrue`: pytrue created it; `gotrue`: GoTrue migrated it and
    pytrue only verifies it; `foreign`: auth tables without migration records (refused).
    """

    namespace: str
    state: SchemaState
    applied: tuple[str, ...]
    pending: tuple[str, ...]
    gotrue_versions: frozenset[str]
    missing_gotrue_versions: tuple[str, ...]
    modified: tuple[str, ...]
    unknown: tuple[str, ...]

    @property
    def latest_gotrue_version(self) -> str | None:
        return max(self.gotrue_versions, default=None)

    @property
    def ready(self) -> bool:
        """True when pytrue can serve from this schema without running any migration."""
        return self.state in ("pytrue", "gotrue") and not self.pending and not self.missing_gotrue_versions

    def has_gotrue_version(self, version: str) -> bool:
        return version in self.gotrue_versions


def validate_namespace(namespace: str) -> str:
    """The schema name, if it is a plain lower-case identifier (GoTrue substitutes it unquoted)."""
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"invalid DB namespace {namespace!r}: use lower-case letters, digits and _")
    return namespace


def render(template: str, namespace: str) -> str:
    """Substitute `{{namespace}}` with the quoted schema identifier."""
    quoted = sql.Identifier(validate_namespace(namespace)).as_string()
    rendered = _PLACEHOLDER.sub(lambda _: quoted, template)
    if "{{" in rendered:
        raise MigrationError("unknown placeholder left in migration: " + rendered[rendered.index("{{") :][:40])
    return rendered


@functools.cache
def load_migrations() -> tuple[Migration, ...]:
    """pytrue's migrations, in order, read from the package's `migrations/` directory."""
    folder = resources.files(__package__).joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            continue
        template = entry.read_text(encoding="utf-8")
        versions = tuple(v for line in _VERSIONS_LINE.findall(template) for v in line.split())
        owned = tuple(t for line in _OWNED_LINE.findall(template) for t in line.split())
        if any(not table.startswith(OWNED_PREFIX) for table in owned) or (owned and versions):
            raise MigrationError(f"{entry.name}: owned tables must be named {OWNED_PREFIX}* and mirror no GoTrue version")
        found.append(Migration(name=match.group(1), template=template, gotrue_versions=versions, owned_tables=owned))
    return tuple(sorted(found, key=lambda migration: migration.name))


def required_gotrue_versions(migrations: tuple[Migration, ...] | None = None) -> frozenset[str]:
    """GoTrue versions a GoTrue-managed schema must have for pytrue's core contract."""
    known = {v for m in migrations or load_migrations() for v in m.gotrue_versions}
    return frozenset(v for v in known if v <= MINIMUM_GOTRUE_VERSION)


async def migrate(conninfo: str, *, namespace: str = DEFAULT_NAMESPACE) -> list[str]:
    """Apply pending migrations, each in its own transaction under an advisory lock; return their names.

    A schema GoTrue migrated is verified and only gets pytrue's own `pytrue_*` tables when they are
    missing (never a change to GoTrue's objects); a second call is a no-op.
    """
    namespace = validate_namespace(namespace)
    migrations = load_migrations()
    applied: list[str] = []
    async with await _connect(conninfo) as conn:
        while (name := await _apply_next(conn, namespace, migrations)) is not None:
            applied.append(name)
    return applied


async def schema_status(conninfo: str, *, namespace: str = DEFAULT_NAMESPACE) -> SchemaStatus:
    """Inspect the auth schema without changing it."""
    namespace = validate_namespace(namespace)
    async with await _connect(conninfo) as conn:
        return await _inspect(conn, namespace, load_migrations())


async def _connect(conninfo: str) -> psycopg.AsyncConnection:
    """A connection that keeps nothing between transactions, so that migrations also run through a
    transaction-mode pooler: no prepared statements, and only the transaction-scoped advisory lock."""
    return await psycopg.AsyncConnection.connect(conninfo, autocommit=True, prepare_threshold=None)


async def _apply_next(conn: psycopg.AsyncConnection, namespace: str, migrations: tuple[Migration, ...]) -> str | None:
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(%s)", [_lock_key(namespace)])
        status = await _inspect(conn, namespace, migrations)
        _refuse_unusable(status)
        if not status.pending:
            return None
        migration = next(m for m in migrations if m.name == status.pending[0])
        if status.state == "gotrue":
            await _apply_owned(conn, namespace, migration)
        else:
            await _apply(conn, namespace, migration)
        return migration.name


async def _apply(conn: psycopg.AsyncConnection, namespace: str, migration: Migration) -> None:
    schema = sql.Identifier(namespace)
    if not await _schema_exists(conn, namespace):
        try:
            await conn.execute(sql.SQL("create schema {}").format(schema))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise MigrationError(f"schema {namespace!r} is missing and this role may not create it: {exc}") from exc
    tracking = sql.Identifier(namespace, TRACKING_TABLE)
    await conn.execute(sql.SQL(_TRACKING_DDL).format(table=tracking))
    await conn.execute(migration.render(namespace))
    if migration.gotrue_versions:
        await conn.execute(
            sql.SQL("insert into {} (version) select unnest(%s::text[]) on conflict do nothing").format(
                sql.Identifier(namespace, "schema_migrations")
            ),
            [list(migration.gotrue_versions)],
        )
    await conn.execute(
        sql.SQL("insert into {} (name, checksum) values (%s, %s)").format(tracking),
        [migration.name, migration.checksum],
    )


async def _apply_owned(conn: psycopg.AsyncConnection, namespace: str, migration: Migration) -> None:
    """Create missing pytrue-owned tables in a GoTrue-managed schema; nothing is recorded there."""
    try:
        await conn.execute(migration.render(namespace))
    except psycopg.errors.InsufficientPrivilege as exc:
        tables = ", ".join(f"{namespace}.{table}" for table in migration.owned_tables)
        raise MigrationError(
            f"pytrue needs its own table(s) {tables} in the GoTrue-managed schema {namespace!r} and this role may "
            f"not create them ({exc}); run migration {migration.name} as the schema owner"
        ) from exc


def _refuse_unusable(status: SchemaStatus) -> None:
    if status.state == "foreign":
        raise MigrationError(
            f"schema {status.namespace!r} has auth tables but no migration records; refusing to touch it"
        )
    if status.missing_gotrue_versions:
        missing = ", ".join(status.missing_gotrue_versions)
        raise IncompatibleSchemaError(
            f"schema {status.namespace!r} is managed by GoTrue (latest {status.latest_gotrue_version}) but lacks "
            f"migrations pytrue needs: {missing}. Run GoTrue's migrations first; pytrue never alters its schema."
        )


async def _inspect(conn: psycopg.AsyncConnection, namespace: str, migrations: tuple[Migration, ...]) -> SchemaStatus:
    tables = await _tables(conn, namespace, [t for m in migrations for t in m.owned_tables])
    versions = await _gotrue_versions(conn, namespace) if "schema_migrations" in tables else frozenset()
    recorded = await _recorded(conn, namespace) if TRACKING_TABLE in tables else {}
    state = _state(tables, versions)
    checksums = {m.name: m.checksum for m in migrations}
    missing = required_gotrue_versions(migrations) - versions if state == "gotrue" else frozenset()
    return SchemaStatus(
        namespace=namespace,
        state=state,
        applied=tuple(name for name in sorted(recorded) if name in checksums),
        pending=_pending(state, migrations, recorded, versions, tables),
        gotrue_versions=versions,
        missing_gotrue_versions=tuple(sorted(missing)),
        modified=tuple(name for name in sorted(recorded) if checksums.get(name, recorded[name]) != recorded[name]),
        unknown=tuple(name for name in sorted(recorded) if name not in checksums),
    )


def _state(tables: frozenset[str], versions: frozenset[str]) -> SchemaState:
    if TRACKING_TABLE in tables:
        return "pytrue"
    if versions:
        return "gotrue"
    if "users" in tables:
        return "foreign"
    return "empty"


def _pending(
    state: SchemaState,
    migrations: tuple[Migration, ...],
    recorded: dict[str, str],
    versions: frozenset[str],
    tables: frozenset[str],
) -> tuple[str, ...]:
    if state == "gotrue":
        return tuple(m.name for m in migrations if m.owned_tables and not set(m.owned_tables) <= tables)
    if state not in ("empty", "pytrue"):
        return ()
    return tuple(
        m.name
        for m in migrations
        if m.name not in recorded and not (m.gotrue_versions and set(m.gotrue_versions) <= versions)
    )


async def _schema_exists(conn: psycopg.AsyncConnection, namespace: str) -> bool:
    cur = await conn.execute("select exists (select from pg_namespace where nspname = %s)", [namespace])
    row = await cur.fetchone()
    return bool(row and row[0])


async def _tables(conn: psycopg.AsyncConnection, namespace: str, owned: list[str]) -> frozenset[str]:
    cur = await conn.execute(
        """
        select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and c.relkind in ('r', 'p') and c.relname = any(%s)
        """,
        [namespace, ["users", "schema_migrations", TRACKING_TABLE, *owned]],
    )
    return frozenset(row[0] for row in await cur.fetchall())


async def _gotrue_versions(conn: psycopg.AsyncConnection, namespace: str) -> frozenset[str]:
    query = sql.SQL("select version from {}").format(sql.Identifier(namespace, "schema_migrations"))
    cur = await conn.execute(query)
    return frozenset(str(row[0]) for row in await cur.fetchall())


async def _recorded(conn: psycopg.AsyncConnection, namespace: str) -> dict[str, str]:
    query = sql.SQL("select name, checksum from {}").format(sql.Identifier(namespace, TRACKING_TABLE))
    cur = await conn.execute(query)
    return {str(name): str(checksum) for name, checksum in await cur.fetchall()}


def _lock_key(namespace: str) -> int:
    digest = hashlib.sha256(f"pytrue.migrate:{namespace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
