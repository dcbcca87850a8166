"""The project's own examples run as their users would run them (issue 14):
examples/notes_app's test suite (supabase-auth + the pytest plugin on PostgreSQL, RLS on
auth.uid()) and examples/node's auth-js tests against `pytrue testserver`; and the
`pytrue testserver` command itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from e2e_support import clean_environment, pytrue_command

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def test_the_notes_app_suite_passes_against_the_pytest_plugin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "notes_app")],
        cwd=EXAMPLES / "notes_app", env=clean_environment({}), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "5 passed" in done.stdout


def test_the_node_example_passes_against_pytrue_testserver(node_executable: str) -> None:
    node_dir = EXAMPLES / "node"
    if not (node_dir / "node_modules" / "@supabase" / "auth-js").exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to install examples/node"
        subprocess.run([npm, "ci", "--silent", "--no-audit", "--no-fund"], cwd=node_dir, check=True, timeout=180)
    command = pytrue_command()
    env = clean_environment({"PYTRUE_COMMAND": command[0]} if len(command) == 1 else {})
    done = subprocess.run(
        [node_executable, "signup_flow.test.mjs"], cwd=node_dir, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "# pass 5" in done.stdout and "# fail 0" in done.stdout


def _testserver(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*pytrue_command(), "testserver", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=clean_environment(env or {}),
    )


def test_testserver_prints_its_url_and_keys_and_serves_until_stdin_closes() -> None:
    process = _testserver("--env", "GOTRUE_JWT_EXP=120", env={"GOTRUE_MAILER_AUTOCONFIRM": "true"})
    try:
        assert process.stdout is not None and process.stdin is not None
        described = json.loads(process.stdout.readline())
        assert set(described) == {"url", "anon_key", "service_role_key", "jwt_secret", "storage", "control"}
        assert described["storage"] == "memory" and described["control"] == described["url"] + "/__pytrue"
        signed_up = httpx.post(
            described["url"] + "/signup", json={"email": "cli@example.com", "password": "a-long-enough-password"},
            headers={"apikey": described["anon_key"]},
        ).json()
        assert signed_up["expires_in"] == 120  # --env
        assert signed_up["user"]["email_confirmed_at"]  # GOTRUE_* from the environment
        process.stdin.close()
        assert process.wait(timeout=30) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(described["url"] + "/health", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()


def test_testserver_refuses_a_bad_setting_before_printing_anything() -> None:
    process = _testserver("--env", "GOTRUE_JWT_EXP=soon")
    out, err = process.communicate(timeout=60)
    assert process.returncode != 0 and out == ""
    assert "GOTRUE_JWT_EXP" in err
    process = _testserver("--env", "NOT_A_PAIR")
    out, err = process.communicate(timeout=60)
    assert process.returncode != 0 and "NAME=VALUE" in err


def test_testserver_stops_on_sigterm() -> None:
    process = _testserver()
    try:
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["url"]
        assert httpx.get(url + "/health").status_code == 200
        process.terminate()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
