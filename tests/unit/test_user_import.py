"""Rows of `pytrue users import|export` (src/domain/user_import.py): parsing, rejections, round trips."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytrue.domain.user_import import (
    EXPORT_FIELDS,
    FIELDS,
    FirebaseScrypt,
    ImportDefaults,
    Rejection,
    RowInvalid,
    csv_cells,
    csv_records,
    export_row,
    jsonl_records,
    parse_row,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
DEFAULTS = ImportDefaults(aud="authenticated", role="authenticated", now=NOW)

json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
stamps = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
).map(lambda d: d.isoformat())
emails = st.from_regex(r"[a-z][a-z0-9]{0,8}@[a-z]{1,8}\.(com|io|test)", fullmatch=True)
phones = st.from_regex(r"[1-9][0-9]{7,13}", fullmatch=True)


@st.composite
def valid_rows(draw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {}
    email = draw(st.none() | emails)
    phone = draw(st.none() | phones)
    if email is None and phone is None:
        email = draw(emails)
    if email:
        row["email"] = email.upper() if draw(st.booleans()) else email
        if draw(st.booleans()):
            row["email_confirmed_at"] = draw(stamps)
    if phone:
        row["phone"] = "+" + phone if draw(st.booleans()) else phone
        if draw(st.booleans()):
            row["phone_confirmed"] = True
    if draw(st.booleans()):
        row["id"] = str(draw(st.uuids(version=4)))
    for name in ("created_at", "banned_until", "last_sign_in_at"):
        if draw(st.booleans()):
            row[name] = draw(stamps)
    row["user_metadata"] = draw(json_objects)
    if draw(st.booleans()):
        row["app_metadata"] = draw(json_objects)
    row["password_hash"] = draw(st.sampled_from(["", "$2a$10$vVz26aE3xkpSS9HFgafcH.M0Ina2tRm.Kp08WcVfjipXccGakj6i."]))
    if draw(st.booleans()):
        row["identities"] = [
            {"provider": "github", "provider_id": str(draw(st.integers(1, 10**9))), "identity_data": draw(json_objects)}
        ]
    return row


@settings(max_examples=150, deadline=None)
@given(valid_rows())
def test_an_exported_row_imports_as_the_same_user(row: dict[str, Any]) -> None:
    first = export_row(parse_row(row, 1, DEFAULTS).user)
    again = export_row(parse_row(json.loads(json.dumps(first)), 1, DEFAULTS).user)
    assert again == first
    [(line, record)] = list(csv_records([_csv(EXPORT_FIELDS), _csv(csv_cells(first))]))
    assert line == 2 and not isinstance(record, Rejection)
    assert export_row(parse_row(record, line, DEFAULTS).user) == first


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(FIELDS)) | st.text(max_size=5), json_values, max_size=8))
def test_any_json_object_parses_or_is_rejected_with_a_reason(record: dict[str, Any]) -> None:
    try:
        row = parse_row(record, 7, DEFAULTS)
    except RowInvalid as exc:
        assert str(exc)
    else:
        assert row.user.email or row.user.phone or row.user.identities or row.user.is_anonymous


@settings(max_examples=100, deadline=None)
@given(valid_rows(), st.data())
def test_a_line_cut_anywhere_is_rejected_and_says_so(row: dict[str, Any], data: Any) -> None:
    text = json.dumps(row)
    cut = data.draw(st.integers(1, len(text) - 1))
    [(line, record)] = list(jsonl_records(["", text[:cut]]))
    assert line == 2 and isinstance(record, Rejection) and "cut short" in record.reason


@given(emails)
def test_rows_without_an_id_get_the_same_id_every_time(email: str) -> None:
    lower = parse_row({"email": email}, 1, DEFAULTS).user
    upper = parse_row({"email": f"  {email.upper()} "}, 9, DEFAULTS).user
    assert lower.id == upper.id and lower.id.version == 5
    assert [i.id for i in lower.identities] == [i.id for i in upper.identities]


def test_an_email_user_gets_the_email_identity_gotrue_gives_it() -> None:
    user = parse_row({"email": "Ada@Example.com", "email_confirmed": True}, 1, DEFAULTS).user
    [identity] = user.identities
    assert identity.provider == "email" and identity.provider_id == str(user.id) and identity.user_id == user.id
    assert identity.identity_data == {
        "sub": str(user.id), "email": "ada@example.com", "email_verified": True, "phone_verified": False,
    }  # fmt: skip
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert user.email_confirmed_at == NOW and user.aud == "authenticated"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({}, "a user needs an email, a phone, an identity or is_anonymous"),
        ({"is_anonymous": True}, "id: required for a user without an email, a phone or an identity"),
        ({"email": "a@b.io", "phone_confirmed": True}, "phone_confirmed_at is set but the row has no phone"),
        ({"email": "a@b.io", "email_confirmed": False, "email_confirmed_at": "2020-01-01"}, "email_confirmed is false but email_confirmed_at is set"),
        ({"email": "a@b.io", "id": "00000000-0000-0000-0000-000000000000"}, "id: the nil UUID is not a user id"),
        ({"email": "a@b.io", "identities": [{"provider": ""}]}, "identities[0]: provider must be a non-empty string"),
        ({"email": "a@b.io", "identities": [{"provider": "github"}]}, "identities (github): provider_id must be a non-empty string"),
        ({"email": "a@b.io", "password_hash": "x" * 256}, "password_hash: longer than 255 characters"),
        ({"email": "a@b.io", "salt": "c2FsdA=="}, "salt is given without a password_hash"),
        ({"phone": "abc"}, "phone: Invalid phone number format (E.164 required) ('abc')"),
        ({"email": "a@b.io", "role": 5}, "role: expected a string, got a number"),
    ],
)
def test_rejection_reasons(record: dict[str, Any], reason: str) -> None:
    with pytest.raises(RowInvalid) as rejected:
        parse_row(record, 1, DEFAULTS)
    assert str(rejected.value) == reason


def test_a_firebase_row_becomes_gotrue_fbscrypt_string() -> None:
    firebase = FirebaseScrypt(signer_key="c2lnbmVy", salt_separator="Bw==", rounds=8, mem_cost=14)
    defaults = ImportDefaults(aud="authenticated", role="authenticated", now=NOW, firebase=firebase)
    user = parse_row({"email": "f@b.io", "password_hash": "aGFzaA-_", "salt": "c2FsdA"}, 1, defaults).user
    assert user.encrypted_password == "$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=c2lnbmVy$c2FsdA==$aGFzaA+/"
    with pytest.raises(RowInvalid, match="must be base64"):
        parse_row({"email": "f@b.io", "password_hash": "!!", "salt": "c2FsdA"}, 1, defaults)


def test_csv_rows_are_typed_and_a_short_row_is_rejected() -> None:
    lines = [
        "email,email_confirmed,user_metadata,phone\n",
        'ada@example.com,true,"{""a"": 1}",\n',
        "bob@example.com,maybe,,\n",
        'cy@example.com,false,"{oops",\n',
        "\n",
        "dee@example.com,1\n",
    ]
    records = list(csv_records(lines))
    assert records[0] == (2, {"email": "ada@example.com", "email_confirmed": True, "user_metadata": {"a": 1}})
    assert records[1] == (3, Rejection(3, "email_confirmed: expected true or false, got 'maybe'"))
    assert records[2][0] == 4 and "user_metadata: malformed JSON" in records[2][1].reason  # type: ignore[union-attr]
    assert records[3] == (6, Rejection(6, "2 fields where the header has 4 (is the row complete?)"))
    with pytest.raises(RowInvalid, match="unknown column"):
        list(csv_records(["email,passwd\n"]))


def _csv(cells: Any) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(list(cells))
    return out.getvalue()
