"""Access-token signing and verification with joserfc (tokens.md §2 and §4 steps 2–4)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Collection
from datetime import datetime, timezone
from typing import Any

import msgspec
from joserfc import jws
from joserfc.jwk import OctKey
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jws import JWSAlgModel, JWSRegistry

from pytrue.adapters.jwt.keys import KeySet
from pytrue.domain.errors import BadJwt

_PREFIX = "invalid JWT: unable to parse or verify signature, "
_TIME_CLAIMS = ("exp", "nbf", "iat")
_UNSUPPORTED_HEADERS = ("crit", "b64")


class _Registry(JWSRegistry):
    """Only the listed algorithms, never `none`, and no warnings for deprecated names."""

    def __init__(self, algorithms: Collection[str]) -> None:
        super().__init__(algorithms=tuple(algorithms), strict_check_header=False)

    def get_alg(self, name: str) -> JWSAlgModel:
        if name == "none" or name not in self.algorithms or not self.allowed or name not in self.allowed:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


def _fail(reason: str) -> BadJwt:
    return BadJwt(_PREFIX + reason)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


class JoserfcTokenSigner:
    """Signs claims with the key set's signing key; header `{"alg", "typ": "JWT"[, "kid"]}`."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys
        self._registry = _Registry((keys.signing_algorithm,))
        self._hmac = _own_hmac_header(keys, self._joserfc_sign)

    def sign(self, claims: dict[str, Any]) -> str:
        payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        if self._hmac is None:
            return self._joserfc_sign(payload)
        # An HMAC is deterministic: the same bytes joserfc writes, without its per-call machinery.
        header, key, digest = self._hmac
        signing_input = f"{header}.{_b64(payload)}"
        return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode('ascii'), digest).digest())}"

    def _joserfc_sign(self, payload: bytes) -> str:
        key, header = self._keys.signing_key()
        protected = {**header, "typ": "JWT"}
        return jws.serialize_compact(protected, payload, key, registry=self._registry)


class JoserfcTokenVerifier:
    """Verifies bearer tokens; every failure is `BadJwt` with GoTrue's message prefix."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys
        self._registry = _Registry(keys.accepted_algorithms)
        self._own_hmac = _own_hmac_header(keys, JoserfcTokenSigner(keys)._joserfc_sign)

    def verify(self, token: str, now: datetime) -> dict[str, Any]:
        claims = self._own_hmac_claims(token)
        if claims is None:
            claims = self._verified_claims(token)
        _check_times(claims, now)
        return claims

    def _own_hmac_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token signed with this server's own HMAC header, or None to take the
        general path: the header segment must be byte for byte the one `JoserfcTokenSigner` writes,
        the signature segment the canonical encoding of the expected MAC (compared in constant
        time), the payload segment canonical unpadded base64url, and the payload a JSON object. Anything else, a forged or malformed token included,
        is decided (and its error worded) by the general path."""
        own = self._own_hmac
        if own is None or not isinstance(token, str):
            return None
        header, key, digest = own
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != header or not _CANONICAL_SEGMENT.fullmatch(parts[1]):
            return None
        try:
            signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
            presented = parts[2].encode("ascii")
            mac = base64.urlsafe_b64encode(hmac.new(key, signing_input, digest).digest()).rstrip(b"=")
            if not hmac.compare_digest(presented, mac):
                return None
            raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
            if base64.urlsafe_b64encode(raw).rstrip(b"=") != parts[1].encode("ascii"):
                return None  # non-zero trailing bits: not the canonical encoding
            claims = _decode_json(raw)
        except (UnicodeEncodeError, binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        return claims if isinstance(claims, dict) else None

    def _verified_claims(self, token: str) -> dict[str, Any]:
        obj = self._extract(token)
        header = obj.headers()
        if not isinstance(header, dict):
            raise _fail("token is malformed: the header is not a JSON object")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg == "none" or alg not in self._keys.accepted_algorithms:
            shown = alg if isinstance(alg, str) and len(alg) <= 16 else "?"
            raise _fail(f"token signature is invalid: signing method {shown} is invalid")
        if any(name in header for name in _UNSUPPORTED_HEADERS):
            raise _fail("token is malformed: unsupported header parameter")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _fail("token is malformed: kid must be a string")
        key = self._keys.verification_key(alg, kid or None)
        if key is None:
            shown_kid = kid if kid and len(kid) <= 64 else ""
            raise _fail(
                f"token is unverifiable: error while executing keyfunc: "
                f"unrecognized JWT kid {shown_kid} for algorithm {alg}"
            )
        try:
            valid = jws.validate_compact(obj, key, registry=self._registry)
        except JoseError:
            valid = False
        if not valid:
            raise _fail("token signature is invalid: signature is invalid")
        return self._claims(obj.payload)

    def _extract(self, token: str) -> jws.CompactSignature:
        if not isinstance(token, str) or not token:
            raise _fail("token is malformed: token contains an invalid number of segments")
        try:
            return jws.extract_compact(token.encode("utf-8"), registry=self._registry)
        except (JoseError, ValueError, TypeError):
            raise _fail("token is malformed: could not decode the token") from None

    @staticmethod
    def _claims(payload: bytes | None) -> dict[str, Any]:
        try:
            claims = json.loads(payload or b"", parse_constant=_reject_constant)
        except ValueError:
            raise _fail("token is malformed: could not JSON decode claim") from None
        if not isinstance(claims, dict):
            raise _fail("token is malformed: could not JSON decode claim")
        return claims


_decode_json = msgspec.json.decode
# unpadded base64url, of a length some byte string encodes to
_CANONICAL_SEGMENT = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?")
_HMAC_DIGESTS: dict[str, Callable[[], Any]] = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _own_hmac_header(
    keys: KeySet, joserfc_sign: Callable[[bytes], str]
) -> tuple[str, bytes, Callable[[], Any]] | None:
    """The header segment this server signs with (as joserfc writes it), its HMAC key and digest,
    when it signs with HMAC and would verify that header with the same key; None otherwise
    (asymmetric signing keys)."""
    key, header = keys.signing_key()
    alg = header["alg"]
    if alg not in _HMAC_DIGESTS or alg not in keys.accepted_algorithms or not isinstance(key, OctKey):
        return None
    if keys.verification_key(alg, header.get("kid")) is not key:
        return None
    return joserfc_sign(b"{}").split(".")[0], key.get_op_key("verify"), _HMAC_DIGESTS[alg]


def _numeric(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(f"token is malformed: could not JSON decode claim {name}")
    try:
        return float(int(value))
    except (OverflowError, ValueError):
        raise _fail(f"token is malformed: could not JSON decode claim {name}") from None


def _check_times(claims: dict[str, Any], now: datetime) -> None:
    moments = {name: _numeric(claims, name) for name in _TIME_CLAIMS}
    current = (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp()
    exp = moments["exp"]
    if exp is not None and current >= exp:
        raise _fail("token has invalid claims: token is expired")
    nbf = moments["nbf"]
    if nbf is not None and current < nbf:
        raise _fail("token has invalid claims: token is not valid yet")
