"""The `Mailer` behind every email flow: pick the templates, build the link, render, deliver."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from pytrue.domain.links import verify_link as action_link
from pytrue.domain.locale import locale_chain
from pytrue.adapters.mail.gotemplate import Template, TemplateError
from pytrue.adapters.mail.localized import LocalizedTemplates
from pytrue.adapters.mail.outgoing import OutgoingMessage, Transport
from pytrue.adapters.mail.templates import TemplateStore
from pytrue.application.ports import (
    MAIL_CONFIRMATION,
    MAIL_EMAIL_CHANGE,
    MAIL_INVITE,
    MAIL_MAGIC_LINK,
    MAIL_REAUTHENTICATION,
    MAIL_EMAIL_CHANGED,
    MAIL_IDENTITY_LINKED,
    MAIL_IDENTITY_UNLINKED,
    MAIL_MFA_FACTOR_ENROLLED,
    MAIL_MFA_FACTOR_UNENROLLED,
    MAIL_PHONE_CHANGED,
    MAIL_RECOVERY,
    NOTIFICATION_KINDS,
    Mail,
)

DEFAULT_URL_PATH = "/verify"
# Which GOTRUE_MAILER_URLPATHS_* entry each kind's link uses (magic links share recovery's).
URL_PATH_OF = {
    MAIL_INVITE: "invite",
    MAIL_CONFIRMATION: "confirmation",
    MAIL_RECOVERY: "recovery",
    MAIL_MAGIC_LINK: "recovery",
    MAIL_EMAIL_CHANGE: "email_change",
}

# What each security notification adds to .SiteURL, .Email and .Data (GoTrue's template data).
NOTIFICATION_DATA = {
    MAIL_EMAIL_CHANGED: {"OldEmail": "old_email"},
    MAIL_PHONE_CHANGED: {"Phone": "phone", "OldPhone": "old_phone"},
    MAIL_IDENTITY_LINKED: {"Provider": "provider"},
    MAIL_IDENTITY_UNLINKED: {"Provider": "provider"},
    MAIL_MFA_FACTOR_ENROLLED: {"FactorType": "factor_type"},
    MAIL_MFA_FACTOR_UNENROLLED: {"FactorType": "factor_type"},
}


def message_type(kind: str) -> str:
    """The `$messageType` of GOTRUE_SMTP_HEADERS (GoTrue says `reauthenticate`)."""
    return "reauthenticate" if kind == MAIL_REAUTHENTICATION else kind


def expand_headers(headers: Mapping[str, Sequence[str]], kind: str) -> dict[str, list[str]]:
    typ = message_type(kind)
    expanded: dict[str, list[str]] = {}
    for name, values in headers.items():
        kept = [value.replace("$messageType", typ) for value in values if value]
        if name and kept:
            expanded[name] = kept
    return expanded


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "table", "ul", "ol"})
    _SKIP = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[tuple[str, int]] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.parts[start:]).strip()
            if href and href != label and not href.startswith("#"):
                self.parts.append(f": {href}" if label else href)

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """A readable plain-text alternative: tags dropped, links written out after their label."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass(slots=True, kw_only=True)
class TemplateMailer:
    """Renders GoTrue-compatible emails and hands them to `transport`."""

    transport: Transport
    templates: TemplateStore
    api_external_url: str
    site_url: str
    url_paths: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    localized: LocalizedTemplates = field(default_factory=lambda: LocalizedTemplates(source=""))

    def link(self, mail: Mail) -> str:
        if not mail.link_type or mail.kind not in URL_PATH_OF:
            return ""
        path = self.url_paths.get(URL_PATH_OF[mail.kind]) or DEFAULT_URL_PATH
        return action_link(
            self.api_external_url, path, mail.token_hash, mail.link_type, mail.redirect_to or self.site_url
        )

    def data(self, mail: Mail, link: str) -> dict[str, Any]:
        if mail.kind in NOTIFICATION_KINDS:
            extra = {name: getattr(mail, attr) for name, attr in NOTIFICATION_DATA.get(mail.kind, {}).items()}
            return {"SiteURL": self.site_url, "Email": mail.email, "Data": dict(mail.data), **extra}
        data: dict[str, Any] = {
            "SiteURL": self.site_url,
            "Email": mail.email,
            "Token": mail.otp,
            "Data": dict(mail.data),
        }
        if mail.kind != MAIL_REAUTHENTICATION:
            data.update(
                ConfirmationURL=link,
                TokenHash=mail.token_hash,
                RedirectTo=mail.redirect_to or self.site_url,
            )
        if mail.kind == MAIL_EMAIL_CHANGE:
            data.update(NewEmail=mail.new_email, SendingTo=mail.to)
        return data

    async def render(self, mail: Mail, data: Mapping[str, Any]) -> tuple[str, str, str]:
        """(subject, html body, the body's locale): the mail's locale chain first, then the defaults.

        A localised template that does not render falls back to the default too (docs/adr/0035)."""
        chain = locale_chain(mail.locale) if self.localized.enabled else ()
        subject = None
        found = await self.localized.subject(mail.kind, chain) if chain else None
        if found is not None:
            subject = self._render(found, f"{found[1]}/subjects.json#{mail.kind}", data, html=False)
        if subject is None:
            subject = self.templates.subject(mail.kind).render(data)
        html, body_locale = None, ""
        found = await self.localized.body(mail.kind, chain) if chain else None
        if found is not None:
            html = self._render(found, f"{found[1]}/{mail.kind}.html", data, html=True)
            body_locale = found[1] if html is not None else ""
        if html is None:
            html = (await self.templates.body(mail.kind)).render(data, html=True)
        return " ".join(subject.split()), html, body_locale

    def _render(self, found: tuple[Template, str], path: str, data: Mapping[str, Any], *, html: bool) -> str | None:
        try:
            return found[0].render(dict(data), html=html)
        except (TemplateError, TypeError, ValueError, KeyError, AttributeError) as error:
            self.localized.rendering_failed(path, error)
            return None

    async def send(self, mail: Mail) -> None:
        link = self.link(mail)
        data = self.data(mail, link)
        subject, html, locale = await self.render(mail, data)
        headers = expand_headers(self.headers, mail.kind)
        if locale and not any(name.lower() == "content-language" for name in headers):
            headers["Content-Language"] = [locale]
        await self.transport.deliver(
            OutgoingMessage(
                kind=mail.kind,
                to=mail.to,
                subject=subject,
                text=html_to_text(html),
                html=html,
                headers=headers,
                otp=mail.otp,
                token_hash=mail.token_hash,
                link=link,
                link_type=mail.link_type,
                redirect_to=mail.redirect_to,
                locale=locale,
            )
        )
