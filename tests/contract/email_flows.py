"""Email flows over HTTP on both storages: every message is read from the development inbox.

Confirmation, magic link and OTP, recovery, resend, invite, email change, reauthentication,
PKCE and generate_link; expired, reused and wrong codes; refusals leave the database as it was.
"""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.http import V2024, assert_error

from pytrue.adapters.system import FixedClock
from pytrue.application.ports import MailDeliveryFailed

CONFIRM = {"GOTRUE_MAILER_AUTOCONFIRM": "false"}
START = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def link_query(link: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}


def fragment(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment, keep_blank_values=True).items()}


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


async def follow(api: Any, link: str, **headers: str) -> Any:
    """GET the verify link the way a browser would (path and query only; the host is the test server)."""
    parts = urlsplit(link)
    return await api.client.get(f"{parts.path}?{parts.query}", headers=headers, follow_redirects=False)


async def confirmed_user(api: Any, email: str = "user@example.com", password: str = "s3cret-pass") -> dict[str, Any]:
    """A user who signed up and followed the confirmation link; returns the session."""
    assert (await api.signup(email, password)).status_code == 200
    response = await follow(api, api.mail(email, "confirmation").link)
    assert response.status_code == 303, response.text
    session = fragment(response.headers["location"])
    assert session["access_token"]
    return session


async def admin_user(api: Any, user_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/admin/users/{user_id}", headers=api.admin())
    assert response.status_code == 200, response.text
    return response.json()


# --- sign-up confirmation ---------------------------------------------------------------------


async def test_signup_link_confirms_and_signs_in_through_the_fragment(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    body = (await api.signup("new@example.com")).json()
    assert body["email"] == "new@example.com" and "email_confirmed_at" not in body
    mail = api.mail("new@example.com", "confirmation")
    assert len(mail.otp) == 6 and mail.otp.isdigit()
    params = link_query(mail.link)
    assert params["type"] == "signup" and params["token"] == mail.token_hash
    assert params["redirect_to"] == "http://localhost:3000"

    response = await follow(api, mail.link)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("http://localhost:3000#")
    session = fragment(location)
    assert session["type"] == "signup" and session["token_type"] == "bearer" and session["sb"] == ""
    assert int(session["expires_in"]) == 3600
    me = await api.client.get("/user", headers=api.headers(session["access_token"]))
    assert me.status_code == 200 and me.json()["email_confirmed_at"]
    assert me.json()["user_metadata"]["email_verified"] is True
    assert (await api.counts())["one_time_tokens"] == 0

    again = await follow(api, mail.link)
    assert again.status_code == 303
    error = fragment(again.headers["location"])
    assert error == {
        "error": "access_denied",
        "error_code": "otp_expired",
        "error_description": "Email link is invalid or has expired",
        "sb": "",
    }


async def test_signup_code_verifies_once_by_email_and_token(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    await api.signup("code@example.com")
    mail = api.mail("code@example.com")
    response = await api.client.post(
        "/verify", json={"type": "signup", "email": "Code@Example.com", "token": mail.otp}, headers=api.headers()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == "code@example.com" and body["refresh_token"]
    assert "type" not in body
    before = await api.counts()
    reused = await api.client.post(
        "/verify", json={"type": "signup", "email": "code@example.com", "token": mail.otp}, headers=api.headers()
    )
    assert_error(reused, 403, "otp_expired", "Token has expired or is invalid")
    assert await api.counts() == before


async def test_signup_token_hash_verifies_by_post_and_type_email(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    await api.signup("hash@example.com")
    mail = api.mail("hash@example.com")
    response = await api.client.post(
        "/verify", json={"type": "email", "token_hash": mail.token_hash}, headers=api.headers()
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email_confirmed_at"]


async def test_wrong_and_expired_codes_are_refused_without_changes(make_api: Any) -> None:
    clock = FixedClock(START)
    api = await make_api({**CONFIRM, "GOTRUE_MAILER_OTP_EXP": "3600"}, clock=clock)
    await api.signup("late@example.com")
    mail = api.mail("late@example.com")
    wrong = "000000" if mail.otp != "000000" else "111111"
    before = await api.counts()
    response = await api.client.post(
        "/verify", json={"type": "signup", "email": "late@example.com", "token": wrong}, headers=api.headers()
    )
    assert_error(response, 403, "otp_expired")
    clock.advance(seconds=3601)
    expired = await api.client.post(
        "/verify", json={"type": "signup", "email": "late@example.com", "token": mail.otp}, headers=api.headers()
    )
    assert_error(expired, 403, "otp_expired")
    by_link = await follow(api, mail.link)
    assert fragment(by_link.headers["location"])["error_code"] == "otp_expired"
    assert await api.counts() == before


async def test_post_verify_validation(api: Any) -> None:
    async def post(body: dict[str, Any]) -> Any:
        return await api.client.post("/verify", json=body, headers=api.headers())

    before = await api.counts()
    assert_error(await post({"token": "123456", "email": "a@b.co"}), 400, "validation_failed", "Verify requires a verification type")
    assert_error(await post({"type": "signup"}), 400, "validation_failed", "Verify requires either a token or a token hash")
    assert_error(
        await post({"type": "signup", "token": "1", "token_hash": "2"}),
        400,
        "validation_failed",
        "Verify requires either a token or a token hash",
    )
    assert_error(
        await post({"type": "signup", "token_hash": "abc", "email": "a@b.co"}),
        400,
        "validation_failed",
        "Only the token_hash and type should be provided",
    )
    assert_error(
        await post({"type": "signup", "token": "123456"}),
        400,
        "validation_failed",
        "Only an email address or phone number should be provided on verify",
    )
    assert_error(await post({"type": "signup", "token": "123456", "email": "not-an-email"}), 422, "validation_failed", "Invalid email format")
    assert_error(await post({"type": "sms", "token_hash": "abc"}), 400, "validation_failed", "Invalid email verification type")
    assert_error(await post({"type": "signup", "token_hash": "f" * 56}), 403, "otp_expired", "Email link is invalid or has expired")
    malformed = await api.client.post("/verify", content=b"{nope", headers=api.headers())
    assert_error(malformed, 400, "bad_json")
    wrong_type = await post({"type": 5, "token_hash": "abc"})
    assert_error(wrong_type, 400, "bad_json")
    assert await api.counts() == before


async def test_get_verify_needs_token_and_type_as_json_errors(api: Any) -> None:
    assert_error(await api.client.get("/verify?type=signup"), 400, "validation_failed", "Verify requires a token or a token hash")
    assert_error(await api.client.get("/verify?token=abc"), 400, "validation_failed", "Verify requires a verification type")
    sms = await api.client.get("/verify?token=abc&type=sms", follow_redirects=False)
    assert sms.status_code == 303
    assert fragment(sms.headers["location"])["error_code"] == "validation_failed"


async def test_verify_redirects_only_to_allowed_targets(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_URI_ALLOW_LIST": "https://app.example.com/**"})
    await api.client.post(
        "/signup?redirect_to=https://app.example.com/welcome",
        json={"email": "r@example.com", "password": "s3cret-pass"},
        headers=api.headers(),
    )
    mail = api.mail("r@example.com")
    assert mail.redirect_to == "https://app.example.com/welcome"
    token = mail.token_hash
    hostile = await api.client.get(
        f"/verify?token={token}&type=signup&redirect_to=https://evil.example.net/steal", follow_redirects=False
    )
    assert hostile.headers["location"].startswith("http://localhost:3000#")
    await api.signup("s@example.com")
    allowed = await api.client.get(
        f"/verify?token={api.mail('s@example.com').token_hash}&type=signup&redirect_to=https://app.example.com/done",
        follow_redirects=False,
    )
    assert allowed.headers["location"].startswith("https://app.example.com/done#access_token=")


async def test_global_email_budget_is_shared_across_users(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_RATE_LIMIT_EMAIL_SENT": "1"})
    assert (await api.signup("one@example.com")).status_code == 200
    before = await api.counts()
    response = await api.signup("two@example.com")
    assert_error(response, 429, "over_email_send_rate_limit", "email rate limit exceeded")
    assert await api.counts() == before


# --- magic link and OTP -------------------------------------------------------------------------


async def test_otp_for_an_unknown_address_signs_up_and_sends_the_confirmation(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    response = await api.client.post("/otp", json={"email": "fresh@example.com", "data": {"a": 1}}, headers=api.headers())
    assert response.status_code == 200 and response.json() == {}
    assert (await api.counts())["users"] == 1
    mail = api.mail("fresh@example.com")
    assert mail.kind == "confirmation"
    verified = await api.client.post(
        "/verify", json={"type": "email", "email": "fresh@example.com", "token": mail.otp}, headers=api.headers()
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["user_metadata"]["a"] == 1


async def test_otp_without_create_user_is_refused_for_unknown_addresses(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    before = await api.counts()
    response = await api.client.post(
        "/otp", json={"email": "nobody@example.com", "create_user": False}, headers=api.headers()
    )
    assert_error(response, 422, "otp_disabled", "Signups not allowed for otp")
    assert await api.counts() == before and api.mails() == 0


async def test_otp_validation(api: Any) -> None:
    both = await api.client.post("/otp", json={"email": "a@example.com", "phone": "15555550100"}, headers=api.headers())
    assert_error(both, 400, "validation_failed")
    channel = await api.client.post("/otp", json={"email": "a@example.com", "channel": "sms"}, headers=api.headers())
    assert_error(channel, 400, "validation_failed", "Channel should only be specified with Phone OTP")
    neither = await api.client.post("/otp", json={}, headers=api.headers())
    assert_error(neither, 400, "validation_failed", "One of email or phone must be set")
    phone = await api.client.post("/otp", json={"phone": "15555550100"}, headers=api.headers())
    assert_error(phone, 400, "phone_provider_disabled")
    assert (await api.counts())["users"] == 0


async def test_magic_link_signs_in_a_confirmed_user_once(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_SMTP_MAX_FREQUENCY": "1ms"})
    await confirmed_user(api, "magic@example.com")
    response = await api.client.post("/magiclink", json={"email": "magic@example.com"}, headers=api.headers())
    assert response.status_code == 200 and response.json() == {}
    mail = api.mail("magic@example.com", "magic_link")
    assert link_query(mail.link)["type"] == "magiclink"
    by_code = await api.client.post(
        "/verify", json={"type": "magiclink", "email": "magic@example.com", "token": mail.otp}, headers=api.headers()
    )
    assert by_code.status_code == 200, by_code.text
    claims = by_code.json()["access_token"].split(".")[1]
    payload = base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4))
    assert b'"otp"' in payload
    reused = await follow(api, mail.link)
    assert fragment(reused.headers["location"])["error_code"] == "otp_expired"


async def test_second_link_within_the_send_frequency_is_429(make_api: Any) -> None:
    clock = FixedClock(START)
    api = await make_api({**CONFIRM, "GOTRUE_SMTP_MAX_FREQUENCY": "1m"}, clock=clock)
    await api.signup("freq@example.com")
    clock.advance(seconds=20.5)
    before = await api.counts()
    sent = api.mails()
    response = await api.client.post(
        "/resend", json={"type": "signup", "email": "freq@example.com"}, headers=api.headers()
    )
    assert_error(
        response, 429, "over_email_send_rate_limit", "For security purposes, you can only request this after 39 seconds."
    )
    assert await api.counts() == before and api.mails() == sent
    clock.advance(seconds=40)
    later = await api.client.post("/resend", json={"type": "signup", "email": "freq@example.com"}, headers=api.headers())
    assert later.status_code == 200 and api.mails() == sent + 1


async def test_disabled_email_provider_and_magic_links(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_EXTERNAL_EMAIL_ENABLED": "false"})
    assert_error(
        await api.client.post("/magiclink", json={"email": "a@example.com"}, headers=api.headers()),
        422,
        "email_provider_disabled",
        "Email logins are disabled",
    )
    assert_error(
        await api.client.post("/recover", json={"email": "a@example.com"}, headers=api.headers()),
        400,
        "email_provider_disabled",
    )
    api2 = await make_api({**CONFIRM, "GOTRUE_EXTERNAL_EMAIL_MAGIC_LINK_ENABLED": "false"})
    assert_error(
        await api2.client.post("/magiclink", json={"email": "a@example.com"}, headers=api2.headers()),
        422,
        "email_provider_disabled",
        "Login with magic link is disabled",
    )
    api3 = await make_api({**CONFIRM, "GOTRUE_DISABLE_SIGNUP": "true"})
    assert_error(
        await api3.client.post("/otp", json={"email": "new@example.com"}, headers=api3.headers()),
        422,
        "signup_disabled",
    )
    assert (await api3.counts())["users"] == 0


# --- recovery -----------------------------------------------------------------------------------


async def test_recover_answers_known_and_unknown_addresses_alike(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "known@example.com")
    before = await api.counts()
    sent = api.mails()
    unknown = await api.client.post("/recover", json={"email": "unknown@example.com"}, headers=api.headers())
    assert await api.counts() == before and api.mails() == sent
    known = await api.client.post("/recover", json={"email": "known@example.com"}, headers=api.headers())
    assert (unknown.status_code, unknown.content) == (known.status_code, known.content) == (200, b"{}")
    assert api.mail("known@example.com", "recovery")


async def test_recovery_link_signs_in_and_allows_a_new_password(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "forgot@example.com", "old-password")
    await api.client.post("/recover", json={"email": "forgot@example.com"}, headers=api.headers())
    response = await follow(api, api.mail("forgot@example.com", "recovery").link)
    session = fragment(response.headers["location"])
    assert session["type"] == "recovery"
    changed = await api.client.put(
        "/user", json={"password": "brand-new-password"}, headers=api.headers(session["access_token"])
    )
    assert changed.status_code == 200, changed.text
    assert (await api.password_grant("forgot@example.com", "brand-new-password")).status_code == 200
    assert (await api.password_grant("forgot@example.com", "old-password")).status_code == 400


async def test_recover_validation(api: Any) -> None:
    assert_error(
        await api.client.post("/recover", json={}, headers=api.headers()),
        400,
        "validation_failed",
        "Password recovery requires an email",
    )
    assert_error(await api.client.post("/recover", json={"email": "nope"}, headers=api.headers()), 400, "validation_failed")
    assert_error(
        await api.client.post("/recover", json={"email": "a@example.com", "code_challenge": CHALLENGE}, headers=api.headers()),
        400,
        "validation_failed",
    )


# --- resend -------------------------------------------------------------------------------------


async def test_resend_signup_replaces_the_code(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_SMTP_MAX_FREQUENCY": "1ms"})
    await api.signup("again@example.com")
    first = api.mail("again@example.com")
    response = await api.client.post("/resend", json={"type": "signup", "email": "again@example.com"}, headers=api.headers())
    assert response.status_code == 200 and response.json() == {}
    second = api.mail("again@example.com")
    assert second.token_hash != first.token_hash
    old = await api.client.post("/verify", json={"type": "signup", "token_hash": first.token_hash}, headers=api.headers())
    assert_error(old, 403, "otp_expired")
    new = await api.client.post("/verify", json={"type": "signup", "token_hash": second.token_hash}, headers=api.headers())
    assert new.status_code == 200


async def test_resend_with_nothing_pending_sends_nothing(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "done@example.com")
    sent = api.mails()
    for body in (
        {"type": "signup", "email": "done@example.com"},
        {"type": "signup", "email": "ghost@example.com"},
        {"type": "email_change", "email": "done@example.com"},
    ):
        response = await api.client.post("/resend", json=body, headers=api.headers())
        assert response.status_code == 200 and response.json() == {}
    assert api.mails() == sent
    assert_error(
        await api.client.post("/resend", json={"type": "recovery", "email": "done@example.com"}, headers=api.headers()),
        400,
        "validation_failed",
        "Missing one of these types: signup, email_change, sms, phone_change",
    )


# --- invite -------------------------------------------------------------------------------------


async def test_invite_link_signs_the_invitee_in(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    response = await api.client.post("/invite", json={"email": "guest@example.com", "data": {"team": "x"}}, headers=api.admin())
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["invited_at"] and "email_confirmed_at" not in user
    mail = api.mail("guest@example.com", "invite")
    assert link_query(mail.link)["type"] == "invite"
    accepted = await follow(api, mail.link)
    session = fragment(accepted.headers["location"])
    assert session["type"] == "invite"
    me = await api.client.get("/user", headers=api.headers(session["access_token"]))
    assert me.json()["email_confirmed_at"] and me.json()["user_metadata"]["team"] == "x"
    again = await api.client.post("/invite", json={"email": "guest@example.com"}, headers=api.admin())
    assert_error(again, 422, "email_exists")


async def test_invite_needs_an_admin_and_a_valid_email(api: Any) -> None:
    before = await api.counts()
    assert_error(await api.client.post("/invite", json={"email": "x@example.com"}, headers=api.headers()), 403, "not_admin")
    assert_error(await api.client.post("/invite", json={"email": "bad"}, headers=api.admin()), 400, "validation_failed")
    assert await api.counts() == before


# --- email change -------------------------------------------------------------------------------


async def test_secure_email_change_needs_both_links(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    session = await confirmed_user(api, "old@example.com")
    response = await api.client.put("/user", json={"email": "New@Example.com"}, headers=api.headers(session["access_token"]))
    assert response.status_code == 200, response.text
    assert response.json()["new_email"] == "new@example.com" and response.json()["email"] == "old@example.com"
    to_new = api.mail("new@example.com", "email_change")
    to_old = api.mail("old@example.com", "email_change")
    assert to_new.token_hash != to_old.token_hash
    first = await follow(api, to_old.link)
    assert fragment(first.headers["location"])["message"].startswith("Confirmation link accepted")
    me = await api.client.get("/user", headers=api.headers(session["access_token"]))
    assert me.json()["email"] == "old@example.com"
    second = await api.client.post(
        "/verify", json={"type": "email_change", "token_hash": to_new.token_hash}, headers=api.headers()
    )
    assert second.status_code == 200, second.text
    assert second.json()["user"]["email"] == "new@example.com"
    assert (await api.password_grant("new@example.com")).status_code == 200
    assert (await api.password_grant("old@example.com")).status_code == 400


async def test_email_change_first_confirmation_by_post_returns_the_message(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    session = await confirmed_user(api, "a1@example.com")
    await api.client.put("/user", json={"email": "a2@example.com"}, headers=api.headers(session["access_token"]))
    code = api.mail("a2@example.com", "email_change").otp
    response = await api.client.post(
        "/verify", json={"type": "email_change", "email": "a2@example.com", "token": code}, headers=api.headers()
    )
    assert response.status_code == 200
    assert response.json() == {
        "msg": "Confirmation link accepted. Please proceed to confirm link sent to the other email",
        "code": "200",
    }


async def test_email_change_without_secure_change_needs_one_link(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED": "false"})
    session = await confirmed_user(api, "one@example.com")
    await api.client.put("/user", json={"email": "two@example.com"}, headers=api.headers(session["access_token"]))
    assert api.inbox.latest("one@example.com", "email_change") is None
    response = await follow(api, api.mail("two@example.com", "email_change").link)
    assert fragment(response.headers["location"])["type"] == "email_change"
    assert (await api.password_grant("two@example.com")).status_code == 200


async def test_email_change_to_a_taken_address_is_refused(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "taken@example.com")
    session = await confirmed_user(api, "mover@example.com")
    before = await api.counts()
    sent = api.mails()
    response = await api.client.put("/user", json={"email": "taken@example.com"}, headers=api.headers(session["access_token"]))
    assert_error(response, 422, "email_exists")
    assert await api.counts() == before and api.mails() == sent


# --- reauthentication ---------------------------------------------------------------------------


async def test_password_change_on_an_old_session_needs_the_reauthentication_code(make_api: Any) -> None:
    clock = FixedClock(START)
    api = await make_api({**CONFIRM, "GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION": "true"}, clock=clock)
    session = await confirmed_user(api, "re@example.com")
    clock.advance(hours=25)
    fresh = (await api.refresh(session["refresh_token"])).json()
    headers = api.headers(fresh["access_token"])
    assert_error(
        await api.client.put("/user", json={"password": "another-pass"}, headers=headers),
        400,
        "reauthentication_needed",
        "Password update requires reauthentication",
    )
    sent = await api.client.get("/reauthenticate", headers=headers)
    assert sent.status_code == 200 and sent.json() == {}
    mail = api.mail("re@example.com", "reauthentication")
    assert mail.link == "" and mail.otp.isdigit()
    wrong = "000000" if mail.otp != "000000" else "111111"
    assert_error(
        await api.client.put("/user", json={"password": "another-pass", "nonce": wrong}, headers=headers),
        422,
        "reauthentication_not_valid",
    )
    ok = await api.client.put("/user", json={"password": "another-pass", "nonce": mail.otp}, headers=headers)
    assert ok.status_code == 200, ok.text
    reused = await api.client.put("/user", json={"password": "third-pass-x", "nonce": mail.otp}, headers=headers)
    assert_error(reused, 422, "reauthentication_not_valid")


async def test_reauthenticate_needs_an_address(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true"})
    anonymous = (await api.client.post("/signup", json={}, headers=api.headers())).json()
    before = await api.counts()
    response = await api.client.get("/reauthenticate", headers=api.headers(anonymous["access_token"]))
    assert_error(response, 400, "validation_failed")
    assert_error(await api.client.get("/reauthenticate", headers=api.headers()), 403, "bad_jwt")
    assert await api.counts() == before and api.mails() == 0


# --- PKCE ---------------------------------------------------------------------------------------


async def test_pkce_signup_link_redirects_with_a_code_exchanged_once(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    response = await api.client.post(
        "/signup",
        json={
            "email": "pkce@example.com",
            "password": "s3cret-pass",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "s256",
        },
        headers=api.headers(),
    )
    assert response.status_code == 200, response.text
    mail = api.mail("pkce@example.com")
    assert mail.token_hash.startswith("pkce_")
    redirected = await follow(api, mail.link)
    location = redirected.headers["location"]
    assert urlsplit(location).fragment == ""
    code = query(location)["code"]
    wrong = await api.client.post(
        "/token?grant_type=pkce", json={"auth_code": code, "code_verifier": "w" * 50}, headers=api.headers()
    )
    assert_error(wrong, 400, "bad_code_verifier")
    exchanged = await api.client.post(
        "/token?grant_type=pkce", json={"auth_code": code, "code_verifier": VERIFIER}, headers=api.headers()
    )
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.json()["user"]["email"] == "pkce@example.com"
    again = await api.client.post(
        "/token?grant_type=pkce", json={"auth_code": code, "code_verifier": VERIFIER}, headers=api.headers()
    )
    assert_error(again, 404, "flow_state_not_found")
    empty = await api.client.post("/token?grant_type=pkce", json={"auth_code": code}, headers=api.headers())
    assert_error(empty, 400, "validation_failed")


async def test_pkce_magic_link_code_expires(make_api: Any) -> None:
    clock = FixedClock(START)
    api = await make_api(CONFIRM, clock=clock)
    await confirmed_user(api, "pm@example.com")
    await api.client.post(
        "/otp",
        json={"email": "pm@example.com", "code_challenge": VERIFIER, "code_challenge_method": "plain"},
        headers=api.headers(),
    )
    mail = api.mail("pm@example.com", "magic_link")
    clock.advance(seconds=200)
    code = query((await follow(api, mail.link)).headers["location"])["code"]
    clock.advance(seconds=301)
    expired = await api.client.post(
        "/token?grant_type=pkce", json={"auth_code": code, "code_verifier": VERIFIER}, headers=api.headers()
    )
    assert_error(expired, 422, "flow_state_expired")


async def test_pkce_error_redirect_carries_the_error_in_query_and_fragment(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    response = await api.client.get("/verify?token=pkce_" + "0" * 56 + "&type=signup", follow_redirects=False)
    location = response.headers["location"]
    assert query(location)["error_code"] == "otp_expired"
    assert fragment(location)["error_code"] == "otp_expired"


# --- admin generate_link --------------------------------------------------------------------------


async def test_generate_link_for_each_type(make_api: Any) -> None:
    api = await make_api(CONFIRM)

    async def generate(body: dict[str, Any]) -> Any:
        return await api.client.post("/admin/generate_link", json=body, headers=api.admin())

    sent = api.mails()
    signup = await generate({"type": "signup", "email": "gl@example.com", "password": "s3cret-pass", "data": {"k": 1}})
    assert signup.status_code == 200, signup.text
    body = signup.json()
    assert body["email"] == "gl@example.com" and body["verification_type"] == "signup"
    assert len(body["email_otp"]) == 6 and len(body["hashed_token"]) == 56
    assert link_query(body["action_link"]) == {
        "token": body["hashed_token"],
        "type": "signup",
        "redirect_to": "http://localhost:3000",
    }
    verified = await api.client.post(
        "/verify", json={"type": "signup", "token_hash": body["hashed_token"]}, headers=api.headers()
    )
    assert verified.status_code == 200

    for kind in ("magiclink", "recovery"):
        link = (await generate({"type": kind, "email": "gl@example.com"})).json()
        assert link["verification_type"] == kind
        ok = await api.client.post("/verify", json={"type": kind, "token_hash": link["hashed_token"]}, headers=api.headers())
        assert ok.status_code == 200, ok.text

    magic_new = (await generate({"type": "magiclink", "email": "brandnew@example.com"})).json()
    assert magic_new["verification_type"] == "signup"

    current = (await generate({"type": "email_change_current", "email": "gl@example.com", "new_email": "gl2@example.com"})).json()
    new = (await generate({"type": "email_change_new", "email": "gl@example.com", "new_email": "gl2@example.com"})).json()
    first = await follow(api, current["action_link"])
    assert "message" in fragment(first.headers["location"])
    second = await follow(api, new["action_link"])
    assert fragment(second.headers["location"])["type"] == "email_change"
    assert (await api.password_grant("gl2@example.com")).status_code == 200
    assert api.mails() == sent


async def test_generate_link_refusals(api: Any) -> None:
    async def generate(body: dict[str, Any]) -> Any:
        return await api.client.post("/admin/generate_link", json=body, headers=api.admin())

    before = await api.counts()
    assert_error(await generate({"type": "recovery", "email": "none@example.com"}), 404, "user_not_found", "User with this email not found")
    assert_error(
        await generate({"type": "bogus", "email": "a@example.com"}),
        400,
        "validation_failed",
        "Invalid email action link type requested: bogus",
    )
    assert_error(await generate({"type": "signup", "email": "a@example.com"}), 400, "validation_failed")
    assert_error(await generate({"type": "signup", "email": "bad"}), 400, "validation_failed")
    assert_error(
        await api.client.post("/admin/generate_link", json={"type": "signup", "email": "a@example.com", "password": "s3cret-pass"}, headers=api.headers()),
        403,
        "not_admin",
    )
    assert await api.counts() == before


# --- failures -----------------------------------------------------------------------------------


class RefusingMailer:
    async def send(self, mail: Any) -> None:
        raise MailDeliveryFailed("550 mailbox unavailable")


REFUSED_REQUESTS = (
    ("/signup", {"email": "new@example.com", "password": "s3cret-pass"}, False),
    ("/recover", {"email": "there@example.com"}, False),
    ("/magiclink", {"email": "there@example.com"}, False),
    ("/invite", {"email": "inv@example.com"}, True),
)


async def test_inline_delivery_a_refused_mail_leaves_nothing_half_made(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "PYTRUE_MAILER_DELIVERY": "inline"})
    await confirmed_user(api, "there@example.com")
    # the use cases hold the mailer they were built with: swap it on the shared EmailCodes service
    api.container.use_cases.codes().mailer = RefusingMailer()
    before = await api.counts()
    for path, body, admin in REFUSED_REQUESTS:
        response = await api.client.post(path, json=body, headers=api.admin() if admin else api.headers())
        assert response.status_code == 500, (path, response.text)
        assert response.json()["error_code"] == "unexpected_failure"
        shown = {k: v for k, v in response.json().items() if k != "error_id"}  # a random id may contain "550"
        assert "550" not in str(shown)
    assert await api.counts() == before


async def test_a_refused_mail_stays_queued_and_is_delivered_once_the_server_accepts_it(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_SMTP_MAX_FREQUENCY": "1ms", "PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL": "20ms"})
    await confirmed_user(api, "there@example.com")
    sender = api.container.use_cases.outbox_sender()
    working, sender.mailer = sender.mailer, RefusingMailer()
    sent_before = api.mails()
    for path, body, admin in REFUSED_REQUESTS:
        response = await api.client.post(path, json=body, headers=api.admin() if admin else api.headers())
        assert response.status_code == 200, (path, response.text)
    api.settle_mail()
    queued = await api.outbox()
    assert [row["kind"] for row in queued] == ["confirmation", "recovery", "magic_link", "invite"]
    assert all(row["attempts"] >= 1 and "550" in row["last_error"] for row in queued)
    assert api.mails() == sent_before

    sender.mailer = working
    await api.drain_mail()
    assert {m.kind for m in api.inbox.messages[sent_before:]} == {"confirmation", "recovery", "magic_link", "invite"}
    link = api.mail("there@example.com", "magic_link").link
    assert (await follow(api, link)).status_code == 303


async def test_a_long_outage_refuses_new_mail_for_known_and_unknown_addresses_alike(make_api: Any) -> None:
    api = await make_api(
        {**CONFIRM, "PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL": "20ms", "PYTRUE_MAILER_OUTBOX_FAIL_FAST_AFTER": "1ms"}
    )
    await confirmed_user(api, "there@example.com")
    sender = api.container.use_cases.outbox_sender()
    working, sender.mailer = sender.mailer, DownMailer()
    assert (await api.client.post("/recover", json={"email": "there@example.com"}, headers=api.headers())).status_code == 200
    api.settle_mail()
    time.sleep(0.01)  # the outage is "long" 1 ms after the failed delivery; a fast client could ask sooner
    before, queued = await api.counts(), await api.outbox()
    for email in ("there@example.com", "nobody@example.com"):
        for path in ("/recover", "/magiclink"):
            response = await api.client.post(path, json={"email": email}, headers=api.headers())
            expected = "Error sending recovery email" if path == "/recover" else "Error sending magic link email"
            assert_error(response, 500, "unexpected_failure", expected)
    assert await api.counts() == before and len(await api.outbox()) == len(queued)

    sender.mailer = working
    await api.drain_mail()
    assert (await api.client.post("/recover", json={"email": "nobody@example.com"}, headers=api.headers())).status_code == 200


class DownMailer:
    async def send(self, mail: Any) -> None:
        raise MailDeliveryFailed("SMTP delivery failed at connect: ConnectionRefusedError")


async def test_2024_error_shape_on_email_endpoints(api: Any) -> None:
    response = await api.client.post("/verify", json={"type": "signup"}, headers=api.headers(**V2024))
    assert response.status_code == 400
    assert response.json() == {"code": "validation_failed", "message": "Verify requires either a token or a token hash"}


# --- details settled against GoTrue -------------------------------------------------------------


async def test_autoconfirm_confirms_an_unconfirmed_account_on_a_repeated_signup(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "true"})
    created = await api.client.post(
        "/admin/users", json={"email": "late@example.com", "password": "s3cret-pass"}, headers=api.admin()
    )
    assert "email_confirmed_at" not in created.json()
    again = await api.signup("late@example.com", "another-pass")
    assert again.status_code == 200, again.text
    assert again.json()["user"]["email_confirmed_at"] and again.json()["access_token"]
    link = await api.client.post("/magiclink", json={"email": "late@example.com"}, headers=api.headers())
    assert link.status_code == 200
    assert api.mail("late@example.com", "magic_link")


async def test_generate_signup_link_for_an_unconfirmed_user_needs_no_password(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    await api.signup("pending@example.com")
    response = await api.client.post(
        "/admin/generate_link", json={"type": "signup", "email": "pending@example.com", "data": {"x": 1}}, headers=api.admin()
    )
    assert response.status_code == 200, response.text
    assert response.json()["user_metadata"]["x"] == 1


async def test_a_password_change_keeps_a_pending_email_change_but_forgets_its_codes(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    session = await confirmed_user(api, "keep@example.com")
    headers = api.headers(session["access_token"])
    await api.client.put("/user", json={"email": "moved@example.com"}, headers=headers)
    link = api.mail("moved@example.com", "email_change").link
    changed = await api.client.put("/user", json={"password": "another-pass"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["new_email"] == "moved@example.com"
    assert "email_change_sent_at" not in changed.json()
    assert fragment((await follow(api, link)).headers["location"])["error_code"] == "otp_expired"
    resent = await api.client.post("/resend", json={"type": "email_change", "email": "keep@example.com"}, headers=api.headers())
    assert resent.status_code == 200
    assert api.mail("moved@example.com", "email_change").link != link


async def test_pkce_link_without_its_flow_state_redirects_invalid_request(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "flow@example.com")
    await api.client.post(
        "/magiclink",
        json={"email": "flow@example.com", "code_challenge": CHALLENGE, "code_challenge_method": "S256"},
        headers=api.headers(),
    )
    token = api.mail("flow@example.com", "magic_link").token_hash
    response = await api.client.get(f"/verify?token={token}&type=recovery", follow_redirects=False)
    location = response.headers["location"]
    assert query(location)["error"] == "invalid_request"
    assert fragment(location)["error_code"] == "flow_state_not_found"
    still = await api.client.get(f"/verify?token={token}&type=magiclink", follow_redirects=False)
    assert "code" in query(still.headers["location"])


async def test_a_code_typed_for_the_wrong_kind_is_just_invalid(api: Any) -> None:
    for kind in ("sms", "bogus"):
        response = await api.client.post(
            "/verify", json={"type": kind, "email": "a@example.com", "token": "123456"}, headers=api.headers()
        )
        assert_error(response, 403, "otp_expired", "Token has expired or is invalid")


async def test_otp_length_is_configurable_within_six_to_ten(make_api: Any) -> None:
    for configured, expected in (("8", 8), ("10", 10), ("12", 6), ("5", 6)):
        api = await make_api({**CONFIRM, "GOTRUE_MAILER_OTP_LENGTH": configured})
        await api.signup("len@example.com")
        code = api.mail("len@example.com").otp
        assert len(code) == expected and code.isdigit()
        verified = await api.client.post(
            "/verify", json={"type": "signup", "email": "len@example.com", "token": code}, headers=api.headers()
        )
        assert verified.status_code == 200, verified.text


# --- bad input on every email endpoint ------------------------------------------------------------

EMAIL_ENDPOINTS = (
    ("/verify", "anon", {"type": ["signup"], "token_hash": "x"}),
    ("/otp", "anon", {"email": 42}),
    ("/magiclink", "anon", {"email": {"a": 1}}),
    ("/recover", "anon", {"email": ["a@example.com"]}),
    ("/resend", "anon", {"type": 1, "email": "a@example.com"}),
    ("/invite", "admin", {"email": True}),
    ("/admin/generate_link", "admin", {"type": "signup", "email": "a@example.com", "data": "not-an-object"}),
)


async def test_email_endpoints_refuse_malformed_json_wrong_types_and_oversize_bodies(api: Any) -> None:
    before = await api.counts()
    for path, who, wrong_types in EMAIL_ENDPOINTS:
        headers = api.admin() if who == "admin" else api.headers()
        malformed = await api.client.post(path, content=b'{"email": ', headers={**headers, "Content-Type": "application/json"})
        assert_error(malformed, 400, "bad_json")
        typed = await api.client.post(path, json=wrong_types, headers=headers)
        assert_error(typed, 400, "bad_json")
        huge = await api.client.post(
            path, content=b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}', headers={**headers, "Content-Type": "application/json"}
        )
        assert_error(huge, 413, "request_entity_too_large")
    assert await api.counts() == before
    assert api.mails() == 0


async def test_hostile_redirects_in_emailed_links_fall_back_to_the_site_url(make_api: Any) -> None:
    api = await make_api({**CONFIRM, "GOTRUE_URI_ALLOW_LIST": "https://app.example.com/**", "GOTRUE_SMTP_MAX_FREQUENCY": "1ms"})
    await confirmed_user(api, "victim@example.com")
    hostile = (
        "https://evil.example.net/",
        "https://app.example.com@evil.example.net/",
        "//evil.example.net/x",
        "https:\\\\evil.example.net",
        "javascript:alert(1)",
        "https://evil.example.net?.app.example.com/",
    )
    for target in hostile:
        response = await api.client.post(
            "/recover", params={"redirect_to": target}, json={"email": "victim@example.com"}, headers=api.headers()
        )
        assert response.status_code == 200
        mail = api.mail("victim@example.com", "recovery")
        assert mail.redirect_to == "http://localhost:3000", target
        assert link_query(mail.link)["redirect_to"] == "http://localhost:3000"
    await api.client.post(
        "/recover", params={"redirect_to": "https://app.example.com/reset"}, json={"email": "victim@example.com"}, headers=api.headers()
    )
    assert api.mail("victim@example.com", "recovery").redirect_to == "https://app.example.com/reset"
