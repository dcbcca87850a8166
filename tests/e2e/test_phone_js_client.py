"""Phone flows with the official JS client (`@supabase/auth-js`) against `pytrue serve` texting through Twilio.

The scenarios live in `js/phone_scenario.mjs`; they read the texted codes through a small HTTP
inbox (conftest's `sms_inbox`) over what the Twilio stand-in received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e_support import run_auth_js

from test_js_client import JS_DIR, SCENARIO_TIMEOUT


def test_auth_js_phone_scenarios(sms_server: Any, sms_inbox: str, node_executable: str, auth_js_installed: Path) -> None:
    summary = run_auth_js(
        node_executable, "phone_scenario.mjs", JS_DIR, sms_server.server, SCENARIO_TIMEOUT, PYTRUE_SMS_INBOX_URL=sms_inbox
    )
    assert summary["failed"] == {}
    assert set(summary["passed"]) == {
        "signUpWithPhoneThenVerifyOtp",
        "signInWithOtpByPhone",
        "updateUserPhoneThenVerifyPhoneChange",
        "resendSms",
    }
