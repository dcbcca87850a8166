"""Argon2PasswordHasher and is_supported_hash (password-and-otp.md §1)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterator

import argon2
import bcrypt
import pytest
from argon2.low_level import Type
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pytrue.adapters.crypto.passwords import Argon2PasswordHasher, HasherOverloaded, is_supported_hash

CHEAP = {"time_cost": 1, "memory_cost_kib": 8, "parallelism": 1}

GOTRUE_ARGON2I = "$argon2i$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g"
GOTRUE_ARGON2ID = (
    "$argon2id$v=19$m=32,t=3,p=2$SFVpOWJ0eXhjRzVkdGN1RQ$RXnb8rh7LaDcn07xsssqqulZYXOM/EUCEFMVcAcyYVk"
)
GOTRUE_BCRYPT = "$2a$10$vVz26aE3xkpSS9HFgafcH.M0Ina2tRm.Kp08WcVfjipXccGakj6i."
GOTRUE_FBSCRYPT = (
    "$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,"
    "sk=ou9tdYTGyYm8kuR6Dt0Bp0kDuAYoXrK16mbZO4yGwAn3oLspjnN0/c41v8xZnO1n14J3MjKj1b2g6AUCAlFwMw=="
    "$C0sHCg9ek77hsg=="
    "$zKVTMvnWVw5BBOZNUdnsalx4c4c7y/w7IS5p6Ut2+CfEFFlz37J9huyQfov4iizN8dbjvEJlM5tQaJP84+hfTw=="
)
FIREBASE_SIGNER_KEY = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
FIREBASE_README = (
    f"$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk={FIREBASE_SIGNER_KEY}$42xEC+ixf3L2lw=="
    "$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
)


@pytest.fixture
def hasher() -> Iterator[Argon2PasswordHasher]:
    instance = Argon2PasswordHasher(**CHEAP)
    yield instance
    instance.close()


def firebase_scrypt(password: bytes, salt: bytes, separator: bytes, signer_key: bytes, n: int, r: int, p: int) -> bytes:
    key = hashlib.scrypt(password, salt=salt + separator, n=2**n, r=r, p=p, dklen=32, maxmem=2**30)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    return encryptor.update(signer_key) + encryptor.finalize()


def fbscrypt_hash(password: bytes, *, n: int = 4, r: int = 8, p: int = 1) -> str:
    salt, separator, signer_key = b"pepper-salt", b"\x07", b"signer-key-0123456789"
    digest = firebase_scrypt(password, salt, separator, signer_key, n, r, p)
    return f"$fbscrypt$v=1,n={n},r={r},p={p},ss={b64(separator)},sk={b64(signer_key)}${b64(salt)}${b64(digest)}"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def with_params(encoded: str, params: str) -> str:
    parts = encoded.split("$")
    parts[3] = params
    return "$".join(parts)


async def test_argon2id_round_trip(hasher: Argon2PasswordHasher) -> None:
    encoded = await hasher.hash("correct horse")

    assert encoded.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert await hasher.verify("correct horse", encoded)


async def test_wrong_password_is_rejected(hasher: Argon2PasswordHasher) -> None:
    encoded = await hasher.hash("correct horse")

    assert not await hasher.verify("correct horse!", encoded)
    assert not await hasher.verify("", encoded)


async def test_hashes_are_salted(hasher: Argon2PasswordHasher) -> None:
    assert await hasher.hash("same") != await hasher.hash("same")


async def test_non_ascii_password_round_trip(hasher: Argon2PasswordHasher) -> None:
    encoded = await hasher.hash("pässwörd 🔑")

    assert await hasher.verify("pässwörd 🔑", encoded)
    assert not await hasher.verify("passwort 🔑", encoded)


@pytest.mark.parametrize("prefix", [b"2a", b"2b"])
async def test_bcrypt_hashes_verify(hasher: Argon2PasswordHasher, prefix: bytes) -> None:
    encoded = bcrypt.hashpw(b"hunter2", bcrypt.gensalt(4, prefix=prefix)).decode()

    assert encoded.startswith(f"${prefix.decode()}$04$")
    assert await hasher.verify("hunter2", encoded)
    assert not await hasher.verify("hunter3", encoded)


async def test_bcrypt_2y_hash_verifies(hasher: Argon2PasswordHasher) -> None:
    encoded = "$2y$" + bcrypt.hashpw(b"hunter2", bcrypt.gensalt(4)).decode()[4:]

    assert await hasher.verify("hunter2", encoded)
    assert not await hasher.verify("hunter3", encoded)


async def test_gotrue_bcrypt_vector(hasher: Argon2PasswordHasher) -> None:
    assert await hasher.verify("test", GOTRUE_BCRYPT)
    assert not await hasher.verify("test_Password", GOTRUE_BCRYPT)


async def test_bcrypt_uses_first_72_bytes_like_go(hasher: Argon2PasswordHasher) -> None:
    password = "x" * 72
    encoded = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4, prefix=b"2a")).decode()

    assert await hasher.verify(password + "ignored", encoded)
    assert not await hasher.verify(password[:-1], encoded)


async def test_bcrypt_salt_with_unused_bits_set_verifies(hasher: Argon2PasswordHasher) -> None:
    encoded = bcrypt.hashpw(b"hunter2", bcrypt.gensalt(4, prefix=b"2a")).decode()
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    noisy = alphabet[alphabet.index(encoded[28]) | 0b1111]
    tampered = encoded[:28] + noisy + encoded[29:]

    assert await hasher.verify("hunter2", tampered)


async def test_gotrue_argon2_vectors(hasher: Argon2PasswordHasher) -> None:
    for encoded in (GOTRUE_ARGON2I, GOTRUE_ARGON2ID):
        assert await hasher.verify("test", encoded)
        assert not await hasher.verify("test1", encoded)


async def test_argon2i_hash_verifies(hasher: Argon2PasswordHasher) -> None:
    encoded = argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=2, type=Type.I).hash("secret")

    assert encoded.startswith("$argon2i$")
    assert await hasher.verify("secret", encoded)
    assert not await hasher.verify("Secret", encoded)


async def test_argon2id_with_other_parameters_verifies(hasher: Argon2PasswordHasher) -> None:
    other = argon2.PasswordHasher(time_cost=3, memory_cost=64, parallelism=4, hash_len=24, salt_len=12)
    encoded = other.hash("secret")

    assert await hasher.verify("secret", encoded)


async def test_argon2d_is_rejected(hasher: Argon2PasswordHasher) -> None:
    encoded = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.D).hash("secret")

    assert encoded.startswith("$argon2d$")
    assert not await hasher.verify("secret", encoded)
    assert not is_supported_hash(encoded)


async def test_firebase_published_example(hasher: Argon2PasswordHasher) -> None:
    assert await hasher.verify("user1password", FIREBASE_README)
    assert not await hasher.verify("user2password", FIREBASE_README)


async def test_gotrue_firebase_vector(hasher: Argon2PasswordHasher) -> None:
    wrong_digest = GOTRUE_FBSCRYPT.rsplit("$", 1)[0] + "$ZGlmZmVyZW50aGFzaA=="

    assert await hasher.verify("mytestpassword", GOTRUE_FBSCRYPT)
    assert not await hasher.verify("mytestpassword", wrong_digest)


async def test_firebase_hash_built_independently(hasher: Argon2PasswordHasher) -> None:
    encoded = fbscrypt_hash(b"open sesame", n=5, r=4, p=2)

    assert await hasher.verify("open sesame", encoded)
    assert not await hasher.verify("open sesame!", encoded)


def test_independent_firebase_scrypt_reproduces_published_example() -> None:
    digest = firebase_scrypt(
        b"user1password",
        base64.b64decode("42xEC+ixf3L2lw=="),
        base64.b64decode("Bw=="),
        base64.b64decode(FIREBASE_SIGNER_KEY),
        14,
        8,
        1,
    )

    assert base64.b64encode(digest).decode() == FIREBASE_README.rsplit("$", 1)[1]


MALFORMED = [
    "",
    None,
    "plaintext",
    "$",
    "$2a$",
    "$2a$10$short",
    GOTRUE_BCRYPT + "x",
    GOTRUE_BCRYPT[:-1],
    "$2a$03$" + GOTRUE_BCRYPT[7:],
    "$2a$32$" + GOTRUE_BCRYPT[7:],
    "$2a$-1$" + GOTRUE_BCRYPT[7:],
    "$2x$10$" + GOTRUE_BCRYPT[7:],
    "$2a$10$" + "!" * 53,
    "x2a$10$vVz26aE3xkpSS9HFgafcH.M0Ina2tRm.Kp08WcVfjipXccGakj6i.",
    "$argon2id$",
    "$argon2$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g",
    GOTRUE_ARGON2I.replace("v=19", "v=16"),
    GOTRUE_ARGON2I.replace("$v=19", ""),
    with_params(GOTRUE_ARGON2I, "m=16,t=2,p=1,keyid=abc"),
    with_params(GOTRUE_ARGON2I, "m=16,t=2,p=1,data=abc"),
    with_params(GOTRUE_ARGON2I, "m=1048577,t=2,p=1"),
    with_params(GOTRUE_ARGON2I, "m=16,t=21,p=1"),
    with_params(GOTRUE_ARGON2I, "m=256,t=2,p=17"),
    with_params(GOTRUE_ARGON2I, "m=16,t=0,p=1"),
    with_params(GOTRUE_ARGON2I, "m=16,t=2,p=0"),
    with_params(GOTRUE_ARGON2I, "m=16,t=2,p=" + "9" * 5000),
    with_params(GOTRUE_ARGON2I, "t=2,m=16,p=1"),
    "$argon2i$v=19$m=16,t=2,p=1$$NfEnUOuUpb7F2fQkgFUG4g",
    "$argon2i$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$",
    "$argon2i$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ==$NfEnUOuUpb7F2fQkgFUG4g",
    "$argon2i$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2d$NfEnUOuUpb7F2fQkgFUG4g",
    "$argon2i$v=19$m=16,t=2,p=1$bGJR*ThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g",
    GOTRUE_ARGON2I + "$extra",
    GOTRUE_ARGON2I + "\n",
    "$fbscrypt$",
    GOTRUE_FBSCRYPT.replace("v=1", "v=2"),
    GOTRUE_FBSCRYPT.replace("n=14", "n=0"),
    GOTRUE_FBSCRYPT.replace("r=8", "r=0"),
    GOTRUE_FBSCRYPT.replace("p=1", "p=0"),
    GOTRUE_FBSCRYPT.replace("n=14", "n=40"),
    GOTRUE_FBSCRYPT.replace("ss=Bw==", "ss=Bw="),
    GOTRUE_FBSCRYPT.replace("$C0sHCg9ek77hsg==", "$C0sHCg9ek77hsg"),
    GOTRUE_FBSCRYPT.replace("$C0sHCg9ek77hsg==", "$"),
    GOTRUE_FBSCRYPT.rsplit("$", 1)[0] + "$not base64!",
]


@pytest.mark.parametrize("encoded", MALFORMED)
async def test_malformed_hashes_are_false(hasher: Argon2PasswordHasher, encoded: str | None) -> None:
    assert await hasher.verify("test", encoded) is False
    assert await hasher.verify("mytestpassword", encoded) is False


@pytest.mark.parametrize("encoded", MALFORMED)
def test_malformed_hashes_are_unsupported(encoded: str) -> None:
    assert not is_supported_hash(encoded)


async def test_needs_rehash(hasher: Argon2PasswordHasher) -> None:
    own = await hasher.hash("pw")
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=8, parallelism=1).hash("pw")
    other_lengths = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, salt_len=8).hash("pw")
    argon2i = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I).hash("pw")
    bcrypt_hash = bcrypt.hashpw(b"pw", bcrypt.gensalt(4, prefix=b"2a")).decode()

    assert hasher.needs_rehash(own) is False
    for encoded in (stronger, other_lengths, argon2i, bcrypt_hash, GOTRUE_FBSCRYPT, "", None, "junk"):
        assert hasher.needs_rehash(encoded) is True


async def test_burn_spends_a_verification(hasher: Argon2PasswordHasher) -> None:
    assert await hasher.burn("anything") is None
    assert hasher.in_flight == 0


@pytest.mark.parametrize(
    "encoded",
    [
        GOTRUE_BCRYPT,
        GOTRUE_BCRYPT.replace("$2a$", "$2b$"),
        GOTRUE_BCRYPT.replace("$2a$", "$2y$"),
        "$2a$04$" + GOTRUE_BCRYPT[7:],
        "$2a$31$" + GOTRUE_BCRYPT[7:],
        GOTRUE_ARGON2I,
        GOTRUE_ARGON2ID,
        with_params(GOTRUE_ARGON2I, "m=1048576,t=20,p=16"),
        GOTRUE_FBSCRYPT,
        FIREBASE_README,
        GOTRUE_FBSCRYPT.replace(",ss=Bw==", ""),
    ],
)
def test_supported_hashes(encoded: str) -> None:
    assert is_supported_hash(encoded)


async def test_own_hashes_are_supported(hasher: Argon2PasswordHasher) -> None:
    encoded = await hasher.hash("pw")

    assert is_supported_hash(encoded)
    assert hasher.is_supported(encoded)
    assert hasher.is_supported(GOTRUE_FBSCRYPT)
    assert not hasher.is_supported("$argon2d$v=19$m=8,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2g")


async def test_calls_beyond_the_queue_are_refused() -> None:
    slow = Argon2PasswordHasher(time_cost=3, memory_cost_kib=65536, max_threads=1, max_queue=1)
    try:
        results = await asyncio.gather(*(slow.hash(str(i)) for i in range(4)), return_exceptions=True)

        assert [type(result) for result in results[2:]] == [HasherOverloaded, HasherOverloaded]
        assert all(isinstance(result, str) for result in results[:2])
        assert slow.in_flight == 0
        assert await slow.verify("0", results[0])
    finally:
        slow.close()


async def test_cancelled_calls_give_their_slot_back() -> None:
    slow = Argon2PasswordHasher(time_cost=3, memory_cost_kib=65536, max_threads=1, max_queue=1)
    try:
        running = asyncio.create_task(slow.hash("running"))
        queued = asyncio.create_task(slow.hash("queued"))
        await asyncio.sleep(0)
        queued.cancel()
        running.cancel()
        await asyncio.gather(running, queued, return_exceptions=True)
        for _ in range(200):
            if slow.in_flight == 0:
                break
            await asyncio.sleep(0.01)

        assert slow.in_flight == 0
        assert len(await asyncio.gather(slow.hash("a"), slow.hash("b"))) == 2
    finally:
        slow.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_cost": 0},
        {"time_cost": 21},
        {"memory_cost_kib": 7},
        {"memory_cost_kib": 1048577},
        {"parallelism": 0},
        {"parallelism": 17},
        {"max_threads": 0},
        {"max_queue": -1},
    ],
)
def test_invalid_configuration_is_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Argon2PasswordHasher(**{**CHEAP, **kwargs})


def test_no_rehash_from_a_password_bcrypt_cannot_tell_apart(hasher: Argon2PasswordHasher) -> None:
    long_hash = bcrypt.hashpw(b"y" * 72, bcrypt.gensalt(4, prefix=b"2a")).decode()
    assert hasher.needs_rehash(long_hash) is True
    assert hasher.needs_rehash(long_hash, "y" * 72) is False
    assert hasher.needs_rehash(long_hash, "y" * 90) is False
    assert hasher.needs_rehash(long_hash, "é" * 36) is False  # 72 bytes, 36 characters
    assert hasher.needs_rehash(long_hash, "y" * 71) is True
    assert hasher.needs_rehash(GOTRUE_FBSCRYPT, "y" * 90) is True


# --- PBKDF2 as Django and Auth0 store it (docs/user-import.md) ------------------------------

DJANGOHASHERS_SHA1 = "pbkdf2_sha1$24000$seasalt$F+kiWNHXbMBcwgxsvSKFCWHnZZ0="  # djangohashers' README: "KRONOS"


def django_pbkdf2(password: str, *, digest: str = "sha256", iterations: int = 1000, salt: str = "seasalt") -> str:
    key = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), iterations)
    return f"pbkdf2_{digest}${iterations}${salt}${b64(key)}"


def auth0_pbkdf2(password: str, *, digest: str = "sha256", iterations: int = 1000, length: int = 32) -> str:
    salt = b"\x00salt-of-auth0\xff"
    key = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations, length)
    return f"$pbkdf2-{digest}$i={iterations},l={length}${b64(salt).rstrip('=')}${b64(key).rstrip('=')}"


async def test_published_django_pbkdf2_sha1_vector(hasher: Argon2PasswordHasher) -> None:
    assert await hasher.verify("KRONOS", DJANGOHASHERS_SHA1)
    assert not await hasher.verify("kronos", DJANGOHASHERS_SHA1)


@pytest.mark.parametrize("digest", ["sha256", "sha1"])
async def test_django_pbkdf2_verifies_and_is_rehashed(hasher: Argon2PasswordHasher, digest: str) -> None:
    encoded = django_pbkdf2("lètmein", digest=digest)
    assert is_supported_hash(encoded)
    assert await hasher.verify("lètmein", encoded)
    assert not await hasher.verify("letmein", encoded)
    assert hasher.needs_rehash(encoded, "lètmein")


@pytest.mark.parametrize(("digest", "length"), [("sha256", 32), ("sha512", 64), ("sha1", 20), ("sha512", 20)])
async def test_auth0_phc_pbkdf2_verifies_and_is_rehashed(hasher: Argon2PasswordHasher, digest: str, length: int) -> None:
    encoded = auth0_pbkdf2("correct horse", digest=digest, length=length)
    assert is_supported_hash(encoded)
    assert await hasher.verify("correct horse", encoded)
    assert not await hasher.verify("correct horsE", encoded)
    assert hasher.needs_rehash(encoded, "correct horse")


def test_auth0_pbkdf2_without_length_takes_the_key_length() -> None:
    assert is_supported_hash(auth0_pbkdf2("x").replace(",l=32", ""))


@pytest.mark.parametrize(
    "encoded",
    [
        django_pbkdf2("x", iterations=1).replace("$1$", "$0$"),  # zero iterations
        django_pbkdf2("x").replace("$1000$", "$5000001$"),  # beyond the bound
        django_pbkdf2("x")[:-8],  # key cut short
        django_pbkdf2("x").replace("pbkdf2_sha256", "pbkdf2_md5"),
        "pbkdf2_sha256$1000$$" + b64(bytes(32)),  # no salt
        auth0_pbkdf2("x").replace("l=32", "l=31"),  # length differs from the key
        auth0_pbkdf2("x") + "==",  # Auth0's B64 has no padding
        auth0_pbkdf2("x").replace("$i=1000", "$i=0"),
        auth0_pbkdf2("x", length=8, digest="sha1"),  # too short a key to check anything
        auth0_pbkdf2("x").replace("pbkdf2-sha256", "pbkdf2-md5"),
        "$pbkdf2-sha256$i=1000,l=32$c2FsdA$" + "-_" * 21,  # url-safe alphabet
        "$pbkdf2-sha256$1000$c2FsdA$" + b64(bytes(32)).rstrip("="),  # passlib's layout, not Auth0's
    ],
)
def test_malformed_pbkdf2_hashes_are_unsupported(encoded: str) -> None:
    assert not is_supported_hash(encoded)
