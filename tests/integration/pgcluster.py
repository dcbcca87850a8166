"""PostgreSQL for the integration suite: one server per session, cheap databases cloned from templates."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytrue.adapters.postgres.cluster import (
    AUTH_ADMIN_ROLE,
    DEFAULT_PASSWORD,
    LocalCluster,
    conninfo_to_url,
    provision_database,
)
from pytrue.adapters.postgres.bouncer import LocalPgBouncer
from pytrue.adapters.postgres.migrate import migrate

URL_VARIABLES = ("PYTRUE_TEST_DATABASE_URL", "DATABASE_URL")
ROUTES_VARIABLE = "PYTRUE_TEST_PG_ROUTES"
ROUTES = ("direct", "pgbouncer")
FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True, slots=True)
class PgDatabase:
    """A database of the test server: `dsn` connects as supabase_auth_admin, `admin_dsn` as superuser."""

    name: str
    dsn: str
    admin_dsn: str


@dataclass(slots=True)
class PgServer:
    """The session's server: a throw-away LocalCluster, or the one DATABASE_URL names."""

    admin_dsn: str
    cluster: LocalCluster | None = None
    scratch: Path | None = None

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def start_server() -> PgServer:
    """Use the server in DATABASE_URL if set (it must allow creating roles and databases), else start one."""
    for variable in URL_VARIABLES:
        if os.environ.get(variable):
            return PgServer(admin_dsn=os.environ[variable])
    scratch = Path(tempfile.mkdtemp(prefix="pytrue-pg-"))
    cluster = LocalCluster(scratch / "data", persistent=False)
    try:
        return PgServer(admin_dsn=cluster.start(), cluster=cluster, scratch=scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def routes() -> list[str]:
    """How the suites reach PostgreSQL: directly and through PgBouncer in transaction mode, unless
    PYTRUE_TEST_PG_ROUTES (a comma list) narrows it."""
    chosen = [r.strip() for r in os.environ.get(ROUTES_VARIABLE, ",".join(ROUTES)).split(",") if r.strip()]
    unknown = sorted(set(chosen) - set(ROUTES))
    if unknown:
        raise ValueError(f"{ROUTES_VARIABLE}: unknown route(s) {', '.join(unknown)}; expected {', '.join(ROUTES)}")
    return chosen


@dataclass(slots=True)
class PgRoute:
    """The way apps under test reach a database: `direct`, or through `bouncer` in transaction mode."""

    name: str
    bouncer: LocalPgBouncer | None = None

    def dsn(self, database: PgDatabase) -> str:
        return database.dsn if self.bouncer is None else self.bouncer.dsn(database.dsn)

    @property
    def env(self) -> dict[str, str]:
        """The settings an operator would add for this route."""
        return {} if self.bouncer is None else {"PYTRUE_DB_POOL_MODE": "transaction"}


def start_bouncer(server: PgServer, **options: object) -> LocalPgBouncer:
    """A PgBouncer in transaction mode in front of the session's server, for supabase_auth_admin."""
    settings = {"server_idle_timeout": "5", "reserve_pool_size": "5", "reserve_pool_timeout": "1"}
    settings.update(options.pop("settings", {}))  # type: ignore[arg-type]
    bouncer = LocalPgBouncer(
        server.admin_dsn, {AUTH_ADMIN_ROLE: DEFAULT_PASSWORD}, settings=settings, **options  # type: ignore[arg-type]
    )
    return bouncer.start()


def with_dbname(dsn: str, dbname: str, **overrides: str) -> str:
    params = conninfo_to_dict(make_conninfo(dsn, dbname=dbname, **overrides))
    return conninfo_to_url(params)


@dataclass(slots=True)
class Databases:
    """Creates databases from two templates (provisioned-empty and migrated) and drops them afterwards."""

    server: PgServer
    prefix: str = field(default_factory=lambda: f"pytrue_{uuid.uuid4().hex[:8]}")
    _templates: dict[str, str] = field(default_factory=dict)
    _created: list[str] = field(default_factory=list)
    _spare: list[str] = field(default_factory=list)
    _blank: _BlankState | None = None

    def create(self, *, migrated: bool = False) -> PgDatabase:
        template = self._template("migrated" if migrated else "empty")
        name = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.server.admin_dsn, autocommit=True) as conn:
            query = sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template))
            conn.execute(query)
        self._created.append(name)
        return self._describe(name)

    def drop(self, database: PgDatabase | str) -> None:
        name = database if isinstance(database, str) else database.name
        with psycopg.connect(self.server.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        if name in self._created:
            self._created.remove(name)

    def close(self) -> None:
        for name in [*self._created, *self._templates.values()]:
            self.drop(name)
        self._templates.clear()
        self._spare.clear()

    def lease(self) -> PgDatabase:
        """A migrated database holding only the template's rows: a recycled one if any, else a new clone.

        A clone costs a CREATE DATABASE (copying ~9 MB, slow on a busy disk); recycling costs a
        few DELETEs. Hand it back with `give_back`.
        """
        if self._spare:
            return self._describe(self._spare.pop())
        return self.create(migrated=True)

    def give_back(self, database: PgDatabase) -> None:
        """Empty what a test wrote, for the next `lease`; drop the database instead if anything else changed.

        Its other sessions are ended first. A changed schema (schemas, tables, columns, constraints,
        indexes, functions, triggers, policies, enums, grants, ALTER DATABASE settings) or changed
        seed rows (migration bookkeeping) means the database is dropped, not recycled.
        """
        blank = self._blank_state()
        try:
            with psycopg.connect(database.admin_dsn, autocommit=True) as conn:
                conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where datname = current_database() and pid <> pg_backend_pid()"
                )
                if _fingerprint(conn, blank.seeded) != blank.fingerprint:
                    raise _NotRecyclable(database.name)
                with conn.transaction():
                    conn.execute("set local session_replication_role = replica")  # no FK checks, no triggers
                    for statement in blank.reset:
                        conn.execute(statement)
        except (_NotRecyclable, psycopg.Error):
            self.drop(database)
            return
        self._spare.append(database.name)

    def _blank_state(self) -> _BlankState:
        if self._blank is None:
            template = self._describe(self._template("migrated"))
            with psycopg.connect(template.admin_dsn, autocommit=True) as conn:
                self._blank = _blank_state(conn)
        return self._blank

    def _template(self, kind: str) -> str:
        if kind not in self._templates:
            name = f"{self.prefix}_tpl_{kind}"
            dsn = provision_database(self.server.admin_dsn, name, password=DEFAULT_PASSWORD)
            self._templates[kind] = name
            if kind == "migrated":
                asyncio.run(migrate(dsn))
        return self._templates[kind]

    def _describe(self, name: str) -> PgDatabase:
        admin_dsn = with_dbname(self.server.admin_dsn, name)
        dsn = with_dbname(self.server.admin_dsn, name, user=AUTH_ADMIN_ROLE, password=DEFAULT_PASSWORD)
        return PgDatabase(name=name, dsn=dsn, admin_dsn=admin_dsn)


class _NotRecyclable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _BlankState:
    """How to bring a used clone of the migrated template back to the template's rows."""

    reset: tuple[sql.Composable, ...]  # statements that empty tables and restart unused sequences
    seeded: tuple[str, ...]  # tables with rows in the template: left alone, covered by the fingerprint
    fingerprint: str


_OURS = "not in ('pg_catalog', 'information_schema') and {0} !~ '^pg_'"

_USER_TABLES = (
    "select quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
    "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
    "where c.relkind in ('r', 'p') and not c.relispartition and n.nspname " + _OURS.format("n.nspname") + " order by 1"
)

# Each part lists, in a stable order, something a test could change besides rows.
_SCHEMA_PARTS = (
    "select format('%s %s', nspname, nspacl) as x from pg_namespace",
    "select format('%s.%s %s %s %s %s %s', n.nspname, c.relname, c.relkind, c.relacl, c.relowner, c.relrowsecurity, "
    "c.relforcerowsecurity) as x from pg_class c join pg_namespace n on n.oid = c.relnamespace "
    "where n.nspname " + _OURS.format("n.nspname"),
    "select format('%s %s %s %s %s %s', a.attrelid::regclass, a.attnum, a.attname, "
    "format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) as x from pg_attribute a "
    "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
    "left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum "
    "where a.attnum > 0 and not a.attisdropped and n.nspname " + _OURS.format("n.nspname"),
    "select format('%s %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid), convalidated) as x "
    "from pg_constraint where connamespace::regnamespace::text " + _OURS.format("connamespace::regnamespace::text"),
    "select indexdef as x from pg_indexes where schemaname " + _OURS.format("schemaname"),
    "select format('%s %s %s', tgrelid::regclass, tgname, tgenabled) as x from pg_trigger where not tgisinternal",
    "select format('%s %s %s %s', polrelid::regclass, polname, pg_get_expr(polqual, polrelid), "
    "pg_get_expr(polwithcheck, polrelid)) as x from pg_policy",
    "select format('%s %s %s', p.oid::regprocedure, p.proacl, md5(p.prosrc)) as x from pg_proc p "
    "where p.pronamespace::regnamespace::text " + _OURS.format("p.pronamespace::regnamespace::text"),
    "select format('%s %s %s', t.typname, e.enumsortorder, e.enumlabel) as x "
    "from pg_enum e join pg_type t on t.oid = e.enumtypid",
    "select format('%s %s', setrole, setconfig) as x from pg_db_role_setting "
    "where setdatabase = (select oid from pg_database where datname = current_database())",
)


def _fingerprint(conn: psycopg.Connection, seeded: tuple[str, ...]) -> str:
    """A digest of the database's own schema and of the rows of the `seeded` tables, in one query."""
    digest = "(select md5(coalesce(string_agg(x, ',' order by x), '')) from ({}) s)"
    parts = [sql.SQL(digest.format(part)) for part in _SCHEMA_PARTS]
    parts += [sql.SQL(digest.format("select t::text as x from {} t")).format(sql.SQL(table)) for table in seeded]
    row = conn.execute(sql.SQL("select concat_ws(',', {})").format(sql.SQL(", ").join(parts))).fetchone()
    return str(row[0]) if row else ""


def _blank_state(conn: psycopg.Connection) -> _BlankState:
    tables = [str(row[0]) for row in conn.execute(_USER_TABLES).fetchall()]
    seeded = tuple(
        table for table in tables if conn.execute(sql.SQL("select exists (select from {})").format(sql.SQL(table))).fetchone()[0]  # type: ignore[index]
    )
    reset: list[sql.Composable] = []
    for table in tables:
        if table in seeded:
            continue
        # TRUNCATE the audit log so its physical order stays write order (tests read it back so);
        # DELETE elsewhere: on a handful of rows far cheaper than TRUNCATE's new files.
        verb = "truncate" if table.endswith(".audit_log_entries") else "delete from"
        reset.append(sql.SQL(verb + " {}").format(sql.SQL(table)))
    sequences = conn.execute(
        "select quote_ident(schemaname) || '.' || quote_ident(sequencename) from pg_sequences "
        "where last_value is null and schemaname " + _OURS.format("schemaname")
    ).fetchall()
    reset.extend(sql.SQL("alter sequence {} restart").format(sql.SQL(str(row[0]))) for row in sequences)
    return _BlankState(reset=tuple(reset), seeded=seeded, fingerprint=_fingerprint(conn, seeded))


def load_gotrue_schema(database: PgDatabase) -> None:
    """Lay out the schema "the way GoTrue leaves it", as supabase_auth_admin."""
    script = (FIXTURES / "gotrue_schema.sql").read_text(encoding="utf-8")
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        conn.execute(script)


_CATALOG_QUERIES: dict[str, str] = {
    "columns": """
        select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attgenerated::text, a.attidentity::text
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where n.nspname = %(ns)s and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
    """,
    "column_order": """
        select c.relname, string_agg(a.attname, ',' order by a.attnum)
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %(ns)s and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
        group by c.relname
    """,
    "constraints": """
        select c.relname, con.conname, con.contype::text, pg_get_constraintdef(con.oid), con.convalidated
        from pg_constraint con
        join pg_class c on c.oid = con.conrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %(ns)s
    """,
    "indexes": "select tablename, indexname, indexdef from pg_indexes where schemaname = %(ns)s",
    "enums": """
        select t.typname, string_agg(e.enumlabel, ',' order by e.enumsortorder)
        from pg_type t join pg_enum e on e.enumtypid = t.oid join pg_namespace n on n.oid = t.typnamespace
        where n.nspname = %(ns)s group by t.typname
    """,
    "functions": """
        select p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
               p.provolatile::text, l.lanname, p.prosecdef
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
        where n.nspname = %(ns)s
    """,
    "comments": """
        select c.relkind::text, c.relname, coalesce(a.attname, ''), d.description
        from pg_description d
        join pg_class c on c.oid = d.objoid and d.classoid = 'pg_class'::regclass
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0
        where n.nspname = %(ns)s
        union all
        select 'f', p.proname, '', d.description
        from pg_description d
        join pg_proc p on p.oid = d.objoid and d.classoid = 'pg_proc'::regclass
        join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = %(ns)s
    """,
    "tables": """
        select c.relname, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity,
               pg_get_userbyid(c.relowner), coalesce(c.relacl::text, '')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %(ns)s and c.relkind in ('r', 'p', 'S', 'v', 'm')
    """,
}


def catalog_snapshot(dsn: str, namespace: str = "auth") -> dict[str, frozenset[tuple[object, ...]]]:
    """Everything about the schema a migration could change, as comparable sets of rows."""
    with psycopg.connect(dsn) as conn:
        return {
            name: frozenset(tuple(row) for row in conn.execute(query, {"ns": namespace}).fetchall())
            for name, query in _CATALOG_QUERIES.items()
        }


def snapshot_diff(
    left: dict[str, frozenset[tuple[object, ...]]],
    right: dict[str, frozenset[tuple[object, ...]]],
) -> dict[str, dict[str, list[tuple[object, ...]]]]:
    """Rows only on the left (`-`) and only on the right (`+`), per catalog; empty when equal."""
    diff: dict[str, dict[str, list[tuple[object, ...]]]] = {}
    for key in sorted(set(left) | set(right)):
        removed = sorted(left.get(key, frozenset()) - right.get(key, frozenset()), key=repr)
        added = sorted(right.get(key, frozenset()) - left.get(key, frozenset()), key=repr)
        if removed or added:
            diff[key] = {"-": removed, "+": added}
    return diff
