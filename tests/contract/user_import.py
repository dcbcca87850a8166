"""User import and export (ImportUsers, ExportUsers) on each storage: round trips, rejections, resumption, sign-in."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from pytrue.application.use_cases.user_import import ImportAborted
from pytrue.domain.user_import import FirebaseScrypt, csv_cells, csv_records, jsonl_records, EXPORT_FIELDS
from support import hashes

PASSWORD = "imported-pass-1"


def _lines(rows: list[Any]) -> list[str]:
    return [(r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows]


async def _import(api: Any, rows: list[Any], **options: Any) -> Any:
    return await api.container.use_cases.import_users()(jsonl_records(_lines(rows)), **options)


async def _export(api: Any, page_size: int = 1000) -> list[dict[str, Any]]:
    return [row async for row in api.container.use_cases.export_users()(page_size=page_size)]


def _firebase() -> FirebaseScrypt:
    return FirebaseScrypt(
        signer_key=hashes.FIREBASE_SIGNER_KEY,
        salt_separator=hashes.FIREBASE_SALT_SEPARATOR,
        rounds=hashes.FIREBASE_ROUNDS,
        mem_cost=hashes.FIREBASE_MEM_COST,
    )


async def _consistent(api: Any) -> None:
    """Every user has its identities: no user is written without them, no identity without its user."""
    exported = await _export(api)
    counts = await api.counts()
    assert counts["users"] == len(exported)
    assert counts["identities"] == sum(len(row["identities"]) for row in exported)
    for row in exported:
        if row["email"]:
            assert any(i["provider"] == "email" or i["identity_data"].get("email") == row["email"] for i in row["identities"])


async def test_every_hash_format_signs_in_and_is_rehashed_to_argon2id(api: Any) -> None:
    rows = [
        {"email": f"{name}@import.test", "password_hash": make(PASSWORD), "email_confirmed": True}
        for name, make in hashes.FORMATS.items()
    ]
    digest, salt = hashes.firebase_parts(PASSWORD)
    rows.append({"email": "firebase-export@import.test", "password_hash": digest, "salt": salt, "email_confirmed": True})
    rows.append({"email": "plain@import.test", "password": PASSWORD, "email_confirmed": True})
    report = await _import(api, rows, firebase=_firebase())
    assert (report.imported, report.skipped, report.rejected) == (len(rows), 0, [])
    before = {u["email"]: u["encrypted_password"] for u in await api.users()}
    assert before["firebase-export@import.test"].startswith("$fbscrypt$v=1,n=4,r=8,p=1,")
    assert before["plain@import.test"].startswith("$argon2id$")
    for row in rows:
        wrong = await api.password_grant(row["email"], "not-the-password")
        assert wrong.status_code == 400 and wrong.json()["error_code"] == "invalid_credentials"
        signed_in = await api.password_grant(row["email"], PASSWORD)
        assert signed_in.status_code == 200, (row["email"], signed_in.text)
    after = {u["email"]: u["encrypted_password"] for u in await api.users()}
    current = api.container.core.hasher()
    for email, stored in after.items():
        assert stored.startswith("$argon2id$") and not current.needs_rehash(stored), email
        if email != "plain@import.test":
            assert stored != before[email]
        assert (await api.password_grant(email, PASSWORD)).status_code == 200
    await _consistent(api)


async def test_export_then_import_into_fresh_storage_is_the_same(api: Any, make_api: Any) -> None:
    rows = [
        {
            "email": "Full@Import.Test",
            "phone": "+1 555 000 1111",
            "password_hash": hashes.FORMATS["bcrypt-2a"](PASSWORD),
            "email_confirmed_at": "2024-01-02T03:04:05.123456+00:00",
            "phone_confirmed": True,
            "created_at": "2023-05-06T07:08:09Z",
            "user_metadata": {"full_name": "Ada", "nested": {"a": [1, 2]}},
            "app_metadata": {"plan": "pro"},
            "role": "authenticated",
            "banned_until": "2999-01-01T00:00:00+00:00",
        },
        {
            "id": "6f1d3c2e-1111-4a2b-9c3d-000000000001",
            "email": "oauth@import.test",
            "identities": [
                {"provider": "email", "identity_data": {"email_verified": True}},
                {"provider": "github", "provider_id": "4242", "identity_data": {"email": "OAuth@import.test", "user_name": "o"}},
            ],
            "email_confirmed": True,
        },
        {"id": "6f1d3c2e-1111-4a2b-9c3d-000000000002", "is_anonymous": True},
        {"phone": "15550002222", "password_hash": hashes.FORMATS["django-pbkdf2-sha256"](PASSWORD)},
    ]
    report = await _import(api, rows, batch_size=2)
    assert (report.imported, report.rejected) == (4, [])
    exported = await _export(api, page_size=3)
    assert len(exported) == 4
    full = next(r for r in exported if r["email"] == "full@import.test")
    assert full["phone"] == "15550001111" and full["phone_confirmed_at"] == full["created_at"] == "2023-05-06T07:08:09+00:00"
    assert full["email_confirmed_at"] == "2024-01-02T03:04:05.123456+00:00"
    assert full["user_metadata"] == rows[0]["user_metadata"]
    assert full["app_metadata"] == {"plan": "pro", "provider": "email", "providers": ["email", "phone"]}
    assert {i["provider"] for i in full["identities"]} == {"email", "phone"}
    oauth = next(r for r in exported if r["email"] == "oauth@import.test")
    assert [i["provider"] for i in oauth["identities"]] in (["email", "github"], ["github", "email"])
    github = next(i for i in oauth["identities"] if i["provider"] == "github")
    assert github["provider_id"] == "4242" and github["identity_data"]["email"] == "oauth@import.test"
    assert oauth["app_metadata"]["providers"] == ["email", "github"]
    await _consistent(api)

    fresh = await make_api()
    again = await fresh.container.use_cases.import_users()(jsonl_records(_lines(exported)))
    assert (again.imported, again.rejected) == (4, [])
    assert await _export(fresh) == exported
    # the same through CSV
    csv_lines = [",".join(EXPORT_FIELDS) + "\n"] + [_csv_line(csv_cells(row)) for row in exported]
    third = await make_api()
    via_csv = await third.container.use_cases.import_users()(csv_records(csv_lines))
    assert (via_csv.imported, via_csv.rejected) == (4, [])
    assert await _export(third) == exported


def _csv_line(cells: list[str]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue()


async def test_bad_rows_are_rejected_with_their_line_and_the_rest_is_imported(api: Any) -> None:
    assert (await api.signup("taken@import.test")).status_code == 200
    good = hashes.FORMATS["bcrypt-2b"](PASSWORD)
    rows: list[Any] = [
        {"email": "ok1@import.test", "password_hash": good},  # 1
        "{not json",  # 2
        {"email": "not-an-email"},  # 3
        {"email": "types@import.test", "user_metadata": "a string"},  # 4
        {"email": "hash@import.test", "password_hash": "md5$abc$def"},  # 5
        {"email": "OK1@import.test"},  # 6: duplicate of line 1
        {"email": "taken@import.test"},  # 7: another user's
        {"email": "ok2@import.test", "phone": "15550003333"},  # 8
        {"phone": "+15550003333"},  # 9: duplicate phone of line 8
        {"email": "typo@import.test", "pasword_hash": good},  # 10
        {"email": "ok3@import.test", "created_at": "yesterday"},  # 11
        [1, 2],  # 12
        {"email": "ok4@import.test", "id": "not-a-uuid"},  # 13
        {"email": "both@import.test", "password": "x", "password_hash": good},  # 14
        {"email": "ok5@import.test", "email_confirmed": "yes"},  # 15
        {"email": "ok6@import.test"},  # 16
    ]
    lines = _lines(rows) + ['{"email": "cut@import.te']  # 17: the file ends mid-line
    report = await api.container.use_cases.import_users()(jsonl_records(lines), batch_size=3)
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 17]
    assert reasons[2].startswith("malformed JSON")
    assert "email" in reasons[3] and "invalid format" in reasons[3]
    assert reasons[4] == "user_metadata: expected a JSON object, got a string"
    assert "password_hash is in no known format" in reasons[5]
    assert reasons[6] == "email ok1@import.test is already on line 1"
    assert reasons[7].startswith("email taken@import.test already belongs to another user")
    assert reasons[9] == "phone 15550003333 is already on line 8"
    assert "unknown field(s) pasword_hash" in reasons[10]
    assert "created_at" in reasons[11] and "ISO 8601" in reasons[11]
    assert "JSON object" in reasons[12]
    assert reasons[13].startswith("id: not a UUID")
    assert "exclusive" in reasons[14]
    assert reasons[15].startswith("email_confirmed: expected true or false")
    assert "cut short" in reasons[17]
    assert (report.imported, report.skipped) == (3, 0)
    assert sorted(u["email"] for u in await api.users()) == ["ok1@import.test", "ok2@import.test", "ok6@import.test", "taken@import.test"]
    await _consistent(api)


async def test_a_rerun_imports_nothing_twice(api: Any) -> None:
    rows = [{"email": f"user{i}@import.test", "password_hash": hashes.FORMATS["bcrypt-2a"](PASSWORD)} for i in range(3)]
    rows.append({"id": "6f1d3c2e-1111-4a2b-9c3d-00000000000a", "email": "with-id@import.test"})
    first = await _import(api, rows, batch_size=2)
    assert (first.imported, first.skipped) == (4, 0)
    second = await _import(api, rows, batch_size=3)
    assert (second.imported, second.skipped, second.rejected) == (0, 4, [])
    moved = {"id": "6f1d3c2e-1111-4a2b-9c3d-00000000000a", "email": "someone-else@import.test"}
    third = await _import(api, [moved])
    assert third.rejected[0].reason.startswith("id 6f1d3c2e-1111-4a2b-9c3d-00000000000a already belongs to another user")
    assert (await api.counts())["users"] == 4
    await _consistent(api)


class _FailingInsert:
    """A unit of work factory whose `fail_at`-th batch insert fails as a lost connection would."""

    def __init__(self, inner: Any, fail_at: int) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.inserts = 0

    def __call__(self) -> Any:
        return _FailingUow(self.inner(), self)


class _FailingUow:
    def __init__(self, inner: Any, parent: _FailingInsert) -> None:
        self.inner = inner
        self.parent = parent

    async def __aenter__(self) -> Any:
        uow = await self.inner.__aenter__()
        insert = uow.user_imports.insert

        async def failing(users: list[Any]) -> Any:
            self.parent.inserts += 1
            written = await insert(users)
            if self.parent.inserts == self.parent.fail_at:
                raise ConnectionError("the storage went away")
            return written

        uow.user_imports.insert = failing
        return uow

    async def __aexit__(self, *exc: Any) -> None:
        await self.inner.__aexit__(*exc)


async def test_an_interrupted_import_resumes_without_doubles(api: Any) -> None:
    rows = [{"email": f"resume{i}@import.test", "password_hash": hashes.FORMATS["bcrypt-2y"](PASSWORD)} for i in range(10)]
    use_case = api.container.use_cases.import_users()
    failing = dataclasses.replace(use_case, uow=_FailingInsert(use_case.uow, fail_at=3))
    with pytest.raises(ImportAborted) as aborted:
        await failing(jsonl_records(_lines(rows)), batch_size=3)
    assert aborted.value.first_line == 7
    assert aborted.value.report.imported == 6
    assert (await api.counts())["users"] == 6  # the failed batch was rolled back whole
    await _consistent(api)
    resumed = await _import(api, rows, batch_size=3)
    assert (resumed.imported, resumed.skipped, resumed.rejected) == (4, 6, [])
    assert (await api.counts())["users"] == 10
    await _consistent(api)


async def test_a_cut_file_then_the_whole_file(api: Any) -> None:
    rows = [{"email": f"cut{i}@import.test", "password_hash": hashes.FORMATS["bcrypt-2b"](PASSWORD)} for i in range(7)]
    text = "".join(_lines(rows))
    cut = text[: len(text) // 2]
    first = await api.container.use_cases.import_users()(jsonl_records(cut.splitlines(keepends=True)), batch_size=2)
    assert len(first.rejected) == 1 and "cut short" in first.rejected[0].reason
    whole = await _import(api, rows, batch_size=2)
    assert (whole.imported, whole.skipped, whole.rejected) == (7 - first.imported, first.imported, [])
    assert (await api.counts())["users"] == 7
    await _consistent(api)


async def test_dry_run_writes_nothing(api: Any) -> None:
    before = await api.counts()
    rows = [{"email": f"dry{i}@import.test"} for i in range(5)] + [{"email": "dry0@import.test"}]
    report = await _import(api, rows, dry_run=True, batch_size=2)
    assert (report.imported, report.dry_run, [r.line for r in report.rejected]) == (5, True, [6])
    assert await api.counts() == before


async def test_identities_are_unique_as_the_schema_keeps_them(api: Any) -> None:
    github = {"provider": "github", "provider_id": "77", "identity_data": {"email": "shared@import.test"}}
    rows = [
        {"email": "first@import.test", "identities": [{"provider": "email"}, github]},
        {"email": "second@import.test", "identities": [{"provider": "email"}, github]},  # the same GitHub account
        {"email": "shared@import.test"},  # an email another user's identity names: allowed, as in the schema
    ]
    report = await _import(api, rows, batch_size=1)
    assert [(r.line, r.reason) for r in report.rejected] == [(2, "the github identity '77' is already on line 1")]
    again = await _import(api, [{"email": "third@import.test", "identities": [github]}])
    assert again.rejected[0].reason.startswith("the github identity '77' already belongs to another user")
    assert report.imported == 2 and (await api.counts())["users"] == 2
    await _consistent(api)


class _BlindOwners:
    """A unit of work factory whose address check sees nobody: as if another writer took an address
    between the check and the insert."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self) -> Any:
        return _BlindUow(self.inner())


class _BlindUow:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __aenter__(self) -> Any:
        from pytrue.application.ports import AddressOwners

        uow = await self.inner.__aenter__()

        async def nobody(keys: list[str]) -> AddressOwners:
            return AddressOwners({})

        uow.user_imports.owners = nobody
        return uow

    async def __aexit__(self, *exc: Any) -> None:
        await self.inner.__aexit__(*exc)


async def test_an_address_taken_during_the_import_rejects_that_row_only(api: Any) -> None:
    assert (await api.signup("raced@import.test")).status_code == 200
    use_case = api.container.use_cases.import_users()
    blind = dataclasses.replace(use_case, uow=_BlindOwners(use_case.uow))
    rows = [{"email": "before@import.test"}, {"email": "raced@import.test"}, {"email": "after@import.test"}]
    report = await blind(jsonl_records(_lines(rows)), batch_size=3)
    assert report.imported == 2
    assert [(r.line, r.reason) for r in report.rejected] == [
        (2, "A user with this email address has already been registered (taken while importing)")
    ]
    assert sorted(u["email"] for u in await api.users()) == ["after@import.test", "before@import.test", "raced@import.test"]
    await _consistent(api)
