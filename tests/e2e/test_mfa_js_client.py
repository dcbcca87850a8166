"""MFA with the official JS client (`@supabase/auth-js`) against `pytrue serve` on both storages:
the scenarios in `js/mfa_scenario.mjs` (TOTP enrol/challenge/verify, assurance levels, refresh,
challengeAndVerify, unenroll, aal1 limits, admin.mfa) and, against the server that texts through the
Twilio stand-in, a phone factor whose code is read from the texts (conftest's `sms_inbox`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e_support import Server, run_auth_js

JS_DIR = Path(__file__).resolve().parent / "js"
SCENARIO_TIMEOUT = 60


def test_auth_js_mfa(server: Server, node_executable: str, auth_js_installed: Path) -> None:
    summary = run_auth_js(node_executable, "mfa_scenario.mjs", JS_DIR, server, SCENARIO_TIMEOUT)
    assert summary["failed"] == {}
    assert set(summary["passed"]) == {"totpStepUpAndAssuranceLevels", "challengeAndVerify", "aal1SessionsOfMfaUsersAreLimited", "adminFactorApi"}


def test_auth_js_mfa_phone_factor(sms_server: Any, sms_inbox: str, node_executable: str, auth_js_installed: Path) -> None:
    summary = run_auth_js(
        node_executable, "mfa_scenario.mjs", JS_DIR, sms_server.server, SCENARIO_TIMEOUT,
        PYTRUE_SMS_INBOX_URL=sms_inbox, PYTRUE_SCENARIOS="phoneFactor",
    )  # fmt: skip
    assert summary["failed"] == {}
    assert summary["passed"] == ["phoneFactor"]
