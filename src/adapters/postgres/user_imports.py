"""Bulk user writes and reads over `auth.users`/`auth.identities` (`pytrue users import|export`).

A batch is one statement: the users and their identities from arrays (`unnest`), the users with
`ON CONFLICT (id) DO NOTHING`, the identities of the users that statement inserted only.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import errors
from psycopg.types.json import Jsonb

from pytrue.adapters.postgres.repositories import _Repository, _translate_unique
from pytrue.adapters.postgres.rows import USER_COLUMNS, USER_FIELDS, identity_from_row, user_from_row, user_params
from pytrue.application.ports import AddressOwners
from pytrue.domain.user import User


def _array_type(column: str) -> str:
    if column in ("instance_id", "id"):
        return "uuid[]"
    if column.endswith("_at") or column == "banned_until":
        return "timestamptz[]"
    if column.startswith("raw_"):
        return "jsonb[]"
    if column.startswith("is_"):
        return "boolean[]"
    if column == "email_change_confirm_status":
        return "smallint[]"
    return "text[]"


_IDENTITY_INSERT_COLUMNS = ("id", "provider_id", "user_id", "identity_data", "provider", "last_sign_in_at", "created_at", "updated_at")
_IDENTITY_TYPES = ("uuid[]", "text[]", "uuid[]", "jsonb[]", "text[]", "timestamptz[]", "timestamptz[]", "timestamptz[]")
_USER_ARRAYS = ", ".join(f"%s::{_array_type(c)}" for c in USER_FIELDS)
_IDENTITY_ARRAYS = ", ".join(f"%s::{t}" for t in _IDENTITY_TYPES)
_INSERT = (
    f"WITH new_users AS (INSERT INTO {{s}}.users ({USER_COLUMNS}) "
    f"SELECT * FROM unnest({_USER_ARRAYS}) ON CONFLICT (id) DO NOTHING RETURNING id), "
    f"new_identities AS (INSERT INTO {{s}}.identities ({', '.join(_IDENTITY_INSERT_COLUMNS)}) "
    f"SELECT t.* FROM unnest({_IDENTITY_ARRAYS}) AS t({', '.join(_IDENTITY_INSERT_COLUMNS)}) "
    "WHERE t.user_id IN (SELECT id FROM new_users)) "
    "SELECT id FROM new_users"
)


class PgUserImports(_Repository):
    async def present(self, ids: list[UUID]) -> dict[UUID, tuple[str, str]]:
        rows = await self._rows("SELECT id, email, phone FROM {s}.users WHERE id = ANY(%s)", (ids,))
        return {r["id"]: (r["email"] or "", r["phone"] or "") for r in rows}

    async def owners(self, keys: list[str]) -> AddressOwners:
        emails = [k[6:] for k in keys if k.startswith("email:")]
        phones = [k[6:] for k in keys if k.startswith("phone:")]
        pairs = [k[9:].split(":", 1) for k in keys if k.startswith("identity:")]
        users, with_phones, linked = await self._rows_of_each(
            [
                ("SELECT email AS key, id FROM {s}.users WHERE email = ANY(%s) AND is_sso_user = false", (emails,)),
                ("SELECT phone AS key, id FROM {s}.users WHERE phone = ANY(%s)", (phones,)),
                (
                    "SELECT provider || ':' || provider_id AS key, user_id AS id FROM {s}.identities "
                    "WHERE (provider, provider_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                    ([p[0] for p in pairs], [p[1] for p in pairs]),
                ),
            ]
        )
        found: dict[str, UUID] = {}
        for prefix, rows in (("email:", users), ("phone:", with_phones), ("identity:", linked)):
            for row in rows:
                found.setdefault(prefix + row["key"], row["id"])
        return AddressOwners(found)

    async def insert(self, users: list[User]) -> set[UUID]:
        if not users:
            return set()
        columns: list[list[Any]] = [[] for _ in USER_FIELDS]
        for user in users:
            params = user_params(user)
            for values, column in zip(columns, USER_FIELDS, strict=True):
                values.append(params[column])
        identity_columns: list[list[Any]] = [[] for _ in _IDENTITY_INSERT_COLUMNS]
        for user in users:
            for i in user.identities:
                row = (i.id, i.provider_id, user.id, Jsonb(i.identity_data), i.provider, i.last_sign_in_at, i.created_at, i.updated_at)
                for values, value in zip(identity_columns, row, strict=True):
                    values.append(value)
        try:
            rows = await self._rows(_INSERT, (*columns, *identity_columns))
        except errors.UniqueViolation as exc:
            raise _translate_unique(exc) from None
        return {r["id"] for r in rows}

    async def page(self, after: UUID | None, limit: int) -> list[User]:
        if after is None:
            rows = await self._rows(f"SELECT {USER_COLUMNS} FROM {{s}}.users ORDER BY id LIMIT %s", (limit,))
        else:
            rows = await self._rows(f"SELECT {USER_COLUMNS} FROM {{s}}.users WHERE id > %s ORDER BY id LIMIT %s", (after, limit))
        if not rows:
            return []
        identity_rows = await self._rows(
            "SELECT * FROM {s}.identities WHERE user_id = ANY(%s) ORDER BY created_at, id", ([r["id"] for r in rows],)
        )
        by_user: dict[UUID, list[Any]] = {r["id"]: [] for r in rows}
        for row in identity_rows:
            by_user[row["user_id"]].append(identity_from_row(row))
        return [user_from_row(r, by_user[r["id"]]) for r in rows]
