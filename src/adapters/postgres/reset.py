"""Emptying the auth schema between tests (pytrue.testing's `reset` on PostgreSQL)."""

from __future__ import annotations

import psycopg
import psycopg.conninfo
from psycopg import sql

from pytrue.adapters.postgres.migrate import validate_namespace

_KEEP = ("schema_migrations",)


async def truncate_auth_tables(dsn: str, namespace: str = "auth", *, database_dsn: str | None = None) -> None:
    """Truncate every table of `namespace` but the migration ledger, restarting identities.
    CASCADE empties the application's tables that reference auth.users too, as a fresh
    database would have them; the role of `dsn` needs TRUNCATE on them. With `database_dsn`,
    `dsn` (a superuser's, say) is pointed at that DSN's database."""
    schema = validate_namespace(namespace)
    if database_dsn is not None:
        dbname = psycopg.conninfo.conninfo_to_dict(database_dsn).get("dbname")
        if dbname:
            dsn = psycopg.conninfo.make_conninfo(dsn, dbname=str(dbname))
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        rows = await (
            await conn.execute(
                "select tablename from pg_tables where schemaname = %s and not (tablename = any(%s)) order by tablename",
                [schema, list(_KEEP)],
            )
        ).fetchall()
        if not rows:
            return
        tables = sql.SQL(", ").join(sql.Identifier(schema, name) for (name,) in rows)
        await conn.execute(sql.SQL("truncate {} restart identity cascade").format(tables))
