import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notes import NotesApp, install_schema  # noqa: E402


@pytest.fixture(scope="session")
def pytrue_config():
    """The auth server as this app configures it in production (here: its redirect allow-list)."""
    return {"site_url": "http://notes.test", "uri_allow_list": ["http://notes.test/**"]}


@pytest.fixture(scope="session")
def schema(pytrue_server):
    install_schema(pytrue_server.superuser_dsn)


@pytest.fixture
def app(pytrue, schema):
    """The app wired to the test server; `pytrue` has emptied every table (notes too) before."""
    return NotesApp(auth_url=pytrue.url, anon_key=pytrue.anon_key, db_dsn=pytrue.superuser_dsn)
