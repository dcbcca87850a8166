"""Email flows with the official JS client (`@supabase/auth-js`) against `pytrue serve` delivering by SMTP.

The scenarios live in `js/email_scenario.mjs`. They read their mail through a small HTTP
mailbox this test serves over the SMTP server's received messages.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_support import run_auth_js
from support.smtp import addressed_to, extract_link, extract_otp

from test_js_client import JS_DIR, SCENARIO_TIMEOUT


@pytest.fixture
def mailbox(mail_server: Any) -> Iterator[str]:
    """GET ?to=<address> → {count, link, otp} of the newest message for that address."""
    smtp = mail_server.smtp

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            to = parse_qs(urlsplit(self.path).query).get("to", [""])[0].lower()
            received = [m for m in list(smtp.messages) if to and addressed_to(m, to)]
            body: dict[str, Any] = {"count": len(received), "link": None, "otp": None}
            if received:
                newest = received[-1]
                body["otp"] = extract_otp(newest)
                try:
                    body["link"] = extract_link(newest)
                except AssertionError:
                    body["link"] = None
            payload = json.dumps(body).encode()
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


def test_auth_js_email_scenarios(
    mail_server: Any, mailbox: str, node_executable: str, auth_js_installed: Path
) -> None:
    summary = run_auth_js(
        node_executable, "email_scenario.mjs", JS_DIR, mail_server.server, SCENARIO_TIMEOUT, PYTRUE_MAILBOX_URL=mailbox
    )
    assert summary["failed"] == {}
    assert set(summary["passed"]) == {
        "signUpAndConfirmationLink",
        "signInWithOtpAndVerifyOtp",
        "resetPasswordForEmailThenUpdateUser",
        "resendConfirmation",
        "adminGenerateLinkAndVerifyTokenHash",
        "adminInviteUserByEmail",
        "pkceMagicLinkExchangeCodeForSession",
    }
