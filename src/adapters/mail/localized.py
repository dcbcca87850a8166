"""Localised subjects and bodies (PYTRUE_MAILER_LOCALIZED_TEMPLATES; docs/adr/0035).

The source is a directory or an http(s) base URL holding, per normalised locale (`fr`,
`fr-CA`, `pt-BR`; see `pytrue.domain.locale`):

    <locale>/<kind>.html     the body of one mail kind (confirmation.html, recovery.html, …)
    <locale>/subjects.json   {"<kind>": "<subject Go template>", …}

For a mail in `fr-CA` each part is looked up in `fr-CA`, then `fr`; the first one found is
used, and when none is, the caller's default (the operator's GOTRUE_MAILER_* template or
subject, else the built-in one). Subject and body fall back independently.

Files are read (or fetched with GET, at most `max_size` bytes) when first needed and cached
`max_age`; a file that does not exist (or a 404) is remembered as missing for `max_age` too.
A file that cannot be read, is too large, is not UTF-8, or does not parse keeps the previous
cached version (or counts as missing) and is tried again after `retry_interval`. Nothing here
ever fails a mail; each problem is logged once per file and reason, with the file's relative
path (`fr/recovery.html`), never the base URL (it may carry credentials) or the mail's data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pytrue.adapters.mail.gotemplate import Template, TemplateError, parse
from pytrue.adapters.mail.templates import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_SIZE,
    DEFAULT_RETRY_INTERVAL,
    DEFAULT_SUBJECTS,
    TemplateMissing,
    TemplateUnavailable,
    fetch_text,
)
from pytrue.domain.locale import normalize_locale

log = logging.getLogger("pytrue.mail")

SUBJECTS_FILE = "subjects.json"
MAX_CACHED_FILES = 1024  # locales come from user-writable metadata: the cache must stay bounded


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


@dataclass(slots=True)
class _Entry:
    value: Any  # Template (a body), dict[str, Template] (subjects), or None (missing)
    created_at: float
    checked_at: float
    found: bool


@dataclass(slots=True, kw_only=True)
class LocalizedTemplates:
    """Per-locale subjects and bodies from `source` (a directory or an http(s) base URL)."""

    source: str
    max_size: int = DEFAULT_MAX_SIZE
    max_age: timedelta = DEFAULT_MAX_AGE
    retry_interval: timedelta = DEFAULT_RETRY_INTERVAL
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, _Entry] = field(default_factory=dict, init=False)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False)
    _logged: set[tuple[str, str]] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if self.source and not is_url(self.source):
            self._check_directory()

    @property
    def enabled(self) -> bool:
        return bool(self.source)

    async def subject(self, kind: str, locales: Iterable[str]) -> tuple[Template, str] | None:
        """The localised subject of `kind` and the locale it is in, or None (use the default)."""
        for locale in locales:
            subjects = await self._get(f"{locale}/{SUBJECTS_FILE}", kind)
            if subjects is not None and kind in subjects:
                return subjects[kind], locale
        return None

    async def body(self, kind: str, locales: Iterable[str]) -> tuple[Template, str] | None:
        """The localised body of `kind` and the locale it is in, or None (use the default)."""
        for locale in locales:
            body = await self._get(f"{locale}/{kind}.html", kind)
            if body is not None:
                return body, locale
        return None

    def rendering_failed(self, path: str, error: Exception) -> None:
        self._warn_once(path, "render", "mailer: localised template %s does not render (%s); using the default", error)

    # --- the cache ------------------------------------------------------------------------------
    async def _get(self, path: str, kind: str) -> Any:
        if not self.source:
            return None
        entry = self._cache.get(path)
        if entry is not None and self._fresh(entry):
            return entry.value
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:
            entry = self._cache.get(path)
            if entry is None or not self._fresh(entry):
                entry = await self._load(path, entry)
            self._locks.pop(path, None)
        return entry.value

    def _fresh(self, entry: _Entry) -> bool:
        now = self.clock()
        return now - entry.checked_at < (self.max_age if entry.found else self.retry_interval).total_seconds()

    async def _load(self, path: str, current: _Entry | None) -> _Entry:
        now = self.clock()
        try:
            text = await self.read(path)
            value = self._parse_subjects(path, text) if path.endswith(SUBJECTS_FILE) else parse(text)
            entry = _Entry(value, now, now, found=True)
        except TemplateMissing:
            self._info_once(path, "missing", "mailer: no localised template %s; using the default")
            entry = _Entry(None, now, now, found=True)  # a definite answer: asked again after max_age
        except (TemplateUnavailable, TemplateError) as error:
            kept = current is not None and current.value is not None
            self._warn_once(
                path, type(error).__name__, "mailer: localised template %s unavailable (%s); using the %s one", error,
                "previous" if kept else "default",
            )
            entry = _Entry(current.value if kept and current else None, now, now, found=False)
        self._cache.pop(path, None)
        self._cache[path] = entry
        while len(self._cache) > MAX_CACHED_FILES:
            del self._cache[next(iter(self._cache))]
        return entry

    def _parse_subjects(self, path: str, text: str) -> dict[str, Template]:
        try:
            given = json.loads(text)
        except ValueError:
            raise TemplateUnavailable("not JSON") from None
        if not isinstance(given, dict):
            raise TemplateUnavailable("not a JSON object of mail kind to subject")
        subjects: dict[str, Template] = {}
        for kind, subject in given.items():
            if kind not in DEFAULT_SUBJECTS or not isinstance(subject, str) or not subject.strip():
                self._warn_once(f"{path}#{kind}", "entry", "mailer: %s ignored (%s)", "not a mail kind with a subject")
                continue
            try:
                subjects[kind] = parse(subject)
            except TemplateError as error:
                self._warn_once(f"{path}#{kind}", "parse", "mailer: subject %s is malformed (%s); using the default", error)
        return subjects

    # --- reading --------------------------------------------------------------------------------
    async def read(self, path: str) -> str:
        """The text of `path` (`<locale>/<file>`) under the source; `TemplateMissing` when absent."""
        locale, _, name = path.partition("/")
        if normalize_locale(locale) != locale or "/" in name or not name:
            raise TemplateMissing("not a locale")  # never reached with locale_chain's output
        if is_url(self.source):
            return await fetch_text(f"{self.source.rstrip('/')}/{path}", self.max_size)
        return await asyncio.to_thread(self._read_file, Path(self.source) / locale / name)

    def _read_file(self, file: Path) -> str:
        try:
            with file.open("rb") as handle:
                data = handle.read(self.max_size + 1)
        except (FileNotFoundError, NotADirectoryError):
            raise TemplateMissing("no such file") from None
        except OSError as error:
            raise TemplateUnavailable(f"unreadable ({type(error).__name__})") from None
        if len(data) > self.max_size:
            raise TemplateUnavailable(f"template larger than {self.max_size} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise TemplateUnavailable("template is not UTF-8") from None

    def _check_directory(self) -> None:
        """Warn at start about a missing directory and subdirectories no locale will ever match."""
        root = Path(self.source)
        if not root.is_dir():
            log.warning("mailer: PYTRUE_MAILER_LOCALIZED_TEMPLATES is not a directory; no mail is localised until it is")
            return
        for child in sorted(root.iterdir()):
            if child.is_dir() and normalize_locale(child.name) != child.name:
                expected = normalize_locale(child.name)
                log.warning(
                    "mailer: localised templates directory %r is not a normalised locale and is never used%s",
                    child.name, f" (name it {expected!r})" if expected else "",
                )

    # --- logging once ---------------------------------------------------------------------------
    def _warn_once(self, path: str, reason: str, message: str, *args: Any) -> None:
        if self._first(path, reason):
            log.warning(message, path, *args)

    def _info_once(self, path: str, reason: str, message: str, *args: Any) -> None:
        if self._first(path, reason):
            log.info(message, path, *args)

    def _first(self, path: str, reason: str) -> bool:
        if (path, reason) in self._logged:
            return False
        if len(self._logged) >= MAX_CACHED_FILES:
            self._logged.clear()
        self._logged.add((path, reason))
        return True
