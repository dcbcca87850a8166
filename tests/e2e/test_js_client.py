"""The official JS client (`@supabase/auth-js`, pinned in js/package.json) against pytrue.

The scenarios live in `js/scenario.mjs`; this test only provides the server and checks the
exit status. Node.js is required: a missing `node` fails the test rather than skipping it.
"""

from __future__ import annotations

from pathlib import Path

from e2e_support import Server, run_auth_js

JS_DIR = Path(__file__).resolve().parent / "js"
SCENARIO_TIMEOUT = 60


def test_auth_js_scenarios(server: Server, node_executable: str, auth_js_installed: Path) -> None:
    summary = run_auth_js(node_executable, "scenario.mjs", JS_DIR, server, SCENARIO_TIMEOUT)
    assert summary["failed"] == {}
    assert set(summary["passed"]) >= {
        "signUpAndSessionLifecycle",
        "wrongPasswordIsInvalidCredentials",
        "weakPasswordOnSignUp",
        "adminUserManagement",
    }
