"""Seed many users fast: clone one real user row (made by pytrue itself) in SQL.

`user0@bench.local` is created through pytrue's own admin use case, so its row, identity and
argon2id hash are exactly what the server writes. Users 1..n-1 are copies with their own id,
e-mail and identity, made by one `INSERT … SELECT … generate_series` per table: a million
users take seconds instead of a million argon2id hashes.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

TEMPLATE_EMAIL = "user0@bench.local"
# Deterministic ids: user i has id md5('bench-user-' || i)::uuid.
USER_ID = "md5('bench-user-' || i)::uuid"
EMAIL = "'user' || i || '@bench.local'"


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
        "and is_generated = 'NEVER' order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [row[0] for row in rows]


def seed_users(dsn: str, total: int, *, schema: str = "auth", batch: int = 200_000) -> int:
    """Make users user1..user{total-1}@bench.local as copies of user0; return how many exist."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        template = conn.execute(
            sql.SQL("select id from {}.users where email = %s").format(sql.Identifier(schema)), [TEMPLATE_EMAIL]
        ).fetchone()
        if template is None:
            raise RuntimeError(f"seed: {TEMPLATE_EMAIL} must be created first (pytrue users create)")
        existing = conn.execute(
            sql.SQL("select count(*) from {}.users where email like %s").format(sql.Identifier(schema)),
            ["user%@bench.local"],
        ).fetchone()
        start = int(existing[0]) if existing else 1
        user_overrides = {"id": USER_ID, "email": EMAIL}
        identity_overrides = {
            "id": "md5('bench-identity-' || i)::uuid",
            "user_id": USER_ID,
            "provider_id": f"({USER_ID})::text",
            "identity_data": (
                f"jsonb_set(jsonb_set(t.identity_data, '{{sub}}', to_jsonb(({USER_ID})::text)), "
                f"'{{email}}', to_jsonb({EMAIL}))"
            ),
        }
        for low in range(start, total, batch):
            high = min(total, low + batch) - 1
            with conn.transaction():
                for table, overrides, key in (
                    ("users", user_overrides, "id"),
                    ("identities", identity_overrides, "user_id"),
                ):
                    columns = _columns(conn, schema, table)
                    values = [sql.SQL(overrides.get(c, f"t.{c}")) for c in columns]  # type: ignore[arg-type]
                    conn.execute(
                        sql.SQL(
                            "insert into {s}.{t} ({cols}) select {vals} from {s}.{t} t, generate_series(%s::int, %s::int) i "
                            "where t.{key} = %s"
                        ).format(
                            s=sql.Identifier(schema),
                            t=sql.Identifier(table),
                            cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                            vals=sql.SQL(", ").join(values),
                            key=sql.Identifier(key),
                        ),
                        [low, high, template[0]],
                    )
        conn.execute(sql.SQL("analyze {}.users").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("analyze {}.identities").format(sql.Identifier(schema)))
        count = conn.execute(
            sql.SQL("select count(*) from {}.users where email like %s").format(sql.Identifier(schema)),
            ["user%@bench.local"],
        ).fetchone()
    return int(count[0]) if count else 0
