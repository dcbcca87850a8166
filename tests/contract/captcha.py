"""CAPTCHA on the routes GoTrue protects (api.md §0.6), on either storage, against a local server that
speaks hCaptcha's and Turnstile's siteverify protocol: missing and refused tokens are
`captcha_failed` with nothing written, a provider outage is a 500 (never a pass), admins and the
grant types GoTrue exempts go through."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from support.fake_http import FakeHttpServer, Reply, Seen

from pytrue.entrypoints.settings.loader import SettingsError

SECRET = "0x0000000000000000000000000000000000000000"
GOOD = "10000000-aaaa-bbbb-cccc-000000000001"
IP = "203.0.113.9"


class Siteverify:
    """`POST /siteverify` (form: secret, response, remoteip): success only for the GOOD token."""

    def __init__(self) -> None:
        self.server = FakeHttpServer(self.handle)
        self.answer: Reply | None = None

    def handle(self, seen: Seen) -> Reply:
        if self.answer is not None:
            return self.answer
        form = seen.form
        if form.get("secret") != SECRET:
            return Reply(200, {"success": False, "error-codes": ["invalid-input-secret"]})
        if form.get("response") != GOOD:
            return Reply(200, {"success": False, "error-codes": ["invalid-input-response"]})
        return Reply(200, {"success": True, "hostname": "app.example.com"})

    @property
    def seen(self) -> list[Seen]:
        return self.server.requests


@contextmanager
def siteverify() -> Iterator[Siteverify]:
    fake = Siteverify()
    with fake.server:
        yield fake


def _env(fake: Siteverify, provider: str = "hcaptcha", **extra: str) -> dict[str, str]:
    return {
        "GOTRUE_SECURITY_CAPTCHA_ENABLED": "true", "GOTRUE_SECURITY_CAPTCHA_PROVIDER": provider,
        "GOTRUE_SECURITY_CAPTCHA_SECRET": SECRET, "PYTRUE_SECURITY_CAPTCHA_VERIFY_URL": fake.server.url + "/siteverify", **extra,
    }  # fmt: skip


def _security(token: str | None) -> dict[str, Any]:
    return {} if token is None else {"gotrue_meta_security": {"captcha_token": token}}


async def _signup(api: Any, token: str | None, email: str = "user@example.com", **headers: str) -> Any:
    return await api.client.post(
        "/signup", json={"email": email, "password": "s3cret-pass", **_security(token)},
        headers={**api.headers(), "X-Forwarded-For": IP, **headers},
    )  # fmt: skip


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users()


@pytest.mark.parametrize("provider", ["hcaptcha", "turnstile"])
async def test_a_sign_up_needs_a_token_the_provider_accepts(make_api: Any, provider: str) -> None:
    with siteverify() as fake:
        api = await make_api(_env(fake, provider))
        before = await _snapshot(api)
        missing = await _signup(api, None)
        assert missing.status_code == 400 and missing.json()["error_code"] == "captcha_failed"
        assert missing.json()["msg"] == "captcha protection: request disallowed (no captcha_token found)"
        blank = await _signup(api, "   ")
        assert blank.json()["error_code"] == "captcha_failed" and fake.seen == []
        refused = await _signup(api, "forged-token")
        assert refused.status_code == 400
        assert refused.json()["msg"] == "captcha protection: request disallowed (invalid-input-response)"
        assert await _snapshot(api) == before

        ok = await _signup(api, GOOD)
        assert ok.status_code == 200, ok.text
        assert fake.seen[-1].form == {"secret": SECRET, "response": GOOD, "remoteip": IP}


async def test_a_provider_outage_is_an_error_never_a_pass(make_api: Any) -> None:
    with siteverify() as fake:
        api = await make_api(_env(fake))
        before = await _snapshot(api)
        for answer in (Reply(500, b"<html>oops</html>", headers={"Content-Type": "text/html"}), Reply(200, b"[1, 2]")):
            fake.answer = answer
            response = await _signup(api, GOOD)
            assert response.status_code == 500 and response.json()["error_code"] == "unexpected_failure", response.text
            assert response.json()["msg"] == "captcha verification process failed"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        down = await make_api(_env(fake, PYTRUE_SECURITY_CAPTCHA_VERIFY_URL=f"http://127.0.0.1:{closed}/siteverify"))
        response = await _signup(down, GOOD)
        assert response.status_code == 500 and SECRET not in response.text
        assert await _snapshot(api) == before


async def test_the_code_and_link_routes_and_the_password_grant_are_guarded(make_api: Any) -> None:
    with siteverify() as fake:
        api = await make_api(_env(fake))
        assert (await _signup(api, GOOD)).status_code == 200
        routes = [
            ("/otp", {"email": "user@example.com"}),
            ("/magiclink", {"email": "user@example.com"}),
            ("/recover", {"email": "user@example.com"}),
            ("/resend", {"type": "signup", "email": "user@example.com"}),
            ("/token?grant_type=password", {"email": "user@example.com", "password": "s3cret-pass"}),
        ]
        before = await _snapshot(api)
        for path, body in routes:
            refused = await api.client.post(path, json=body, headers=api.headers())
            assert refused.status_code == 400 and refused.json()["error_code"] == "captcha_failed", (path, refused.text)
        assert await _snapshot(api) == before
        signed_in = await api.client.post(
            "/token?grant_type=password", json={"email": "user@example.com", "password": "s3cret-pass", **_security(GOOD)},
            headers=api.headers(),
        )  # fmt: skip
        assert signed_in.status_code == 200, signed_in.text
        # GoTrue lets refresh, pkce and id_token grants through without a token
        refreshed = await api.refresh(signed_in.json()["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text


async def test_admins_and_malformed_bodies(make_api: Any) -> None:
    with siteverify() as fake:
        api = await make_api(_env(fake))
        as_admin = await api.client.post(
            "/signup", json={"email": "staff@example.com", "password": "s3cret-pass"}, headers=api.admin()
        )
        assert as_admin.status_code == 200, as_admin.text
        assert fake.seen == []
        malformed = await api.client.post("/signup", content=b"{nope", headers={**api.headers(), "Content-Type": "application/json"})
        assert malformed.status_code == 400 and malformed.json()["error_code"] == "bad_json"
        wrong_type = await api.client.post("/signup", json={"gotrue_meta_security": "token"}, headers=api.headers())
        assert wrong_type.status_code == 400 and wrong_type.json()["error_code"] == "bad_json"


async def test_captcha_off_needs_nothing(make_api: Any) -> None:
    api = await make_api()
    assert (await _signup(api, None)).status_code == 200


def test_an_enabled_captcha_needs_a_known_provider_and_a_secret() -> None:
    from support.app import make_settings

    with pytest.raises(SettingsError, match="GOTRUE_SECURITY_CAPTCHA_SECRET"):
        make_settings({"GOTRUE_SECURITY_CAPTCHA_ENABLED": "true"})
    with pytest.raises(SettingsError, match="GOTRUE_SECURITY_CAPTCHA_PROVIDER"):
        make_settings({"GOTRUE_SECURITY_CAPTCHA_ENABLED": "true", "GOTRUE_SECURITY_CAPTCHA_PROVIDER": "recaptcha",
                       "GOTRUE_SECURITY_CAPTCHA_SECRET": SECRET})  # fmt: skip
