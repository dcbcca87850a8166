"""Pwned Passwords (haveibeenpwned.com) by k-anonymity: only the first five hex characters of the
password's SHA-1 are sent; the answer lists the suffixes of that range. With
`GOTRUE_PASSWORD_HIBP_BLOOM_ENABLED` the hashes found pwned are kept in a Bloom filter, as GoTrue's
cache does, so a known-pwned password is refused again without a request."""

from __future__ import annotations

import hashlib
import logging
import math

import httpx

from pytrue.application.ports import PwnedPasswordsUnavailable

log = logging.getLogger("pytrue.passwords")

RANGE_API = "https://api.pwnedpasswords.com/range/"


class BloomFilter:
    """A fixed-size Bloom filter sized for `items` entries at `false_positives` probability."""

    def __init__(self, items: int, false_positives: float) -> None:
        items = max(items, 1)
        rate = min(max(false_positives, 1e-12), 0.5)
        self._bits = max(8, math.ceil(-items * math.log(rate) / (math.log(2) ** 2)))
        self._hashes = max(1, round(self._bits / items * math.log(2)))
        self._array = bytearray((self._bits + 7) // 8)

    def _positions(self, key: bytes) -> list[int]:
        digest = hashlib.sha256(key).digest()
        a, b = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big") | 1
        return [(a + i * b) % self._bits for i in range(self._hashes)]

    def add(self, key: bytes) -> None:
        for bit in self._positions(key):
            self._array[bit // 8] |= 1 << (bit % 8)

    def __contains__(self, key: bytes) -> bool:
        return all(self._array[bit // 8] & (1 << (bit % 8)) for bit in self._positions(key))


class PwnedPasswordsApi:
    def __init__(
        self, *, client: httpx.AsyncClient, user_agent: str, timeout: float, url: str = "", bloom: BloomFilter | None = None
    ) -> None:
        self._client = client
        self._url = url or RANGE_API
        self._headers = {"User-Agent": user_agent, "Add-Padding": "true"}
        self._timeout = timeout
        self._bloom = bloom

    async def is_pwned(self, password: str) -> bool:
        digest = hashlib.sha1(password.encode("utf-8")).hexdigest().upper()  # noqa: S324 - the API's own scheme
        if self._bloom is not None and digest.encode() in self._bloom:
            return True
        prefix, suffix = digest[:5], digest[5:]
        try:
            answer = await self._client.get(self._url + prefix, headers=self._headers, timeout=self._timeout)
        except httpx.HTTPError as error:
            raise PwnedPasswordsUnavailable(type(error).__name__) from None
        if answer.status_code != 200:
            raise PwnedPasswordsUnavailable(f"HTTP {answer.status_code}")
        for line in answer.text.splitlines():
            found, _, count = line.strip().partition(":")
            if found.upper() == suffix and count.strip() not in ("", "0"):  # padding rows have count 0
                if self._bloom is not None:
                    self._bloom.add(digest.encode())
                return True
        return False
