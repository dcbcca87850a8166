"""Localised subjects and bodies (PYTRUE_MAILER_LOCALIZED_TEMPLATES; docs/adr/0035).

The mailer is the container's own, over the development inbox; the templates sit in a real
directory (`tmp_path`) or behind a real HTTP server. The fallback rule is also checked as a
property over random sets of present files.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.app import make_settings
from support.fake_http import Reply, Seen, serving
from support.smtp import read_mbox

from pytrue.adapters.mail.dev import DevTransport
from pytrue.adapters.mail.inbox import DevInbox
from pytrue.adapters.mail.localized import MAX_CACHED_FILES, LocalizedTemplates
from pytrue.adapters.mail.templates import DEFAULT_SUBJECTS, TemplateMissing, TemplateUnavailable
from pytrue.adapters.mail.template_mailer import TemplateMailer
from pytrue.application.ports import (
    MAIL_CONFIRMATION,
    MAIL_KINDS,
    MAIL_PASSWORD_CHANGED,
    MAIL_RECOVERY,
    NOTIFICATION_KINDS,
    Mail,
)
from pytrue.domain.locale import locale_chain
from pytrue.domain.user import User
from pytrue.entrypoints.containers import build_container

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
FR_SUBJECTS = {
    MAIL_CONFIRMATION: "Confirmez votre adresse {{ .Email }}",
    MAIL_RECOVERY: "Réinitialisez votre mot de passe",
    MAIL_PASSWORD_CHANGED: "Votre mot de passe a été modifié",
}


def write(root: Path, locale: str, files: dict[str, str | dict[str, str]]) -> None:
    folder = root / locale
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        text = json.dumps(content) if isinstance(content, dict) else content
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    write(tmp_path, "fr", {
        "subjects.json": FR_SUBJECTS,
        "confirmation.html": '<p>Bonjour {{ .Email }}, <a href="{{ .ConfirmationURL }}">confirmez</a> ({{ .Token }})</p>',
        "recovery.html": '<p><a href="{{ .ConfirmationURL }}">Réinitialiser</a></p>',
        "password_changed_notification.html": "<p>Votre mot de passe a été modifié.</p>",
    })
    write(tmp_path, "fr-CA", {"confirmation.html": "<p>Allô {{ .Email }}, confirmez ici : {{ .ConfirmationURL }}</p>"})
    return tmp_path


def dev_mailer(env: dict[str, str]) -> tuple[TemplateMailer, DevInbox]:
    container = build_container(make_settings(env))
    built = container.core.mailer()
    assert isinstance(built, TemplateMailer) and isinstance(built.transport, DevTransport)
    return built, container.core.dev_inbox()


def mail(kind: str, metadata: dict[str, Any] | None = None, **fields: Any) -> Mail:
    user = User(id=uuid.uuid4(), email="ada@example.com", user_metadata=metadata or {}, created_at=NOW, updated_at=NOW)
    link = {"link_type": "signup", "token_hash": "ab" * 28, "redirect_to": "http://localhost:3000"}
    return Mail.for_user(user, kind=kind, to="ada@example.com", otp="123456", **{**(link if kind in MAIL_KINDS else {}), **fields})


async def sent(mailer: TemplateMailer, inbox: DevInbox, message: Mail) -> Any:
    await mailer.send(message)
    return inbox.messages[-1]


async def test_a_french_user_gets_the_french_subject_and_body(templates: Path) -> None:
    mailer, inbox = dev_mailer({"PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates)})
    got = await sent(mailer, inbox, mail(MAIL_CONFIRMATION, {"locale": "fr"}))
    assert got.subject == "Confirmez votre adresse ada@example.com"
    assert "Bonjour ada@example.com" in got.html and "(123456)" in got.html
    assert got.link and f'href="{got.link.replace("&", "&amp;")}"' in got.html
    assert got.locale == "fr"
    assert "Bonjour ada@example.com, confirmez" in got.text


@pytest.mark.parametrize("value", ["fr_CA", "fr-ca", "FR-CA", "fr_CA.UTF-8"])
async def test_a_regional_locale_takes_its_own_body_and_the_language_subject(templates: Path, value: str) -> None:
    mailer, inbox = dev_mailer({"PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates)})
    got = await sent(mailer, inbox, mail(MAIL_CONFIRMATION, {"locale": value}))
    assert got.html.startswith("<p>Allô ada@example.com") and got.locale == "fr-CA"
    assert got.subject == "Confirmez votre adresse ada@example.com"  # fr-CA has no subjects.json: fr's
    recovery = await sent(mailer, inbox, mail(MAIL_RECOVERY, {"locale": value}))
    assert "Réinitialiser" in recovery.html and recovery.locale == "fr"  # fr-CA has no recovery.html: fr's


@pytest.mark.parametrize("metadata", [{}, {"locale": "de"}, {"locale": "??"}, {"locale": 7}, {"lang": "fr"}])
async def test_no_or_an_unknown_locale_gets_the_default(templates: Path, metadata: dict[str, Any]) -> None:
    mailer, inbox = dev_mailer({"PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates)})
    got = await sent(mailer, inbox, mail(MAIL_CONFIRMATION, metadata))
    assert got.subject == DEFAULT_SUBJECTS[MAIL_CONFIRMATION] and got.locale == ""
    assert "<h2>Confirm your email address</h2>" in got.html


async def test_the_operators_templates_are_the_fallback_before_the_built_in_ones(templates: Path) -> None:
    mailer, inbox = dev_mailer({
        "PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates),
        "GOTRUE_MAILER_SUBJECTS_MAGIC_LINK": "Operator link for {{ .Email }}",
        "GOTRUE_MAILER_SUBJECTS_RECOVERY": "Operator recovery",
    })
    got = await sent(mailer, inbox, mail("magic_link", {"locale": "fr"}, link_type="magiclink"))
    assert got.subject == "Operator link for ada@example.com"  # fr has no magic link subject nor body
    assert "<h2>Your sign-in link</h2>" in got.html and got.locale == ""
    got = await sent(mailer, inbox, mail(MAIL_RECOVERY, {"locale": "fr"}, link_type="recovery"))
    assert got.subject == "Réinitialisez votre mot de passe"  # the localised subject wins over the operator's


def test_the_mail_takes_its_locale_from_the_configured_metadata_key() -> None:
    user = User(id=uuid.uuid4(), email="a@b.c", user_metadata={"lang": "fr", "locale": "de"}, created_at=NOW, updated_at=NOW)
    assert Mail.for_user(user, kind=MAIL_RECOVERY, to="a@b.c").locale == "de"
    assert Mail.for_user(user, locale_key="lang", kind=MAIL_RECOVERY, to="a@b.c").locale == "fr"
    assert Mail.for_user(user, locale_key="", kind=MAIL_RECOVERY, to="a@b.c").locale == ""


async def test_without_the_setting_nothing_is_localised(templates: Path) -> None:
    mailer, inbox = dev_mailer({})
    got = await sent(mailer, inbox, mail(MAIL_CONFIRMATION, {"locale": "fr"}))
    assert got.subject == DEFAULT_SUBJECTS[MAIL_CONFIRMATION] and got.locale == ""


async def test_notifications_are_localised(templates: Path) -> None:
    mailer, inbox = dev_mailer({"PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates)})
    got = await sent(mailer, inbox, mail(MAIL_PASSWORD_CHANGED, {"locale": "fr-BE"}))
    assert got.subject == "Votre mot de passe a été modifié" and got.locale == "fr"
    assert got.html == "<p>Votre mot de passe a été modifié.</p>"


async def test_malformed_files_fall_back_and_are_logged_once(templates: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(templates, "es", {
        "subjects.json": "{not json",
        "confirmation.html": "<p>{{ .Email </p>",
        "recovery.html": "<p>Restablecer</p>",
    })
    write(templates, "it", {"subjects.json": {MAIL_CONFIRMATION: "{{ if }}", MAIL_RECOVERY: "Reimposta", "nope": "x"}})
    mailer, inbox = dev_mailer({"PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates)})
    caplog.set_level(logging.INFO, "pytrue.mail")
    for _ in range(3):
        got = await sent(mailer, inbox, mail(MAIL_CONFIRMATION, {"locale": "es"}))
        assert got.subject == DEFAULT_SUBJECTS[MAIL_CONFIRMATION] and got.locale == ""
        assert (await sent(mailer, inbox, mail(MAIL_RECOVERY, {"locale": "es"}))).html == "<p>Restablecer</p>"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("es/subjects.json" in w for w in warnings) == 1, warnings
    assert sum("es/confirmation.html" in w for w in warnings) == 1, warnings
    ours = [r.getMessage() for r in caplog.records if r.module == "localized"]
    assert ours and not any("ada@example.com" in m or "123456" in m or str(templates) in m for m in ours)

    caplog.clear()
    got = await sent(mailer, inbox, mail(MAIL_CONFIRMATION, {"locale": "it"}))
    assert got.subject == DEFAULT_SUBJECTS[MAIL_CONFIRMATION]  # a malformed entry: that kind's default only
    assert (await sent(mailer, inbox, mail(MAIL_RECOVERY, {"locale": "it"}))).subject == "Reimposta"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("it/subjects.json#confirmation" in w for w in warnings) and any("#nope" in w for w in warnings)


async def test_a_localised_template_that_does_not_render_falls_back(templates: Path, caplog: pytest.LogCaptureFixture) -> None:
    mailer, inbox = dev_mailer({"PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates)})

    class Broken:
        def render(self, data: Any, *, html: bool = False) -> str:
            raise ValueError("boom")

    assert (await sent(mailer, inbox, mail(MAIL_RECOVERY, {"locale": "fr"}))).locale == "fr"
    mailer.localized._cache["fr/recovery.html"].value = Broken()  # parsed, but raises when rendered
    got = await sent(mailer, inbox, mail(MAIL_RECOVERY, {"locale": "fr"}))
    assert "<h2>Reset your password</h2>" in got.html and got.locale == ""
    assert got.subject == "Réinitialisez votre mot de passe"
    assert any("fr/recovery.html does not render" in r.getMessage() for r in caplog.records)


async def test_a_localised_body_says_its_language_unless_the_operator_does(templates: Path, tmp_path: Path) -> None:
    box = tmp_path / "inbox.mbox"
    mailer, inbox = dev_mailer({"PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates), "PYTRUE_DEV_INBOX_FILE": str(box)})
    await sent(mailer, inbox, mail(MAIL_RECOVERY, {"locale": "fr"}))
    await sent(mailer, inbox, mail(MAIL_RECOVERY))
    mailer, inbox = dev_mailer({
        "PYTRUE_MAILER_LOCALIZED_TEMPLATES": str(templates), "PYTRUE_DEV_INBOX_FILE": str(box),
        "GOTRUE_SMTP_HEADERS": '{"Content-Language": ["fr-FR"]}',
    })
    await sent(mailer, inbox, mail(MAIL_RECOVERY, {"locale": "fr"}))
    assert [message["Content-Language"] for message in read_mbox(box)] == ["fr", None, "fr-FR"]


def test_a_directory_named_otherwise_than_a_normalised_locale_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "pt_BR").mkdir()
    (tmp_path / "fr").mkdir()
    LocalizedTemplates(source=str(tmp_path))
    assert ["'pt_BR' is not a normalised locale" in r.getMessage() and "'pt-BR'" in r.getMessage() for r in caplog.records] == [True]
    caplog.clear()
    LocalizedTemplates(source=str(tmp_path / "absent"))
    assert any("is not a directory" in r.getMessage() for r in caplog.records)


def test_the_outbox_payload_keeps_the_locale() -> None:
    queued = mail(MAIL_RECOVERY, {"locale": "pt_BR"})
    assert queued.locale == "pt-BR"
    assert Mail.from_payload(json.loads(json.dumps(queued.payload()))) == queued
    legacy = {key: value for key, value in queued.payload().items() if key != "locale"}  # a row queued before 0035
    assert Mail.from_payload(legacy).locale == ""
    assert "locale" not in mail(MAIL_RECOVERY).payload()


# --- over HTTP, with the cache ------------------------------------------------------------------
class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_base_url_is_fetched_cached_and_retried() -> None:
    pages = {"/t/fr/recovery.html": Reply(200, "<p>Réinitialiser {{ .Email }}</p>"), "/t/fr/subjects.json": Reply(500, "oops")}

    def handle(seen: Seen) -> Reply:
        return pages.get(seen.path, Reply(404, "no"))

    clock = Ticks()
    with serving(handle) as server:
        store = LocalizedTemplates(source=f"{server.url}/t/", clock=clock, max_age=timedelta(seconds=60), retry_interval=timedelta(seconds=5))
        chain = locale_chain("fr-CA")
        body = await store.body(MAIL_RECOVERY, chain)
        assert body is not None and body[1] == "fr" and body[0].render({"Email": "a@b"}) == "<p>Réinitialiser a@b</p>"
        assert await store.subject(MAIL_RECOVERY, chain) is None  # fr-CA: 404, fr: 500
        first = [seen.path for seen in server.requests]
        assert first == ["/t/fr-CA/recovery.html", "/t/fr/recovery.html", "/t/fr-CA/subjects.json", "/t/fr/subjects.json"]

        await store.body(MAIL_RECOVERY, chain), await store.subject(MAIL_RECOVERY, chain)
        assert len(server.requests) == 4  # all cached, the failure too (until retry_interval)

        pages["/t/fr/subjects.json"] = Reply(200, json.dumps({MAIL_RECOVERY: "Réinitialisez"}))
        pages["/t/fr/recovery.html"] = Reply(500, "down")
        clock.now = 6
        assert await store.subject(MAIL_RECOVERY, chain) is not None  # the failure is retried
        assert [seen.path for seen in server.requests[4:]] == ["/t/fr/subjects.json"]  # a 404 lasts max_age
        clock.now = 61
        body = await store.body(MAIL_RECOVERY, chain)
        assert body is not None and "Réinitialiser" in body[0].render({})  # a failed refresh keeps the last good one


async def test_the_cache_stays_bounded_whatever_locales_users_choose(tmp_path: Path) -> None:
    store = LocalizedTemplates(source=str(tmp_path))
    locales = [f"{a}{b}{c}" for a in "abcdefghij" for b in "abcdefghij" for c in "abcdefghijklm"][: MAX_CACHED_FILES + 50]
    for locale in locales:
        assert await store.body(MAIL_RECOVERY, (locale,)) is None
    assert len(store._cache) == MAX_CACHED_FILES and len(store._logged) <= MAX_CACHED_FILES


# --- the fallback rule, as a property -------------------------------------------------------------
LOCALES = ("fr", "fr-CA", "fr-CA-1996", "pt", "pt-BR", "zh", "zh-Hant", "zh-Hant-TW", "de")
KINDS = (*MAIL_KINDS, *NOTIFICATION_KINDS)


class DictStore(LocalizedTemplates):
    """The store over a dict of present files instead of a directory."""

    def __init__(self, files: dict[str, str], **kwargs: Any) -> None:
        super().__init__(source="memory", **kwargs)
        self.files = files

    def _check_directory(self) -> None:
        return None

    async def read(self, path: str) -> str:
        if path not in self.files:
            raise TemplateMissing("absent")
        if self.files[path] == "BROKEN":
            raise TemplateUnavailable("broken")
        return self.files[path]


@settings(max_examples=60, deadline=None)
@given(
    present=st.dictionaries(st.tuples(st.sampled_from(LOCALES), st.sampled_from(KINDS)), st.sampled_from(["ok", "BROKEN", "bad"])),
    wanted=st.sampled_from((*LOCALES, "fr_ca", "ZH-hant-tw", "xx", "")),
    kind=st.sampled_from(KINDS),
)
def test_the_first_locale_of_the_chain_with_a_good_file_wins(present: dict[tuple[str, str], str], wanted: str, kind: str) -> None:
    files: dict[str, str] = {}
    subjects: dict[str, dict[str, str]] = {}
    for (locale, file_kind), quality in present.items():
        files[f"{locale}/{file_kind}.html"] = {"ok": f"{locale}:{file_kind}", "BROKEN": "BROKEN", "bad": "{{ if }}"}[quality]
        subjects.setdefault(locale, {})[file_kind] = f"{locale}:{file_kind}" if quality == "ok" else "{{ end }}"
    for locale, entries in subjects.items():
        files[f"{locale}/subjects.json"] = json.dumps(entries)
    chain = locale_chain(wanted)
    good = [locale for locale in chain if present.get((locale, kind)) == "ok"]
    expected = (f"{good[0]}:{kind}", good[0]) if good else None

    async def check() -> None:
        store = DictStore(files)
        for lookup in (store.body, store.subject):
            found = await lookup(kind, chain)
            assert (None if found is None else (found[0].render({}), found[1])) == expected

    asyncio.run(check())

