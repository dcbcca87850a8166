"""Security notification emails (GOTRUE_MAILER_NOTIFICATIONS_*; docs/adr/0031) on either storage.

Every kind, switched on and off (with every other kind on, so each switch governs its own kind
only): the change made over HTTP, the message read from the development inbox, GoTrue's default
subject and body with the variables rendered, and no other notification sent. Then a custom
subject and body, the outbox keeping a notice while delivery fails (the change stands), and
the email budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from contract.email_flows import fragment, follow
from contract.identity_linking import _callback, _link, _me, _unlink
from contract.mfa_factors import _step_up, _totp_user
from contract.oauth_flows import _fragment, github, github_api
from contract.phone_flows import OTHER, PHONE, twilio_env
from support.fake_http import Reply, serving
from support.sms_providers import TwilioApi

from pytrue.adapters.system import FixedClock
from pytrue.application.ports import (
    MAIL_EMAIL_CHANGED,
    MAIL_IDENTITY_LINKED,
    MAIL_IDENTITY_UNLINKED,
    MAIL_MFA_FACTOR_ENROLLED,
    MAIL_MFA_FACTOR_UNENROLLED,
    MAIL_PASSWORD_CHANGED,
    MAIL_PHONE_CHANGED,
    NOTIFICATION_KINDS,
    MailDeliveryFailed,
)

_SWITCH = {kind: f"GOTRUE_MAILER_NOTIFICATIONS_{kind.removesuffix('_notification').upper()}_ENABLED" for kind in NOTIFICATION_KINDS}
_ALL_ON = {name: "true" for name in _SWITCH.values()}
_USER = "user@example.com"
_NEW_PASSWORD = "an0ther-pass"


def _env(kind: str, on: bool, **extra: str) -> dict[str, str]:
    """Every notification on, and `kind` as asked."""
    return {**_ALL_ON, _SWITCH[kind]: "true" if on else "false", **extra}


def _notices(api: Any) -> list[Any]:
    return [mail for mail in api.inbox.messages if mail.kind in NOTIFICATION_KINDS]


def _expect(api: Any, kind: str | None, to: str = _USER) -> Any:
    """Exactly one notification was sent, of `kind`, to `to` (none at all when `kind` is None)."""
    sent = _notices(api)
    if kind is None:
        assert sent == [], [(m.kind, m.to) for m in sent]
        return None
    assert [(m.kind, m.to) for m in sent] == [(kind, to)]
    [mail] = sent
    assert mail.otp == "" and mail.token_hash == "" and mail.link == ""  # a notice carries no code or link
    assert "href" not in mail.html
    return mail


async def _signed_up(api: Any, email: str = _USER, **body: Any) -> dict[str, Any]:
    response = await api.signup(email, **body)
    assert response.status_code == 200, response.text
    return response.json()


async def _put_user(api: Any, token: str, **body: Any) -> Any:
    response = await api.client.put("/user", json=body, headers=api.headers(token))
    assert response.status_code == 200, response.text
    return response.json()


_ON_OFF = pytest.mark.parametrize("on", [True, False], ids=["on", "off"])


# --- password changed -------------------------------------------------------------------------------
@_ON_OFF
async def test_notice_of_a_password_change_by_put_user(make_api: Any, on: bool) -> None:
    api = await make_api(_env(MAIL_PASSWORD_CHANGED, on))
    session = await _signed_up(api, data={"name": "Ada"})
    await _put_user(api, session["access_token"], password=_NEW_PASSWORD)
    assert (await api.password_grant(_USER, _NEW_PASSWORD)).status_code == 200
    mail = _expect(api, MAIL_PASSWORD_CHANGED if on else None)
    if on:
        assert mail.subject == "Your password was changed"
        assert "<h2>Your password was changed</h2>" in mail.html
        assert "The password for your account was recently changed." in mail.text
        assert "If you didn't make this change, reset your password and contact support immediately." in mail.text
        assert _NEW_PASSWORD not in mail.html + mail.text


async def test_notice_of_a_password_set_after_recovery(make_api: Any) -> None:
    api = await make_api(_ALL_ON)
    await _signed_up(api)
    assert (await api.client.post("/recover", json={"email": _USER}, headers=api.headers())).status_code == 200
    recovered = await follow(api, api.mail(_USER, "recovery").link)
    token = fragment(recovered.headers["location"])["access_token"]
    _expect(api, None)  # signing in by the recovery link changes nothing yet
    await _put_user(api, token, password=_NEW_PASSWORD)
    _expect(api, MAIL_PASSWORD_CHANGED)


async def test_no_notice_when_only_the_metadata_changes(make_api: Any) -> None:
    api = await make_api(_ALL_ON)
    session = await _signed_up(api)
    await _put_user(api, session["access_token"], data={"theme": "dark"})
    _expect(api, None)


# --- email changed ------------------------------------------------------------------------------------
@_ON_OFF
async def test_notice_of_an_email_change_goes_to_the_old_address(make_api: Any, on: bool) -> None:
    api = await make_api(_env(MAIL_EMAIL_CHANGED, on))
    session = await _signed_up(api)
    await _put_user(api, session["access_token"], email="new@example.com")
    _expect(api, None)  # asking for the change is not the change
    confirmed = await follow(api, api.mail("new@example.com", "email_change").link)
    assert confirmed.status_code == 303, confirmed.text
    assert (await _me(api, session["access_token"]))["email"] == "new@example.com"
    mail = _expect(api, MAIL_EMAIL_CHANGED if on else None, to=_USER)
    if on:
        assert mail.subject == "Your email address was changed"
        assert "The email address for your account was changed from user@example.com to new@example.com." in mail.text


async def test_secure_email_change_notifies_once_both_links_are_followed(make_api: Any) -> None:
    api = await make_api({**_ALL_ON, "GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED": "true"})
    await _signed_up(api)
    confirmed = await follow(api, api.mail(_USER, "confirmation").link)
    token = fragment(confirmed.headers["location"])["access_token"]
    await _put_user(api, token, email="new@example.com")
    first = await follow(api, api.mail(_USER, "email_change").link)
    assert first.status_code == 303
    _expect(api, None)  # one of two confirmations: the address has not changed yet
    second = await follow(api, api.mail("new@example.com", "email_change").link)
    assert second.status_code == 303
    _expect(api, MAIL_EMAIL_CHANGED, to=_USER)


@pytest.fixture
def notices_twilio() -> Iterator[TwilioApi]:
    """The Twilio stand-in the phone scenarios text through."""
    with TwilioApi() as twilio:
        yield twilio  # type: ignore[misc]


# --- phone changed ------------------------------------------------------------------------------------
@_ON_OFF
async def test_notice_of_a_phone_change_confirmed_by_code(make_api: Any, notices_twilio: TwilioApi, on: bool) -> None:
    test_codes = f"{PHONE}:424242,{OTHER}:515151"  # test numbers: no text is sent, the code is known
    clock = FixedClock(datetime.now(timezone.utc).replace(microsecond=0))
    api = await make_api(twilio_env(notices_twilio, **_env(MAIL_PHONE_CHANGED, on), GOTRUE_SMS_TEST_OTP=test_codes), clock=clock)
    session = await _signed_up(api)
    token = session["access_token"]
    await _put_user(api, token, phone=PHONE)
    verified = await api.client.post("/verify", json={"type": "phone_change", "phone": PHONE, "token": "424242"}, headers=api.headers())
    assert verified.status_code == 200, verified.text
    # a first number is no change of number, but it links the phone identity
    _expect(api, MAIL_IDENTITY_LINKED)
    linked = _notices(api)[0]
    assert "Your phone account was linked as a new sign-in method for user@example.com." in linked.text
    before = len(api.inbox.messages)

    clock.advance(seconds=61)  # GOTRUE_SMS_MAX_FREQUENCY
    await _put_user(api, token, phone=OTHER)
    verified = await api.client.post("/verify", json={"type": "phone_change", "phone": OTHER, "token": "515151"}, headers=api.headers())
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["phone"] == OTHER
    later = [m for m in api.inbox.messages[before:] if m.kind in NOTIFICATION_KINDS]
    assert [(m.kind, m.to) for m in later] == ([(MAIL_PHONE_CHANGED, _USER)] if on else [])
    if on:
        [mail] = later
        assert mail.subject == "Your phone number was changed"
        assert f"The phone number for your account was changed from {PHONE} to {OTHER}." in mail.text


async def test_notice_of_a_phone_change_taken_at_once_with_sms_autoconfirm(make_api: Any, notices_twilio: TwilioApi) -> None:
    api = await make_api(twilio_env(notices_twilio, **_ALL_ON, GOTRUE_SMS_AUTOCONFIRM="true"))
    session = await _signed_up(api)
    await _put_user(api, session["access_token"], phone=PHONE)
    await _put_user(api, session["access_token"], phone=OTHER)
    assert [m.kind for m in _notices(api)] == [MAIL_IDENTITY_LINKED, MAIL_PHONE_CHANGED]
    assert f"changed from {PHONE} to {OTHER}." in _notices(api)[1].text


async def test_a_phone_only_user_gets_no_notice(make_api: Any, notices_twilio: TwilioApi) -> None:
    api = await make_api(twilio_env(notices_twilio, **_ALL_ON, GOTRUE_SMS_AUTOCONFIRM="true"))
    response = await api.client.post("/signup", json={"phone": PHONE, "password": "s3cret-pass"}, headers=api.headers())
    assert response.status_code == 200, response.text
    await _put_user(api, response.json()["access_token"], phone=OTHER, password=_NEW_PASSWORD)
    assert _notices(api) == []  # nowhere to send it


# --- identity linked and unlinked -----------------------------------------------------------------------
_LINKING = {"GOTRUE_SECURITY_MANUAL_LINKING_ENABLED": "true"}
_ELSEWHERE = [{"email": "octo@elsewhere.example", "primary": True, "verified": True}]


async def _linked_github(api: Any) -> str:
    """The user signs up and links a GitHub identity; their newest access token."""
    session = await _signed_up(api)
    callback = await _callback(api, (await _link(api, session["access_token"])).headers["location"])
    assert callback.status_code == 302, callback.text
    return _fragment(callback.headers["location"])["access_token"]


@_ON_OFF
async def test_notice_of_a_linked_identity(make_api: Any, on: bool) -> None:
    with github(_ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **_LINKING, **_env(MAIL_IDENTITY_LINKED, on))
        token = await _linked_github(api)
        assert sorted(i["provider"] for i in (await _me(api, token))["identities"]) == ["email", "github"]
        mail = _expect(api, MAIL_IDENTITY_LINKED if on else None)
        if on:
            assert mail.subject == "A new sign-in method was linked to your account"
            assert "Your github account was linked as a new sign-in method for user@example.com." in mail.text


async def test_a_refused_link_sends_no_notice(make_api: Any) -> None:
    with github(_ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **_LINKING, **_ALL_ON)
        token = await _linked_github(api)
        sent = len(_notices(api))
        again = await _callback(api, (await _link(api, token)).headers["location"])
        assert "identity_already_exists" in again.headers["location"]
        assert len(_notices(api)) == sent


@_ON_OFF
async def test_notice_of_an_unlinked_identity(make_api: Any, on: bool) -> None:
    with github(_ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **_LINKING, **_env(MAIL_IDENTITY_UNLINKED, on))
        token = await _linked_github(api)
        before = len(_notices(api))
        identity = next(i for i in (await _me(api, token))["identities"] if i["provider"] == "github")
        assert (await _unlink(api, token, identity["identity_id"])).status_code == 200
        later = _notices(api)[before:]
        assert [(m.kind, m.to) for m in later] == ([(MAIL_IDENTITY_UNLINKED, _USER)] if on else [])
        if on:
            assert later[0].subject == "A sign-in method was removed from your account"
            assert "Your github account was removed as a sign-in method for user@example.com." in later[0].text


async def test_unlinking_the_email_identity_notifies_the_address_it_took_away(make_api: Any) -> None:
    with github(_ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **_LINKING, **_ALL_ON)
        token = await _linked_github(api)
        before = len(_notices(api))
        identity = next(i for i in (await _me(api, token))["identities"] if i["provider"] == "email")
        assert (await _unlink(api, token, identity["identity_id"])).status_code == 200
        assert (await _me(api, token))["email"] == "octo@elsewhere.example"
        [mail] = _notices(api)[before:]
        assert (mail.kind, mail.to) == (MAIL_IDENTITY_UNLINKED, _USER)
        assert "Your email account was removed as a sign-in method for user@example.com." in mail.text


# --- MFA factor enrolled and unenrolled ------------------------------------------------------------------
@_ON_OFF
async def test_notice_of_an_enrolled_factor_on_its_first_verification_only(make_api: Any, on: bool) -> None:
    clock = FixedClock(datetime.now(timezone.utc).replace(microsecond=0))
    api = await make_api(_env(MAIL_MFA_FACTOR_ENROLLED, on), clock=clock)
    session, factor_id, secret = await _totp_user(api)
    _expect(api, None)  # an unverified factor is no enrolment yet
    stepped = await _step_up(api, session["access_token"], factor_id, secret, at=clock.now())
    mail = _expect(api, MAIL_MFA_FACTOR_ENROLLED if on else None)
    if on:
        assert mail.subject == "A new verification method was added to your account"
        assert "Sign-in verification method totp was added to your account." in mail.text
    # a later verification of the same factor is a sign-in, not an enrolment
    clock.advance(seconds=60)
    await _step_up(api, stepped["access_token"], factor_id, secret, at=clock.now())
    assert len(_notices(api)) == (1 if on else 0)


@_ON_OFF
async def test_notice_of_an_unenrolled_factor(make_api: Any, on: bool) -> None:
    api = await make_api(_env(MAIL_MFA_FACTOR_UNENROLLED, on))
    session, factor_id, secret = await _totp_user(api)
    stepped = await _step_up(api, session["access_token"], factor_id, secret)
    before = len(_notices(api))
    removed = await api.client.delete(f"/factors/{factor_id}", headers=api.headers(stepped["access_token"]))
    assert removed.status_code == 200, removed.text
    later = _notices(api)[before:]
    assert [(m.kind, m.to) for m in later] == ([(MAIL_MFA_FACTOR_UNENROLLED, _USER)] if on else [])
    if on:
        assert later[0].subject == "A verification method was removed from your account"
        assert "Sign-in verification method totp was removed from your account." in later[0].text


async def test_unenrolling_an_unverified_factor_is_notified_too(make_api: Any) -> None:
    api = await make_api(_ALL_ON)  # GoTrue sends it whatever the factor's status
    session, factor_id, _ = await _totp_user(api)
    removed = await api.client.delete(f"/factors/{factor_id}", headers=api.headers(session["access_token"]))
    assert removed.status_code == 200, removed.text
    _expect(api, MAIL_MFA_FACTOR_UNENROLLED)


# --- every switch off -----------------------------------------------------------------------------------
async def test_by_default_no_notification_is_sent(make_api: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    stepped = await _step_up(api, session["access_token"], factor_id, secret)
    token = stepped["access_token"]
    await _put_user(api, token, password=_NEW_PASSWORD)
    await _put_user(api, token, email="new@example.com")
    assert (await follow(api, api.mail("new@example.com", "email_change").link)).status_code == 303
    assert (await api.client.delete(f"/factors/{factor_id}", headers=api.headers(token))).status_code == 200
    assert _notices(api) == []


# --- custom subject and body ----------------------------------------------------------------------------
async def test_custom_subject_and_remote_body_with_every_variable(make_api: Any) -> None:
    body = (
        "<p>{{ .Email }} was {{ .OldEmail }} on {{ .SiteURL }}</p>"
        "<p>{{ if .Data.name }}Hello {{ .Data.name }}{{ end }}</p><p>{{ .Data.tag }}</p>"
    )
    with serving(lambda seen: Reply(200, body)) as templates:
        api = await make_api(
            {
                **_ALL_ON,
                "GOTRUE_MAILER_SUBJECTS_EMAIL_CHANGED_NOTIFICATION": "{{ .OldEmail }} is now {{ .Email }}",
                "GOTRUE_MAILER_TEMPLATES_EMAIL_CHANGED_NOTIFICATION": templates.url + "/email-changed.html",
            }
        )
        session = await _signed_up(api, data={"name": "Ada", "tag": "<b>x</b>"})
        await _put_user(api, session["access_token"], email="new@example.com")
        assert (await follow(api, api.mail("new@example.com", "email_change").link)).status_code == 303
        mail = _expect(api, MAIL_EMAIL_CHANGED)
    assert mail.subject == "user@example.com is now new@example.com"
    assert mail.html.startswith("<p>new@example.com was user@example.com on http://localhost:3000</p><p>Hello Ada</p>")
    assert "&lt;b&gt;x&lt;/b&gt;" in mail.html  # user metadata is escaped in the HTML body
    assert [seen.path for seen in templates.requests] == ["/email-changed.html"]


async def test_a_malformed_custom_subject_falls_back_to_gotrues(make_api: Any) -> None:
    api = await make_api({**_ALL_ON, "GOTRUE_MAILER_SUBJECTS_PASSWORD_CHANGED_NOTIFICATION": "{{ if .Email }}"})
    session = await _signed_up(api)
    await _put_user(api, session["access_token"], password=_NEW_PASSWORD)
    assert _expect(api, MAIL_PASSWORD_CHANGED).subject == "Your password was changed"


# --- delivery failures never touch the change ---------------------------------------------------------------
class _DownMailer:
    async def send(self, mail: Any) -> None:
        raise MailDeliveryFailed("SMTP delivery failed at connect: ConnectionRefusedError")


async def test_a_notice_waits_in_the_outbox_while_mail_is_down_and_the_change_stands(make_api: Any) -> None:
    api = await make_api({**_ALL_ON, "PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL": "20ms"})
    session = await _signed_up(api)
    sender = api.container.use_cases.outbox_sender()
    working, sender.mailer = sender.mailer, _DownMailer()
    await _put_user(api, session["access_token"], password=_NEW_PASSWORD)
    assert (await api.password_grant(_USER, _NEW_PASSWORD)).status_code == 200
    api.settle_mail()
    [queued] = await api.outbox()
    assert queued["kind"] == MAIL_PASSWORD_CHANGED and queued["attempts"] >= 1 and "ConnectionRefusedError" in queued["last_error"]
    assert _notices(api) == []

    sender.mailer = working
    await api.drain_mail()
    _expect(api, MAIL_PASSWORD_CHANGED)


async def test_inline_delivery_still_queues_notices_so_a_refusal_changes_nothing(make_api: Any) -> None:
    api = await make_api({**_ALL_ON, "PYTRUE_MAILER_DELIVERY": "inline", "PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL": "20ms"})
    session = await _signed_up(api)
    sender = api.container.use_cases.outbox_sender()
    working, sender.mailer = sender.mailer, _DownMailer()
    api.container.use_cases.codes().mailer = _DownMailer()  # what inline mail would be sent with
    await _put_user(api, session["access_token"], password=_NEW_PASSWORD)
    assert (await api.password_grant(_USER, _NEW_PASSWORD)).status_code == 200
    sender.mailer = working
    await api.drain_mail()
    _expect(api, MAIL_PASSWORD_CHANGED)


async def test_a_spent_email_budget_skips_the_notice_not_the_change(make_api: Any) -> None:
    api = await make_api({**_ALL_ON, "GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_RATE_LIMIT_EMAIL_SENT": "1"})
    await _signed_up(api)  # the confirmation spends the budget
    confirmed = await follow(api, api.mail(_USER, "confirmation").link)
    token = fragment(confirmed.headers["location"])["access_token"]
    await _put_user(api, token, password=_NEW_PASSWORD)
    assert (await api.password_grant(_USER, _NEW_PASSWORD)).status_code == 200
    _expect(api, None)
    assert await api.outbox() == []



async def test_a_change_rolled_back_after_its_notice_was_queued_sends_nothing(make_api: Any) -> None:
    # the password notice takes the budget's last unit, then the email change mail finds it spent: 429, all undone
    api = await make_api({**_ALL_ON, "GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_RATE_LIMIT_EMAIL_SENT": "2"})
    await _signed_up(api)
    confirmed = await follow(api, api.mail(_USER, "confirmation").link)
    token = fragment(confirmed.headers["location"])["access_token"]
    response = await api.client.put("/user", json={"password": _NEW_PASSWORD, "email": "new@example.com"}, headers=api.headers(token))
    assert response.status_code == 429 and response.json()["error_code"] == "over_email_send_rate_limit", response.text
    assert (await api.password_grant(_USER, _NEW_PASSWORD)).status_code == 400
    assert (await api.password_grant(_USER, "s3cret-pass")).status_code == 200
    _expect(api, None)
    assert await api.outbox() == []
