"""End-to-end fixtures: pytrue runs as a real `pytrue serve` process on a free port.

Every test collected under `tests/e2e/` is marked `e2e` (see `pytest_collection_modifyitems`),
so `pytest -m "not e2e"` deselects them all.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

E2E_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(E2E_DIR))

from e2e_support import Server, start_server, stop_server  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running `pytrue serve` (memory storage, autoconfirm) shared by the whole session."""
    process, running = start_server(tmp_path_factory.mktemp("pytrue-server"))
    try:
        yield running
    finally:
        stop_server(process)


@pytest.fixture
def unique_email() -> str:
    """A fresh address per test, so tests sharing one server never collide."""
    return f"e2e-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture(scope="session")
def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; the auth-js end-to-end tests need Node.js", pytrace=False)
    return node
