"""`GOTRUE_DB_CLEANUP_ENABLED`: one cleanup step after each successful write request, off the response path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("pytrue.cleanup")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BackgroundCleanup:
    """Runs a step as a background task, at most one at a time: a trigger while one runs is dropped, not queued.

    A failed step is logged by its error's type only (no statement, no row, no DSN) and never reaches a client.
    """

    def __init__(self, step: Callable[[], Awaitable[Any]]) -> None:
        self._step = step
        self._task: asyncio.Task[None] | None = None
        self.started = 0
        self.finished = 0
        self.failed = 0
        self.skipped = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def trigger(self) -> bool:
        """Start a step unless one is running; True when one was started."""
        if self.running:
            self.skipped += 1
            return False
        self.started += 1
        self._task = asyncio.get_running_loop().create_task(self._run())
        return True

    async def _run(self) -> None:
        try:
            cleaned = await self._step()
            rows = getattr(cleaned, "rows", 0)
            if rows:
                log.debug("database cleanup: %d %s", rows, getattr(getattr(cleaned, "kind", None), "value", "rows"))
        except Exception as exc:  # noqa: BLE001 - a cleanup failure must not surface anywhere else
            self.failed += 1
            log.warning("database cleanup step failed: %s", type(exc).__name__)
        finally:
            self.finished += 1

    async def drain(self) -> None:
        """Let the running step end (at shutdown, before the connections close)."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait([task])


def cleanup_middleware_factory(cleanup: BackgroundCleanup) -> Callable[[ASGIApp], ASGIApp]:
    """Triggers `cleanup` once a POST/PUT/PATCH/DELETE has been answered with a 2xx status."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
                await app(scope, receive, send)
                return
            status = 0

            async def send_noting_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await app(scope, receive, send_noting_status)
            if 200 <= status < 300:
                cleanup.trigger()

        return handle

    return middleware
