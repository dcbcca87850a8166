"""GoTrue's v2 refresh tokens: a session id and a counter signed with the session's key (tokens.md §5.1).

Layout, base64url without padding: version byte 0, the 16 bytes of the session UUID, the counter as
an unsigned LEB128 varint, the first 16 bytes of HMAC-SHA256(key, everything before), and the first
4 bytes of SHA-256(everything before) as a cheap checksum.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

VERSION = 0
KEY_LENGTH = 32
SIGNATURE_LENGTH = 16
CHECKSUM_LENGTH = 4
MAX_VARINT_LENGTH = 10
MIN_LENGTH = 1 + 16 + 1 + SIGNATURE_LENGTH + CHECKSUM_LENGTH
MAX_COUNTER = 2**63 - 1  # GoTrue keeps the counter in an int64 and clamps larger values to it
_MAX_TEXT = -(-(MIN_LENGTH - 1 + MAX_VARINT_LENGTH) * 4 // 3)  # base64 characters of the longest token


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, as Go's `binary.AppendUvarint` writes it."""
    if value < 0:
        raise ValueError("a varint is unsigned")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data: bytes) -> tuple[int, int] | None:
    """(value, bytes read) of the minimal unsigned LEB128 at the start of `data`; None when it is
    truncated, longer than 64 bits, or not minimal (GoTrue never writes a padded varint)."""
    value = 0
    for index, byte in enumerate(data[:MAX_VARINT_LENGTH]):
        if index == MAX_VARINT_LENGTH - 1 and byte > 1:
            return None  # past 64 bits
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            if byte == 0 and index > 0:
                return None  # a padded encoding of a shorter value
            return value, index + 1
    return None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _signature(key: bytes, signed: bytes) -> bytes:
    return hmac.new(key, signed, hashlib.sha256).digest()[:SIGNATURE_LENGTH]


def encode_counter_token(session_id: UUID, counter: int, key: bytes) -> str:
    """The token for `counter` of `session_id`, signed with the session's `key`."""
    signed = bytes([VERSION]) + session_id.bytes + encode_varint(min(max(counter, 0), MAX_COUNTER))
    body = signed + _signature(key, signed)
    return _b64encode(body + hashlib.sha256(body).digest()[:CHECKSUM_LENGTH])


@dataclass(frozen=True, slots=True)
class CounterToken:
    """A well-formed v2 token: whose session it names and which counter; not yet known to be genuine."""

    session_id: UUID
    counter: int
    signed: bytes
    signature: bytes

    def is_signed_by(self, key: bytes) -> bool:
        return hmac.compare_digest(_signature(key, self.signed), self.signature)


def parse_counter_token(text: str) -> CounterToken | None:
    """The token's parts when `text` is a canonical v2 token with a valid checksum; None otherwise.

    Only the canonical base64url spelling is read (what `encode_counter_token` writes), so two
    strings never name the same token."""
    if not MIN_LENGTH * 4 // 3 <= len(text) <= _MAX_TEXT or not text.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < MIN_LENGTH or raw[0] != VERSION or _b64encode(raw) != text:
        return None
    body, checksum = raw[:-CHECKSUM_LENGTH], raw[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(hashlib.sha256(body).digest()[:CHECKSUM_LENGTH], checksum):
        return None
    varint = decode_varint(body[17:])
    if varint is None:
        return None
    counter, width = varint
    signed_length = 17 + width
    if len(body) - signed_length != SIGNATURE_LENGTH:
        return None
    return CounterToken(
        session_id=UUID(bytes=body[1:17]),
        counter=min(counter, MAX_COUNTER),
        signed=body[:signed_length],
        signature=body[signed_length:],
    )


def encode_key(key: bytes) -> str:
    """How `sessions.refresh_token_hmac_key` stores a key: base64url without padding."""
    return _b64encode(key)


def decode_key(stored: str) -> bytes | None:
    """The key of a stored `refresh_token_hmac_key`, None when it is not plain base64url (for
    example GoTrue's encrypted-string JSON, which needs its database encryption keys)."""
    if not stored or stored.startswith("{"):
        return None
    try:
        return base64.urlsafe_b64decode(stored + "=" * (-len(stored) % 4))
    except (binascii.Error, ValueError):
        return None
