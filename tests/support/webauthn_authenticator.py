"""A software WebAuthn authenticator and client: real attestations and assertions, made here.

An EC P-256 key from `cryptography`; authenticator data built byte by byte (RP id hash, flags,
sign count, attested credential data with AAGUID, credential id and COSE key); client data JSON
with the challenge and origin; the signature over `authData || SHA-256(clientDataJSON)`. The CBOR
is encoded by the few lines below, not by the library the server verifies with. Responses are in
the JSON shape auth-js sends (`serializeCredentialCreationResponse` / `…RequestResponse`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40
SOFT_AAGUID = bytes.fromhex("0bb8c0ff5a7e4e5d9d1f5e6f7a8b9c0d")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- CBOR (RFC 8949): the major types a WebAuthn authenticator emits ----------------------------
def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if value < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, value)
    raise ValueError("integer too large")


def cbor(value: Any) -> bytes:
    if isinstance(value, bool) or value is None:
        raise TypeError("not needed here")
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


class SoftAuthenticator:
    """One credential on one authenticator; `sign_count` goes up by one per assertion."""

    def __init__(self, *, aaguid: bytes = SOFT_AAGUID, sign_count: int = 0, attestation: str = "none") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.aaguid = aaguid
        self.sign_count = sign_count
        self.attestation = attestation
        self.user_handle: bytes | None = None

    @property
    def credential_id_b64url(self) -> str:
        return b64url(self.credential_id)

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def create(self, public_key: dict[str, Any], *, origin: str, rp_id: str | None = None, flags: int = FLAG_UP | FLAG_UV) -> dict[str, Any]:
        """`navigator.credentials.create()` with these creation options, serialised as auth-js does."""
        rp_id = rp_id if rp_id is not None else public_key["rp"]["id"]
        self.user_handle = unb64url(public_key["user"]["id"])
        client_data = self.client_data("webauthn.create", public_key["challenge"], origin)
        attested = self.aaguid + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_key()
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags | FLAG_AT]) + struct.pack(">I", self.sign_count) + attested
        statement: dict[str, Any] = {}
        if self.attestation == "packed":  # self attestation: signed by the credential's own key
            statement = {"alg": -7, "sig": self._sign(auth_data + hashlib.sha256(client_data).digest())}
        attestation_object = cbor({"fmt": self.attestation, "attStmt": statement, "authData": auth_data})
        return {
            "id": self.credential_id_b64url,
            "rawId": self.credential_id_b64url,
            "response": {"attestationObject": b64url(attestation_object), "clientDataJSON": b64url(client_data), "transports": ["usb"]},
            "type": "public-key",
            "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
        }

    def get(
        self, public_key: dict[str, Any], *, origin: str, rp_id: str | None = None, sign_count: int | None = None,
        flags: int = FLAG_UP | FLAG_UV,
    ) -> dict[str, Any]:  # fmt: skip
        """`navigator.credentials.get()` with these request options (the counter moves unless `sign_count` is given)."""
        rp_id = rp_id if rp_id is not None else public_key["rpId"]
        if sign_count is None:
            self.sign_count += 1
            sign_count = self.sign_count
        client_data = self.client_data("webauthn.get", public_key["challenge"], origin)
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)
        signature = self._sign(auth_data + hashlib.sha256(client_data).digest())
        response = {"authenticatorData": b64url(auth_data), "clientDataJSON": b64url(client_data), "signature": b64url(signature)}
        if self.user_handle:
            response["userHandle"] = b64url(self.user_handle)
        return {
            "id": self.credential_id_b64url,
            "rawId": self.credential_id_b64url,
            "response": response,
            "type": "public-key",
            "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
        }
