"""How this adapter's connections convert values: JSON through msgspec, addresses as text.

psycopg's defaults are the standard library's `json` and `ipaddress` objects. On the hot paths
(every `GET /user` and refresh reads a user's metadata, identities and session) they were a
measurable share of the Python time per request; msgspec decodes the same documents to the
same Python values an order of magnitude faster. A document msgspec refuses (a number beyond
a float's range, which PostgreSQL's `numeric` allows in `jsonb`) is decoded by `json` as before.
Session addresses are only ever handed on as text, so `inet` is read as text.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg.types.string import TextLoader

_decode = msgspec.json.decode
_encode = msgspec.json.encode


def loads(data: bytes | str) -> Any:
    try:
        return _decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact JSON, as GoTrue writes it. Callers pass JSON values only (dicts, lists, strings,
    numbers, booleans, None); msgspec would also encode datetimes, UUIDs and sets, and writes a
    non-finite float as null where `json` wrote NaN, which PostgreSQL refuses."""
    return _encode(value)


async def configure(conn: AsyncConnection[Any]) -> None:
    """The pool's `configure` hook: applied once to every new connection."""
    set_json_loads(loads, conn)
    set_json_dumps(dumps, conn)
    conn.adapters.register_loader("inet", TextLoader)
    conn.adapters.register_loader("cidr", TextLoader)
