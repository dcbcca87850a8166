"""Phone flows with the official JS client (`@supabase/auth-js`) against `pytrue serve` texting through Twilio.

The scenarios live in `js/phone_scenario.mjs`; they read the texted codes through a small HTTP
inbox this test serves over what the Twilio stand-in received.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_support import run_auth_js

from test_js_client import JS_DIR, SCENARIO_TIMEOUT


@pytest.fixture
def sms_inbox(sms_server: Any) -> Iterator[str]:
    """GET ?to=<phone> → {count, codes} of the texts sent to that number, oldest first."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            to = parse_qs(urlsplit(self.path).query).get("to", [""])[0]
            texts = sms_server.texts_to(to) if to else []
            codes = [m.group(1) if (m := re.search(r"\b(\d{6})\b", text)) else None for text in texts]
            payload = json.dumps({"count": len(texts), "codes": codes}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


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
