"""The legacy (Netlify) webhook, GOTRUE_WEBHOOK_*, on either storage, against a local receiver that
checks the x-webhook-signature JWT and the body's SHA-256 as a GoTrue webhook receiver would:
validate, signup and login sent where GoTrue sent them, the answered metadata taken, a refusal,
a timeout or a lost connection leaving nothing written, retries, and the secret kept out of sight."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from support.fake_http import FakeHttpServer, Reply, Seen
from support.http import assert_error

from contract.email_flows import CONFIRM, follow, fragment
from contract.id_token_grant import HASHED_NONCE, RAW_NONCE, google_api, grant, oidc

SECRET = "legacy-webhook-secret-for-the-tests"
NIL = "00000000-0000-0000-0000-000000000000"
PASSWORD = "s3cret-pass"
REFUSED = "Failed to handle signup webhook"


class WebhookReceiver:
    """Answers 401 to a request whose signature is not an HS256 JWT over `secret` with GoTrue's claims
    and the body's hash; otherwise records the event and gives the next reply (the last one repeats)."""

    def __init__(self, *replies: Reply, secret: str = SECRET) -> None:
        self.replies = list(replies) or [Reply(200)]
        self.key = OctKey.import_key(secret.encode())
        self.payloads: list[dict[str, Any]] = []
        self.claims: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.server = FakeHttpServer(self._handle)

    def _handle(self, seen: Seen) -> Reply:
        try:
            token = jwt.decode(seen.headers.get("x-webhook-signature", ""), self.key, algorithms=["HS256"])
        except (JoseError, ValueError):
            self.bad_signatures += 1
            return Reply(401, {"error": "bad signature"})
        claims = token.claims
        if (
            claims.get("iss") != "gotrue"
            or claims.get("sub") != NIL
            or claims.get("sha256") != hashlib.sha256(seen.body).hexdigest()
            or not isinstance(claims.get("iat"), int)
            or seen.headers.get("content-type") != "application/json"
        ):
            self.bad_signatures += 1
            return Reply(400, {"error": "claims do not match the body"})
        self.claims.append(claims)
        self.payloads.append(json.loads(seen.body))
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    @property
    def events(self) -> list[str]:
        return [payload["event"] for payload in self.payloads]

    def env(self, events: str = "validate,signup,login", **extra: str) -> dict[str, str]:
        return {
            "GOTRUE_WEBHOOK_URL": self.server.url + "/webhook",
            "GOTRUE_WEBHOOK_SECRET": SECRET,
            "GOTRUE_WEBHOOK_EVENTS": events,
            **extra,
        }


@contextmanager
def receiver(*replies: Reply, secret: str = SECRET) -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver(*replies, secret=secret)
    with hook.server:
        yield hook


async def signup(api: Any, email: str = "user@example.com", **body: Any) -> Any:
    return await api.client.post("/signup", json={"email": email, "password": PASSWORD, **body}, headers=api.headers())


async def me(api: Any, token: str) -> dict[str, Any]:
    response = await api.client.get("/user", headers=api.headers(token))
    assert response.status_code == 200, response.text
    return response.json()


async def written(api: Any) -> tuple[Any, ...]:
    return await api.counts(), await api.users()


# --- the events and their payloads ---------------------------------------------------------------


async def test_an_autoconfirmed_sign_up_sends_validate_signup_and_login_signed(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api(hook.env())
        response = await signup(api, "new@example.com", data={"lang": "fr"})
        assert response.status_code == 200, response.text
        session = response.json()
        assert hook.events == ["validate", "signup", "login"]
        for payload in hook.payloads:
            assert set(payload) == {"event", "instance_id", "user"} and payload["instance_id"] == NIL
            assert payload["user"]["id"] == session["user"]["id"] and payload["user"]["email"] == "new@example.com"
            assert payload["user"]["user_metadata"]["lang"] == "fr" and "encrypted_password" not in payload["user"]
        validate, signed_up, login = (payload["user"] for payload in hook.payloads)
        assert "email_confirmed_at" not in validate and "email_confirmed_at" not in signed_up  # before confirming
        assert login["email_confirmed_at"]
        assert all(claims["iat"] > 1_700_000_000 for claims in hook.claims)

        assert (await api.password_grant("new@example.com", PASSWORD)).status_code == 200
        assert hook.events[-1] == "login" and hook.payloads[-1]["user"]["id"] == session["user"]["id"]


async def test_a_confirmation_sends_signup_and_a_recovery_of_a_confirmed_address_login(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api({**CONFIRM, **hook.env()})
        assert (await signup(api, "confirm@example.com")).status_code == 200
        assert hook.events == ["validate"]  # no session yet: neither signup nor login
        confirmed = await follow(api, api.mail("confirm@example.com", "confirmation").link)
        assert confirmed.status_code == 303 and fragment(confirmed.headers["location"])["access_token"]
        assert hook.events == ["validate", "signup"]
        assert "email_confirmed_at" not in hook.payloads[-1]["user"]

        await api.client.post("/recover", json={"email": "confirm@example.com"}, headers=api.headers())
        recovered = await api.client.post(
            "/verify", json={"type": "recovery", "token_hash": api.mail("confirm@example.com", "recovery").token_hash},
            headers=api.headers(),
        )
        assert recovered.status_code == 200, recovered.text
        assert hook.events == ["validate", "signup", "login"]


async def test_a_phone_sign_up_sends_the_events_too(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api({"GOTRUE_EXTERNAL_PHONE_ENABLED": "true", "GOTRUE_SMS_AUTOCONFIRM": "true", **hook.env()})
        response = await api.client.post("/signup", json={"phone": "15555550100", "password": PASSWORD}, headers=api.headers())
        assert response.status_code == 200, response.text
        assert hook.events == ["validate", "signup", "login"]
        assert hook.payloads[0]["user"]["phone"] == "15555550100"


async def test_only_the_configured_events_are_sent(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api(hook.env("login"))
        assert (await signup(api)).status_code == 200
        assert hook.events == ["login"]  # the sign-up's session
        assert (await api.password_grant()).status_code == 200
        assert hook.events == ["login", "login"]


async def test_without_a_url_or_events_there_is_no_webhook(make_api: Any) -> None:
    with receiver() as hook:
        for env in ({}, {"GOTRUE_WEBHOOK_URL": hook.server.url}, {"GOTRUE_WEBHOOK_EVENTS": "login"}):
            api = await make_api(env)
            assert api.container.core.legacy_webhook() is None
            assert api.container.use_cases.sign_in_with_password().webhook is None
            assert (await signup(api)).status_code == 200 and (await api.password_grant()).status_code == 200
        assert hook.server.requests == []


async def test_a_path_is_sent_to_the_site_urls_origin(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api({**hook.env("validate"), "GOTRUE_SITE_URL": hook.server.url + "/app", "GOTRUE_WEBHOOK_URL": "/hooks/auth"})
        assert (await signup(api)).status_code == 200
        assert [seen.path for seen in hook.server.requests] == ["/hooks/auth"]


async def test_without_a_secret_requests_are_not_signed(make_api: Any) -> None:
    with FakeHttpServer(lambda seen: Reply(204)) as server:
        api = await make_api({"GOTRUE_WEBHOOK_URL": server.url + "/webhook", "GOTRUE_WEBHOOK_EVENTS": "validate"})
        assert (await signup(api)).status_code == 200
        [seen] = server.requests
        assert "x-webhook-signature" not in seen.headers and json.loads(seen.body)["event"] == "validate"


# --- the answer's metadata --------------------------------------------------------------------


async def test_the_answered_metadata_replaces_the_users(make_api: Any) -> None:
    app_metadata = {"provider": "email", "providers": ["email"], "roles": ["editor"]}
    with receiver(Reply(200, {"user_metadata": {"plan": "pro"}, "app_metadata": app_metadata})) as hook:
        api = await make_api({**hook.env("validate"), **CONFIRM})
        body = (await signup(api, "meta@example.com", data={"lang": "fr"})).json()
        assert body["user_metadata"] == {"plan": "pro"} and body["app_metadata"] == app_metadata
        [stored] = await api.users()
        assert stored["user_metadata"] == {"plan": "pro"}  # replaced, not merged: "lang" is gone
        assert stored["app_metadata"] == app_metadata


async def test_the_login_answer_is_written_with_the_session(make_api: Any) -> None:
    with receiver(Reply(200, {"user_metadata": {"visits": 1}})) as hook:
        api = await make_api(hook.env("login"))
        session = (await signup(api, data={"lang": "fr"})).json()
        assert session["user"]["user_metadata"] == {"visits": 1}
        before = (await me(api, session["access_token"]))["app_metadata"]
        hook.replies = [Reply(200, {"user_metadata": {"visits": 2}, "app_metadata": None})]
        signed_in = (await api.password_grant()).json()
        assert signed_in["user"]["user_metadata"] == {"visits": 2}
        after = await me(api, signed_in["access_token"])
        assert after["user_metadata"] == {"visits": 2} and after["app_metadata"] == before  # null leaves it
        hook.replies = [Reply(200, {})]
        assert (await api.password_grant()).json()["user"]["user_metadata"] == {"visits": 2}


# --- refusals write nothing ---------------------------------------------------------------------


async def test_a_refused_validate_creates_no_user(make_api: Any) -> None:
    with receiver(Reply(403, {"message": "not on the list"})) as hook:
        api = await make_api(hook.env())
        before = await written(api)
        assert_error(await signup(api, "nope@example.com"), 422, "unknown", REFUSED)
        assert await written(api) == before
        assert hook.events == ["validate"] * 3  # GOTRUE_WEBHOOK_RETRIES' default
        assert api.mails() == 0


async def test_a_refused_signup_event_leaves_the_account_unconfirmed(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api({**CONFIRM, **hook.env("signup", GOTRUE_WEBHOOK_RETRIES="1")})
        assert (await signup(api, "wait@example.com")).status_code == 200
        hook.replies = [Reply(500)]
        before = await written(api)
        token_hash = api.mail("wait@example.com", "confirmation").token_hash
        refused = await api.client.post("/verify", json={"type": "signup", "token_hash": token_hash}, headers=api.headers())
        assert_error(refused, 422, "unknown", REFUSED)
        assert await written(api) == before and hook.events == ["signup"]
        hook.replies = [Reply(200)]
        ok = await api.client.post("/verify", json={"type": "signup", "token_hash": token_hash}, headers=api.headers())
        assert ok.status_code == 200 and ok.json()["user"]["email_confirmed_at"]  # the link still works


async def test_a_refused_login_opens_no_session(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api(hook.env("login", GOTRUE_WEBHOOK_RETRIES="2"))
        assert (await signup(api)).status_code == 200
        hook.replies = [Reply(401)]
        before = await written(api)
        assert_error(await api.password_grant(), 422, "unknown", REFUSED)
        assert await written(api) == before and hook.events == ["login"] * 3

        hook.replies = [Reply(403)]
        before = await written(api)
        assert_error(await signup(api, "auto@example.com"), 422, "unknown", REFUSED)
        assert await written(api) == before  # an autoconfirmed sign-up whose session is refused is not written


async def test_a_malformed_answer_writes_nothing(make_api: Any) -> None:
    for body in ("{not json", [1, 2], {"user_metadata": "plan=pro"}, {"app_metadata": [1]}):
        with receiver(Reply(200, body, headers={"Content-Type": "application/json"})) as hook:
            api = await make_api(hook.env("validate"))
            before = await written(api)
            assert_error(await signup(api), 500, "unexpected_failure", "Webhook returned malformed JSON")
            assert await written(api) == before and hook.events == ["validate"]  # not retried


# --- retries, timeouts, lost connections ------------------------------------------------------------


async def test_a_dropped_connection_is_tried_again(make_api: Any) -> None:
    with receiver(Reply(drop=True), Reply(200, {"user_metadata": {"second": True}})) as hook:
        api = await make_api(hook.env("validate"))
        response = await signup(api)
        assert response.status_code == 200, response.text
        assert hook.events == ["validate", "validate"], hook.events
        assert response.json()["user"]["user_metadata"]["second"] is True  # confirming adds email_verified

        hook.replies = [Reply(drop=True)]
        before = await written(api)
        assert_error(await signup(api, "other@example.com"), 500, "unexpected_failure", "Failed to trigger the webhook")
        assert await written(api) == before and len(hook.payloads) == 2 + 3


async def test_an_unreachable_receiver_is_a_502_and_writes_nothing(make_api: Any) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # nothing listens once the socket is closed
    api = await make_api({"GOTRUE_WEBHOOK_URL": f"http://127.0.0.1:{port}/webhook", "GOTRUE_WEBHOOK_EVENTS": "validate"})
    before = await written(api)
    assert_error(await signup(api), 502, "unknown", "Failed to connect to the webhook")
    assert await written(api) == before


async def test_a_slow_receiver_times_out_after_its_retries(make_api: Any) -> None:
    with receiver(Reply(200, {"user_metadata": {"late": True}}, delay=2.0)) as hook:
        api = await make_api(hook.env("validate", GOTRUE_WEBHOOK_TIMEOUT_SEC="1", GOTRUE_WEBHOOK_RETRIES="2"))
        before = await written(api)
        assert_error(await signup(api), 504, "unknown", "Failed to perform webhook in time frame (1 seconds)")
        assert await written(api) == before and hook.events == ["validate", "validate"]


# --- the secret ---------------------------------------------------------------------------------


async def test_a_wrong_secret_is_refused_by_the_receiver_and_never_shown(make_api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with receiver(secret="the-receivers-own-secret-0123456789") as hook:
        api = await make_api(hook.env("validate"))
        before = await written(api)
        response = await signup(api)
        assert_error(response, 422, "unknown", REFUSED)
        assert hook.bad_signatures == 3 and hook.payloads == [] and await written(api) == before
        signatures = {seen.headers["x-webhook-signature"] for seen in hook.server.requests}
        for shown in (response.text, caplog.text):
            assert SECRET not in shown and not any(signature in shown for signature in signatures)


async def test_the_secret_is_in_no_error_and_no_log(make_api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url_secret = "url-password-0123456789"
    with receiver(Reply(drop=True), Reply(500), Reply(200, "{broken")) as hook:
        url = hook.server.url.replace("http://", f"http://ops:{url_secret}@") + "/webhook"
        api = await make_api({**hook.env("validate,login", GOTRUE_WEBHOOK_RETRIES="2"), "GOTRUE_WEBHOOK_URL": url})
        bodies = [(await signup(api)).text, (await signup(api)).text]
        assert (await api.password_grant()).status_code == 400  # no such user: no login event
        assert len(hook.server.requests) == 3
        for shown in (*bodies, caplog.text):
            assert SECRET not in shown and url_secret not in shown


# --- the other ways an account is made or signed in to -------------------------------------------


async def test_invites_and_generated_sign_up_links_send_validate(make_api: Any) -> None:
    with receiver(Reply(200, {"user_metadata": {"team": "blue"}})) as hook:
        api = await make_api(hook.env())
        invited = await api.client.post("/invite", json={"email": "guest@example.com"}, headers=api.admin())
        assert invited.status_code == 200, invited.text
        assert invited.json()["user_metadata"] == {"team": "blue"} and hook.events == ["validate"]
        link = await api.client.post(
            "/admin/generate_link", json={"type": "signup", "email": "linked@example.com", "password": PASSWORD}, headers=api.admin()
        )
        assert link.status_code == 200, link.text
        assert hook.events == ["validate", "validate"] and hook.payloads[-1]["user"]["email"] == "linked@example.com"

        hook.replies = [Reply(403)]
        before, mails = await written(api), api.mails()
        refused = await api.client.post("/invite", json={"email": "no@example.com"}, headers=api.admin())
        assert_error(refused, 422, "unknown", REFUSED)
        generated = await api.client.post(
            "/admin/generate_link", json={"type": "magiclink", "email": "no@example.com"}, headers=api.admin()
        )
        assert_error(generated, 422, "unknown", REFUSED)
        assert await written(api) == before and api.mails() == mails


async def test_an_id_token_sign_up_sends_validate_and_signup_then_login(make_api: Any) -> None:
    with receiver() as hook, oidc() as fake:
        api = await google_api(make_api, fake, **hook.env())
        first = await grant(api, fake.sign(fake.claims(nonce=HASHED_NONCE)), nonce=RAW_NONCE)
        assert first.status_code == 200, first.text
        assert hook.events == ["validate", "signup"]
        assert hook.payloads[0]["user"]["email"] == "ann@example.com"
        again = await grant(api, fake.sign(fake.claims()))
        assert again.status_code == 200 and hook.events == ["validate", "signup", "login"]

        hook.replies = [Reply(403)]
        before = await written(api)
        assert_error(await grant(api, fake.sign(fake.claims())), 422, "unknown", REFUSED)
        assert await written(api) == before  # no session for a refused login


async def test_a_code_for_a_new_address_sends_validate_and_a_refusal_sends_no_mail(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api({**CONFIRM, **hook.env()})
        assert (await api.client.post("/otp", json={"email": "otp@example.com"}, headers=api.headers())).status_code == 200
        assert hook.events == ["validate"] and hook.payloads[0]["user"]["email"] == "otp@example.com"
        hook.replies = [Reply(403)]
        before, mails = await written(api), api.mails()
        refused = await api.client.post("/otp", json={"email": "otp2@example.com"}, headers=api.headers())
        assert_error(refused, 422, "unknown", REFUSED)
        assert await written(api) == before and api.mails() == mails
