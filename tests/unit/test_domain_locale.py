"""The mail locale: normalisation of what clients store in user_metadata, and the fallback chain."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.domain.locale import locale_chain, locale_of, normalize_locale

SAFE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("fr", "fr"),
        ("FR", "fr"),
        (" fr ", "fr"),
        ("fr-CA", "fr-CA"),
        ("fr-ca", "fr-CA"),
        ("fr_CA", "fr-CA"),
        ("pt_BR", "pt-BR"),
        ("pt_BR.UTF-8", "pt-BR"),
        ("sr_RS@latin", "sr-RS"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("de-DE-1996", "de-DE-1996"),
        ("en-US-x-twain", "en-US"),  # a private-use singleton ends what is used
        ("gsw", "gsw"),
        ("", ""),
        ("C", ""),
        ("POSIX", ""),
        ("english", ""),
        ("../etc", ""),
        ("fr/../../x", ""),
        ("f", ""),
        ("1fr", ""),
        (None, ""),
        (42, ""),
        (["fr"], ""),
        ({"lang": "fr"}, ""),
    ],
)
def test_normalize_locale(given_value: Any, expected: str) -> None:
    assert normalize_locale(given_value) == expected


def test_the_chain_drops_one_subtag_at_a_time() -> None:
    assert locale_chain("fr-CA") == ("fr-CA", "fr")
    assert locale_chain("zh_hant_TW") == ("zh-Hant-TW", "zh-Hant", "zh")
    assert locale_chain("fr") == ("fr",)
    assert locale_chain("") == ()
    assert locale_chain("???") == ()


def test_locale_of_reads_the_configured_key() -> None:
    assert locale_of({"locale": "fr_CA"}) == "fr-CA"
    assert locale_of({"lang": "de"}, "lang") == "de"
    assert locale_of({"locale": "fr"}, "lang") == ""
    assert locale_of({"locale": "fr"}, "") == ""
    assert locale_of(None) == ""
    assert locale_of({}) == ""


@given(st.from_type(object) | st.text() | st.from_regex(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,9}){0,4}", fullmatch=True))
def test_normalised_locales_are_safe_idempotent_and_case_insensitive(value: Any) -> None:
    normalized = normalize_locale(value)
    assert normalized == "" or SAFE.fullmatch(normalized), normalized  # safe as a path segment
    assert normalize_locale(normalized) == normalized
    if isinstance(value, str):
        assert normalize_locale(value.swapcase()) == normalized
        assert normalize_locale(value.replace("_", "-")) == normalized


@given(st.from_regex(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}", fullmatch=True))
def test_the_chain_goes_from_the_locale_to_its_language(value: str) -> None:
    chain = locale_chain(value)
    assert chain[0] == normalize_locale(value)
    assert chain[-1] == value[:3].rstrip("-_").lower()
    assert len(set(chain)) == len(chain)
    for longer, shorter in zip(chain, chain[1:]):
        assert longer.startswith(shorter + "-")
        assert normalize_locale(shorter) == shorter
