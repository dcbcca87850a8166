"""MFA with WebAuthn factors on either storage (api.md §17, GoTrue's `enrollWebAuthnFactor`,
`challengeWebAuthnFactor`, `verifyWebAuthnFactor`): enrol, a registration ceremony, then
authentication ceremonies, each stepping the session up to aal2; GoTrue's refusals, each leaving
the database as it was. Attestations and assertions come from a software authenticator
(`support.webauthn_authenticator`): real P-256 signatures over real authenticator data."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from support.webauthn_authenticator import SOFT_AAGUID, SoftAuthenticator, b64url, unb64url

from pytrue.adapters.system import FixedClock

IP = {"X-Forwarded-For": "203.0.113.7"}
ORIGIN = "https://app.example.com"
RP = {
    "GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED": "true",
    "GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED": "true",
    "GOTRUE_WEBAUTHN_RP_ID": "example.com",
    "GOTRUE_WEBAUTHN_RP_DISPLAY_NAME": "Example",
    "GOTRUE_WEBAUTHN_RP_ORIGINS": "https://example.com,https://app.example.com",
}
UNEXPECTED = "Unexpected failure, please check server logs for more information"
ASSERTION_FAILED = "Failed to validate WebAuthn MFA response"


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users(), await api.audit_actions(), await api.factor_rows()


async def _signed_in(api: Any, email: str = "user@example.com") -> dict[str, Any]:
    response = await api.signup(email)
    assert response.status_code == 200, response.text
    return response.json()


async def _enroll(api: Any, token: str, name: str = "security key") -> Any:
    return await api.client.post(
        "/factors", json={"factor_type": "webauthn", "friendly_name": name}, headers=api.headers(token, **IP)
    )


async def _challenge(api: Any, token: str, factor_id: str) -> Any:
    # auth-js sends the page's RP id and origins along; GoTrue reads its configuration instead
    body = {"factorId": factor_id, "webauthn": {"rpId": "evil.example", "rpOrigins": ["https://evil.example"]}}
    return await api.client.post(f"/factors/{factor_id}/challenge", json=body, headers=api.headers(token, **IP))


async def _verify(api: Any, token: str, factor_id: str, challenge_id: str, kind: str, response: Any) -> Any:
    body = {"challenge_id": challenge_id, "webauthn": {"type": kind, "credential_response": response}}
    return await api.client.post(f"/factors/{factor_id}/verify", json=body, headers=api.headers(token, **IP))


async def _enrolled(api: Any, email: str = "user@example.com") -> tuple[dict[str, Any], str]:
    session = await _signed_in(api, email)
    enrolled = await _enroll(api, session["access_token"])
    assert enrolled.status_code == 200, enrolled.text
    return session, enrolled.json()["id"]


async def _registered(api: Any, key: SoftAuthenticator, email: str = "user@example.com") -> tuple[dict[str, Any], str]:
    """A user whose WebAuthn factor holds `key`'s credential; returns the aal2 token response and the factor id."""
    session, factor_id = await _enrolled(api, email)
    challenge = (await _challenge(api, session["access_token"], factor_id)).json()
    public_key = challenge["webauthn"]["credential_options"]["publicKey"]
    verified = await _verify(
        api, session["access_token"], factor_id, challenge["id"], "create", key.create(public_key, origin=ORIGIN)
    )
    assert verified.status_code == 200, verified.text
    return verified.json(), factor_id


def _refused(response: Any, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert (response.json()["error_code"], response.json()["msg"]) == (code, message)


# --- the happy path -----------------------------------------------------------------------------
async def test_webauthn_registration_then_authentication_step_the_session_up_to_aal2(make_api: Any) -> None:
    api = await make_api(RP)
    session = await _signed_in(api)
    token = session["access_token"]
    enrolled = await _enroll(api, token)
    assert enrolled.status_code == 200, enrolled.text
    assert set(enrolled.json()) == {"id", "type", "friendly_name"}
    assert (enrolled.json()["type"], enrolled.json()["friendly_name"]) == ("webauthn", "security key")
    factor_id = enrolled.json()["id"]

    issued = await _challenge(api, token, factor_id)
    assert issued.status_code == 200, issued.text
    challenge = issued.json()
    assert challenge["type"] == "webauthn" and challenge["webauthn"]["type"] == "create"
    assert challenge["expires_at"] > datetime.now(timezone.utc).timestamp() + 250
    public_key = challenge["webauthn"]["credential_options"]["publicKey"]
    user_id = claims(token)["sub"]
    assert public_key["rp"] == {"name": "Example", "id": "example.com"}
    assert public_key["user"] == {"id": b64url(user_id.encode()), "name": "user@example.com", "displayName": "user@example.com"}
    assert len(unb64url(public_key["challenge"])) == 32 and public_key["timeout"] == 300000
    assert {"type": "public-key", "alg": -7} in public_key["pubKeyCredParams"]
    assert "excludeCredentials" not in public_key

    key = SoftAuthenticator()
    verified = await _verify(api, token, factor_id, challenge["id"], "create", key.create(public_key, origin=ORIGIN))
    assert verified.status_code == 200, verified.text
    stepped = verified.json()
    jwt = claims(stepped["access_token"])
    assert jwt["aal"] == "aal2" and jwt["session_id"] == claims(token)["session_id"]
    assert [c["method"] for c in jwt["amr"]][0] == "mfa/webauthn" and "password" in [c["method"] for c in jwt["amr"]]
    assert [(f["id"], f["status"], f["factor_type"]) for f in stepped["user"]["factors"]] == [(factor_id, "verified", "webauthn")]
    aaguid = "0bb8c0ff-5a7e-4e5d-9d1f-5e6f7a8b9c0d"
    assert stepped["user"]["factors"][0]["web_authn_aaguid"] == aaguid
    [row] = await api.factor_rows()
    assert row["challenges"] == []  # the answered challenge is consumed
    record = row["web_authn_credential"]
    assert base64.b64decode(record["id"]) == key.credential_id and record["attestationType"] == "none"
    assert base64.b64decode(record["authenticator"]["AAGUID"]) == SOFT_AAGUID and record["authenticator"]["signCount"] == 0
    assert row["web_authn_aaguid"] == aaguid
    assert row["last_webauthn_challenge_data"]["type"] == "create"
    assert row["last_webauthn_challenge_data"]["challenge"]["challenge_id"] == challenge["id"]
    assert "verification_attempted" in await api.audit_actions()

    # a second challenge asks for an assertion by that credential
    aal2 = stepped["access_token"]
    second = (await _challenge(api, aal2, factor_id)).json()
    assert second["webauthn"]["type"] == "request"
    request = second["webauthn"]["credential_options"]["publicKey"]
    assert request["rpId"] == "example.com" and request["allowCredentials"] == [{"id": key.credential_id_b64url, "type": "public-key"}]
    again = await _verify(api, aal2, factor_id, second["id"], "request", key.get(request, origin="https://example.com"))
    assert again.status_code == 200, again.text
    jwt = claims(again.json()["access_token"])
    assert jwt["aal"] == "aal2" and [c["method"] for c in jwt["amr"]][0] == "mfa/webauthn"
    [row] = await api.factor_rows()
    assert row["web_authn_credential"]["authenticator"]["signCount"] == 1 and row["challenges"] == []
    assert row["last_webauthn_challenge_data"]["type"] == "request"
    refreshed = await api.refresh(again.json()["refresh_token"])
    assert refreshed.status_code == 200 and claims(refreshed.json()["access_token"])["aal"] == "aal2"


async def test_a_packed_self_attestation_registers_and_a_second_factor_excludes_the_first_credential(make_api: Any) -> None:
    api = await make_api(RP)
    first = SoftAuthenticator(attestation="packed", sign_count=7)
    stepped, _ = await _registered(api, first)
    [row] = await api.factor_rows()
    assert row["web_authn_credential"]["attestationType"] == "packed"
    assert row["web_authn_credential"]["authenticator"]["signCount"] == 7

    token = stepped["access_token"]
    second = await _enroll(api, token, name="backup key")
    assert second.status_code == 200, second.text
    challenge = (await _challenge(api, token, second.json()["id"])).json()
    excluded = challenge["webauthn"]["credential_options"]["publicKey"]["excludeCredentials"]
    assert excluded == [{"id": first.credential_id_b64url, "type": "public-key", "transports": ["usb", "nfc"]}]


# --- registration refusals --------------------------------------------------------------------
async def test_a_registration_from_a_wrong_origin_or_for_a_wrong_rp_id_is_refused(make_api: Any) -> None:
    api = await make_api(RP)
    session, factor_id = await _enrolled(api)
    token = session["access_token"]
    challenge = (await _challenge(api, token, factor_id)).json()
    public_key = challenge["webauthn"]["credential_options"]["publicKey"]
    before = await _snapshot(api)
    for response in (
        SoftAuthenticator().create(public_key, origin="https://evil.example"),
        SoftAuthenticator().create(public_key, origin=ORIGIN, rp_id="evil.example"),
        SoftAuthenticator().create({**public_key, "challenge": b64url(b"\x01" * 32)}, origin=ORIGIN),
        SoftAuthenticator().create(public_key, origin=ORIGIN, flags=0),  # no user presence
    ):
        _refused(await _verify(api, token, factor_id, challenge["id"], "create", response), 500, "unexpected_failure", UNEXPECTED)
    assert await _snapshot(api) == before
    assert (await api.factor_rows())[0]["status"] == "unverified"
    # the challenge is still good for a genuine registration
    ok = await _verify(api, token, factor_id, challenge["id"], "create", SoftAuthenticator().create(public_key, origin=ORIGIN))
    assert ok.status_code == 200, ok.text


async def test_a_verify_needs_a_well_formed_webauthn_object(make_api: Any) -> None:
    api = await make_api(RP)
    session, factor_id = await _enrolled(api)
    token = session["access_token"]
    challenge = (await _challenge(api, token, factor_id)).json()
    before = await _snapshot(api)
    url, headers = f"/factors/{factor_id}/verify", api.headers(token, **IP)
    for body, message in (
        ({"challenge_id": challenge["id"]}, "WebAuthn config required"),
        ({"challenge_id": challenge["id"], "webauthn": {"type": "get", "credential_response": {}}}, "WebAuthn type must be create or request"),
        ({"challenge_id": challenge["id"], "webauthn": {"type": "create"}}, "credential_response required"),
        ({"challenge_id": challenge["id"], "webauthn": {"type": "create", "credential_response": {"id": "x"}}}, "Invalid credential_response"),
        ({"challenge_id": challenge["id"], "webauthn": {"type": "create", "credential_response": None}}, "Invalid credential_response"),
    ):
        _refused(await api.client.post(url, json=body, headers=headers), 400, "validation_failed", message)
    assert await _snapshot(api) == before


# --- authentication refusals ------------------------------------------------------------------
async def test_assertions_that_do_not_prove_the_factor_are_refused_and_change_nothing(make_api: Any) -> None:
    api = await make_api(RP)
    key = SoftAuthenticator()
    stepped, factor_id = await _registered(api, key)
    token = stepped["access_token"]
    first = (await _challenge(api, token, factor_id)).json()
    request = first["webauthn"]["credential_options"]["publicKey"]
    good = key.get(request, origin=ORIGIN)  # sign count 1
    assert (await _verify(api, token, factor_id, first["id"], "request", good)).status_code == 200
    replayed = await _verify(api, token, factor_id, first["id"], "request", good)  # its challenge is gone
    _refused(replayed, 422, "mfa_factor_not_found", "MFA factor with the provided challenge ID not found")

    challenge = (await _challenge(api, token, factor_id)).json()
    request = challenge["webauthn"]["credential_options"]["publicKey"]
    tampered = key.get(request, origin=ORIGIN, sign_count=5)
    signature = bytearray(unb64url(tampered["response"]["signature"]))
    signature[-1] ^= 0x01
    tampered["response"]["signature"] = b64url(bytes(signature))
    other = SoftAuthenticator()
    other.user_handle = key.user_handle
    stranger = other.get(request, origin=ORIGIN)
    forged = other.get(request, origin=ORIGIN)  # another key signing for this credential's id
    forged["id"] = forged["rawId"] = key.credential_id_b64url
    before = await _snapshot(api)
    for response in (
        key.get(request, origin="https://evil.example", sign_count=5),
        key.get(request, origin=ORIGIN, rp_id="evil.example", sign_count=5),
        key.get({**request, "challenge": first["webauthn"]["credential_options"]["publicKey"]["challenge"]}, origin=ORIGIN, sign_count=5),
        key.get(request, origin=ORIGIN, sign_count=1),  # the counter did not move: a cloned or replayed credential
        key.get(request, origin=ORIGIN, sign_count=0),
        tampered,
        stranger,
        forged,
    ):
        refused = await _verify(api, token, factor_id, challenge["id"], "request", response)
        _refused(refused, 500, "unexpected_failure", ASSERTION_FAILED)
    # a registration response cannot prove a verified factor (GoTrue would accept it)
    fresh = SoftAuthenticator().create(
        {"rp": {"id": "example.com"}, "user": {"id": b64url(b"x")}, "challenge": request["challenge"]}, origin=ORIGIN
    )
    _refused(await _verify(api, token, factor_id, challenge["id"], "create", fresh), 500, "unexpected_failure", UNEXPECTED)
    assert await _snapshot(api) == before
    ok = await _verify(api, token, factor_id, challenge["id"], "request", key.get(request, origin=ORIGIN, sign_count=5))
    assert ok.status_code == 200, ok.text


async def test_a_challenge_of_another_factor_or_an_expired_one_is_refused(make_api: Any) -> None:
    clock = FixedClock(datetime.now(timezone.utc))
    api = await make_api(RP, clock=clock)
    key = SoftAuthenticator()
    stepped, factor_id = await _registered(api, key)
    token = stepped["access_token"]
    other = await _enroll(api, token, name="other key")
    assert other.status_code == 200, other.text
    clock.advance(seconds=1)  # `mfa_factors.last_challenged_at` is unique in GoTrue's schema
    theirs = (await _challenge(api, token, other.json()["id"])).json()
    clock.advance(seconds=1)
    mine = (await _challenge(api, token, factor_id)).json()
    request = mine["webauthn"]["credential_options"]["publicKey"]
    before = await _snapshot(api)
    wrong = await _verify(api, token, factor_id, theirs["id"], "request", key.get(request, origin=ORIGIN, sign_count=3))
    _refused(wrong, 422, "mfa_factor_not_found", "MFA factor with the provided challenge ID not found")
    assert await _snapshot(api) == before

    clock.advance(seconds=301)
    expired = await _verify(api, token, factor_id, mine["id"], "request", key.get(request, origin=ORIGIN, sign_count=3))
    _refused(
        expired, 422, "mfa_challenge_expired",
        f"MFA challenge {mine['id']} has expired, verify against another challenge or create a new challenge.",
    )  # fmt: skip
    rows = {r["id"]: r for r in await api.factor_rows()}
    assert mine["id"] not in rows[factor_id]["challenges"] and rows[factor_id]["web_authn_credential"]["authenticator"]["signCount"] == 0


async def test_the_verify_must_come_from_the_challenges_ip_address(make_api: Any) -> None:
    api = await make_api(RP)
    session, factor_id = await _enrolled(api)
    token = session["access_token"]
    challenge = (await _challenge(api, token, factor_id)).json()
    public_key = challenge["webauthn"]["credential_options"]["publicKey"]
    body = {"challenge_id": challenge["id"], "webauthn": {"type": "create", "credential_response": SoftAuthenticator().create(public_key, origin=ORIGIN)}}
    moved = await api.client.post(f"/factors/{factor_id}/verify", json=body, headers=api.headers(token, **{"X-Forwarded-For": "198.51.100.1"}))
    _refused(moved, 422, "mfa_ip_address_mismatch", "Challenge and verify IP addresses mismatch.")


# --- configuration ------------------------------------------------------------------------------
async def test_webauthn_factors_are_off_by_default(make_api: Any) -> None:
    api = await make_api()
    session = await _signed_in(api)
    before = await _snapshot(api)
    _refused(await _enroll(api, session["access_token"]), 422, "mfa_webauthn_enroll_not_enabled", "MFA enroll is disabled for WebAuthn")
    assert await _snapshot(api) == before


async def test_with_verification_off_a_challenge_and_a_verify_are_refused_with_gotrues_codes(make_api: Any) -> None:
    api = await make_api({**RP, "GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED": "false"})
    session, factor_id = await _enrolled(api)
    token = session["access_token"]
    before = await _snapshot(api)
    _refused(await _challenge(api, token, factor_id), 422, "mfa_webauthn_verify_not_enabled", "MFA verification is disabled for WebAuthn")
    # GoTrue's verify answers with the enrol code and the verify message
    verify = await _verify(api, token, factor_id, "00000000-0000-0000-0000-000000000000", "create", {})
    _refused(verify, 422, "mfa_webauthn_enroll_not_enabled", "MFA verification is disabled for WebAuthn")
    assert await _snapshot(api) == before


async def test_without_a_relying_party_a_challenge_fails_and_stores_nothing(make_api: Any) -> None:
    api = await make_api({k: v for k, v in RP.items() if not k.startswith("GOTRUE_WEBAUTHN_")})
    session, factor_id = await _enrolled(api)
    before = await _snapshot(api)
    _refused(await _challenge(api, session["access_token"], factor_id), 500, "unexpected_failure", "Failed to generate WebAuthn registration data")
    assert await _snapshot(api) == before


def test_the_client_data_hash_is_what_the_authenticator_signs() -> None:
    """The software authenticator itself: a P-256 signature over authData || SHA-256(clientDataJSON)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = SoftAuthenticator()
    key.user_handle = b"u"
    response = key.get({"rpId": "example.com", "challenge": b64url(b"c" * 32)}, origin=ORIGIN)["response"]
    auth_data = unb64url(response["authenticatorData"])
    assert auth_data[:32] == hashlib.sha256(b"example.com").digest() and auth_data[32] == 0x05 and auth_data[33:37] == b"\0\0\0\1"
    signed = auth_data + hashlib.sha256(unb64url(response["clientDataJSON"])).digest()
    key.key.public_key().verify(unb64url(response["signature"]), signed, ec.ECDSA(hashes.SHA256()))
