"""A real SMTP server that refuses or is gone (PostgreSQL).

With the outbox (the default, docs/adr/0017) the request succeeds, the message waits in
`pytrue_mail_outbox`, every failed attempt is logged at ERROR with the message kind only, and the
message is delivered once the server takes it. With `PYTRUE_MAILER_DELIVERY=inline` the flows
fail with GoTrue's 500 and write nothing, as before.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

from support.http import assert_error
from support.smtp import SmtpServer, extract_link, extract_otp, free_port

VERIFIER = "k" * 60
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    return {
        "GOTRUE_MAILER_AUTOCONFIRM": "false",
        "GOTRUE_SMTP_HOST": "127.0.0.1",
        "GOTRUE_SMTP_PORT": str(port),
        "GOTRUE_SMTP_ADMIN_EMAIL": "auth@pytrue.test",
        "GOTRUE_SMTP_MAX_FREQUENCY": "1ms",
        "PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL": "50ms",
        **extra,
    }


INLINE = {"PYTRUE_MAILER_DELIVERY": "inline"}


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_refused_recipient_stays_queued_and_is_delivered_once_accepted(make_api: Any) -> None:
    with SmtpServer(refuse=["refused@example.com"]) as smtp:
        api = await make_api(smtp_env(smtp.port))
        body = {"email": "refused@example.com", "password": "s3cret-pass", "code_challenge": CHALLENGE,
                "code_challenge_method": "s256"}  # fmt: skip
        logs = Records()
        logging.getLogger("pytrue.mail").addHandler(logs)
        try:
            response = await api.client.post("/signup", json=body, headers=api.headers())
            assert response.status_code == 200, response.text
            api.settle_mail()
        finally:
            logging.getLogger("pytrue.mail").removeHandler(logs)
        (queued,) = await api.outbox()
        assert queued["kind"] == "confirmation" and "refused" in queued["last_error"]
        failures = [r.getMessage() for r in logs.records if r.levelno == logging.ERROR]
        assert failures and all("confirmation email" in line for line in failures)
        assert not any("refused@example.com" in r.getMessage() or "token" in r.getMessage() for r in logs.records)
        assert smtp.messages == []

        ok = await api.signup("fine@example.com")  # a refused recipient is no outage: others still go out
        assert ok.status_code == 200, ok.text
        assert extract_otp(smtp.wait_for("fine@example.com"))

        smtp.refuse.clear()
        await api.drain_mail()
        link = extract_link(smtp.wait_for("refused@example.com"))
        assert "type=signup" in link and "token=pkce_" in link


async def test_recovery_with_the_smtp_server_down_is_delivered_when_it_is_back(make_api: Any) -> None:
    with SmtpServer() as smtp:
        port = smtp.port
        api = await make_api(smtp_env(port))
        await api.signup("owner@example.com")
        smtp.wait_for("owner@example.com")
    # the server is gone now: nothing listens on its port
    response = await api.client.post("/recover", json={"email": "owner@example.com"}, headers=api.headers())
    assert response.status_code == 200, response.text
    api.settle_mail()
    (queued,) = await api.outbox()
    assert queued["kind"] == "recovery" and "connect" in queued["last_error"]

    with SmtpServer(port=port) as back:
        await api.drain_mail()
        link = extract_link(back.wait_for("owner@example.com"))
    assert "type=recovery" in link
    followed = await api.client.get(link.removeprefix("http://localhost:9999"), follow_redirects=False)
    assert followed.status_code == 303 and "access_token=" in followed.headers["location"]


async def test_inline_refused_recipients_leave_no_user_token_or_flow_state(make_api: Any) -> None:
    with SmtpServer(refuse=["refused@example.com"]) as smtp:
        api = await make_api(smtp_env(smtp.port, **INLINE))
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
        shown = {k: v for k, v in response.json().items() if k != "error_id"}  # a random id may contain "550"
        assert "550" not in str(shown) and "refused@example.com" not in response.text
        assert await api.counts() == before
        assert smtp.messages == []

        ok = await api.signup("fine@example.com")
        assert ok.status_code == 200, ok.text
        assert extract_otp(smtp.wait_for("fine@example.com"))
    assert await api.outbox() == []


async def test_inline_recovery_with_the_smtp_server_down_keeps_the_old_link_valid(make_api: Any) -> None:
    with SmtpServer() as smtp:
        port = smtp.port
        api = await make_api(smtp_env(port, **INLINE))
        await api.signup("owner@example.com")
        code = extract_otp(smtp.wait_for("owner@example.com"))
    before = await api.counts()
    response = await api.client.post("/recover", json={"email": "owner@example.com"}, headers=api.headers())
    assert_error(response, 500, "unexpected_failure", "Error sending recovery email")
    assert await api.counts() == before
    verified = await api.client.post(
        "/verify", json={"type": "signup", "email": "owner@example.com", "token": code}, headers=api.headers()
    )
    assert verified.status_code == 200, verified.text


async def test_inline_unreachable_smtp_server_fails_an_invite_cleanly(make_api: Any) -> None:
    api = await make_api(smtp_env(free_port(), **INLINE))
    before = await api.counts()
    response = await api.client.post("/invite", json={"email": "guest@example.com"}, headers=api.admin())
    assert_error(response, 500, "unexpected_failure", "Error sending invite email")
    assert await api.counts() == before


async def test_an_unreachable_smtp_server_queues_the_invite(make_api: Any) -> None:
    api = await make_api(smtp_env(free_port()))
    response = await api.client.post("/invite", json={"email": "guest@example.com"}, headers=api.admin())
    assert response.status_code == 200, response.text
    api.settle_mail()
    assert [(row["kind"], "connect" in row["last_error"]) for row in await api.outbox()] == [("invite", True)]
