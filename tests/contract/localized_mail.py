"""Localised email (PYTRUE_MAILER_LOCALIZED_TEMPLATES, PYTRUE_MAILER_LOCALE_KEY; docs/adr/0035) on either storage.

Every message travels over real SMTP (aiosmtpd on a local port) and is read as a mail client
would: the Subject header, both parts, Content-Language. The user's locale is what a client
stores in `user_metadata.locale` (`options.data` at sign-up, `data` of PUT /user or of an
invite). French templates sit in a real directory; `fr-CA` users get them, an unknown locale
and a locale whose file is missing get the default, and a queued mail keeps the locale it was
queued with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from contract.email_flows import follow, fragment
from support.smtp import SmtpServer, extract_link, extract_otp, html_part, text_part

from pytrue.application.ports import MailDeliveryFailed

_FR_SUBJECTS = {
    "confirmation": "Confirmez votre inscription, {{ .Email }}",
    "invite": "Vous êtes invité",
    "magic_link": "Votre lien de connexion",
    "recovery": "Réinitialisez votre mot de passe",
    "email_change": "Confirmez votre nouvelle adresse",
    "reauthentication": "{{ .Token }} est votre code",
    "password_changed_notification": "Votre mot de passe a été modifié",
    "email_changed_notification": "Votre adresse a été modifiée",
}
_FR_BODIES = {
    "confirmation": '<p>Bienvenue {{ .Email }} ! <a href="{{ .ConfirmationURL }}">Confirmer</a> ou le code {{ .Token }}</p>',
    "invite": '<p>Invitation pour {{ .Email }} : <a href="{{ .ConfirmationURL }}">Accepter</a></p>',
    "magic_link": '<p>Connexion : <a href="{{ .ConfirmationURL }}">Se connecter</a> (code {{ .Token }})</p>',
    "recovery": '<p>Pour réinitialiser : <a href="{{ .ConfirmationURL }}">Réinitialiser</a></p>',
    "email_change": '<p>De {{ .Email }} à {{ .NewEmail }} : <a href="{{ .ConfirmationURL }}">Confirmer le changement</a></p>',
    "reauthentication": "<p>Votre code : {{ .Token }}</p>",
    "password_changed_notification": "<p>Le mot de passe de {{ .Email }} a été modifié.</p>",
    "email_changed_notification": "<p>Adresse changée de {{ .OldEmail }} à {{ .Email }}.</p>",
}
_USER = "amelie@example.com"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def localized(tmp_path: Path) -> Path:
    french = tmp_path / "fr"
    french.mkdir()
    (french / "subjects.json").write_text(json.dumps(_FR_SUBJECTS), encoding="utf-8")
    for kind, body in _FR_BODIES.items():
        (french / f"{kind}.html").write_text(body, encoding="utf-8")
    spanish = tmp_path / "es"  # a locale with a subject for recovery only, and no bodies at all
    spanish.mkdir()
    (spanish / "subjects.json").write_text(json.dumps({"recovery": "Restablece tu contraseña"}), encoding="utf-8")
    return tmp_path


def _env(smtp: SmtpServer, localized: Path, **extra: str) -> dict[str, str]:
    return {
        "GOTRUE_MAILER_AUTOCONFIRM": "false",
        "GOTRUE_SMTP_HOST": "127.0.0.1",
        "GOTRUE_SMTP_PORT": str(smtp.port),
        "GOTRUE_SMTP_ADMIN_EMAIL": "admin@example.com",
        "GOTRUE_SMTP_MAX_FREQUENCY": "1ms",
        "GOTRUE_RATE_LIMIT_EMAIL_SENT": "1000",
        "PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(localized),
        **extra,
    }


def _received(smtp: SmtpServer, to: str, count: int) -> EmailMessage:
    return smtp.wait_for(to, timeout=10, count=count)


def _assert_french(message: EmailMessage, kind: str, **shown: str) -> None:
    assert message["Subject"] == _FR_SUBJECTS[kind].replace("{{ .Email }}", shown.get("email", "")), message["Subject"]
    assert message["Content-Language"] == "fr"
    html = html_part(message)
    for word in {"confirmation": ["Bienvenue"], "invite": ["Invitation pour"], "magic_link": ["Se connecter"],
                 "recovery": ["Réinitialiser"], "email_change": ["Confirmer le changement"],
                 "reauthentication": ["Votre code"], "password_changed_notification": ["a été modifié"],
                 "email_changed_notification": ["Adresse changée"]}[kind]:
        assert word in html and word in text_part(message), (kind, html)


def _assert_default(message: EmailMessage, subject: str, heading: str) -> None:
    assert message["Subject"] == subject
    assert message["Content-Language"] is None
    assert f"<h2>{heading}</h2>" in html_part(message)


async def _signup(api: Any, email: str, **data: Any) -> None:
    response = await api.signup(email, data=data) if data else await api.signup(email)
    assert response.status_code == 200, response.text


async def _confirm(api: Any, smtp: SmtpServer, email: str) -> str:
    """Follow the confirmation link that went to `email` (its first message); the access token."""
    response = await follow(api, extract_link(_received(smtp, email, 1)))
    assert response.status_code == 303, response.text
    return fragment(response.headers["location"])["access_token"]


async def _put_user(api: Any, token: str, **body: Any) -> Any:
    response = await api.client.put("/user", json=body, headers=api.headers(token))
    assert response.status_code == 200, response.text
    return response.json()


# --- sign-up --------------------------------------------------------------------------------------
async def test_a_french_user_gets_the_french_confirmation_by_smtp(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(smtp, localized))
    await _signup(api, _USER, locale="fr")
    message = _received(smtp, _USER, 1)
    _assert_french(message, "confirmation", email=_USER)
    assert f"Bienvenue {_USER}" in text_part(message) and extract_otp(message)
    token = await _confirm(api, smtp, _USER)  # the localised link works like the default one
    assert (await api.client.get("/user", headers=api.headers(token))).json()["user_metadata"]["locale"] == "fr"


@pytest.mark.parametrize("locale", ["fr-CA", "fr_CA", "FR"])
async def test_a_regional_or_differently_written_locale_gets_french(
    make_api: Any, smtp: SmtpServer, localized: Path, locale: str
) -> None:
    api = await make_api(_env(smtp, localized))
    await _signup(api, _USER, locale=locale)
    _assert_french(_received(smtp, _USER, 1), "confirmation", email=_USER)


@pytest.mark.parametrize("data", [{}, {"locale": "de"}, {"locale": "../fr"}, {"locale": ["fr"]}, {"lang": "fr"}])
async def test_no_or_an_unknown_locale_gets_the_default(make_api: Any, smtp: SmtpServer, localized: Path, data: Any) -> None:
    api = await make_api(_env(smtp, localized))
    await _signup(api, _USER, **data)
    _assert_default(_received(smtp, _USER, 1), "Confirm your email address", "Confirm your email address")


async def test_a_missing_localised_file_gets_the_default(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(smtp, localized, GOTRUE_MAILER_SUBJECTS_CONFIRMATION="Operator: confirm {{ .Email }}"))
    await _signup(api, _USER, locale="es")
    message = _received(smtp, _USER, 1)  # es has no confirmation subject nor body: the operator's, then the built-in
    _assert_default(message, f"Operator: confirm {_USER}", "Confirm your email address")
    await _confirm(api, smtp, _USER)
    assert (await api.client.post("/recover", json={"email": _USER}, headers=api.headers())).status_code == 200
    recovery = _received(smtp, _USER, 2)
    assert recovery["Subject"] == "Restablece tu contraseña"  # es's subject, the default body
    assert "<h2>Reset your password</h2>" in html_part(recovery) and recovery["Content-Language"] is None


async def test_the_metadata_key_is_configurable(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(smtp, localized, PYTRUE_MAILER_LOCALE_KEY="language"))
    await _signup(api, _USER, language="fr", locale="de")
    _assert_french(_received(smtp, _USER, 1), "confirmation", email=_USER)
    await _signup(api, "other@example.com", locale="fr")
    _assert_default(_received(smtp, "other@example.com", 1), "Confirm your email address", "Confirm your email address")


# --- the other kinds ----------------------------------------------------------------------------
async def test_recovery_magic_link_and_reauthentication_are_localised(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(smtp, localized))
    await _signup(api, _USER, locale="fr-CA")
    token = await _confirm(api, smtp, _USER)

    assert (await api.client.post("/recover", json={"email": _USER}, headers=api.headers())).status_code == 200
    recovery = _received(smtp, _USER, 2)
    _assert_french(recovery, "recovery")
    assert (await follow(api, extract_link(recovery))).status_code == 303

    assert (await api.client.post("/magiclink", json={"email": _USER}, headers=api.headers())).status_code == 200
    magic = _received(smtp, _USER, 3)
    _assert_french(magic, "magic_link")
    assert (await follow(api, extract_link(magic))).status_code == 303

    assert (await api.client.get("/reauthenticate", headers=api.headers(token))).status_code == 200
    reauth = _received(smtp, _USER, 4)
    code = extract_otp(reauth)
    assert reauth["Subject"] == f"{code} est votre code" and f"Votre code : {code}" in text_part(reauth)


async def test_a_locale_set_later_by_put_user_applies_to_the_next_mail(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(smtp, localized))
    await _signup(api, _USER)
    token = await _confirm(api, smtp, _USER)
    await _put_user(api, token, data={"locale": "fr"})
    assert (await api.client.post("/recover", json={"email": _USER}, headers=api.headers())).status_code == 200
    _assert_french(_received(smtp, _USER, 2), "recovery")


async def test_an_invite_with_data_is_localised(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(smtp, localized))
    response = await api.client.post("/invite", json={"email": "guest@example.com", "data": {"locale": "fr"}}, headers=api.admin())
    assert response.status_code == 200, response.text
    invite = _received(smtp, "guest@example.com", 1)
    _assert_french(invite, "invite")
    assert "Invitation pour guest@example.com" in text_part(invite)
    assert (await follow(api, extract_link(invite))).status_code == 303


async def test_both_email_change_copies_are_localised(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(smtp, localized, GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED="true"))
    await _signup(api, _USER, locale="fr")
    token = await _confirm(api, smtp, _USER)
    await _put_user(api, token, email="nouvelle@example.com")
    for to, count in ((_USER, 2), ("nouvelle@example.com", 1)):
        message = _received(smtp, to, count)
        _assert_french(message, "email_change")
        assert f"De {_USER} à nouvelle@example.com" in text_part(message)


async def test_security_notifications_are_localised(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(
        smtp, localized,
        GOTRUE_MAILER_NOTIFICATIONS_PASSWORD_CHANGED_ENABLED="true",
        GOTRUE_MAILER_NOTIFICATIONS_EMAIL_CHANGED_ENABLED="true",
        GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED="false",
    ))
    await _signup(api, _USER, locale="fr_BE")
    token = await _confirm(api, smtp, _USER)
    await _put_user(api, token, password="an0ther-pass")
    notice = _received(smtp, _USER, 2)
    _assert_french(notice, "password_changed_notification")
    assert f"Le mot de passe de {_USER} a été modifié." in text_part(notice)

    await _put_user(api, token, email="nouvelle@example.com")
    assert (await follow(api, extract_link(_received(smtp, "nouvelle@example.com", 1)))).status_code == 303
    changed = _received(smtp, _USER, 3)  # to the old address
    _assert_french(changed, "email_changed_notification")
    assert f"Adresse changée de {_USER} à nouvelle@example.com." in text_part(changed)


# --- the outbox -----------------------------------------------------------------------------------
class _Refusing:
    async def send(self, mail: Any) -> None:
        raise MailDeliveryFailed("451 try again later")


async def test_a_queued_mail_keeps_the_locale_it_was_queued_with(make_api: Any, smtp: SmtpServer, localized: Path) -> None:
    api = await make_api(_env(smtp, localized, PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL="20ms"))
    await _signup(api, _USER, locale="fr")
    token = await _confirm(api, smtp, _USER)
    sender = api.container.use_cases.outbox_sender()
    working, sender.mailer = sender.mailer, _Refusing()
    assert (await api.client.post("/recover", json={"email": _USER}, headers=api.headers())).status_code == 200
    api.settle_mail()
    queued = await api.outbox()
    assert [(row["kind"], row["locale"]) for row in queued] == [("recovery", "fr")]
    assert queued[0]["attempts"] >= 1 and "451" in queued[0]["last_error"]

    await _put_user(api, token, data={"locale": "de"})  # the user switches language meanwhile
    sender.mailer = working
    await api.drain_mail()
    _assert_french(_received(smtp, _USER, 2), "recovery")  # rendered in the locale of the request
