"""The official JS client (`@supabase/auth-js`, pinned in js/package.json) against pytrue.

The scenarios live in `js/scenario.mjs`; this test only provides the server and checks the
exit status. Node.js is required: a missing `node` fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from e2e_support import Server

JS_DIR = Path(__file__).resolve().parent / "js"
SCENARIO_TIMEOUT = 60


def test_auth_js_scenarios(server: Server, node_executable: str, auth_js_installed: Path) -> None:
    env = {
        **os.environ,
        "PYTRUE_URL": server.url,
        "PYTRUE_ANON_KEY": server.anon_key,
        "PYTRUE_SERVICE_KEY": server.service_key,
    }
    result = subprocess.run(
        [node_executable, "scenario.mjs"],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT,
    )
    assert result.returncode == 0, (
        f"auth-js scenarios failed (exit {result.returncode})\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}\n"
        f"--- server log ---\n{server.log()[-4000:]}"
    )
    summary = json.loads(result.stdout)
    assert summary["failed"] == {}
    assert set(summary["passed"]) >= {
        "signUpAndSessionLifecycle",
        "wrongPasswordIsInvalidCredentials",
        "weakPasswordOnSignUp",
        "adminUserManagement",
    }
