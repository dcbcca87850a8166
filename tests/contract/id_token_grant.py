"""`POST /token?grant_type=id_token` on either storage (api.md §4.4): a provider's id_token, verified
against its JWKS served by a local OIDC stand-in, signs the person in (or links them to the caller);
every refusal is GoTrue's OAuth-shaped or error-code answer and writes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from joserfc.jwk import RSAKey
from support.fake_http import Reply
from support.oauth_providers import FakeProvider

RAW_NONCE = "a-raw-nonce"
HASHED_NONCE = hashlib.sha256(RAW_NONCE.encode()).hexdigest()
PERSON = {"email": "Ann@Example.com", "email_verified": True, "name": "Ann Lee", "picture": "https://img.example/ann.png"}


@contextmanager
def oidc() -> Iterator[FakeProvider]:
    fake = FakeProvider(client_id="web-client", id_token_claims=dict(PERSON))
    with fake:
        yield fake


def _env(name: str, fake: FakeProvider, **extra: str) -> dict[str, str]:
    prefix = f"GOTRUE_EXTERNAL_{name.upper()}_"
    return {prefix + "ENABLED": "true", prefix + "CLIENT_ID": f"{fake.client_id},ios-client", **extra}


async def google_api(make_api: Any, fake: FakeProvider, **extra: str) -> Any:
    api = await make_api(_env("google", fake, **extra))
    api.container.core.oauth_overrides()["google"] = {"issuer": fake.issuer}
    return api


async def grant(api: Any, token: str | None = None, *, headers: dict[str, str] | None = None, **body: Any) -> Any:
    payload = {"provider": "google", **body}
    if token is not None:
        payload["id_token"] = token
    return await api.client.post("/token?grant_type=id_token", json=payload, headers=headers or api.headers())


def _alg_none(fake: FakeProvider) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(fake.claims(nonce=HASHED_NONCE))}."


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users()


# --- success ------------------------------------------------------------------------------------
async def test_a_google_id_token_signs_the_person_up_then_in(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake)
        response = await grant(api, fake.sign(fake.claims(nonce=HASHED_NONCE)), nonce=RAW_NONCE)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer" and body["access_token"] and body["refresh_token"]
        user = body["user"]
        assert user["email"] == "ann@example.com" and user["email_confirmed_at"]
        assert user["app_metadata"] == {"provider": "google", "providers": ["google"]}
        assert user["user_metadata"]["full_name"] == "Ann Lee" and user["user_metadata"]["sub"] == "oidc-sub-1"
        assert [(i["provider"], i["id"] != "") for i in user["identities"]] == [("google", True)]
        me = await api.client.get("/user", headers=api.headers(body["access_token"]))
        assert me.status_code == 200 and me.json()["id"] == user["id"]
        assert "user_signedup" in await api.audit_actions()

        # the same subject again is the same account; a token without a nonce needs none in the request
        again = await grant(api, fake.sign(fake.claims()))
        assert again.status_code == 200, again.text
        assert again.json()["user"]["id"] == user["id"]
        counts = await api.counts()
        assert counts["users"] == 1 and counts["identities"] == 1 and counts["sessions"] == 2


async def test_a_form_encoded_request_and_any_configured_client_id_are_accepted(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake)
        response = await api.client.post(
            "/token",
            data={"grant_type": "id_token", "provider": "google", "id_token": fake.sign(fake.claims(aud=["ios-client"]))},
            headers=api.headers(),
        )
        assert response.status_code == 200, response.text


async def test_a_verified_email_links_to_the_existing_email_account(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="true")
        assert (await api.signup("ann@example.com")).status_code == 200
        response = await grant(api, fake.sign(fake.claims()))
        assert response.status_code == 200, response.text
        assert response.json()["user"]["app_metadata"]["providers"] == ["email", "google"]
        assert (await api.counts())["users"] == 1
        assert "identity_linked" in await api.audit_actions()


async def test_the_deprecated_issuer_form_works_for_an_allowed_issuer_only(make_api: Any) -> None:
    with oidc() as fake:
        api = await make_api({"GOTRUE_EXTERNAL_ALLOWED_ID_TOKEN_ISSUERS": fake.issuer})
        token = fake.sign(fake.claims())
        ok = await grant(api, token, provider="", issuer=fake.issuer, client_id=fake.client_id)
        assert ok.status_code == 200, ok.text
        assert ok.json()["user"]["app_metadata"]["provider"] == fake.issuer

        other = await make_api()
        before = await _snapshot(other)
        refused = await grant(other, token, provider="", issuer=fake.issuer, client_id=fake.client_id)
        assert refused.status_code == 400
        assert refused.json()["error_code"] == "validation_failed"
        assert refused.json()["msg"] == 'Custom OIDC provider "" not allowed'
        assert await _snapshot(other) == before


async def test_apple_id_tokens_accept_the_ios_bundle_id_and_check_the_issuer(make_api: Any) -> None:
    with oidc() as fake:
        api = await make_api(_env("apple", fake, GOTRUE_EXTERNAL_IOS_BUNDLE_ID="com.example.app"))
        api.container.core.oauth_overrides()["apple"] = {"issuer": fake.issuer}
        ok = await grant(api, fake.sign(fake.claims(aud="com.example.app")), provider="apple")
        assert ok.status_code == 200, ok.text
        assert ok.json()["user"]["app_metadata"]["provider"] == "apple"

        before = await _snapshot(api)
        cases: list[tuple[str, dict[str, str], str]] = [
            ("not-a-jwt", {}, "Unable to detect issuer in ID token for Apple provider"),
            (fake.sign(fake.claims(iss="https://evil.example")), {}, "Detected ID token issuer is not an Apple ID token issuer"),
            (fake.sign(fake.claims()), {"issuer": "https://appleid.apple.com"}, "Provided issuer does not match ID token issuer"),
        ]
        for token, extra, message in cases:
            response = await grant(api, token, provider="apple", **extra)
            assert response.status_code == 400, response.text
            assert response.json()["error_code"] == "validation_failed" and response.json()["msg"] == message
        assert await _snapshot(api) == before


# --- refusals -----------------------------------------------------------------------------------
def _oauth_cases(fake: FakeProvider) -> list[tuple[str, Callable[[], dict[str, Any]], str, str]]:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"}, private=True)
    impostor = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
    good = {"nonce": HASHED_NONCE}
    return [
        ("no id_token", lambda: {"id_token": ""}, "invalid request", "id_token required"),
        ("no provider", lambda: {"provider": "", "id_token": "x"}, "invalid request", "provider or client_id and issuer required"),
        ("alg none", lambda: {"id_token": _alg_none(fake), "nonce": RAW_NONCE}, "invalid request", "Bad ID token"),
        ("garbage", lambda: {"id_token": "a.b.c"}, "invalid request", "Bad ID token"),
        ("wrong audience", lambda: {"id_token": fake.sign(fake.claims(aud="someone-else", **good)), "nonce": RAW_NONCE},
         "invalid request", "Unacceptable audience in id_token: [someone-else]"),
        ("wrong issuer", lambda: {"id_token": fake.sign(fake.claims(iss="https://evil.example", **good)), "nonce": RAW_NONCE},
         "invalid request", "Bad ID token"),
        ("expired", lambda: {"id_token": fake.sign(fake.claims(exp=int(time.time()) - 30, **good)), "nonce": RAW_NONCE},
         "invalid request", "Bad ID token"),
        ("nonce missing from the request", lambda: {"id_token": fake.sign(fake.claims(**good))},
         "invalid request", "Passed nonce and nonce in id_token should either both exist or not."),
        ("nonce missing from the token", lambda: {"id_token": fake.sign(fake.claims()), "nonce": RAW_NONCE},
         "invalid request", "Passed nonce and nonce in id_token should either both exist or not."),
        ("wrong nonce", lambda: {"id_token": fake.sign(fake.claims(**good)), "nonce": "another"}, "invalid nonce", "Nonces mismatch"),
        ("key not in the JWKS", lambda: {"id_token": fake.sign(fake.claims(**good), key=stranger), "nonce": RAW_NONCE},
         "invalid request", "Bad ID token"),
        ("forged with a known kid", lambda: {"id_token": fake.sign(fake.claims(**good), key=impostor), "nonce": RAW_NONCE},
         "invalid request", "Bad ID token"),
        ("no subject", lambda: {"id_token": fake.sign(fake.claims(sub=None, **good)), "nonce": RAW_NONCE},
         "invalid request", "Missing sub claim in id_token"),
        ("link without a bearer", lambda: {"id_token": fake.sign(fake.claims()), "link_identity": True},
         "invalid request", "Linking requires a valid user access token in Authorization"),
    ]


async def test_bad_id_tokens_get_oauth_errors_and_write_nothing(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake)
        before = await _snapshot(api)
        for label, body, error, description in _oauth_cases(fake):
            headers = {"apikey": api.anon} if label == "link without a bearer" else None
            response = await grant(api, headers=headers, **body())
            assert response.status_code == 400, (label, response.text)
            assert response.json() == {"error": error, "error_description": description}, label
        assert await _snapshot(api) == before


async def test_wrong_types_and_malformed_json_are_validation_failures(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake)
        before = await _snapshot(api)
        for raw in (b'{"id_token": 5, "provider": "google"}', b'{"id_token": "x", "link_identity": "yes"}', b"{nope"):
            response = await api.client.post(
                "/token?grant_type=id_token", content=raw, headers={**api.headers(), "Content-Type": "application/json"}
            )
            assert response.status_code == 400, response.text
            assert response.json()["error_code"] in ("bad_json", "validation_failed")
        assert await _snapshot(api) == before


async def test_providers_that_are_unknown_disabled_or_custom_are_refused(make_api: Any) -> None:
    with oidc() as fake:
        api = await make_api()
        token = fake.sign(fake.claims())
        before = await _snapshot(api)
        disabled = await grant(api, token, provider="google")
        assert disabled.status_code == 400
        assert disabled.json()["error_code"] == "provider_disabled"
        assert disabled.json()["msg"] == 'Provider (issuer "https://accounts.google.com") is not enabled'
        unknown = await grant(api, token, provider="myspace")
        assert unknown.status_code == 400 and unknown.json()["msg"] == 'Custom OIDC provider "myspace" not allowed'
        custom = await grant(api, token, provider="custom:acme")
        assert custom.status_code == 400 and custom.json()["msg"] == "Custom OAuth providers are disabled"
        github = await grant(api, token, provider="github")  # no id_token sign-in
        assert github.status_code == 400 and github.json()["error_code"] == "validation_failed"
        assert await _snapshot(api) == before


async def test_a_jwks_that_cannot_be_fetched_is_a_500_without_internals(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake)
        fake.faults["/jwks"] = Reply(503, {"error": "down"})
        before = await _snapshot(api)
        response = await grant(api, fake.sign(fake.claims()))
        assert response.status_code == 500
        body = response.json()
        assert body["error_code"] == "unexpected_failure" and fake.url not in json.dumps(body)
        assert await _snapshot(api) == before


async def test_a_banned_user_is_refused_without_a_session(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake)
        first = await grant(api, fake.sign(fake.claims()))
        user_id = first.json()["user"]["id"]
        banned = await api.client.put(f"/admin/users/{user_id}", json={"ban_duration": "24h"}, headers=api.admin())
        assert banned.status_code == 200, banned.text
        before = await api.counts()
        response = await grant(api, fake.sign(fake.claims()))
        assert response.status_code == 403
        assert response.json()["error_code"] == "user_banned"
        assert await api.counts() == before


async def test_signups_disabled_refuses_a_new_person(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake, GOTRUE_DISABLE_SIGNUP="true")
        before = await _snapshot(api)
        response = await grant(api, fake.sign(fake.claims()))
        assert response.status_code == 422 and response.json()["error_code"] == "signup_disabled"
        assert await _snapshot(api) == before


# --- link_identity ------------------------------------------------------------------------------
async def test_link_identity_adds_the_identity_to_the_signed_in_user(make_api: Any) -> None:
    with oidc() as fake:
        api = await google_api(make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="true")
        session = (await api.signup("someone@example.com")).json()
        bearer = api.headers(session["access_token"])
        response = await grant(api, fake.sign(fake.claims()), link_identity=True, headers=bearer)
        assert response.status_code == 200, response.text
        user = response.json()["user"]
        assert user["id"] == session["user"]["id"] and user["email"] == "someone@example.com"
        assert sorted(i["provider"] for i in user["identities"]) == ["email", "google"]
        assert user["app_metadata"]["providers"] == ["email", "google"]
        assert "identity_linked" in await api.audit_actions()

        before = await _snapshot(api)
        again = await grant(api, fake.sign(fake.claims()), link_identity=True, headers=bearer)
        assert again.status_code == 422
        assert again.json()["error_code"] == "identity_already_exists" and again.json()["msg"] == "Identity is already linked"

        other = (await api.signup("other@example.com")).json()
        taken = await grant(api, fake.sign(fake.claims()), link_identity=True, headers=api.headers(other["access_token"]))
        assert taken.status_code == 422 and taken.json()["msg"] == "Identity is already linked to another user"
        after = await api.counts()
        assert after["identities"] == before[0]["identities"] + 1  # other's email identity only
        assert after["sessions"] == before[0]["sessions"] + 1  # other's sign-up session only

        forged = await grant(api, fake.sign(fake.claims()), link_identity=True, headers=api.headers("not-a-jwt"))
        assert forged.status_code in (401, 403) and forged.json()["error_code"] in ("bad_jwt", "no_authorization")
