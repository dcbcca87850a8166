"""v2 refresh tokens (tokens.md §5.1): the encoder and parser against an independent reading of the layout."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.domain.counter_token import (
    MAX_COUNTER,
    decode_key,
    decode_varint,
    encode_counter_token,
    encode_key,
    encode_varint,
    parse_counter_token,
)

uuids = st.uuids()
keys = st.binary(min_size=32, max_size=32)
counters = st.integers(0, 2**63 - 1) | st.sampled_from([0, 1, 127, 128, 255, 16383, 16384, 2**32, 2**56, 2**63 - 1])
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# --- an independent reading of the spec's layout, written for the test ---------------------------


def spec_uvarint(value: int) -> bytes:
    """Go's binary.PutUvarint, spelled out: 7 bits a byte, low first, high bit = more follows."""
    out = b""
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out += struct.pack("B", low | 0x80)
        else:
            return out + struct.pack("B", low)


def spec_token(session_id: UUID, counter: int, key: bytes) -> str:
    head = b"\x00" + session_id.bytes + spec_uvarint(counter)
    head += hmac.new(key, head, "sha256").digest()[:16]
    head += hashlib.sha256(head).digest()[:4]
    return base64.b64encode(head, altchars=b"-_").decode().rstrip("=")


def spec_read(text: str) -> tuple[UUID, int, bytes, bytes]:
    """(session, counter, signed bytes, signature) read by the spec, trusting the input is well formed."""
    raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_")
    counter, shift, at = 0, 0, 17
    while True:
        byte = raw[at]
        counter |= (byte & 0x7F) << shift
        shift += 7
        at += 1
        if byte < 0x80:
            break
    return UUID(bytes=raw[1:17]), counter, raw[:at], raw[at : at + 16]


# --- properties ---------------------------------------------------------------------------------


@given(uuids, counters, keys)
def test_encoder_writes_the_spec_layout(session_id: UUID, counter: int, key: bytes) -> None:
    assert encode_counter_token(session_id, counter, key) == spec_token(session_id, counter, key)


@given(uuids, counters, keys)
def test_round_trip(session_id: UUID, counter: int, key: bytes) -> None:
    text = encode_counter_token(session_id, counter, key)
    assert 51 <= len(text) <= 63 and text[0] == "A"
    parsed = parse_counter_token(text)
    assert parsed is not None
    assert (parsed.session_id, parsed.counter) == (session_id, counter)
    assert parsed.is_signed_by(key)
    spec_session, spec_counter, signed, signature = spec_read(text)
    assert (spec_session, spec_counter, parsed.signed, parsed.signature) == (session_id, counter, signed, signature)


@given(uuids, counters, keys, keys)
def test_another_key_does_not_sign_it(session_id: UUID, counter: int, key: bytes, other: bytes) -> None:
    parsed = parse_counter_token(encode_counter_token(session_id, counter, key))
    assert parsed is not None
    assert parsed.is_signed_by(other) == (other == key)


@given(uuids, counters, keys, st.data())
def test_every_single_byte_corruption_is_rejected(session_id: UUID, counter: int, key: bytes, data: st.DataObject) -> None:
    raw = bytearray(base64.urlsafe_b64decode(spec_token(session_id, counter, key) + "=="))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    corrupted = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    parsed = parse_counter_token(corrupted)
    # the checksum catches it; were it recomputed, the signature would
    assert parsed is None


@given(uuids, counters, keys, st.data())
def test_every_single_character_corruption_is_rejected(
    session_id: UUID, counter: int, key: bytes, data: st.DataObject
) -> None:
    text = spec_token(session_id, counter, key)
    at = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from([c for c in B64 + "=+/. " if c != text[at]]))
    assert parse_counter_token(text[:at] + replacement + text[at + 1 :]) is None


@given(uuids, counters, keys, st.data())
def test_truncated_or_extended_tokens_are_rejected(session_id: UUID, counter: int, key: bytes, data: st.DataObject) -> None:
    text = spec_token(session_id, counter, key)
    cut = data.draw(st.integers(0, len(text) - 1))
    assert parse_counter_token(text[:cut]) is None
    assert parse_counter_token(text + data.draw(st.text(alphabet=B64, min_size=1, max_size=8))) is None


@given(uuids, keys, st.binary(min_size=1, max_size=4))
def test_trailing_bytes_after_the_signature_are_rejected(session_id: UUID, key: bytes, extra: bytes) -> None:
    head = b"\x00" + session_id.bytes + b"\x05"
    head += hmac.new(key, head, "sha256").digest()[:16] + extra
    head += hashlib.sha256(head).digest()[:4]
    assert parse_counter_token(base64.urlsafe_b64encode(head).decode().rstrip("=")) is None


def _framed(version: int, session_id: UUID, varint: bytes, key: bytes) -> str:
    head = bytes([version]) + session_id.bytes + varint
    head += hmac.new(key, head, "sha256").digest()[:16]
    head += hashlib.sha256(head).digest()[:4]
    return base64.urlsafe_b64encode(head).decode().rstrip("=")


def test_an_unknown_version_is_rejected() -> None:
    assert parse_counter_token(_framed(1, UUID(int=7), b"\x01", b"k" * 32)) is None
    assert parse_counter_token(_framed(0, UUID(int=7), b"\x01", b"k" * 32)) is not None


@pytest.mark.parametrize(
    ("varint", "expected"),
    [
        (b"\x00", 0),
        (b"\x7f", 127),
        (b"\x80\x01", 128),
        (b"\xff\x7f", 16383),
        (b"\x80\x80\x01", 16384),
        (b"\xff" * 8 + b"\x7f", 2**63 - 1),
        (b"\xff" * 9 + b"\x01", MAX_COUNTER),  # 2**64 - 1, clamped to int64 as GoTrue does
    ],
)
def test_varint_edges(varint: bytes, expected: int) -> None:
    parsed = parse_counter_token(_framed(0, UUID(int=9), varint, b"k" * 32))
    assert parsed is not None and parsed.counter == expected


@pytest.mark.parametrize(
    "varint",
    [
        b"\xff" * 9 + b"\x02",  # past 64 bits
        b"\xff" * 10 + b"\x01",  # eleven bytes
        b"\x80\x00",  # a padded zero
        b"\x81\x80\x00",  # a padded 1
    ],
)
def test_bad_varints_are_rejected(varint: bytes) -> None:
    assert parse_counter_token(_framed(0, UUID(int=9), varint, b"k" * 32)) is None


@given(st.integers(0, 2**64 - 1))
def test_varint_round_trip(value: int) -> None:
    encoded = encode_varint(value)
    assert encoded == spec_uvarint(value)
    assert decode_varint(encoded + b"\x00\x01") == (value, len(encoded))


@given(st.binary(min_size=1, max_size=64))
def test_key_storage_round_trip(key: bytes) -> None:
    assert decode_key(encode_key(key)) == key
    assert "=" not in encode_key(key)


def test_an_encrypted_key_is_not_read_as_a_plain_one() -> None:
    assert decode_key('{"key_id":"k1","alg":"aes-gcm-hkdf","nonce":"…","data":"…"}') is None
    assert decode_key("") is None


@given(st.text(max_size=80))
def test_parser_never_raises(text: str) -> None:
    parse_counter_token(text)


def test_legacy_tokens_are_not_v2() -> None:
    assert parse_counter_token("abcdefghijkl") is None
    assert parse_counter_token(base64.urlsafe_b64encode(b"x" * 16).decode().rstrip("=")) is None


# --- interoperability with GoTrue ----------------------------------------------------------------
# Minted by GoTrue's own encoder (internal/crypto/refresh_tokens.go at supabase/auth bc32168e, run
# once by hand with key bytes 00..1f and this session id); pytrue must read them and mint the same.
GOTRUE_KEY = bytes(range(32))
GOTRUE_SESSION = UUID("6f1e2d3c-4b5a-4938-8796-a5b4c3d2e1f0")
GOTRUE_MINTED = {
    0: "AG8eLTxLWkk4h5altMPS4fAAMTaEOp-ZBuz2eZMGxrdd1W6TRwQ",
    1: "AG8eLTxLWkk4h5altMPS4fABlvRjnE8bLEjFuy_ipwVMIXEtTJg",
    2: "AG8eLTxLWkk4h5altMPS4fAC7T2MTz0GeGdMoUOT95AneOV1bfs",
    127: "AG8eLTxLWkk4h5altMPS4fB_XiWhiJnE0dz6yvH-yNU1qGDfomQ",
    128: "AG8eLTxLWkk4h5altMPS4fCAAQURGIcY054EIsp3AjxCTsQA-Fil",
    300: "AG8eLTxLWkk4h5altMPS4fCsAheoN9EMAlBN3Ac-wKi99AKDHNMI",
    16384: "AG8eLTxLWkk4h5altMPS4fCAgAHwB30Oa0Cv1C1dXDtJkd0iJ7fAww",
    2**32: "AG8eLTxLWkk4h5altMPS4fCAgICAEBmkDh5DmeO3Jwg2eG_Sbi7DVzJ8",
    2**63 - 1: "AG8eLTxLWkk4h5altMPS4fD__________3-qw3l9phwIp1AdebMq6fLvtlrfvQ",
}


@pytest.mark.parametrize(("counter", "token"), sorted(GOTRUE_MINTED.items()))
def test_tokens_minted_by_gotrue_verify_and_are_minted_alike(counter: int, token: str) -> None:
    parsed = parse_counter_token(token)
    assert parsed is not None
    assert (parsed.session_id, parsed.counter) == (GOTRUE_SESSION, counter)
    assert parsed.is_signed_by(GOTRUE_KEY)
    assert encode_counter_token(GOTRUE_SESSION, counter, GOTRUE_KEY) == token
    assert spec_token(GOTRUE_SESSION, counter, GOTRUE_KEY) == token
