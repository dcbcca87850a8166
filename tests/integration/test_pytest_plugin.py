"""pytrue's pytest plugin (entry point `pytest11`), run in fresh pytest processes by pytester:
the fixtures exist without any conftest, `pytrue` resets between tests, and the server is
configured from a `pytrue_config` override, ini lines or the command line."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

FLOW = '''
import httpx

def sign_up(server, email):
    answer = httpx.post(server.url + "/signup", json={"email": email, "password": "correct-horse-battery"},
                        headers={"apikey": server.anon_key})
    assert answer.status_code == 200, answer.text
    return answer.json()
'''


def test_the_fixtures_come_from_the_entry_point_and_reset_isolates_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_app=FLOW + '''
def test_first_signs_up(pytrue):
    sign_up(pytrue, "first@example.com")
    assert pytrue.inbox.latest("first@example.com", "confirmation").token_hash
    pytrue.advance_clock(600)

def test_second_sees_nothing_of_the_first(pytrue):
    import pytest
    with pytest.raises(LookupError):
        pytrue.user("first@example.com")
    assert len(pytrue.inbox) == 0
    assert pytrue.container.core.clock().offset.total_seconds() == 0
    sign_up(pytrue, "first@example.com")  # the address is free again

def test_the_session_server_is_the_same_object(pytrue, pytrue_server):
    assert pytrue is pytrue_server

def test_without_reset_state_persists(pytrue_server):
    pytrue_server.create_user("kept@example.com", "correct-horse-battery")

def test_kept_by_the_session_server(pytrue_server):
    assert pytrue_server.user("kept@example.com")["email"] == "kept@example.com"
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=5)


def test_pytrue_config_overrides_configure_the_server(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        '''
import pytest

@pytest.fixture(scope="session")
def pytrue_config():
    return {"mailer_autoconfirm": True, "jwt_exp": 90}
'''
    )
    pytester.makepyfile(
        test_config=FLOW + '''
def test_autoconfirmed_sign_up_gets_a_session(pytrue):
    answer = sign_up(pytrue, "auto@example.com")
    assert answer["expires_in"] == 90 and answer["user"]["email_confirmed_at"]
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


def test_ini_lines_and_the_supabase_client_work_together(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
[pytest]
pytrue_env =
    GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED=true
    GOTRUE_SITE_URL=http://app.test
"""
    )
    pytester.makepyfile(
        test_client='''
from supabase_auth import SyncGoTrueClient

def test_anonymous_sign_in_with_the_official_client(pytrue):
    client = SyncGoTrueClient(url=pytrue.url, headers={"apikey": pytrue.anon_key}, persist_session=False, auto_refresh_token=False)
    session = client.sign_in_anonymously().session
    assert session.user.is_anonymous
    assert pytrue.settings.site.site_url == "http://app.test"
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


def test_a_bad_ini_line_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npytrue_env =\n    NOT_A_PAIR\n")
    pytester.makepyfile(test_bad="def test_uses(pytrue):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*pytrue_env: expected NAME=value*"])


def test_the_plugin_can_be_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off="def test_uses(pytrue):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:pytrue", "-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'pytrue' not found*"])


def test_storage_postgres_from_the_command_line_resets_the_database(pytester: pytest.Pytester, pg_databases) -> None:
    database = pg_databases.create(migrated=False)
    try:
        pytester.makepyfile(
            test_pg=FLOW + '''
import psycopg

def test_one(pytrue):
    assert pytrue.storage == "postgres"
    sign_up(pytrue, "pg@example.com")

def test_two(pytrue):
    with psycopg.connect(pytrue.dsn) as conn:
        assert conn.execute("select count(*) from auth.users").fetchone() == (0,)
'''
        )
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-q", "--pytrue-storage=postgres", f"--pytrue-dsn={database.dsn}"
        )
        result.assert_outcomes(passed=2)
    finally:
        pg_databases.drop(database)
