"""`pytrue users import|export` as a command on PostgreSQL: 10 000 users in every hash format, rejections, resumption.

Hashes are made with low costs; beyond the users who sign in (fresh hashes each), rows reuse a
small pool of hashes per format, so that building the file does not dominate the test.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgcluster import Databases, PgDatabase
from support import hashes

SECRET = "cli-import-secret-that-is-long-enough-0123456789"
PASSWORD = "bulk-pass-123"
USERS = 10_000
FORMATS = [*hashes.FORMATS, "firebase-export", "plain"]
SIGNING_IN = 3  # users of each format who sign in over HTTP
FIREBASE = [
    "--firebase-signer-key", hashes.FIREBASE_SIGNER_KEY,
    "--firebase-salt-separator", hashes.FIREBASE_SALT_SEPARATOR,
    "--firebase-rounds", str(hashes.FIREBASE_ROUNDS),
    "--firebase-mem-cost", str(hashes.FIREBASE_MEM_COST),
]  # fmt: skip


def _env(database: PgDatabase) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOTRUE_") and k != "DATABASE_URL"}
    env.update(
        GOTRUE_SITE_URL="http://localhost:3000",
        API_EXTERNAL_URL="http://localhost:9999",
        GOTRUE_JWT_SECRET=SECRET,
        GOTRUE_JWT_AUD="authenticated",
        GOTRUE_JWT_DEFAULT_GROUP_NAME="authenticated",
        GOTRUE_DB_DRIVER="postgres",
        DATABASE_URL=database.dsn,
        GOTRUE_PASSWORD_HASH_ARGON2_MEMORY="64",
        GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS="1",
    )
    return env


def _pytrue(database: PgDatabase, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytrue", *args], cwd=cwd, env=_env(database), capture_output=True, text=True, timeout=300
    )


def _summary(result: subprocess.CompletedProcess[str], status: int = 0) -> dict[str, Any]:
    assert result.returncode == status, result.stderr[-2000:]
    return json.loads(result.stdout)


def _row(i: int, pools: dict[str, list[str]]) -> dict[str, Any]:
    kind = FORMATS[i % len(FORMATS)]
    fresh = i < SIGNING_IN * len(FORMATS)
    row: dict[str, Any] = {"email": f"{kind}.{i}@bulk.test", "email_confirmed": True, "user_metadata": {"i": i}}
    if kind == "firebase-export":
        digest, salt = hashes.firebase_parts(PASSWORD, salt=f"salt-{i % 7}".encode())
        row.update(password_hash=digest, salt=salt)
    elif kind == "plain":
        row["password"] = PASSWORD
    else:
        pool = pools[kind]
        row["password_hash"] = hashes.FORMATS[kind](PASSWORD) if fresh else pool[i % len(pool)]
    if i % 10 == 1:
        row["phone"] = f"1555{i:07d}"
        row["phone_confirmed_at"] = "2025-01-01T00:00:00+00:00"
    if i % 25 == 2:
        row["identities"] = [
            {"provider": "email", "identity_data": {"email_verified": True}},
            {"provider": "github", "provider_id": str(9_000_000 + i), "identity_data": {"user_name": f"gh{i}"}},
        ]
    if i % 100 == 3 and not fresh:  # banned users cannot sign in
        row["banned_until"] = "2999-01-01T00:00:00+00:00"
    return row


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pools = {kind: [make(PASSWORD) for _ in range(8)] for kind, make in hashes.FORMATS.items()}
    path = tmp_path_factory.mktemp("import") / "users.jsonl"
    with path.open("w") as out:
        for i in range(USERS):
            out.write(json.dumps(_row(i, pools)) + "\n")
    return path


def _fetch(database: PgDatabase, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.dsn) as conn:
        return conn.execute(query, params).fetchall()


def _consistency(database: PgDatabase) -> None:
    """No user without its identities: every email user has an identity naming that email."""
    orphans = _fetch(
        database,
        "SELECT count(*) FROM auth.users u WHERE u.email IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM auth.identities i WHERE i.user_id = u.id AND i.email = u.email)",
    )
    assert orphans == [(0,)]


def _rows(path: Path) -> list[dict[str, Any]]:
    return sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda r: r["id"])


async def _sign_in_each_format(database: PgDatabase) -> None:
    from litestar.testing import AsyncTestClient

    from pytrue.entrypoints.containers import build_container
    from pytrue.entrypoints.http.app import create_app
    from support.api import PostgresApi
    from support.app import make_settings

    container = build_container(make_settings({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": database.dsn}))
    async with AsyncTestClient(app=create_app(container)) as client:
        api = PostgresApi(client, container)
        emails = [f"{FORMATS[i % len(FORMATS)]}.{i}@bulk.test" for i in range(SIGNING_IN * len(FORMATS))]
        before = dict(_fetch(database, "SELECT email, encrypted_password FROM auth.users WHERE email = ANY(%s)", (emails,)))
        for email in emails:
            assert (await api.password_grant(email, "wrong-password")).json()["error_code"] == "invalid_credentials"
            response = await api.password_grant(email, PASSWORD)
            assert response.status_code == 200, (email, response.text)
        after = dict(_fetch(database, "SELECT email, encrypted_password FROM auth.users WHERE email = ANY(%s)", (emails,)))
        hasher = container.core.hasher()
        for email in emails:
            assert after[email].startswith("$argon2id$") and not hasher.needs_rehash(after[email]), email
            if not email.startswith("plain."):
                assert after[email] != before[email], email
            assert (await api.password_grant(email, PASSWORD)).status_code == 200


@pytest.fixture
def two_databases(pg_databases: Databases) -> Any:
    """Two migrated databases (made outside the test's event loop: the migration runs its own)."""
    first, second = pg_databases.create(migrated=True), pg_databases.create(migrated=True)
    yield first, second
    pg_databases.drop(first)
    pg_databases.drop(second)


async def test_ten_thousand_users_round_trip_and_sign_in(
    two_databases: tuple[PgDatabase, PgDatabase], users_file: Path, tmp_path: Path
) -> None:
    first, second = two_databases
    imported = _summary(_pytrue(first, tmp_path, "users", "import", str(users_file), "--json", *FIREBASE))
    assert (imported["imported"], imported["skipped"], imported["rejected"]) == (USERS, 0, 0)
    assert _fetch(first, "SELECT count(*) FROM auth.users") == [(USERS,)]
    assert _fetch(first, "SELECT count(*) FROM auth.identities") == [(USERS + USERS // 10 + USERS // 25,)]
    _consistency(first)
    exported = _pytrue(first, tmp_path, "users", "export", "all.jsonl")
    assert exported.returncode == 0 and f"exported {USERS} users" in exported.stderr, exported.stderr
    assert _pytrue(first, tmp_path, "users", "export", "all.csv").returncode == 0
    rows = _rows(tmp_path / "all.jsonl")
    assert len(rows) == USERS
    assert {r["password_hash"].split("$")[1] if r["password_hash"].startswith("$") else r["password_hash"].split("$")[0] for r in rows} == {
        "2a", "2b", "2y", "argon2id", "argon2i", "fbscrypt", "pbkdf2_sha256", "pbkdf2_sha1", "pbkdf2-sha256", "pbkdf2-sha512", "pbkdf2-sha1",
    }  # fmt: skip
    again = _summary(_pytrue(first, tmp_path, "users", "import", "all.jsonl", "--json"))
    assert (again["imported"], again["skipped"], again["rejected"]) == (0, USERS, 0)
    assert _fetch(first, "SELECT count(*) FROM auth.users") == [(USERS,)]

    into_fresh = _summary(_pytrue(second, tmp_path, "users", "import", "all.csv", "--json", "--batch-size", "777"))
    assert (into_fresh["imported"], into_fresh["rejected"]) == (USERS, 0)
    assert _pytrue(second, tmp_path, "users", "export", "second.jsonl").returncode == 0
    assert _rows(tmp_path / "second.jsonl") == rows
    _consistency(second)
    await _sign_in_each_format(second)


def test_bad_rows_are_reported_by_line_and_the_database_stays_consistent(migrated_db: PgDatabase, tmp_path: Path) -> None:
    good = hashes.FORMATS["bcrypt-2a"](PASSWORD)
    lines = [
        json.dumps({"email": "a@bad.test", "password_hash": good, "email_confirmed": True}),
        '{"email": "b@bad.test", "password_hash": ',
        json.dumps({"email": "c@bad.test", "password_hash": "sha1$abc$0123"}),
        json.dumps({"email": "A@bad.test", "password_hash": good}),
        json.dumps({"email": "d@bad.test", "email_confirmed": "yes"}),
        json.dumps({"email": "e@bad.test"}),
        '{"email": "f@bad.te',
    ]
    (tmp_path / "bad.jsonl").write_text("\n".join(lines))
    result = _pytrue(migrated_db, tmp_path, "users", "import", "bad.jsonl", "--batch-size", "2")
    assert result.returncode == 1, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "imported 2, skipped 0 (already present), rejected 5"
    assert out[1].startswith("  line 2: malformed JSON")
    assert out[2].startswith("  line 3: password_hash is in no known format")
    assert out[3] == "  line 4: email a@bad.test is already on line 1"
    assert out[4] == "  line 5: email_confirmed: expected true or false, got a string"
    assert out[5].startswith("  line 7: malformed JSON") and "cut short" in out[5]
    assert sorted(_fetch(migrated_db, "SELECT email FROM auth.users")) == [("a@bad.test",), ("e@bad.test",)]
    _consistency(migrated_db)
    unknown_format = _pytrue(migrated_db, tmp_path, "users", "import", "bad.txt")
    assert unknown_format.returncode == 2 and "--format" in unknown_format.stderr


def test_a_cut_file_then_the_whole_file_imports_each_user_once(migrated_db: PgDatabase, tmp_path: Path) -> None:
    good = hashes.FORMATS["django-pbkdf2-sha256"](PASSWORD)
    text = "".join(json.dumps({"email": f"r{i}@resume.test", "password_hash": good}) + "\n" for i in range(3000))
    (tmp_path / "cut.jsonl").write_text(text[: len(text) * 2 // 3 - 5])
    (tmp_path / "whole.jsonl").write_text(text)
    cut = _summary(_pytrue(migrated_db, tmp_path, "users", "import", "cut.jsonl", "--json", "--batch-size", "500"), 1)
    assert cut["rejected"] == 1 and "cut short" in cut["rejections"][0]["reason"]
    assert cut["imported"] == cut["rejections"][0]["line"] - 1
    whole = _summary(_pytrue(migrated_db, tmp_path, "users", "import", "whole.jsonl", "--json", "--batch-size", "500"))
    assert (whole["imported"] + whole["skipped"], whole["skipped"], whole["rejected"]) == (3000, cut["imported"], 0)
    assert _fetch(migrated_db, "SELECT count(*), count(DISTINCT email) FROM auth.users") == [(3000, 3000)]
    assert _fetch(migrated_db, "SELECT count(*) FROM auth.identities") == [(3000,)]
    _consistency(migrated_db)


def test_dry_run_writes_nothing(migrated_db: PgDatabase, tmp_path: Path) -> None:
    (tmp_path / "dry.csv").write_text("email,password\nx@dry.test,pw-123456\ny@dry.test,\nx@dry.test,\n")
    result = _pytrue(migrated_db, tmp_path, "users", "import", "dry.csv", "--dry-run")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "would import 2, skipped 0 (already present), rejected 1",
        "  line 4: email x@dry.test is already on line 2",
    ]
    assert _fetch(migrated_db, "SELECT count(*) FROM auth.users") == [(0,)]
    assert "rows/s" not in result.stderr  # no progress bar without a terminal
    empty = _pytrue(migrated_db, tmp_path, "users", "export", "-", "--format", "csv")
    assert empty.returncode == 0 and empty.stdout.startswith("id,aud,role,email,phone,password_hash,")
    assert len(empty.stdout.splitlines()) == 1 and "exported 0 users to -" in empty.stderr


def test_progress_bar_on_a_terminal(migrated_db: PgDatabase, tmp_path: Path) -> None:
    (tmp_path / "tty.jsonl").write_text("".join(json.dumps({"email": f"t{i}@tty.test"}) + "\n" for i in range(50)))
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytrue", "users", "import", "tty.jsonl"],
        cwd=tmp_path, env={**_env(migrated_db), "COLUMNS": "160"}, stdout=subprocess.PIPE, stderr=follower,
    )  # fmt: skip
    os.close(follower)  # the child holds the terminal now: reading ends (EIO) when it exits
    shown = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    process.communicate(timeout=120)
    assert process.returncode == 0
    assert b"50 rows" in shown and b"rows/s" in shown and b"ETA" in shown


def _firebase_export(count: int) -> dict[str, Any]:
    """A `firebase auth:export` document: password users (scrypt), Google users, a phone user, a disabled one."""
    users: list[dict[str, Any]] = []
    for i in range(count):
        user: dict[str, Any] = {"localId": f"fbUid{i:05d}", "createdAt": str(1486674491000 + i), "lastSignedInAt": "1486674497000"}
        if i % 4 == 3:
            user.update(phoneNumber=f"+1555{i:07d}", providerUserInfo=[{"providerId": "phone", "rawId": f"+1555{i:07d}"}])
        elif i % 4 == 2:
            user.update(
                email=f"g{i}@gmail.test", emailVerified=True, displayName=f"G {i}",
                providerUserInfo=[{"providerId": "google.com", "rawId": f"10{i:08d}", "email": f"g{i}@gmail.test"}],
            )
        else:
            digest, salt = hashes.firebase_parts(PASSWORD, salt=f"fb-salt-{i}".encode())
            user.update(email=f"fb{i}@firebase.test", emailVerified=bool(i % 2), passwordHash=digest, salt=salt,
                        customAttributes='{"plan": "pro"}', disabled=i == 5,
                        providerUserInfo=[{"providerId": "password", "rawId": f"fb{i}@firebase.test"}])
        users.append(user)
    return {"users": users}


async def test_a_firebase_auth_export_imports_and_its_passwords_sign_in(migrated_db: PgDatabase, tmp_path: Path) -> None:
    document = json.dumps(_firebase_export(200), indent=2)
    (tmp_path / "firebase.json").write_text(document)
    imported = _summary(_pytrue(migrated_db, tmp_path, "users", "import", "firebase.json", "--format", "firebase", "--json", *FIREBASE))
    assert (imported["imported"], imported["skipped"], imported["rejected"]) == (200, 0, 0)
    _consistency(migrated_db)
    rows = dict(
        (uid, (email, phone, confirmed, banned, providers))
        for uid, email, phone, confirmed, banned, providers in _fetch(
            migrated_db,
            "SELECT raw_app_meta_data->>'firebase_uid', email, phone, email_confirmed_at IS NOT NULL, banned_until IS NOT NULL, "
            "raw_app_meta_data->'providers' FROM auth.users",
        )
    )
    assert rows["fbUid00000"] == ("fb0@firebase.test", None, False, False, ["email"])
    assert rows["fbUid00001"][2] is True and rows["fbUid00005"][3] is True
    assert rows["fbUid00002"] == ("g2@gmail.test", None, True, False, ["google"])
    assert rows["fbUid00003"][1:] == ("15550000003", False, False, ["phone"])
    assert _fetch(migrated_db, "SELECT count(*) FROM auth.identities WHERE provider = 'google'") == [(50,)]
    assert _fetch(migrated_db, "SELECT raw_app_meta_data->>'plan' FROM auth.users WHERE email = 'fb1@firebase.test'") == [("pro",)]

    from litestar.testing import AsyncTestClient

    from pytrue.entrypoints.containers import build_container
    from pytrue.entrypoints.http.app import create_app
    from support.api import PostgresApi
    from support.app import make_settings

    container = build_container(make_settings({"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": migrated_db.dsn}))
    async with AsyncTestClient(app=create_app(container)) as client:
        api = PostgresApi(client, container)
        assert (await api.password_grant("fb1@firebase.test", PASSWORD)).status_code == 200
        assert (await api.password_grant("fb4@firebase.test", "not-the-password")).json()["error_code"] == "invalid_credentials"
        assert (await api.password_grant("fb5@firebase.test", PASSWORD)).json()["error_code"] == "user_banned"
    assert _fetch(migrated_db, "SELECT encrypted_password LIKE '$argon2id$%' FROM auth.users WHERE email = 'fb1@firebase.test'") == [(True,)]

    again = _summary(_pytrue(migrated_db, tmp_path, "users", "import", "firebase.json", "--format", "firebase", "--json", *FIREBASE))
    assert (again["imported"], again["skipped"]) == (0, 200)
    without_keys = _pytrue(migrated_db, tmp_path, "users", "import", "firebase.json", "--format", "firebase", "--dry-run", "--json")
    summary = _summary(without_keys, status=1)
    assert summary["rejected"] == 100 and "--firebase-signer-key" in summary["rejections"][0]["reason"]


def test_a_cut_firebase_export_imports_the_whole_users_and_says_where_it_stopped(migrated_db: PgDatabase, tmp_path: Path) -> None:
    document = json.dumps(_firebase_export(40), indent=2)
    cut = document[: document.index('"localId": "fbUid00030"')]
    (tmp_path / "cut.json").write_text(cut)
    result = _summary(_pytrue(migrated_db, tmp_path, "users", "import", "cut.json", "--format", "firebase", "--json", *FIREBASE), status=1)
    assert (result["imported"], result["rejected"]) == (30, 1)
    line = cut.count("\n")  # the cut user's object opens on the last line
    assert result["rejections"][0]["line"] == line and "complete" in result["rejections"][0]["reason"]
    (tmp_path / "whole.json").write_text(document)
    whole = _summary(_pytrue(migrated_db, tmp_path, "users", "import", "whole.json", "--format", "firebase", "--json", *FIREBASE))
    assert (whole["imported"], whole["skipped"], whole["rejected"]) == (10, 30, 0)
    assert _fetch(migrated_db, "SELECT count(*) FROM auth.users") == [(40,)]
    _consistency(migrated_db)
