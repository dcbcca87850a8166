"""PostgreSQL function hooks (`pg-functions://postgres/<schema>/<function>`), run in the unit of
work's transaction as GoTrue runs them: `statement_timeout` set for the call alone with SET LOCAL,
the payload passed as jsonb, the function's jsonb answer read back. A failure is GoTrue's 500
"Error running hook URI: <uri>"; what went wrong is logged (never the function's own message,
which may carry what it was given)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from psycopg import errors
from psycopg.types.json import Jsonb

from pytrue.adapters.postgres.repositories import _Repository
from pytrue.application.ports import HookFailed

log = logging.getLogger("pytrue.hooks")

_FUNCTION = re.compile(r'^"[a-zA-Z_][a-zA-Z0-9_]{0,62}"\."[a-zA-Z_][a-zA-Z0-9_]{0,62}"$')


class PgHookFunctions(_Repository):
    async def call(self, function: str, payload: Mapping[str, Any], *, timeout_ms: int) -> Any:
        if not _FUNCTION.match(function):  # checked when configuration is read; never interpolate anything else
            raise HookFailed("Error running hook URI: invalid function name")
        failed = HookFailed(f"Error running hook URI: pg-functions://postgres/{function.replace(chr(34), '').replace('.', '/')}")
        try:
            await self._rows(f"SET LOCAL statement_timeout TO '{int(timeout_ms)}'")
            rows = await self._rows(f"SELECT {function}(%s) AS output", (Jsonb(dict(payload)),))
            await self._rows("SET LOCAL statement_timeout TO DEFAULT")
        except errors.QueryCanceled:
            log.warning("hook function %s timed out after %d ms", function, timeout_ms)
            raise failed from None
        except (errors.UndefinedFunction, errors.InvalidSchemaName):
            log.warning("hook function %s does not exist (or takes no jsonb argument)", function)
            raise failed from None
        except errors.Error as error:
            # the function's own RAISE, a permission error, ...: the message may be the function's
            # own text, so only its SQLSTATE is logged
            log.warning("hook function %s failed: SQLSTATE %s", function, error.sqlstate)
            raise failed from None
        return rows[0]["output"] if rows else None
