"""Firebase's own `auth:export` JSON as import rows: read incrementally whatever its layout, each
user mapped to GoTrue's fields, and a cut or malformed document ending with a rejection."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from uuid import UUID, uuid5

from hypothesis import given, settings
from hypothesis import strategies as st

from pytrue.domain.firebase_export import firebase_records, firebase_row
from pytrue.domain.user_import import IMPORT_NAMESPACE, ImportDefaults, Rejection, parse_row

# the shape of firebase.google.com/docs/cli/auth's JSON file format
DOCUMENTED = {
    "localId": "Ka4aNzMkzX5dM6ErWbnJkD5XDiQ2",
    "email": "User@Example.com",
    "emailVerified": True,
    "passwordHash": "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==",
    "salt": "42xEC+ixf3L2lw==",
    "displayName": "John Doe",
    "photoUrl": "http://www.example.com/12345678/photo.png",
    "lastSignedInAt": "1486674497000",
    "createdAt": "1486674491000",
    "phoneNumber": "+11234567890",
    "disabled": False,
    "customAttributes": '{"admin": true, "provider": "forged"}',
    "providerUserInfo": [
        {"providerId": "google.com", "rawId": "123456789012345678901", "email": "user@gmail.com",
         "displayName": "John Doe", "photoUrl": "https://lh3.googleusercontent.com/a/photo.jpg"},
        {"providerId": "password", "rawId": "user@example.com", "email": "user@example.com"},
        {"providerId": "phone", "rawId": "+11234567890"},
    ],
}


def _document(users: list, indent: int | None = None) -> str:
    return json.dumps({"users": users}, indent=indent)


def _records(text: str, size: int = 7) -> list:
    return list(firebase_records(text[i : i + size] for i in range(0, len(text), size)))


def test_a_documented_user_becomes_gotrues_row() -> None:
    row = firebase_row(dict(DOCUMENTED))
    assert row["id"] == str(uuid5(IMPORT_NAMESPACE, "firebase:Ka4aNzMkzX5dM6ErWbnJkD5XDiQ2"))
    assert (row["email"], row["email_confirmed"], row["phone"], row["phone_confirmed"]) == ("User@Example.com", True, "+11234567890", True)
    assert (row["password_hash"], row["salt"]) == (DOCUMENTED["passwordHash"], DOCUMENTED["salt"])
    assert row["created_at"] == datetime(2017, 2, 9, 21, 8, 11, tzinfo=timezone.utc).isoformat()
    assert row["last_sign_in_at"].startswith("2017-02-09T21:08:17")
    assert "banned_until" not in row
    assert row["user_metadata"] == {"name": "John Doe", "full_name": "John Doe", "avatar_url": DOCUMENTED["photoUrl"], "picture": DOCUMENTED["photoUrl"]}
    assert row["app_metadata"] == {"admin": True, "firebase_uid": "Ka4aNzMkzX5dM6ErWbnJkD5XDiQ2"}  # provider is GoTrue's
    assert [(i["provider"], i.get("provider_id")) for i in row["identities"]] == [
        ("email", None), ("google", "123456789012345678901"), ("phone", None)
    ]
    assert row["identities"][1]["identity_data"]["email"] == "user@gmail.com"


def test_the_row_parses_into_a_user_with_its_firebase_hash() -> None:
    from pytrue.domain.user_import import FirebaseScrypt

    firebase = FirebaseScrypt(
        signer_key="jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
        salt_separator="Bw==", rounds=8, mem_cost=14,
    )
    defaults = ImportDefaults(aud="authenticated", role="authenticated", now=datetime.now(timezone.utc), firebase=firebase)
    parsed = parse_row(firebase_row(dict(DOCUMENTED)), 1, defaults)
    user = parsed.user
    assert user.email == "user@example.com" and user.phone == "11234567890"
    assert user.encrypted_password.startswith("$fbscrypt$v=1,n=14,r=8,p=1,")
    assert sorted(i.provider for i in user.identities) == ["email", "google", "phone"]
    assert user.app_metadata["providers"] == ["email", "google", "phone"]


def test_disabled_users_are_banned_and_oauth_only_users_get_no_email_identity() -> None:
    row = firebase_row({"localId": "x1", "email": "g@example.com", "emailVerified": True, "disabled": True,
                        "providerUserInfo": [{"providerId": "github.com", "rawId": "42"}]})
    assert row["banned_until"].startswith("2999")
    assert [i["provider"] for i in row["identities"]] == ["github"]
    bare = firebase_row({"localId": "x2", "email": "p@example.com"})
    assert bare["identities"] == [{"provider": "email"}] and bare["email_confirmed"] is False
    assert firebase_row({"localId": "x3", "providerUserInfo": [{"providerId": "microsoft.com", "rawId": "m"}]})["identities"][0]["provider"] == "azure"


def test_bad_users_are_rejected_with_a_reason() -> None:
    cases = [
        ({}, "localId"),
        ({"localId": 5}, "localId"),
        ({"localId": "a", "email": 3}, "email"),
        ({"localId": "a", "email": "a@example.com", "emailVerified": "yes"}, "emailVerified"),
        ({"localId": "a", "createdAt": "yesterday"}, "createdAt"),
        ({"localId": "a", "customAttributes": "{not json"}, "customAttributes"),
        ({"localId": "a", "customAttributes": "[1]"}, "customAttributes"),
        ({"localId": "a", "passwordHash": "abc"}, "salt"),
        ({"localId": "a", "providerUserInfo": {}}, "providerUserInfo"),
        ({"localId": "a", "providerUserInfo": [{"rawId": "1"}]}, "providerId"),
        ({"localId": "a", "providerUserInfo": [{"providerId": "google.com"}]}, "rawId"),
    ]
    text = _document([user for user, _ in cases] + [{"localId": "good", "email": "ok@example.com"}], indent=2)
    records = _records(text)
    assert len(records) == len(cases) + 1
    for (line, record), (_, field) in zip(records, cases):
        assert isinstance(record, Rejection) and field in record.reason, (record, field)
    assert not isinstance(records[-1][1], Rejection)
    lines = [line for line, _ in records]
    assert lines == sorted(lines) and lines[0] == 3  # each user's opening line in the file


@settings(max_examples=60, deadline=None)
@given(
    users=st.lists(st.builds(lambda n, e: {"localId": f"u{n}", "email": f"{e}{n}@example.com"}, st.integers(0, 10**6), st.sampled_from("abc")), max_size=8),
    indent=st.sampled_from([None, 0, 2, 4]),
    size=st.integers(1, 64),
)
def test_any_layout_and_chunking_reads_the_same_users(users: list, indent: int | None, size: int) -> None:
    records = _records(_document(users, indent=indent), size=size)
    assert [record for _, record in records] == [firebase_row(user) for user in users]


@settings(max_examples=60, deadline=None)
@given(users=st.lists(st.builds(lambda n: {"localId": f"u{n}", "displayName": "Ünïcødé"}, st.integers(0, 99)), min_size=1, max_size=5), cut=st.data())
def test_a_document_cut_anywhere_ends_with_one_rejection(users: list, cut: st.DataObject) -> None:
    text = _document(users, indent=2)
    at = cut.draw(st.integers(text.index("[") + 1, len(text) - 2))
    records = _records(text[:at], size=5)
    assert records and isinstance(records[-1][1], Rejection)
    assert "complete" in records[-1][1].reason or "malformed" in records[-1][1].reason
    good = [record for _, record in records[:-1]]
    assert good == [firebase_row(user) for user in users[: len(good)]]


def test_not_a_firebase_document() -> None:
    for text in ('{"accounts": []}', "[]", "", '{"id": "x"}\n{"id": "y"}'):
        records = _records(text)
        assert len(records) == 1 and "not a Firebase auth:export" in records[0][1].reason
    assert _records('{"users": []}') == []
    garbled = _records('{"users": [{"localId": "a"} {"localId": "b"}]}')
    assert not isinstance(garbled[0][1], Rejection) and "expected , or ]" in garbled[1][1].reason
    assert UUID(garbled[0][1]["id"])
