"""Password hashing (password-and-otp.md §1, README "Where pytrue deliberately differs").

New hashes are argon2id. Stored argon2i/argon2id PHC strings, Firebase scrypt (`$fbscrypt$`)
and bcrypt (`$2a$`/`$2b$`/`$2y$`) hashes verify under GoTrue's parsing rules and limits; so do
PBKDF2 hashes as Django (`pbkdf2_sha256$…`) and Auth0 (`$pbkdf2-sha256$i=…,l=…$…`) store them,
for imported users (docs/user-import.md). The
work runs in a bounded thread pool; when too many operations wait, `HasherOverloaded` is
raised instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

import argon2
import bcrypt
from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["Argon2PasswordHasher", "HasherOverloaded", "is_supported_hash"]

T = TypeVar("T")

_ARGON2_VERSION = 19
_ARGON2_MAX_MEMORY_KIB = 1024 * 1024
_ARGON2_MAX_TIME_COST = 20
_ARGON2_MAX_PARALLELISM = 16
_ARGON2_MIN_SALT_BYTES = 8
_ARGON2_MIN_DIGEST_BYTES = 4
_NEW_SALT_BYTES = 16
_NEW_DIGEST_BYTES = 32

_BCRYPT_MIN_COST = 4
_BCRYPT_MAX_COST = 31
_BCRYPT_MAX_PASSWORD_BYTES = 72
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

_FIREBASE_KEY_BYTES = 32
_FIREBASE_IV = bytes(16)
_FIREBASE_MAX_LOG2_N = 32
_FIREBASE_MAX_PARALLELISM = 255
_SCRYPT_MAX_MEMORY = 2**31 - 1

_ARGON2_RE = re.compile(
    r"\$(?P<alg>argon2(?:i|id))\$v=19\$m=(?P<m>[0-9]+),t=(?P<t>[0-9]+),p=(?P<p>[0-9]+)"
    r"\$(?P<salt>[^$]*)\$(?P<digest>.*)"
)
_FIREBASE_RE = re.compile(
    r"\$fbscrypt\$v=1,n=(?P<n>[0-9]+),r=(?P<r>[0-9]+),p=(?P<p>[0-9]+)"
    r"(?:,ss=(?P<ss>[^,]+))?(?:,sk=(?P<sk>[^$]+))?\$(?P<salt>[^$]+)\$(?P<digest>.+)"
)
_BCRYPT_RE = re.compile(r"\$2[aby]\$(?P<cost>[0-9]{2})\$(?P<salt>[./A-Za-z0-9]{22})(?P<digest>[./A-Za-z0-9]{31})")
_PBKDF2_DIGESTS = {"sha1": 20, "sha256": 32, "sha512": 64}
_PBKDF2_MAX_ITERATIONS = 5_000_000
_PBKDF2_MIN_KEY_BYTES = 16
_PBKDF2_MAX_KEY_BYTES = 64
_PBKDF2_MAX_SALT_CHARS = 256

# Django: `pbkdf2_sha256$<iterations>$<salt as text>$<standard base64 of the key>`
_DJANGO_PBKDF2_RE = re.compile(
    r"pbkdf2_(?P<digest_name>sha1|sha256)\$(?P<i>[0-9]{1,8})\$(?P<salt>[^$]{1,256})\$(?P<digest>[A-Za-z0-9+/]+=*)"
)
# Auth0 (PHC): `$pbkdf2-sha256$i=<iterations>,l=<key bytes>$<B64 salt>$<B64 key>`, B64 = standard
# base64 without its `=` padding
_PHC_PBKDF2_RE = re.compile(
    r"\$pbkdf2-(?P<digest_name>sha1|sha256|sha512)\$i=(?P<i>[0-9]{1,8})(?:,l=(?P<l>[0-9]{1,3}))?"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<digest>[A-Za-z0-9+/]+)"
)
_STD_BASE64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_RAW_BASE64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2,3})?")


class HasherOverloaded(Exception):
    """Too many hash operations are already waiting; the request should fail fast."""


class _StoredHash(Protocol):
    def matches(self, password: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Argon2Hash:
    type: Type
    memory_kib: int
    time_cost: int
    parallelism: int
    salt: bytes
    digest: bytes

    def matches(self, password: bytes) -> bool:
        derived = hash_secret_raw(
            password,
            self.salt,
            self.time_cost,
            self.memory_kib,
            self.parallelism,
            len(self.digest),
            self.type,
            _ARGON2_VERSION,
        )
        return hmac.compare_digest(derived, self.digest)


@dataclass(frozen=True, slots=True)
class _FirebaseScryptHash:
    log2_n: int
    r: int
    p: int
    salt_separator: bytes
    signer_key: bytes
    salt: bytes
    digest: bytes

    def matches(self, password: bytes) -> bool:
        key = hashlib.scrypt(
            password,
            salt=self.salt + self.salt_separator,
            n=2**self.log2_n,
            r=self.r,
            p=self.p,
            maxmem=_SCRYPT_MAX_MEMORY,
            dklen=_FIREBASE_KEY_BYTES,
        )
        encryptor = Cipher(algorithms.AES(key), modes.CTR(_FIREBASE_IV)).encryptor()
        signed = encryptor.update(self.signer_key) + encryptor.finalize()
        return hmac.compare_digest(signed, self.digest)


@dataclass(frozen=True, slots=True)
class _BcryptHash:
    setting: bytes
    digest: bytes

    def matches(self, password: bytes) -> bool:
        computed = bcrypt.hashpw(password[:_BCRYPT_MAX_PASSWORD_BYTES], self.setting)
        return hmac.compare_digest(computed[len(self.setting) :], self.digest)


@dataclass(frozen=True, slots=True)
class _Pbkdf2Hash:
    digest_name: str
    iterations: int
    salt: bytes
    digest: bytes

    def matches(self, password: bytes) -> bool:
        derived = hashlib.pbkdf2_hmac(self.digest_name, password, self.salt, self.iterations, len(self.digest))
        return hmac.compare_digest(derived, self.digest)


def is_supported_hash(encoded: str) -> bool:
    """Whether an imported `password_hash` has a format this server can verify."""
    return _parse(encoded) is not None


def _parse(encoded: str | None) -> _StoredHash | None:
    if not isinstance(encoded, str) or not encoded:
        return None
    if encoded.startswith("$argon2"):
        return _parse_argon2(encoded)
    if encoded.startswith("$fbscrypt"):
        return _parse_firebase_scrypt(encoded)
    if encoded.startswith("pbkdf2_"):
        return _parse_django_pbkdf2(encoded)
    if encoded.startswith("$pbkdf2-"):
        return _parse_phc_pbkdf2(encoded)
    return _parse_bcrypt(encoded)


def _parse_argon2(encoded: str) -> _Argon2Hash | None:
    match = _ARGON2_RE.fullmatch(encoded)
    if match is None:
        return None
    parallelism = _bounded_int(match["p"], 1, _ARGON2_MAX_PARALLELISM)
    time_cost = _bounded_int(match["t"], 1, _ARGON2_MAX_TIME_COST)
    if parallelism is None or time_cost is None:
        return None
    memory_kib = _bounded_int(match["m"], 8 * parallelism, _ARGON2_MAX_MEMORY_KIB)
    salt = _decode_raw_base64(match["salt"])
    digest = _decode_raw_base64(match["digest"])
    if memory_kib is None or salt is None or digest is None:
        return None
    if len(salt) < _ARGON2_MIN_SALT_BYTES or len(digest) < _ARGON2_MIN_DIGEST_BYTES:
        return None
    kind = Type.ID if match["alg"] == "argon2id" else Type.I
    return _Argon2Hash(kind, memory_kib, time_cost, parallelism, salt, digest)


def _parse_firebase_scrypt(encoded: str) -> _FirebaseScryptHash | None:
    match = _FIREBASE_RE.fullmatch(encoded)
    if match is None:
        return None
    log2_n = _bounded_int(match["n"], 1, _FIREBASE_MAX_LOG2_N)
    r = _bounded_int(match["r"], 1, _SCRYPT_MAX_MEMORY)
    p = _bounded_int(match["p"], 1, _FIREBASE_MAX_PARALLELISM)
    if log2_n is None or r is None or p is None or not _scrypt_fits(log2_n, r, p):
        return None
    parts = [_decode_std_base64(match[name] or "") for name in ("ss", "sk", "salt", "digest")]
    salt_separator, signer_key, salt, digest = parts
    if salt_separator is None or signer_key is None or salt is None or digest is None:
        return None
    return _FirebaseScryptHash(log2_n, r, p, salt_separator, signer_key, salt, digest)


def _parse_django_pbkdf2(encoded: str) -> _Pbkdf2Hash | None:
    match = _DJANGO_PBKDF2_RE.fullmatch(encoded)
    if match is None:
        return None
    iterations = _bounded_int(match["i"], 1, _PBKDF2_MAX_ITERATIONS)
    digest = _decode_std_base64(match["digest"])
    if iterations is None or digest is None or len(digest) != _PBKDF2_DIGESTS[match["digest_name"]]:
        return None
    return _Pbkdf2Hash(match["digest_name"], iterations, match["salt"].encode("utf-8"), digest)


def _parse_phc_pbkdf2(encoded: str) -> _Pbkdf2Hash | None:
    match = _PHC_PBKDF2_RE.fullmatch(encoded)
    if match is None or len(match["salt"]) > _PBKDF2_MAX_SALT_CHARS:
        return None
    iterations = _bounded_int(match["i"], 1, _PBKDF2_MAX_ITERATIONS)
    salt = _decode_raw_base64(match["salt"])
    digest = _decode_raw_base64(match["digest"])
    if iterations is None or salt is None or digest is None:
        return None
    length = _bounded_int(match["l"], 1, _PBKDF2_MAX_KEY_BYTES) if match["l"] else len(digest)
    if length != len(digest) or not _PBKDF2_MIN_KEY_BYTES <= len(digest) <= _PBKDF2_MAX_KEY_BYTES:
        return None
    return _Pbkdf2Hash(match["digest_name"], iterations, salt, digest)


def _scrypt_fits(log2_n: int, r: int, p: int) -> bool:
    return log2_n < 16 * r and 128 * r * (2**log2_n + 2 + p) <= _SCRYPT_MAX_MEMORY


def _parse_bcrypt(encoded: str) -> _BcryptHash | None:
    match = _BCRYPT_RE.fullmatch(encoded)
    if match is None:
        return None
    cost = _bounded_int(match["cost"], _BCRYPT_MIN_COST, _BCRYPT_MAX_COST)
    if cost is None:
        return None
    setting = f"$2b${cost:02d}${_canonical_bcrypt_salt(match['salt'])}"
    return _BcryptHash(setting.encode("ascii"), match["digest"].encode("ascii"))


def _canonical_bcrypt_salt(salt: str) -> str:
    last = _BCRYPT_ALPHABET.index(salt[-1]) & 0b110000
    return salt[:-1] + _BCRYPT_ALPHABET[last]


def _bounded_int(text: str, low: int, high: int) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def _decode_std_base64(text: str) -> bytes | None:
    if _STD_BASE64_RE.fullmatch(text) is None:
        return None
    return base64.b64decode(text)


def _decode_raw_base64(text: str) -> bytes | None:
    if _RAW_BASE64_RE.fullmatch(text) is None:
        return None
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _encode(password: str) -> bytes:
    return password.encode("utf-8", "surrogatepass")


def _matches(stored: _StoredHash, password: bytes) -> bool:
    try:
        return stored.matches(password)
    except (ValueError, HashingError, MemoryError):
        return False


class _Gate:
    """Counts operations submitted and not yet finished; refuses those beyond capacity."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def admit(self) -> None:
        with self._lock:
            if self._in_flight >= self._capacity:
                raise HasherOverloaded("too many password hash operations are waiting")
            self._in_flight += 1

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Claim:
    """Settles once whether a queued job is started by a worker or abandoned by its caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False

    def take(self) -> bool:
        with self._lock:
            if self._taken:
                return False
            self._taken = True
            return True


class _Abandoned(Exception):
    """The caller gave up before a worker picked the job up."""


class Argon2PasswordHasher:
    """`PasswordHasher` port: argon2id for new hashes, GoTrue's formats for stored ones."""

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_cost_kib: int = 19456,
        parallelism: int = 1,
        max_threads: int | None = None,
        max_queue: int | None = None,
    ) -> None:
        _check_parameters(time_cost, memory_cost_kib, parallelism)
        threads = max_threads if max_threads is not None else os.cpu_count() or 1
        queue = max_queue if max_queue is not None else 64 * threads
        if threads < 1 or queue < 0:
            raise ValueError("max_threads must be at least 1 and max_queue at least 0")
        self._parameters = (time_cost, memory_cost_kib, parallelism)
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=_NEW_DIGEST_BYTES,
            salt_len=_NEW_SALT_BYTES,
            type=Type.ID,
        )
        self._burn_hash = self._hasher.hash(secrets.token_bytes(16))
        self._gate = _Gate(threads + queue)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pytrue-hasher")

    @property
    def in_flight(self) -> int:
        """Operations submitted to the pool and not yet finished."""
        return self._gate.in_flight

    async def hash(self, password: str) -> str:
        return await self._run(partial(self._hasher.hash, _encode(password)))

    async def verify(self, password: str, encoded: str | None) -> bool:
        stored = _parse(encoded)
        if stored is None:
            return False
        return await self._run(partial(_matches, stored, _encode(password)))

    def needs_rehash(self, encoded: str | None, password: str | None = None) -> bool:
        """Whether `encoded` should be replaced; with `password`, by a hash of that password.

        bcrypt reads only the first 72 bytes, so a password of 72 bytes or more that matched a
        bcrypt hash may be another password than the one it was made from: a hash of it would
        lock the owner out. Such a hash stays as it is.
        """
        if password is not None and _parse_bcrypt(encoded or "") is not None:
            if len(_encode(password)) >= _BCRYPT_MAX_PASSWORD_BYTES:
                return False
        stored = _parse_argon2(encoded) if isinstance(encoded, str) else None
        return stored is None or not self._is_current(stored)

    def is_supported(self, encoded: str) -> bool:
        return is_supported_hash(encoded)

    async def burn(self, password: str) -> None:
        await self.verify(password, self._burn_hash)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _is_current(self, stored: _Argon2Hash) -> bool:
        return (
            stored.type is Type.ID
            and (stored.time_cost, stored.memory_kib, stored.parallelism) == self._parameters
            and len(stored.salt) == _NEW_SALT_BYTES
            and len(stored.digest) == _NEW_DIGEST_BYTES
        )

    async def _run(self, job: Callable[[], T]) -> T:
        self._gate.admit()
        claim = _Claim()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._work, claim, job)
        except BaseException:
            if claim.take():
                self._gate.release()
            raise

    def _work(self, claim: _Claim, job: Callable[[], T]) -> T:
        if not claim.take():
            raise _Abandoned
        try:
            return job()
        finally:
            self._gate.release()


def _check_parameters(time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
    if not 1 <= parallelism <= _ARGON2_MAX_PARALLELISM:
        raise ValueError(f"parallelism must be between 1 and {_ARGON2_MAX_PARALLELISM}")
    if not 1 <= time_cost <= _ARGON2_MAX_TIME_COST:
        raise ValueError(f"time_cost must be between 1 and {_ARGON2_MAX_TIME_COST}")
    if not 8 * parallelism <= memory_cost_kib <= _ARGON2_MAX_MEMORY_KIB:
        raise ValueError(f"memory_cost_kib must be between 8 × parallelism and {_ARGON2_MAX_MEMORY_KIB}")
