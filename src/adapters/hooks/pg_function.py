"""The PostgreSQL function transport of auth hooks: GoTrue's `pg-functions://postgres/<schema>/<function>`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytrue.adapters.hooks.http import check_refusal
from pytrue.application.ports import HookFailed, UnitOfWork, UnitOfWorkFactory

DEFAULT_TIMEOUT_MS = 2000  # GoTrue's hookspgfunc default


class PostgresFunctionHook:
    """Runs `select <function>(payload)`: in the request's unit of work when the caller has one
    (the function's writes share its fate, and no second connection is taken while one is held),
    else in a transaction of its own that commits. The answer is checked as an HTTP hook's:
    `{"error": {"message", "http_code"}}` refuses, a NULL is no output, anything but an object is
    GoTrue's "Error unmarshaling JSON output."."""

    def __init__(self, *, function: str, uow: UnitOfWorkFactory, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        if timeout_ms < 1:
            raise ValueError("a hook function needs a positive timeout")
        self._function = function
        self._uow = uow
        self._timeout_ms = timeout_ms

    async def invoke(self, payload: Mapping[str, Any], *, uow: UnitOfWork | None = None) -> dict[str, Any]:
        if uow is not None:
            answer = await uow.hook_functions.call(self._function, payload, timeout_ms=self._timeout_ms)
        else:
            async with self._uow() as own:
                answer = await own.hook_functions.call(self._function, payload, timeout_ms=self._timeout_ms)
                await own.commit()
        check_refusal(answer)
        if answer is None:
            return {}
        if not isinstance(answer, dict):
            raise HookFailed("Error unmarshaling JSON output.")
        return answer
