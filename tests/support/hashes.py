"""Password hashes in every format an import accepts, made with low costs so that tests stay fast."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import argon2
import bcrypt
from argon2.low_level import Type, hash_secret
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

FIREBASE_SIGNER_KEY = base64.b64encode(b"signer-key-of-the-test-project-0123456789").decode()
FIREBASE_SALT_SEPARATOR = "Bw=="
FIREBASE_ROUNDS = 8
FIREBASE_MEM_COST = 4  # log2 N: cheap


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _bcrypt(prefix: str) -> Callable[[str], str]:
    def make(password: str) -> str:
        encoded = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
        return prefix + encoded[4:]

    return make


def argon2id(password: str) -> str:
    return argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)


def argon2i(password: str) -> str:
    return hash_secret(password.encode(), b"salt-0123456789", 1, 8, 1, 32, Type.I).decode()


def firebase_parts(password: str, salt: bytes = b"user-salt-01") -> tuple[str, str]:
    """(passwordHash, salt) as Firebase's `auth:export` gives them, base64."""
    separator = base64.b64decode(FIREBASE_SALT_SEPARATOR)
    key = hashlib.scrypt(password.encode(), salt=salt + separator, n=2**FIREBASE_MEM_COST, r=FIREBASE_ROUNDS, p=1, dklen=32)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    digest = encryptor.update(base64.b64decode(FIREBASE_SIGNER_KEY)) + encryptor.finalize()
    return b64(digest), b64(salt)


def fbscrypt(password: str) -> str:
    digest, salt = firebase_parts(password)
    return (
        f"$fbscrypt$v=1,n={FIREBASE_MEM_COST},r={FIREBASE_ROUNDS},p=1,ss={FIREBASE_SALT_SEPARATOR},"
        f"sk={FIREBASE_SIGNER_KEY}${salt}${digest}"
    )


def _django(digest: str) -> Callable[[str], str]:
    def make(password: str) -> str:
        key = hashlib.pbkdf2_hmac(digest, password.encode(), b"seasalt", 1000)
        return f"pbkdf2_{digest}$1000$seasalt${b64(key)}"

    return make


def _auth0(digest: str, length: int) -> Callable[[str], str]:
    def make(password: str) -> str:
        salt = b"auth0-salt-bytes"
        key = hashlib.pbkdf2_hmac(digest, password.encode(), salt, 1000, length)
        return f"$pbkdf2-{digest}$i=1000,l={length}${b64(salt).rstrip('=')}${b64(key).rstrip('=')}"

    return make


FORMATS: dict[str, Callable[[str], str]] = {
    "bcrypt-2a": _bcrypt("$2a$"),
    "bcrypt-2b": _bcrypt("$2b$"),
    "bcrypt-2y": _bcrypt("$2y$"),
    "argon2id": argon2id,
    "argon2i": argon2i,
    "fbscrypt": fbscrypt,
    "django-pbkdf2-sha256": _django("sha256"),
    "django-pbkdf2-sha1": _django("sha1"),
    "auth0-pbkdf2-sha256": _auth0("sha256", 32),
    "auth0-pbkdf2-sha512": _auth0("sha512", 64),
    "auth0-pbkdf2-sha1": _auth0("sha1", 20),
}
