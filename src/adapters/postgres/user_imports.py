"""Bulk user writes and reads over `auth.users`/`auth.identities` (`pytrue users import|export`).

A batch is one statement: the users and their identities from two JSON arrays
(`jsonb_populate_recordset`), the users with `ON CONFLICT (id) DO NOTHING`, the identities of the
users that statement inserted only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import errors

from pytrue.adapters.postgres.repositories import _Repository, _translate_unique
from pytrue.adapters.postgres.rows import USER_COLUMNS, identity_from_row, user_from_row, user_params
from pytrue.application.ports import AddressOwners
from pytrue.domain.user import Identity, User


_IDENTITY_INSERT_COLUMNS = "id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at"
# Rows travel as one JSON array per table (json.dumps is C; psycopg dumps arrays of 30 columns in Python).
_INSERT = (
    f"WITH new_users AS (INSERT INTO {{s}}.users ({USER_COLUMNS}) "
    f"SELECT {USER_COLUMNS} FROM jsonb_populate_recordset(NULL::{{s}}.users, %s::jsonb) "
    "ON CONFLICT (id) DO NOTHING RETURNING id), "
    f"new_identities AS (INSERT INTO {{s}}.identities ({_IDENTITY_INSERT_COLUMNS}) "
    f"SELECT {_IDENTITY_INSERT_COLUMNS} FROM jsonb_populate_recordset(NULL::{{s}}.identities, %s::jsonb) "
    "WHERE user_id IN (SELECT id FROM new_users)) "
    "SELECT id FROM new_users"
)


def _json_value(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")


def _user_row(user: User) -> dict[str, Any]:
    row = user_params(user)
    row["raw_app_meta_data"] = user.app_metadata
    row["raw_user_meta_data"] = user.user_metadata
    return row


def _identity_row(user: User, identity: Identity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "provider_id": identity.provider_id,
        "user_id": user.id,
        "identity_data": identity.identity_data,
        "provider": identity.provider,
        "last_sign_in_at": identity.last_sign_in_at,
        "created_at": identity.created_at,
        "updated_at": identity.updated_at,
    }


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
        users_json = json.dumps([_user_row(u) for u in users], default=_json_value, separators=(",", ":"))
        identities_json = json.dumps(
            [_identity_row(u, i) for u in users for i in u.identities], default=_json_value, separators=(",", ":")
        )
        try:
            rows = await self._rows(_INSERT, (users_json, identities_json))
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
