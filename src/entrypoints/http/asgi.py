"""The ASGI application built from the process environment, for servers that import it by name.

`pytrue serve --workers N` starts N processes that each import this factory: every worker
reads the same environment, wires its own container and opens its own connection pool.
"""

from __future__ import annotations

from litestar import Litestar

from pytrue.entrypoints.json_logs import LOG_LEVELS, configure_logging

__all__ = ["LOG_LEVELS", "configure_logging", "create"]


def create() -> Litestar:
    from pytrue.entrypoints.containers import build_container
    from pytrue.entrypoints.http.app import create_app
    from pytrue.entrypoints.settings import load_settings

    settings = load_settings()
    configure_logging(settings)
    return create_app(build_container(settings))
