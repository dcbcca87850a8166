"""MFA with TOTP factors on either storage (api.md §17): enrol, challenge, verify, unenrol; the JWT's
`aal`/`amr`; GoTrue's refusals, each leaving the database as it was. Codes are computed from the
returned secret with pyotp, an independent TOTP implementation."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

from pytrue.adapters.system import FixedClock

IP = {"X-Forwarded-For": "203.0.113.7"}


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users(), await api.audit_actions()


async def _signed_in(api: Any, email: str = "user@example.com") -> dict[str, Any]:
    response = await api.signup(email)
    assert response.status_code == 200, response.text
    return response.json()


async def _enroll(api: Any, token: str, **body: Any) -> Any:
    return await api.client.post("/factors", json={"factor_type": "totp", **body}, headers=api.headers(token, **IP))


async def _challenge(api: Any, token: str, factor_id: str, **headers: str) -> Any:
    return await api.client.post(f"/factors/{factor_id}/challenge", json={}, headers=api.headers(token, **(headers or IP)))


async def _verify(api: Any, token: str, factor_id: str, challenge_id: str, code: str, **headers: str) -> Any:
    return await api.client.post(
        f"/factors/{factor_id}/verify", json={"challenge_id": challenge_id, "code": code}, headers=api.headers(token, **(headers or IP))
    )


async def _totp_user(api: Any, email: str = "user@example.com") -> tuple[dict[str, Any], str, str]:
    """A signed-in user with an unverified TOTP factor: their session, the factor id and secret."""
    session = await _signed_in(api, email)
    enrolled = await _enroll(api, session["access_token"], friendly_name="authenticator")
    assert enrolled.status_code == 200, enrolled.text
    return session, enrolled.json()["id"], enrolled.json()["totp"]["secret"]


async def _step_up(api: Any, token: str, factor_id: str, secret: str, at: datetime | None = None) -> dict[str, Any]:
    challenge = (await _challenge(api, token, factor_id)).json()
    code = pyotp.TOTP(secret).at(at) if at else pyotp.TOTP(secret).now()
    verified = await _verify(api, token, factor_id, challenge["id"], code)
    assert verified.status_code == 200, verified.text
    return verified.json()


# --- the happy path -----------------------------------------------------------------------------
async def test_totp_enrol_challenge_and_verify_step_the_session_up_to_aal2(make_api: Any) -> None:
    api = await make_api()
    session = await _signed_in(api)
    token = session["access_token"]
    assert claims(token)["aal"] == "aal1"
    enrolled = await _enroll(api, token, friendly_name="my phone")
    assert enrolled.status_code == 200, enrolled.text
    body = enrolled.json()
    assert body["type"] == "totp" and body["friendly_name"] == "my phone"
    secret = body["totp"]["secret"]
    assert len(secret) == 32 and secret.isalnum() and secret == secret.upper()
    uri = urlsplit(body["totp"]["uri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/localhost:3000:user@example.com")
    assert parse_qs(uri.query) == {
        "algorithm": ["SHA1"], "digits": ["6"], "issuer": ["localhost:3000"], "period": ["30"], "secret": [secret]
    }  # fmt: skip
    assert body["totp"]["qr_code"].startswith("<svg") and body["totp"]["qr_code"].rstrip().endswith("</svg>")

    me = (await api.client.get("/user", headers=api.headers(token))).json()
    assert [(f["id"], f["status"], f["factor_type"], f["friendly_name"]) for f in me["factors"]] == [
        (body["id"], "unverified", "totp", "my phone")
    ]

    challenge = await _challenge(api, token, body["id"])
    assert challenge.status_code == 200, challenge.text
    issued = challenge.json()
    assert issued["type"] == "totp" and issued["expires_at"] > datetime.now(timezone.utc).timestamp() + 250
    verified = await _verify(api, token, body["id"], issued["id"], pyotp.TOTP(secret).now())
    assert verified.status_code == 200, verified.text
    stepped = verified.json()
    jwt = claims(stepped["access_token"])
    assert jwt["aal"] == "aal2" and jwt["session_id"] == claims(token)["session_id"]
    assert [c["method"] for c in jwt["amr"]][0] == "totp" and "password" in [c["method"] for c in jwt["amr"]]
    assert stepped["refresh_token"] != session["refresh_token"]
    assert [f["status"] for f in stepped["user"]["factors"]] == ["verified"]
    actions = await api.audit_actions()
    assert {"factor_in_progress", "challenge_created", "verification_attempted"} <= set(actions)

    # a refresh keeps aal2
    refreshed = await api.refresh(stepped["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert claims(refreshed.json()["access_token"])["aal"] == "aal2"


async def test_v2_refresh_tokens_from_before_the_step_up_cannot_mint_aal2(make_api: Any) -> None:
    api = await make_api({"GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION": "2"})
    session, factor_id, secret = await _totp_user(api)
    stepped = await _step_up(api, session["access_token"], factor_id, secret)
    assert claims((await api.refresh(stepped["refresh_token"])).json()["access_token"])["aal"] == "aal2"
    old = await api.refresh(session["refresh_token"])  # two and more steps behind: a reuse
    assert old.status_code == 400 and old.json()["error_code"] == "refresh_token_already_used"


async def test_the_first_aal2_verify_ends_the_users_other_aal1_sessions(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    other = (await api.password_grant()).json()
    stranger = await _signed_in(api, "stranger@example.com")
    await _step_up(api, session["access_token"], factor_id, secret)
    ended = await api.refresh(other["refresh_token"])
    assert ended.status_code == 400, ended.text
    assert (await api.refresh(stranger["refresh_token"])).status_code == 200  # another user's session is untouched


async def test_unenrolling_needs_aal2_and_downgrades_the_sessions(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    stepped = await _step_up(api, session["access_token"], factor_id, secret)
    low = (await api.password_grant()).json()  # a new aal1 session of a user with a verified factor
    before = await _snapshot(api)
    refused = await api.client.delete(f"/factors/{factor_id}", headers=api.headers(low["access_token"]))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error_code"] == "insufficient_aal" and refused.json()["msg"] == "AAL2 required to unenroll verified factor"
    assert await _snapshot(api) == before

    enrol = await _enroll(api, low["access_token"], friendly_name="second")
    assert enrol.status_code == 403 and enrol.json()["error_code"] == "insufficient_aal"
    assert enrol.json()["msg"] == "AAL2 required to enroll a new factor"

    removed = await api.client.delete(f"/factors/{factor_id}", headers=api.headers(stepped["access_token"]))
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"id": factor_id}
    after = (await api.refresh(stepped["refresh_token"])).json()
    jwt = claims(after["access_token"])
    assert jwt["aal"] == "aal1" and "totp" not in [c["method"] for c in jwt["amr"]]
    assert "factors" not in after["user"]
    assert "factor_unenrolled" in await api.audit_actions()


async def test_an_unverified_factor_is_unenrolled_from_an_aal1_session(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, _ = await _totp_user(api)
    removed = await api.client.delete(f"/factors/{factor_id}", headers=api.headers(session["access_token"]))
    assert removed.status_code == 200 and removed.json() == {"id": factor_id}
    assert "factors" not in (await api.client.get("/user", headers=api.headers(session["access_token"]))).json()


# --- codes --------------------------------------------------------------------------------------
async def test_wrong_reused_and_spent_codes_are_refused_and_change_nothing(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    token = session["access_token"]
    first = (await _challenge(api, token, factor_id)).json()
    code = pyotp.TOTP(secret).now()
    before = await _snapshot(api)
    wrong = await _verify(api, token, factor_id, first["id"], "000000" if code != "000000" else "111111")
    assert wrong.status_code == 422 and wrong.json()["error_code"] == "mfa_verification_failed"
    assert wrong.json()["msg"] == "Invalid TOTP code entered"
    for bad in ("12345", "abcdef", "1234567"):
        assert (await _verify(api, token, factor_id, first["id"], bad)).json()["error_code"] == "mfa_verification_failed"
    empty = await _verify(api, token, factor_id, first["id"], "")
    assert empty.status_code == 400 and empty.json()["msg"] == "Code needs to be non-empty"
    assert await _snapshot(api) == before

    ok = await _verify(api, token, factor_id, first["id"], code)
    assert ok.status_code == 200, ok.text
    token = ok.json()["access_token"]
    # the same challenge again: GoTrue's "already verified" answer
    again = await _verify(api, token, factor_id, first["id"], code)
    assert again.status_code == 422 and again.json()["error_code"] == "mfa_ip_address_mismatch"
    # the same code on a new challenge, within its time step: spent
    second = (await _challenge(api, token, factor_id)).json()
    before = await _snapshot(api)
    reused = await _verify(api, token, factor_id, second["id"], code)
    assert reused.status_code == 422 and reused.json()["error_code"] == "mfa_verification_failed"
    assert await _snapshot(api) == before


async def test_codes_one_step_off_are_accepted_two_steps_off_are_not(make_api: Any) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    clock = FixedClock(now)
    api = await make_api(clock=clock)
    session, factor_id, secret = await _totp_user(api)
    token = session["access_token"]
    for offset, accepted in ((-60, False), (60, False), (-30, True)):
        challenge = (await _challenge(api, token, factor_id)).json()
        answer = await _verify(api, token, factor_id, challenge["id"], pyotp.TOTP(secret).at(now + timedelta(seconds=offset)))
        assert (answer.status_code == 200) is accepted, (offset, answer.text)
        if accepted:
            token = answer.json()["access_token"]
    challenge = (await _challenge(api, token, factor_id)).json()
    ahead = await _verify(api, token, factor_id, challenge["id"], pyotp.TOTP(secret).at(now + timedelta(seconds=30)))
    assert ahead.status_code == 200, ahead.text


async def test_an_expired_challenge_is_deleted_and_refused(make_api: Any) -> None:
    clock = FixedClock(datetime.now(timezone.utc))
    api = await make_api(clock=clock)
    session, factor_id, secret = await _totp_user(api)
    token = session["access_token"]
    challenge = (await _challenge(api, token, factor_id)).json()
    clock.advance(seconds=301)
    expired = await _verify(api, token, factor_id, challenge["id"], pyotp.TOTP(secret).at(clock.now()))
    assert expired.status_code == 422 and expired.json()["error_code"] == "mfa_challenge_expired"
    assert expired.json()["msg"] == (
        f"MFA challenge {challenge['id']} has expired, verify against another challenge or create a new challenge."
    )
    gone = await _verify(api, token, factor_id, challenge["id"], pyotp.TOTP(secret).at(clock.now()))
    assert gone.status_code == 422 and gone.json()["error_code"] == "mfa_factor_not_found"


async def test_a_challenge_from_another_ip_is_refused(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    token = session["access_token"]
    challenge = (await _challenge(api, token, factor_id)).json()
    before = await _snapshot(api)
    elsewhere = await _verify(api, token, factor_id, challenge["id"], pyotp.TOTP(secret).now(), **{"X-Forwarded-For": "198.51.100.9"})
    assert elsewhere.status_code == 422 and elsewhere.json()["error_code"] == "mfa_ip_address_mismatch"
    assert elsewhere.json()["msg"] == "Challenge and verify IP addresses mismatch."
    assert await _snapshot(api) == before


# --- ownership and input ------------------------------------------------------------------------
async def test_factor_ids_are_checked_for_shape_and_owner(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    other = await _signed_in(api, "other@example.com")
    before = await _snapshot(api)
    for method, suffix in (("post", "/challenge"), ("post", "/verify"), ("delete", "")):
        kwargs: dict[str, Any] = {"headers": api.headers(other["access_token"], **IP)}
        if method == "post":
            kwargs["json"] = {"challenge_id": "00000000-0000-4000-8000-000000000000", "code": "123456"}
        foreign = await getattr(api.client, method)(f"/factors/{factor_id}{suffix}", **kwargs)
        assert foreign.status_code == 404 and foreign.json()["error_code"] == "mfa_factor_not_found", foreign.text
        assert foreign.json()["msg"] == "Factor not found"
        malformed = await getattr(api.client, method)(f"/factors/not-a-uuid{suffix}", **kwargs)
        assert malformed.status_code == 404 and malformed.json()["error_code"] == "validation_failed"
        assert malformed.json()["msg"] == "factor_id must be an UUID"
    token = session["access_token"]
    unknown = await _verify(api, token, factor_id, "00000000-0000-4000-8000-000000000000", "123456")
    assert unknown.status_code == 422 and unknown.json()["error_code"] == "mfa_factor_not_found"
    garbled = await _verify(api, token, factor_id, "not-a-uuid", "123456")
    assert garbled.status_code == 400 and garbled.json()["error_code"] == "bad_json"
    for raw in (b"{nope", b'{"factor_type": 5}', b"[]"):
        bad = await api.client.post("/factors", content=raw, headers={**api.headers(token), "Content-Type": "application/json"})
        assert bad.status_code == 400 and bad.json()["error_code"] == "bad_json", bad.text
    nobody = await api.client.post("/factors", json={"factor_type": "totp"}, headers={"apikey": api.anon})
    assert nobody.status_code == 401
    assert await _snapshot(api) == before


async def test_enrolment_refusals(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MFA_MAX_ENROLLED_FACTORS": "2"})
    session = await _signed_in(api)
    token = session["access_token"]
    assert (await _enroll(api, token, friendly_name="one")).status_code == 200
    conflict = await _enroll(api, token, friendly_name="one")
    assert conflict.status_code == 422 and conflict.json()["error_code"] == "mfa_factor_name_conflict"
    assert conflict.json()["msg"] == 'A factor with the friendly name "one" for this user already exists'
    assert (await _enroll(api, token)).status_code == 200  # "" is a name too
    unnamed = await _enroll(api, token)
    assert unnamed.status_code == 422 and unnamed.json()["error_code"] == "mfa_factor_name_conflict"
    full = await _enroll(api, token, friendly_name="three")
    assert full.status_code == 422 and full.json()["error_code"] == "too_many_enrolled_mfa_factors"
    for kind, code, status in (
        ("phone", "mfa_phone_enroll_not_enabled", 422), ("webauthn", "mfa_webauthn_enroll_not_enabled", 422),
        ("sms", "validation_failed", 400), ("", "validation_failed", 400),
    ):  # fmt: skip
        refused = await api.client.post("/factors", json={"factor_type": kind}, headers=api.headers(token))
        assert refused.status_code == status and refused.json()["error_code"] == code, (kind, refused.text)
    me = (await api.client.get("/user", headers=api.headers(token))).json()
    assert sorted(f.get("friendly_name", "") for f in me["factors"]) == ["", "one"]  # the refusals added none


async def test_totp_can_be_switched_off(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MFA_TOTP_ENROLL_ENABLED": "false"})
    session = await _signed_in(api)
    refused = await _enroll(api, session["access_token"])
    assert refused.status_code == 422 and refused.json()["error_code"] == "mfa_totp_enroll_not_enabled"
    assert refused.json()["msg"] == "MFA enroll is disabled for TOTP"
    verify_off = await make_api({"GOTRUE_MFA_TOTP_VERIFY_ENABLED": "false"})
    session, factor_id, _ = await _totp_user(verify_off)
    challenge = await _challenge(verify_off, session["access_token"], factor_id)
    assert challenge.status_code == 422 and challenge.json()["error_code"] == "mfa_totp_verify_not_enabled"


async def test_anonymous_users_cannot_use_factors(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true"})
    anonymous = await api.client.post("/signup", json={}, headers=api.headers())
    assert anonymous.status_code == 200, anonymous.text
    refused = await _enroll(api, anonymous.json()["access_token"])
    assert refused.status_code == 403 and refused.json()["error_code"] == "no_authorization"
    assert refused.json()["msg"] == "Anonymous user not allowed to perform these actions"


async def test_unverified_factors_past_their_expiry_give_way_on_the_next_enrolment(make_api: Any) -> None:
    clock = FixedClock(datetime.now(timezone.utc))
    api = await make_api({"GOTRUE_MFA_MAX_ENROLLED_FACTORS": "1"}, clock=clock)
    session = await _signed_in(api)
    token = session["access_token"]
    first = (await _enroll(api, token, friendly_name="old")).json()
    full = await _enroll(api, token, friendly_name="new")
    assert full.json()["error_code"] == "too_many_enrolled_mfa_factors"
    clock.advance(seconds=301)
    token = (await api.password_grant()).json()["access_token"]
    replaced = await _enroll(api, token, friendly_name="new")
    assert replaced.status_code == 200, replaced.text
    me = (await api.client.get("/user", headers=api.headers(token))).json()
    assert [f["friendly_name"] for f in me["factors"]] == ["new"] and first["id"] not in json.dumps(me)


async def test_revoking_a_session_needs_aal2_once_a_factor_is_verified(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    stepped = await _step_up(api, session["access_token"], factor_id, secret)
    low = (await api.password_grant()).json()
    target = claims(stepped["access_token"])["session_id"]
    before = await _snapshot(api)
    refused = await api.client.delete(f"/user/sessions/{target}", headers=api.headers(low["access_token"]))
    assert refused.status_code == 403 and refused.json()["error_code"] == "insufficient_aal", refused.text
    assert refused.json()["msg"] == "AAL2 required to revoke a session"
    assert await _snapshot(api) == before
    mine = claims(low["access_token"])["session_id"]
    ended = await api.client.delete(f"/user/sessions/{mine}", headers=api.headers(stepped["access_token"]))
    assert ended.status_code == 200, ended.text
    assert (await api.refresh(low["refresh_token"])).status_code == 400


# --- the admin API --------------------------------------------------------------------------------
async def test_admins_list_rename_and_delete_a_users_factors(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    stepped = await _step_up(api, session["access_token"], factor_id, secret)
    user_id = session["user"]["id"]
    listed = await api.client.get(f"/admin/users/{user_id}/factors", headers=api.admin())
    assert listed.status_code == 200, listed.text
    assert [(f["id"], f["status"], f["factor_type"]) for f in listed.json()] == [(factor_id, "verified", "totp")]
    assert secret not in listed.text

    renamed = await api.client.put(f"/admin/users/{user_id}/factors/{factor_id}", json={"friendly_name": "work"}, headers=api.admin())
    assert renamed.status_code == 200 and renamed.json()["friendly_name"] == "work", renamed.text
    assert "factor_updated" in await api.audit_actions()

    before = await _snapshot(api)
    for path, status, code in (
        (f"/admin/users/{user_id}/factors/not-a-uuid", 404, "validation_failed"),
        (f"/admin/users/{user_id}/factors/00000000-0000-4000-8000-000000000000", 404, "mfa_factor_not_found"),
        (f"/admin/users/00000000-0000-4000-8000-000000000000/factors/{factor_id}", 404, "user_not_found"),
    ):
        refused = await api.client.delete(path, headers=api.admin())
        assert refused.status_code == status and refused.json()["error_code"] == code, (path, refused.text)
    as_user = await api.client.delete(f"/admin/users/{user_id}/factors/{factor_id}", headers=api.headers(stepped["access_token"]))
    assert as_user.status_code == 403
    assert await _snapshot(api) == before

    deleted = await api.client.delete(f"/admin/users/{user_id}/factors/{factor_id}", headers=api.admin())
    assert deleted.status_code == 200 and deleted.json()["id"] == factor_id, deleted.text
    assert "factor_deleted" in await api.audit_actions()
    assert (await api.client.get(f"/admin/users/{user_id}/factors", headers=api.admin())).json() == []
    downgraded = (await api.refresh(stepped["refresh_token"])).json()
    assert claims(downgraded["access_token"])["aal"] == "aal1"


async def test_low_aal_sessions_of_mfa_users_are_capped(make_api: Any) -> None:
    clock = FixedClock(datetime.now(timezone.utc).replace(microsecond=0))
    api = await make_api({"GOTRUE_SESSIONS_ALLOW_LOW_AAL": "10m"}, clock=clock)
    session, factor_id, secret = await _totp_user(api)
    # no verified factor yet: an ordinary aal1 session
    assert claims(session["access_token"])["exp"] - claims(session["access_token"])["iat"] == 3600
    stepped = await _step_up(api, session["access_token"], factor_id, secret, at=clock.now())
    assert claims(stepped["access_token"])["exp"] - claims(stepped["access_token"])["iat"] == 3600  # aal2: not capped
    low = (await api.password_grant()).json()
    low_claims = claims(low["access_token"])
    assert low_claims["aal"] == "aal1" and low_claims["exp"] == low_claims["iat"] + 600
    clock.advance(seconds=601)
    expired = await api.refresh(low["refresh_token"])
    assert expired.status_code == 400 and expired.json()["error_code"] == "session_expired"
    assert expired.json()["msg"] == "Invalid Refresh Token: Session Expired (Low AAL: User Needs MFA Verification)"
    assert (await api.refresh(stepped["refresh_token"])).status_code == 200  # the aal2 session lives on


async def test_challenges_and_verifies_share_gotrues_per_ip_limit(make_api: Any) -> None:
    api = await make_api({"GOTRUE_RATE_LIMIT_HEADER": "X-Forwarded-For", "GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY": "1"})
    session, factor_id, _ = await _totp_user(api)
    token = session["access_token"]
    answers = [(await _challenge(api, token, factor_id)).status_code for _ in range(31)]  # burst 30
    assert answers[:30] == [200] * 30 and answers[30] == 429
    limited = await _challenge(api, token, factor_id)
    assert limited.json()["error_code"] == "over_request_rate_limit"
    other_ip = await _challenge(api, token, factor_id, **{"X-Forwarded-For": "198.51.100.20"})
    assert other_ip.status_code == 200
    verifies = [(await _verify(api, token, factor_id, "00000000-0000-4000-8000-000000000000", "123456")).status_code for _ in range(31)]
    assert verifies[:30] == [422] * 30 and verifies[30] == 429  # the verify route has its own bucket
