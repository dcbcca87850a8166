"""Nothing secret reaches the logs: passwords, refresh and access tokens, the JWT secret, password hashes.

Settings' own redaction is pinned in tests/unit/test_settings.py, 500s without internals in
tests/unit/test_http_failures.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.app import JWT_SECRET
from support.smtp import SmtpServer, extract_link, extract_otp


async def test_a_whole_session_life_logs_no_secret(api: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    password = "Very-Secret-Passw0rd-4-logs"
    session = (await api.signup("logs@example.com", password)).json()
    await api.password_grant("logs@example.com", "Wrong-Passw0rd-4-logs")
    refreshed = (await api.refresh(session["refresh_token"])).json()
    await api.refresh(session["refresh_token"] + "x")
    await api.client.put("/user", json={"password": password + "!"}, headers=api.headers(refreshed["access_token"]))
    await api.client.get("/admin/users?filter=%00", headers=api.admin())
    stored = (await api.user())["encrypted_password"]
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (
        password,
        "Wrong-Passw0rd-4-logs",
        session["refresh_token"],
        refreshed["refresh_token"],
        session["access_token"],
        JWT_SECRET,
        api.service,
        stored,
    ):
        assert secret not in text


# --- every flow, captured raw and as the JSON lines an operator reads ------------------------------


class RawRecords(logging.Handler):
    """Each record's message and structured fields as logged, at emit time (before any redaction);
    the test client's own request lines (httpx, in this process, naming the URLs it called) left out."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "httpx" and "testserver.local" in message:
            return
        fields = json.dumps(getattr(record, "fields", None), default=str)
        error = repr(record.exc_info[1]) if record.exc_info else ""
        self.lines.append(f"{record.name} {message} {fields} {error}")

VERIFIER = "pkce-verifier-for-the-log-scan-" + "v" * 30
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def _query(location: str, part: str = "query") -> dict[str, str]:
    parts = urlsplit(location)
    return {k: v[0] for k, v in parse_qs(getattr(parts, part)).items()}


async def _follow(api: Any, link: str) -> Any:
    parts = urlsplit(link)
    return await api.client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


async def test_every_flow_logs_no_password_token_code_or_secret(make_api: Any, caplog: Any, tmp_path: Path) -> None:
    """Sign-up, confirmation, password sign-in, refresh, OTP, magic link, PKCE, recovery, password
    change, admin calls, logout and refused tokens, logged at debug: no secret in any line, neither in
    the records as the code logs them nor in the JSON lines the redaction filter lets out."""
    from pytrue.entrypoints.json_logs import configure_logging

    secrets: list[str] = []  # every value that must not appear
    codes: list[str] = []  # digit codes: must not appear as a number of their own

    def keep(*values: str) -> None:
        for value in values:
            assert value
            secrets.append(value)

    def keep_session(body: dict[str, Any]) -> dict[str, Any]:
        keep(body["access_token"], body["access_token"].rsplit(".", 1)[1], body["refresh_token"])
        return body

    with SmtpServer() as smtp:
        env = {
            "GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_SMTP_HOST": "127.0.0.1", "GOTRUE_SMTP_PORT": str(smtp.port),
            "GOTRUE_SMTP_ADMIN_EMAIL": "auth@pytrue.test", "GOTRUE_SMTP_MAX_FREQUENCY": "1ms",
            "GOTRUE_API_REQUEST_ID_HEADER": "X-Request-Id", "GOTRUE_LOG_LEVEL": "debug",
            "GOTRUE_LOG_FILE": str(tmp_path / "auth.log"),
        }  # fmt: skip
        api = await make_api(env)
        root = logging.getLogger()
        before = list(root.handlers), root.level
        caplog.set_level(logging.DEBUG)
        smtp_server_log = logging.getLogger("mail.log")  # aiosmtpd, the test's SMTP server, logs what it receives
        smtp_server_log.setLevel(logging.WARNING)
        raw = RawRecords()  # as the code logs them, before the JSON handler's redaction
        root.addHandler(raw)
        configure_logging(api.container.settings())
        try:
            email, password = "scan@example.com", "Scan-Passw0rd-One"
            keep(password, JWT_SECRET, api.service, api.anon.rsplit(".", 1)[1])
            sent = 0

            def mail(to: str = email) -> Any:
                nonlocal sent
                api.settle_mail()
                sent += 1
                message = smtp.wait_for(to, count=sent if to == email else None)
                link, code = extract_link(message), extract_otp(message)
                token_hash = _query(link)["token"]
                keep(token_hash)
                codes.append(code)
                return link, code, token_hash

            # sign-up, confirmed with the emailed code
            assert (await api.signup(email, password)).status_code == 200
            _, code, _ = mail()
            confirmed = await api.client.post("/verify", json={"type": "signup", "email": email, "token": code}, headers=api.headers())
            assert confirmed.status_code == 200, confirmed.text
            keep_session(confirmed.json())

            # password sign-in, a wrong password, refresh, a reused and a bad refresh token
            signed_in = keep_session((await api.password_grant(email, password)).json())
            keep("Wrong-Scan-Passw0rd")
            assert (await api.password_grant(email, "Wrong-Scan-Passw0rd")).status_code == 400
            refreshed = keep_session((await api.refresh(signed_in["refresh_token"])).json())
            assert (await api.refresh(signed_in["refresh_token"])).status_code == 200  # reuse inside the interval
            assert (await api.refresh(signed_in["refresh_token"] + "x")).status_code == 400

            # the password changed with the access token
            new_password = "Scan-Passw0rd-Two"
            keep(new_password)
            changed = await api.client.put("/user", json={"password": new_password}, headers=api.headers(refreshed["access_token"]))
            assert changed.status_code == 200, changed.text

            # an email OTP
            assert (await api.client.post("/otp", json={"email": email}, headers=api.headers())).status_code == 200
            _, code, _ = mail()
            by_otp = await api.client.post("/verify", json={"type": "email", "email": email, "token": code}, headers=api.headers())
            assert by_otp.status_code == 200, by_otp.text
            keep_session(by_otp.json())

            # a magic link, followed: the tokens ride in the redirect's fragment
            assert (await api.client.post("/magiclink", json={"email": email}, headers=api.headers())).status_code == 200
            link, _, _ = mail()
            followed = await _follow(api, link)
            tokens = _query(followed.headers["location"], "fragment")
            keep(tokens["access_token"], tokens["refresh_token"])

            # a PKCE magic link: the code in the redirect, exchanged with the verifier
            keep(VERIFIER)
            pkce = await api.client.post(
                "/magiclink", json={"email": email, "code_challenge": CHALLENGE, "code_challenge_method": "s256"}, headers=api.headers()
            )
            assert pkce.status_code == 200, pkce.text
            link, _, _ = mail()
            auth_code = _query((await _follow(api, link)).headers["location"])["code"]
            keep(auth_code)
            exchanged = await api.client.post(
                "/token?grant_type=pkce", json={"auth_code": auth_code, "code_verifier": VERIFIER}, headers=api.headers()
            )
            assert exchanged.status_code == 200, exchanged.text
            keep_session(exchanged.json())

            # recovery by token hash
            assert (await api.client.post("/recover", json={"email": email}, headers=api.headers())).status_code == 200
            _, _, token_hash = mail()
            recovered = await api.client.post("/verify", json={"type": "recovery", "token_hash": token_hash}, headers=api.headers())
            assert recovered.status_code == 200, recovered.text
            session = keep_session(recovered.json())

            # admin calls: create with a password, change it, generate a link, list, delete
            admin_password, admin_new = "Admin-Made-Passw0rd", "Admin-Changed-Passw0rd"
            keep(admin_password, admin_new)
            created = await api.client.post(
                "/admin/users", json={"email": "made@example.com", "password": admin_password, "email_confirm": True}, headers=api.admin()
            )
            assert created.status_code == 200, created.text
            made = created.json()["id"]
            updated = await api.client.put(f"/admin/users/{made}", json={"password": admin_new}, headers=api.admin())
            assert updated.status_code == 200, updated.text
            generated = await api.client.post(
                "/admin/generate_link", json={"type": "recovery", "email": "made@example.com"}, headers=api.admin()
            )
            assert generated.status_code == 200, generated.text
            keep(generated.json()["hashed_token"])
            codes.append(generated.json()["email_otp"])
            assert (await api.client.get("/admin/users", headers=api.admin())).status_code == 200
            assert (await api.client.delete(f"/admin/users/{made}", headers=api.admin())).status_code == 200

            # refused tokens: a forged signature, a user token on the admin API, garbage
            forged = session["access_token"].rsplit(".", 1)[0] + ".c2lnbmF0dXJlLW9mLW5vYm9keS1hdC1hbGwtMTIzNDU2Nzg5"
            keep(forged)
            assert (await api.client.get("/user", headers=api.headers(forged))).status_code == 403
            assert (await api.client.get("/admin/users", headers=api.headers(session["access_token"]))).status_code == 403
            keep("opaque-garbage-credential-42")
            assert (await api.client.get("/user", headers=api.headers("opaque-garbage-credential-42"))).status_code == 403

            assert (await api.client.post("/logout", headers=api.headers(session["access_token"]))).status_code == 204
            api.settle_mail()
            stored = [row["encrypted_password"] for row in await api.users()]
            keep(*[s for s in stored if s])
        finally:
            for handler in list(root.handlers):
                if handler not in before[0]:
                    root.removeHandler(handler)
                    handler.close()
            root.setLevel(before[1])
            smtp_server_log.setLevel(logging.NOTSET)

    written = (tmp_path / "auth.log").read_text()
    lines = [json.loads(text) for text in written.splitlines()]
    completed = [x for x in lines if x.get("msg") == "request completed"]
    assert len(completed) >= 25 and any(x.get("user_id") for x in completed)  # the flows were logged
    assert any(x.get("msg") == "audit_event" for x in lines)
    assert any("audit_event" in line for line in raw.lines) and len(raw.lines) >= len(completed)
    for name, text in (("records", "\n".join(raw.lines)), ("JSON lines", written)):
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:4]}…) in the {name}"
        for code in codes:
            assert re.search(rf"(?<!\d){code}(?!\d)", text) is None, f"an OTP code in the {name}"
