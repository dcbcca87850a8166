"""Tokens with this server's own HMAC header are verified by a direct path; it must decide exactly
as the general (joserfc) path does, for every token, valid or not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pytrue.adapters.jwt.keys import KeySet
from pytrue.adapters.jwt.tokens import JoserfcTokenSigner, JoserfcTokenVerifier
from pytrue.domain.errors import BadJwt

SECRET = "a-long-enough-secret-for-hs256-tokens-0123456789"
KEYS = KeySet(SECRET)
SIGNER = JoserfcTokenSigner(KEYS)
VERIFIER = JoserfcTokenVerifier(KEYS)
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(payload: bytes, header: str | None = None) -> str:
    head = header or SIGNER.sign({}).split(".")[0]
    body = _b64(payload)
    mac = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _outcome(decide: Any, token: str) -> Any:
    try:
        return ("claims", decide(token))
    except BadJwt as exc:
        return ("error", str(exc))


def _general(token: str) -> Any:
    claims = VERIFIER._verified_claims(token)  # noqa: SLF001 - the path the direct one must agree with
    from pytrue.adapters.jwt import tokens

    tokens._check_times(claims, NOW)  # noqa: SLF001
    return claims


def _same_decision(token: str) -> None:
    assert _outcome(lambda t: VERIFIER.verify(t, NOW), token) == _outcome(_general, token)


def test_own_tokens_take_the_direct_path() -> None:
    token = SIGNER.sign({"sub": "x", "exp": 2_000_000_000})
    assert VERIFIER._own_hmac_claims(token) == {"sub": "x", "exp": 2_000_000_000}  # noqa: SLF001
    _same_decision(token)


def test_asymmetric_signing_keys_have_no_direct_path() -> None:
    from joserfc.jwk import RSAKey

    jwk = {**RSAKey.generate_key(2048).as_dict(private=True), "kid": "r1", "alg": "RS256", "key_ops": ["sign", "verify"]}
    assert JoserfcTokenVerifier(KeySet("", [jwk]))._own_hmac is None  # noqa: SLF001


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.integers() | st.floats(allow_nan=False) | st.text() | st.none(), max_size=4))
def test_any_claims_decide_alike(claims: dict[str, Any]) -> None:
    _same_decision(_signed(json.dumps(claims).encode()))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_payload_bytes_decide_alike(payload: bytes) -> None:
    _same_decision(_signed(payload))


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.sampled_from("A_-=.+/ \u00e9\x00"))
def test_any_one_character_change_decides_alike(position: int, character: str) -> None:
    token = SIGNER.sign({"sub": "x", "exp": 2_000_000_000, "role": "authenticated"})
    position %= len(token) + 1
    _same_decision(token[:position] + character + token[position + 1 :])
    _same_decision(token[:position] + character + token[position:])


def test_special_payloads_decide_alike() -> None:
    for payload in [b"[]", b"1e400", b'{"exp": 1e400}', b'{"exp": NaN}', b'{"a": 1, "a": 2}', b'{"exp": 1}', b"\xff"]:
        _same_decision(_signed(payload))
    # another header with the same key: decided by the general path only
    other = _b64(b'{"alg":"HS256"}')
    _same_decision(_signed(b'{"sub": "x"}', header=other))


def _resigned(head: str, body: str) -> str:
    mac = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.sampled_from("A_-=.+/!~ \u00e9\x00"), st.booleans())
def test_any_change_to_the_payload_segment_with_a_valid_mac_decides_alike(
    position: int, character: str, insert: bool
) -> None:
    """Only a holder of the secret can make these; the two paths must still agree on them."""
    head, body, _ = SIGNER.sign({"sub": "x", "exp": 2_000_000_000, "role": "service_role"}).split(".")
    position %= len(body) + 1
    changed = body[:position] + character + body[position + (0 if insert else 1) :]
    _same_decision(_resigned(head, changed))


def test_padding_and_trailing_bits_in_the_payload_decide_alike() -> None:
    head, body, _ = SIGNER.sign({"sub": "x"}).split(".")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for changed in [body + "=", body + "==", body[:-1] + last[(last.index(body[-1]) + 1) % 64]]:
        _same_decision(_resigned(head, changed))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(), max_size=5),
    st.sampled_from(["", "key-1"]),
)
def test_hmac_tokens_are_signed_exactly_as_joserfc_signs_them(claims: dict[str, Any], key_id: str) -> None:
    signer = JoserfcTokenSigner(KeySet(SECRET, jwt_key_id=key_id))
    assert signer._hmac is not None  # noqa: SLF001
    payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    assert signer.sign(claims) == signer._joserfc_sign(payload)  # noqa: SLF001
