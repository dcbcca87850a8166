"""A real SMTP server that refuses or is gone: the email flows fail with GoTrue's error and write nothing (PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from support.http import assert_error
from support.smtp import SmtpServer, extract_otp, free_port

VERIFIER = "k" * 60
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def smtp_env(port: int) -> dict[str, str]:
    return {
        "GOTRUE_MAILER_AUTOCONFIRM": "false",
        "GOTRUE_SMTP_HOST": "127.0.0.1",
        "GOTRUE_SMTP_PORT": str(port),
        "GOTRUE_SMTP_ADMIN_EMAIL": "auth@pytrue.test",
        "GOTRUE_SMTP_MAX_FREQUENCY": "1ms",
    }


async def test_refused_recipients_leave_no_user_token_or_flow_state(make_api: Any) -> None:
    with SmtpServer(refuse=["refused@example.com"]) as smtp:
        api = await make_api(smtp_env(smtp.port))
        before = await api.counts()
        response = await api.client.post(
            "/signup",
            json={
                "email": "refused@example.com",
                "password": "s3cret-pass",
                "code_challenge": CHALLENGE,
                "code_challenge_method": "s256",
            },
            headers=api.headers(),
        )
        assert_error(response, 500, "unexpected_failure", "Error sending confirmation email")
        assert "550" not in response.text and "refused@example.com" not in response.text
        assert await api.counts() == before
        assert smtp.messages == []

        ok = await api.signup("fine@example.com")
        assert ok.status_code == 200, ok.text
        assert extract_otp(smtp.wait_for("fine@example.com"))


async def test_recovery_with_the_smtp_server_down_keeps_the_old_link_valid(make_api: Any) -> None:
    with SmtpServer() as smtp:
        port = smtp.port
        api = await make_api(smtp_env(port))
        await api.signup("owner@example.com")
        code = extract_otp(smtp.wait_for("owner@example.com"))
    # the server is gone now: nothing listens on its port
    before = await api.counts()
    response = await api.client.post("/recover", json={"email": "owner@example.com"}, headers=api.headers())
    assert_error(response, 500, "unexpected_failure", "Error sending recovery email")
    assert await api.counts() == before
    verified = await api.client.post(
        "/verify", json={"type": "signup", "email": "owner@example.com", "token": code}, headers=api.headers()
    )
    assert verified.status_code == 200, verified.text


async def test_unreachable_smtp_server_fails_an_invite_cleanly(make_api: Any) -> None:
    api = await make_api(smtp_env(free_port()))
    before = await api.counts()
    response = await api.client.post("/invite", json={"email": "guest@example.com"}, headers=api.admin())
    assert_error(response, 500, "unexpected_failure", "Error sending invite email")
    assert await api.counts() == before
