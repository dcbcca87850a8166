"""Issue 16.3: a bcrypt hash of a long password is never replaced from a password that only shares its first 72 bytes.

bcrypt reads 72 bytes, so an imported `$2a$` hash of a 90-byte password also accepts any password
with the same first 72 bytes (as in GoTrue). Re-hashing to argon2id from such a password would make
the owner's real password stop working; pytrue re-hashes only from passwords shorter than 72 bytes.
"""

from __future__ import annotations

from typing import Any

import bcrypt

PREFIX = "correct horse battery staple, ".ljust(72, "#")
OWNER = PREFIX + "the owner's own 18b"[:18]
IMPOSTOR = PREFIX + "someone else's pw!"[:18]


async def _import_user(api: Any, password: str, email: str = "long@example.com") -> str:
    # the bcrypt library refuses more than 72 bytes; Go's and C's hash the first 72 and drop the rest
    encoded = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(4, prefix=b"2a")).decode()
    created = await api.client.post(
        "/admin/users",
        json={"email": email, "password_hash": encoded, "email_confirm": True},
        headers=api.admin(),
    )
    assert created.status_code == 200, created.text
    return encoded


async def _stored_hash(api: Any, email: str) -> str:
    return next(u["encrypted_password"] for u in await api.users() if u["email"] == email)


async def test_a_90_byte_password_hash_survives_logins_with_its_72_byte_twins(api: Any) -> None:
    assert len(OWNER.encode()) == 90 and len(IMPOSTOR.encode()) == 90 and OWNER != IMPOSTOR
    encoded = await _import_user(api, OWNER)
    for presented in (IMPOSTOR, PREFIX, OWNER):  # bcrypt accepts all three, as GoTrue does
        response = await api.password_grant("long@example.com", presented)
        assert response.status_code == 200, response.text
        assert await _stored_hash(api, "long@example.com") == encoded
    assert (await api.password_grant("long@example.com", OWNER)).status_code == 200
    assert (await api.password_grant("long@example.com", PREFIX[:-1])).status_code == 400


async def test_a_short_password_hash_is_still_upgraded_to_argon2id(api: Any) -> None:
    await _import_user(api, "short-and-sweet", "short@example.com")
    assert (await api.password_grant("short@example.com", "short-and-sweet")).status_code == 200
    assert (await _stored_hash(api, "short@example.com")).startswith("$argon2id$")
    assert (await api.password_grant("short@example.com", "short-and-sweet")).status_code == 200
    assert (await api.password_grant("short@example.com", "short-and-sweeT")).status_code == 400


async def test_a_71_byte_password_determines_its_hash_and_is_upgraded(api: Any) -> None:
    password = PREFIX[:71]
    await _import_user(api, password, "edge@example.com")
    assert (await api.password_grant("edge@example.com", password)).status_code == 200
    assert (await _stored_hash(api, "edge@example.com")).startswith("$argon2id$")
    assert (await api.password_grant("edge@example.com", PREFIX)).status_code == 400
