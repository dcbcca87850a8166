"""Email subjects and bodies: the built-in defaults and the operator's remote templates.

Subjects come from `GOTRUE_MAILER_SUBJECTS_<TYPE>` (Go templates, parsed once; a malformed
one falls back to the default subject). Bodies come from `GOTRUE_MAILER_TEMPLATES_<TYPE>`
URLs (relative ones are appended to SITE_URL), fetched with GET, at most `max_size` bytes,
10 s timeout, cached `max_age`; a failed fetch or a malformed template keeps the previous
cached template, or the built-in one, and is retried after `retry_interval`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from pytrue.adapters.mail.gotemplate import Template, TemplateError, parse
from pytrue.application.ports import (
    MAIL_CONFIRMATION,
    MAIL_EMAIL_CHANGE,
    MAIL_EMAIL_CHANGED,
    MAIL_IDENTITY_LINKED,
    MAIL_IDENTITY_UNLINKED,
    MAIL_INVITE,
    MAIL_MAGIC_LINK,
    MAIL_MFA_FACTOR_ENROLLED,
    MAIL_MFA_FACTOR_UNENROLLED,
    MAIL_PASSWORD_CHANGED,
    MAIL_PHONE_CHANGED,
    MAIL_REAUTHENTICATION,
    MAIL_RECOVERY,
)

log = logging.getLogger("pytrue.mail")

FETCH_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_SIZE = 1_000_000
DEFAULT_MAX_AGE = timedelta(minutes=10)
DEFAULT_RETRY_INTERVAL = timedelta(seconds=10)

DEFAULT_SUBJECTS: dict[str, str] = {
    MAIL_INVITE: "You've been invited",
    MAIL_CONFIRMATION: "Confirm your email address",
    MAIL_RECOVERY: "Reset your password",
    MAIL_MAGIC_LINK: "Your sign-in link",
    MAIL_EMAIL_CHANGE: "Confirm your new email address",
    MAIL_REAUTHENTICATION: "{{ .Token }} is your verification code",
    # security notifications: GoTrue's subjects, word for word
    MAIL_PASSWORD_CHANGED: "Your password was changed",
    MAIL_EMAIL_CHANGED: "Your email address was changed",
    MAIL_PHONE_CHANGED: "Your phone number was changed",
    MAIL_IDENTITY_LINKED: "A new sign-in method was linked to your account",
    MAIL_IDENTITY_UNLINKED: "A sign-in method was removed from your account",
    MAIL_MFA_FACTOR_ENROLLED: "A new verification method was added to your account",
    MAIL_MFA_FACTOR_UNENROLLED: "A verification method was removed from your account",
}

_CONTACT = "<p>If you didn't make this change, contact support immediately.</p>\n"
_CODE = "<p>Or enter this code: <strong>{{ .Token }}</strong></p>\n"

DEFAULT_BODIES: dict[str, str] = {
    MAIL_INVITE: (
        "<h2>You've been invited</h2>\n\n"
        "<p>Someone invited you to create an account on {{ .SiteURL }}. Open the link below to accept.</p>\n"
        '<p><a href="{{ .ConfirmationURL }}">Accept the invitation</a></p>\n' + _CODE
    ),
    MAIL_CONFIRMATION: (
        "<h2>Confirm your email address</h2>\n\n"
        "<p>Open the link below to confirm {{ .Email }} and finish signing up.</p>\n"
        '<p><a href="{{ .ConfirmationURL }}">Confirm your email address</a></p>\n' + _CODE
    ),
    MAIL_RECOVERY: (
        "<h2>Reset your password</h2>\n\n"
        "<p>Someone asked to reset the password of this account. Open the link below to choose a new one.</p>\n"
        '<p><a href="{{ .ConfirmationURL }}">Reset your password</a></p>\n'
        + _CODE
        + "<p>If it was not you, ignore this message.</p>\n"
    ),
    MAIL_MAGIC_LINK: (
        "<h2>Your sign-in link</h2>\n\n"
        "<p>Open the link below to sign in. It works once and expires soon.</p>\n"
        '<p><a href="{{ .ConfirmationURL }}">Sign in</a></p>\n' + _CODE
    ),
    MAIL_EMAIL_CHANGE: (
        "<h2>Confirm your new email address</h2>\n\n"
        "<p>Open the link below to confirm the change of your email address from {{ .Email }} to {{ .NewEmail }}.</p>\n"
        '<p><a href="{{ .ConfirmationURL }}">Confirm the change</a></p>\n'
        + _CODE
        + "<p>If you did not ask for this change, ignore this message.</p>\n"
    ),
    MAIL_REAUTHENTICATION: (
        "<h2>Your verification code</h2>\n\n"
        "<p>Enter this code to confirm it is you: <strong>{{ .Token }}</strong></p>\n"
        "<p>It expires soon.</p>\n"
    ),
    # security notifications: GoTrue's bodies (same words and variables)
    MAIL_PASSWORD_CHANGED: (
        "<h2>Your password was changed</h2>\n\n"
        "<p>The password for your account was recently changed.</p>\n"
        "<p>If you didn't make this change, reset your password and contact support immediately.</p>\n"
    ),
    MAIL_EMAIL_CHANGED: (
        "<h2>Your email address was changed</h2>\n\n"
        "<p>The email address for your account was changed from {{ .OldEmail }} to {{ .Email }}.</p>\n" + _CONTACT
    ),
    MAIL_PHONE_CHANGED: (
        "<h2>Your phone number was changed</h2>\n\n"
        "<p>The phone number for your account was changed from {{ .OldPhone }} to {{ .Phone }}.</p>\n" + _CONTACT
    ),
    MAIL_IDENTITY_LINKED: (
        "<h2>A new sign-in method was linked</h2>\n\n"
        "<p>Your {{ .Provider }} account was linked as a new sign-in method for {{ .Email }}.</p>\n" + _CONTACT
    ),
    MAIL_IDENTITY_UNLINKED: (
        "<h2>A sign-in method was removed</h2>\n\n"
        "<p>Your {{ .Provider }} account was removed as a sign-in method for {{ .Email }}.</p>\n" + _CONTACT
    ),
    MAIL_MFA_FACTOR_ENROLLED: (
        "<h2>A new verification method was added</h2>\n\n"
        "<p>Sign-in verification method {{ .FactorType }} was added to your account.</p>\n" + _CONTACT
    ),
    MAIL_MFA_FACTOR_UNENROLLED: (
        "<h2>A verification method was removed</h2>\n\n"
        "<p>Sign-in verification method {{ .FactorType }} was removed from your account.</p>\n" + _CONTACT
    ),
}

_BUILT_IN_SUBJECTS = {kind: parse(text) for kind, text in DEFAULT_SUBJECTS.items()}
_BUILT_IN_BODIES = {kind: parse(text) for kind, text in DEFAULT_BODIES.items()}


class TemplateUnavailable(Exception):
    """A remote template could not be fetched or parsed (the reason, without secrets)."""


class TemplateMissing(TemplateUnavailable):
    """There is no such template (a 404, a file that does not exist)."""


def subject_template(kind: str, configured: str = "") -> Template:
    """The operator's subject for `kind`, or the built-in one if it is empty or malformed."""
    if configured:
        try:
            return parse(configured)
        except TemplateError as error:
            log.warning("mailer: subject template for %s is malformed (%s); using the default", kind, error)
    return _BUILT_IN_SUBJECTS[kind]


def default_body(kind: str) -> Template:
    return _BUILT_IN_BODIES[kind]


@dataclass(slots=True)
class _Entry:
    template: Template
    created_at: float
    checked_at: float
    default: bool


@dataclass(slots=True, kw_only=True)
class TemplateStore:
    """Subject and body templates per mail kind, with the remote-body cache."""

    site_url: str = ""
    subjects: Mapping[str, str] = field(default_factory=dict)
    urls: Mapping[str, str] = field(default_factory=dict)
    max_size: int = DEFAULT_MAX_SIZE
    max_age: timedelta = DEFAULT_MAX_AGE
    retry_interval: timedelta = DEFAULT_RETRY_INTERVAL
    clock: Callable[[], float] = time.monotonic
    _subjects: dict[str, Template] = field(default_factory=dict, init=False)
    _cache: dict[str, _Entry] = field(default_factory=dict, init=False)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._subjects = {kind: subject_template(kind, self.subjects.get(kind, "")) for kind in DEFAULT_SUBJECTS}

    def subject(self, kind: str) -> Template:
        return self._subjects[kind]

    def url(self, kind: str) -> str:
        url = self.urls.get(kind, "")
        if url and not url.startswith("http"):
            url = self.site_url + url
        return url

    async def body(self, kind: str) -> Template:
        url = self.url(kind)
        if not url:
            return _BUILT_IN_BODIES[kind]
        entry = self._cache.get(kind)
        if entry is not None and self._fresh(entry):
            return entry.template
        lock = self._locks.setdefault(kind, asyncio.Lock())
        async with lock:
            entry = self._cache.get(kind)
            if entry is not None and self._fresh(entry):
                return entry.template
            return (await self._load(kind, url, entry)).template

    def _fresh(self, entry: _Entry) -> bool:
        now = self.clock()
        if not entry.default and now - entry.created_at < self.max_age.total_seconds():
            return True
        return now - entry.checked_at < self.retry_interval.total_seconds()

    async def _load(self, kind: str, url: str, current: _Entry | None) -> _Entry:
        now = self.clock()
        try:
            template = parse(await self.fetch(url))
            entry = _Entry(template, now, now, default=False)
        except (TemplateUnavailable, TemplateError) as error:
            log.warning("mailer: template for %s unavailable (%s); using the %s one", kind, error,
                        "previous" if current is not None else "built-in")
            if current is not None:
                entry = _Entry(current.template, current.created_at, now, current.default)
            else:
                entry = _Entry(_BUILT_IN_BODIES[kind], now, now, default=True)
        self._cache[kind] = entry
        return entry

    async def fetch(self, url: str) -> str:
        """GET `url`: 200 and at most `max_size` bytes of UTF-8, else `TemplateUnavailable`."""
        return await fetch_text(url, self.max_size)


async def fetch_text(url: str, max_size: int) -> str:
    """GET `url`: 200 and at most `max_size` bytes of UTF-8, else `TemplateUnavailable`.

    A 404 raises `TemplateMissing` (the server says there is no such template)."""
    try:
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as client:
            async with client.stream("GET", url) as response:
                if response.status_code == 404:
                    raise TemplateMissing("GET returned status 404")
                if response.status_code != 200:
                    raise TemplateUnavailable(f"GET returned status {response.status_code}")
                received = bytearray()
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > max_size:
                        raise TemplateUnavailable(f"template larger than {max_size} bytes")
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise TemplateUnavailable(f"GET failed ({type(error).__name__})") from None
    try:
        return received.decode("utf-8")
    except UnicodeDecodeError:
        raise TemplateUnavailable("template is not UTF-8") from None
