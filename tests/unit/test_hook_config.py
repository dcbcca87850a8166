"""Hook URIs and Standard Webhooks secrets: what the configuration loader accepts and refuses."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
import standardwebhooks

from pytrue.adapters.hooks.config import HTTP_HOOK, POSTGRES_HOOK, parse_hook, parse_hook_secrets, parse_hook_uri

KEY = base64.b64encode(bytes(range(32))).decode()
SECRET = f"v1,whsec_{KEY}"


def test_secrets_are_split_on_bars_and_empty_parts_skipped() -> None:
    other = base64.b64encode(b"k" * 24).decode()
    keys = parse_hook_secrets(f"|{SECRET}||v1,whsec_{other}|")
    assert [key.key for key in keys] == [bytes(range(32)), b"k" * 24]
    assert parse_hook_secrets("") == ()


def test_gotrues_own_example_secret_is_accepted() -> None:
    (key,) = parse_hook_secrets("v1,whsec_2b49264c90fd15db3bb0e05f4e1547b9c183eb06d585be8a")
    assert len(key.key) == 36


def test_a_signature_is_the_standard_webhooks_one() -> None:
    (key,) = parse_hook_secrets(SECRET)
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    expected = standardwebhooks.Webhook("whsec_" + KEY).sign("msg_1", moment, b'{"a":1}')
    assert key.sign("msg_1", int(moment.timestamp()), b'{"a":1}') == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("invalid", "invalid secret format"),
        ("whsec_" + KEY, "invalid secret format"),
        ("v1,whsec_c2hvcnQ=", "invalid secret format"),
        (f" {SECRET}", "invalid secret format"),
        (f"{SECRET}\n", "invalid secret format"),
        (f"v1,whsec_{KEY[:-1]}", "not valid padded base64"),
        (f"v1,whsec_{KEY[:10]}={KEY[10:]}", "not valid padded base64"),
        (f"v1a,whpk_{KEY}:whsk_{KEY}", "asymmetric"),
    ],
)
def test_bad_secrets_are_refused_without_showing_them(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_hook_secrets(f"{SECRET}|{raw}")
    assert str(caught.value).startswith("secret 2 of 2: ")
    assert KEY not in str(caught.value) and KEY[:10] not in str(caught.value)
    assert KEY not in repr(parse_hook_secrets(SECRET))


@pytest.mark.parametrize(
    "uri",
    [
        "https://hooks.example.com/send-sms",
        "http://localhost:54321/functions/v1/hook",
        "http://127.0.0.1/hook",
        "http://[::1]:9000/hook",
        "http://host.docker.internal:54321/hook",
        "HTTPS://Hooks.Example.com/x",
    ],
)
def test_http_hook_uris(uri: str) -> None:
    assert parse_hook_uri(uri).kind == HTTP_HOOK


def test_postgres_function_uris() -> None:
    target = parse_hook_uri("pg-functions://postgres/public/custom_access_token_hook")
    assert (target.kind, target.function) == (POSTGRES_HOOK, '"public"."custom_access_token_hook"')


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://hooks.example.com/x", "only localhost"),
        ("http://user:pa55word@10.0.0.1/x", "only localhost"),
        ("ftp://hooks.example.com/x", "only postgres hooks and HTTPS functions"),
        ("hooks.example.com/x", "only postgres hooks and HTTPS functions"),
        ("https:///nohost", "no host"),
        ("https://[::1/x", "not a valid URI"),
        ("pg-functions://postgres/public", "enough parts"),
        ("pg-functions://postgres/pub-lic/fn", "invalid schema name"),
        ("pg-functions://postgres/public/1fn", "invalid function name"),
    ],
)
def test_bad_uris_are_refused_without_quoting_them(uri: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_hook_uri(uri)
    assert "pa55word" not in str(caught.value)


def test_an_http_hook_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one"):
        parse_hook("https://hooks.example.com/x", "")
    target, keys = parse_hook("https://hooks.example.com/x", SECRET)
    assert target.kind == HTTP_HOOK and len(keys) == 1
    assert parse_hook("pg-functions://postgres/public/fn", "")[1] == ()
