"""MFA with the official JS client (`@supabase/auth-js`) against `pytrue serve` on both storages:
the scenarios in `js/mfa_scenario.mjs` (TOTP enrol/challenge/verify, assurance levels, refresh,
challengeAndVerify, unenroll, aal1 limits, admin.mfa)."""

from __future__ import annotations

from pathlib import Path

from e2e_support import Server, run_auth_js

JS_DIR = Path(__file__).resolve().parent / "js"
SCENARIO_TIMEOUT = 60


def test_auth_js_mfa(server: Server, node_executable: str, auth_js_installed: Path) -> None:
    summary = run_auth_js(node_executable, "mfa_scenario.mjs", JS_DIR, server, SCENARIO_TIMEOUT)
    assert summary["failed"] == {}
    assert set(summary["passed"]) == {"totpStepUpAndAssuranceLevels", "challengeAndVerify", "aal1SessionsOfMfaUsersAreLimited", "adminFactorApi"}
