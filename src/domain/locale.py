"""A user's mail locale: read from `user_metadata`, normalised, and its fallback chain (docs/adr/0035).

`normalize_locale` turns what a client may have stored (`fr`, `FR`, `fr-ca`, `fr_CA`,
`pt_BR.UTF-8`, `sr_RS@latin`, `zh-hant-tw`) into one BCP 47-style form: the language in lower
case, a four-letter script in title case, a two-letter region in upper case, any other subtag in
lower case, joined by `-` (`fr`, `fr-CA`, `pt-BR`, `zh-Hant-TW`). Anything else (not a string,
no two- or three-letter language, `C`, `POSIX`, a path) is no locale at all: "". The result only
ever holds ASCII letters, digits and `-`, so it is safe as a directory name or URL segment.

`locale_chain` is RFC 4647's lookup order without the default: `zh-Hant-TW` → `zh-Hant` → `zh`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DEFAULT_LOCALE_KEY = "locale"
MAX_SUBTAGS = 3  # language + at most two of script, region, variant: enough to choose a template

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}")
_SUBTAG = re.compile(r"[A-Za-z0-9]{2,8}")
_SCRIPT = re.compile(r"[A-Za-z]{4}")
_REGION = re.compile(r"[A-Za-z]{2}|[0-9]{3}")


def normalize_locale(value: Any) -> str:
    """The normalised locale of `value`, or "" when it names none (see the module docstring)."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    for cut in (".", "@"):  # POSIX locales: pt_BR.UTF-8, sr_RS@latin
        text = text.split(cut, 1)[0]
    parts = text.replace("_", "-").split("-")
    if not _LANGUAGE.fullmatch(parts[0]):
        return ""
    kept = [parts[0].lower()]
    for part in parts[1:]:
        if len(kept) == MAX_SUBTAGS or not _SUBTAG.fullmatch(part):
            break  # a singleton (-x-, -u-) or a malformed subtag ends what is used
        if len(kept) == 1 and _SCRIPT.fullmatch(part):
            kept.append(part.title())
        elif _REGION.fullmatch(part):
            kept.append(part.upper())
        else:
            kept.append(part.lower())
    return "-".join(kept)


def locale_chain(locale: str) -> tuple[str, ...]:
    """The locales to try for `locale` (normalised first), most specific first; () for none."""
    normalized = normalize_locale(locale)
    if not normalized:
        return ()
    parts = normalized.split("-")
    return tuple("-".join(parts[:end]) for end in range(len(parts), 0, -1))


def locale_of(metadata: Mapping[str, Any] | None, key: str = DEFAULT_LOCALE_KEY) -> str:
    """The normalised locale a user's metadata names under `key` ("" when none or no key)."""
    if not key or not metadata:
        return ""
    return normalize_locale(metadata.get(key))
