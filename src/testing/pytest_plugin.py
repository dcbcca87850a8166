"""The pytest plugin (entry point `pytest11`: `pytrue`): a pytrue server for the test session.

Fixtures
    pytrue_server   session-scoped `AuthServer`, started on first use, stopped at the end
    pytrue          the same server, reset (no users, no mail, clock back) before each test
    pytrue_config   session-scoped dict of GoTrue settings for the server; override it in a
                    conftest.py to configure it (`{"mailer_autoconfirm": True}`)

Options (command line or ini): `--pytrue-storage` / `pytrue_storage` (memory or postgres),
`--pytrue-dsn` / `pytrue_dsn` (a PostgreSQL database; without it an embedded cluster is
started), `pytrue_env` (ini lines `NAME=value`, raw GoTrue variables).

Importing this module is cheap: pytrue itself is imported only when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytrue.testing.server import AuthServer


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pytrue", "pytrue test server")
    group.addoption("--pytrue-storage", choices=("memory", "postgres"), default=None, help="storage of the pytrue_server fixture")
    group.addoption("--pytrue-dsn", default=None, help="PostgreSQL DSN for --pytrue-storage=postgres (default: an embedded cluster)")
    parser.addini("pytrue_storage", "storage of the pytrue_server fixture: memory (default) or postgres", default="memory")
    parser.addini("pytrue_dsn", "PostgreSQL DSN for pytrue_storage=postgres", default="")
    parser.addini("pytrue_env", "GoTrue variables for the pytrue_server fixture, one NAME=value per line", type="linelist", default=[])


def _env_lines(lines: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise pytest.UsageError(f"pytrue_env: expected NAME=value, got {line!r}")
        env[name.strip()] = value.strip()
    return env


@pytest.fixture(scope="session")
def pytrue_config() -> dict[str, Any]:
    """GoTrue settings for `pytrue_server`, as keyword arguments of `AuthServer`; override it."""
    return {}


@pytest.fixture(scope="session")
def pytrue_server(request: pytest.FixtureRequest, pytrue_config: dict[str, Any]) -> Iterator[AuthServer]:
    """One pytrue server for the whole session (state persists between tests: see `pytrue`)."""
    from pytrue.testing.server import AuthServer

    config = request.config
    storage = config.getoption("--pytrue-storage") or config.getini("pytrue_storage") or "memory"
    dsn = config.getoption("--pytrue-dsn") or config.getini("pytrue_dsn") or None
    options: dict[str, Any] = {"storage": storage, "env": _env_lines(config.getini("pytrue_env"))}
    if dsn:
        options["dsn"] = dsn
    options.update(pytrue_config)
    server = AuthServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pytrue(pytrue_server: AuthServer) -> AuthServer:
    """The session's pytrue server, emptied before this test: no users, sessions, mail or rate
    limits, and the clock back at the real time."""
    pytrue_server.reset()
    return pytrue_server
