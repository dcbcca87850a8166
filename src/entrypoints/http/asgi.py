"""The ASGI application built from the process environment, for servers that import it by name.

`pytrue serve --workers N` starts N processes that each import this factory: every worker
reads the same environment, wires its own container and opens its own connection pool.
"""

from __future__ import annotations

import logging
import sys

from litestar import Litestar

from pytrue.entrypoints.settings import Settings

LOG_LEVELS = {"panic": 50, "fatal": 50, "error": 40, "warn": 30, "info": 20, "debug": 10, "trace": 5}


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=LOG_LEVELS.get(settings.logging.level, 20),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def create() -> Litestar:
    from pytrue.entrypoints.containers import build_container
    from pytrue.entrypoints.http.app import create_app
    from pytrue.entrypoints.settings import load_settings

    settings = load_settings()
    configure_logging(settings)
    return create_app(build_container(settings))
