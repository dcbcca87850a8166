"""End-to-end fixtures: pytrue runs as a real `pytrue serve` process on a free port.

Every test collected under `tests/e2e/` is marked `e2e` (see `pytest_collection_modifyitems`),
so `pytest -m "not e2e"` deselects them all.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import shutil
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

E2E_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(E2E_DIR))
sys.path.insert(0, str(E2E_DIR.parent))

from e2e_support import Server, free_port, start_server, stop_server  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", params=["memory", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running `pytrue serve` (autoconfirm) on each storage, shared by the session's tests."""
    workdir = tmp_path_factory.mktemp(f"pytrue-server-{request.param}")
    if request.param == "memory":
        process, running = start_server(workdir)
        try:
            yield running
        finally:
            stop_server(process)
        return
    from pytrue.adapters.postgres.cluster import LocalCluster

    cluster = LocalCluster(workdir / "pg", persistent=False)
    cluster.start()
    try:
        dsn = cluster.provision()
        process, running = start_server(workdir, {"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": dsn})
        try:
            yield running
        finally:
            stop_server(process)
    finally:
        cluster.stop()


@dataclass(frozen=True)
class MailServer:
    """A `pytrue serve` that confirms by email, delivering to a real SMTP server (aiosmtpd)."""

    server: Server
    smtp: Any


@pytest.fixture(scope="session", params=["memory", "postgres"])
def mail_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    from support.smtp import SmtpServer

    workdir = tmp_path_factory.mktemp(f"pytrue-mail-{request.param}")
    with SmtpServer() as smtp, contextlib.ExitStack() as stack:
        env = {
            "GOTRUE_MAILER_AUTOCONFIRM": "false",
            "GOTRUE_SMTP_HOST": "127.0.0.1",
            "GOTRUE_SMTP_PORT": str(smtp.port),
            "GOTRUE_SMTP_ADMIN_EMAIL": "auth@pytrue.test",
            "GOTRUE_SMTP_SENDER_NAME": "pytrue",
            "GOTRUE_SMTP_MAX_FREQUENCY": "1ms",
            "GOTRUE_URI_ALLOW_LIST": "http://localhost:3000/**",
        }
        if request.param == "postgres":
            from pytrue.adapters.postgres.cluster import LocalCluster

            cluster = LocalCluster(workdir / "pg", persistent=False)
            cluster.start()
            stack.callback(cluster.stop)
            env.update({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": cluster.provision()})
        process, running = start_server(workdir, env)
        stack.callback(stop_server, process)
        yield MailServer(server=running, smtp=smtp)


@dataclass(frozen=True)
class SmsServer:
    """A `pytrue serve` that confirms phones by SMS through Twilio's API, spoken by a local stand-in."""

    server: Server
    twilio: Any

    def texts_to(self, phone: str) -> list[str]:
        """The bodies of the messages sent to `phone` (E.164 digits, with or without `+`), oldest first."""
        to = "+" + phone.removeprefix("+")
        return [seen.form.get("Body", "") for seen in list(self.twilio.server.requests) if seen.form.get("To") == to]


@pytest.fixture(scope="session", params=["memory", "postgres"])
def sms_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmsServer]:
    from support.sms_providers import TwilioApi

    workdir = tmp_path_factory.mktemp(f"pytrue-sms-{request.param}")
    with TwilioApi() as twilio, contextlib.ExitStack() as stack:
        env = {
            "GOTRUE_EXTERNAL_PHONE_ENABLED": "true",
            "GOTRUE_SMS_AUTOCONFIRM": "false",
            "GOTRUE_SMS_PROVIDER": "twilio",
            "GOTRUE_SMS_TWILIO_ACCOUNT_SID": twilio.account_sid,
            "GOTRUE_SMS_TWILIO_AUTH_TOKEN": twilio.auth_token,
            "GOTRUE_SMS_TWILIO_MESSAGE_SERVICE_SID": "+15550001111",
            "PYTRUE_SMS_TWILIO_API_URL": twilio.url,
            "GOTRUE_SMS_MAX_FREQUENCY": "1ms",
            "GOTRUE_RATE_LIMIT_SMS_SENT": "100000",
            "GOTRUE_MFA_PHONE_ENROLL_ENABLED": "true",
            "GOTRUE_MFA_PHONE_VERIFY_ENABLED": "true",
        }
        if request.param == "postgres":
            from pytrue.adapters.postgres.cluster import LocalCluster

            cluster = LocalCluster(workdir / "pg", persistent=False)
            cluster.start()
            stack.callback(cluster.stop)
            env.update({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": cluster.provision()})
        process, running = start_server(workdir, env)
        stack.callback(stop_server, process)
        yield SmsServer(server=running, twilio=twilio)


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


@dataclass(frozen=True)
class OAuthServer:
    """A `pytrue serve` with two external providers played by local stand-ins on real sockets:
    `github` (OAuth 2.0, GitHub's API paths) and `keycloak` (an OIDC realm: discovery, JWKS,
    signed id_tokens, also accepted by the id_token grant). A test adds a persona to a provider
    (`personas[name] = {...}`) and signs in as it with `login_hint=<name>` in the query
    parameters the client forwards; manual linking is on."""

    server: Server
    github: Any
    keycloak: Any
    realm: str

    @staticmethod
    def github_persona(user_id: int, login: str, email: str, *, verified: bool = True) -> dict[str, Any]:
        return {
            "user": {"id": user_id, "login": login, "name": login.title(), "avatar_url": f"https://avatars.example/{user_id}", "email": None},
            "emails": [{"email": email, "primary": True, "verified": verified}],
        }


@pytest.fixture(scope="session", params=["memory", "postgres"])
def oauth_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OAuthServer]:
    from support.fake_http import Reply
    from support.oauth_providers import FakeProvider

    workdir = tmp_path_factory.mktemp(f"pytrue-oauth-{request.param}")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/callback"
    realm = "/realms/e2e"
    github = FakeProvider(
        redirect_uri=callback, token_path="/login/oauth/access_token", authorize_paths=("/login/oauth/authorize",),
        routes={
            "/api/v3/user": lambda seen: Reply(200, github.persona(seen)["user"]),
            "/api/v3/user/emails": lambda seen: Reply(200, github.persona(seen)["emails"]),
        },
    )
    keycloak = FakeProvider(
        redirect_uri=callback, with_id_token=True, issuer_path=realm, token_path=realm + "/protocol/openid-connect/token",
        authorize_paths=(realm + "/protocol/openid-connect/auth",),
        routes={realm + "/protocol/openid-connect/userinfo": lambda seen: Reply(200, keycloak.persona(seen)["claims"])},
    )
    with github, keycloak, contextlib.ExitStack() as stack:
        env = {
            "GOTRUE_URI_ALLOW_LIST": "http://localhost:3000/**,com.example.app://**",
            "GOTRUE_SECURITY_MANUAL_LINKING_ENABLED": "true",
            "GOTRUE_EXTERNAL_GITHUB_ENABLED": "true",
            "GOTRUE_EXTERNAL_GITHUB_CLIENT_ID": github.client_id,
            "GOTRUE_EXTERNAL_GITHUB_SECRET": github.secret,
            "GOTRUE_EXTERNAL_GITHUB_REDIRECT_URI": callback,
            "GOTRUE_EXTERNAL_GITHUB_URL": github.url,
            "GOTRUE_EXTERNAL_KEYCLOAK_ENABLED": "true",
            "GOTRUE_EXTERNAL_KEYCLOAK_CLIENT_ID": keycloak.client_id,
            "GOTRUE_EXTERNAL_KEYCLOAK_SECRET": keycloak.secret,
            "GOTRUE_EXTERNAL_KEYCLOAK_REDIRECT_URI": callback,
            "GOTRUE_EXTERNAL_KEYCLOAK_URL": keycloak.issuer,
        }
        if request.param == "postgres":
            from pytrue.adapters.postgres.cluster import LocalCluster

            cluster = LocalCluster(workdir / "pg", persistent=False)
            cluster.start()
            stack.callback(cluster.stop)
            env.update({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": cluster.provision()})
        process, running = start_server(workdir, env, port=port)
        stack.callback(stop_server, process)
        yield OAuthServer(server=running, github=github, keycloak=keycloak, realm=realm)


@pytest.fixture
def unique_phone() -> str:
    """A fresh (fictional, +1 555) number per test, as GoTrue stores it: digits without `+`."""
    return "1555" + str(uuid.uuid4().int)[:7]


@pytest.fixture
def unique_email() -> str:
    """A fresh address per test, so tests sharing one server never collide."""
    return f"e2e-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture(scope="session")
def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; the auth-js end-to-end tests need Node.js", pytrace=False)
    return node


JS_DIR = E2E_DIR / "js"
NPM_CI_TIMEOUT = 180


@pytest.fixture(scope="session")
def auth_js_installed() -> Path:
    """`js/node_modules`, installed from the committed lockfile with `npm ci` when absent."""
    package = JS_DIR / "node_modules" / "@supabase" / "auth-js" / "package.json"
    if not package.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not on PATH and tests/e2e/js/node_modules is missing", pytrace=False)
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci failed ({result.returncode}):\n{result.stdout}\n{result.stderr}", pytrace=False)
    pinned = json.loads((JS_DIR / "package.json").read_text())["dependencies"]["@supabase/auth-js"]
    installed = json.loads(package.read_text())["version"]
    assert installed == pinned, f"node_modules has auth-js {installed}, package.json pins {pinned}: run npm ci"
    return JS_DIR / "node_modules"
