"""The `WebAuthnCeremonies` port over py_webauthn (duo-labs), in GoTrue's shapes.

GoTrue runs go-webauthn with only its relying party configured (`getWebAuthnMFA`), so the
options, the session data kept in `mfa_challenges.web_authn_session_data` and the credential
record kept in `mfa_factors.web_authn_credential` are go-webauthn's JSON: byte strings in
standard base64 (Go's `[]byte`), challenges and option ids in base64url. py_webauthn verifies
the responses: client data type, challenge, origin, RP id hash, user presence, the attestation
statement (`none`, `packed`, … without metadata) or the assertion signature, and the sign count.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
import os
from typing import Any
from uuid import UUID

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_cbor
from webauthn.helpers.decode_credential_public_key import decode_credential_public_key
from webauthn.helpers.exceptions import InvalidJSONStructure, WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import parse_authentication_credential_json
from webauthn.helpers.parse_registration_credential_json import parse_registration_credential_json
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorTransport,
    COSEAlgorithmIdentifier,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
)

from pytrue.application.config import WebAuthn
from pytrue.application.ports import CeremonyStart, RegisteredCredential, WebAuthnMalformed, WebAuthnRefused, WebAuthnUnavailable

log = logging.getLogger("pytrue.webauthn")

CHALLENGE_BYTES = 32  # go-webauthn's `protocol.CreateChallenge`
TIMEOUT_MS = 300_000  # go-webauthn's default registration and login timeout
# go-webauthn's `CredentialParametersDefault`, less ES384 (-35), which py_webauthn cannot verify
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.ECDSA_SHA_512,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_384,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_512,
    COSEAlgorithmIdentifier.RSASSA_PSS_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PSS_SHA_384,
    COSEAlgorithmIdentifier.RSASSA_PSS_SHA_512,
    COSEAlgorithmIdentifier.EDDSA,
]
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # an unset `SessionData.Expires`: GoTrue enforces no go-webauthn timeout


def go_bytes(raw: bytes) -> str:
    """Go's JSON for `[]byte`: standard base64 with padding."""
    return base64.b64encode(raw).decode("ascii")


def from_go_bytes(text: Any) -> bytes:
    """Go's `[]byte` JSON back to bytes (base64url is accepted too)."""
    if not isinstance(text, str):
        raise ValueError("not a base64 string")
    cleaned = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)


class PyWebAuthnCeremonies:
    """Registration and authentication for the relying party of `GOTRUE_WEBAUTHN_*`."""

    def __init__(self, relying_party: WebAuthn) -> None:
        self._rp = relying_party

    def _configured(self) -> None:
        missing = self._rp.missing()
        if missing is not None:
            log.warning("WebAuthn ceremony refused: %s is required when WebAuthn is enabled", missing)
            raise WebAuthnUnavailable(f"{missing} is required when WebAuthn is enabled")

    # --- begin -------------------------------------------------------------------------------
    def begin_registration(self, *, user_id: bytes, user_name: str, exclude: list[dict[str, Any]]) -> CeremonyStart:
        self._configured()
        excluded = [
            PublicKeyCredentialDescriptor(id=from_go_bytes(r["id"]), transports=[AuthenticatorTransport.USB, AuthenticatorTransport.NFC])
            for r in exclude
        ]
        options = generate_registration_options(
            rp_id=self._rp.rp_id, rp_name=self._rp.rp_display_name, user_id=user_id, user_name=user_name or " ",
            user_display_name=user_name or " ", challenge=os.urandom(CHALLENGE_BYTES), timeout=TIMEOUT_MS,
            exclude_credentials=excluded, supported_pub_key_algs=ALGORITHMS,
        )  # fmt: skip
        public_key = json.loads(options_to_json(options))
        public_key["user"]["name"] = public_key["user"]["displayName"] = user_name  # GoTrue's WebAuthnName: the email, maybe ""
        public_key.pop("attestation", None)  # go-webauthn leaves the conveyance preference out
        public_key["authenticatorSelection"] = {}
        if not public_key.get("excludeCredentials"):
            public_key.pop("excludeCredentials", None)
        session = {
            "challenge": public_key["challenge"],
            "rpId": self._rp.rp_id,
            "user_id": go_bytes(user_id),
            "expires": GO_ZERO_TIME,
            "userVerification": "",
            "credParams": public_key["pubKeyCredParams"],
        }
        return CeremonyStart(options={"publicKey": public_key}, session_data=session)

    def begin_authentication(self, *, user_id: bytes, allow: list[dict[str, Any]]) -> CeremonyStart:
        self._configured()
        if not allow:
            raise WebAuthnRefused("Found no credentials for user")
        ids = [from_go_bytes(r["id"]) for r in allow]
        options = generate_authentication_options(
            rp_id=self._rp.rp_id, challenge=os.urandom(CHALLENGE_BYTES), timeout=TIMEOUT_MS,
            allow_credentials=[PublicKeyCredentialDescriptor(id=i) for i in ids],
        )  # fmt: skip
        public_key = json.loads(options_to_json(options))
        public_key.pop("userVerification", None)  # go-webauthn's empty requirement: the browser's default
        session = {
            "challenge": public_key["challenge"],
            "rpId": self._rp.rp_id,
            "user_id": go_bytes(user_id),
            "allowed_credentials": [go_bytes(i) for i in ids],
            "expires": GO_ZERO_TIME,
            "userVerification": "",
        }
        return CeremonyStart(options={"publicKey": public_key}, session_data=session)

    # --- finish ------------------------------------------------------------------------------
    def _expected(self, user_id: bytes, session_data: dict[str, Any]) -> bytes:
        """The challenge of a session begun for this user (go-webauthn's "ID mismatch for User and Session")."""
        try:
            owner = from_go_bytes(session_data.get("user_id"))
            challenge = base64url_to_bytes(session_data["challenge"])
        except (KeyError, TypeError, ValueError):
            raise WebAuthnRefused("Session data is unreadable") from None
        if not hmac.compare_digest(owner, user_id):
            raise WebAuthnRefused("ID mismatch for User and Session")
        return challenge

    def finish_registration(self, *, user_id: bytes, session_data: dict[str, Any], response: Any) -> RegisteredCredential:
        self._configured()
        credential = _parse(response, parse_registration_credential_json)
        assert isinstance(credential, RegistrationCredential)
        challenge = self._expected(user_id, session_data)
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=challenge, expected_rp_id=self._rp.rp_id,
                expected_origin=list(self._rp.rp_origins), require_user_verification=session_data.get("userVerification") == "required",
                supported_pub_key_algs=ALGORITHMS,
            )  # fmt: skip
            auth_data = parse_cbor(verified.attestation_object)["authData"]
            algorithm = int(decode_credential_public_key(verified.credential_public_key).alg)
        except (WebAuthnException, KeyError, TypeError, ValueError) as error:
            log.info("WebAuthn registration refused: %s", error)
            raise WebAuthnRefused(str(error)) from None
        client_data = credential.response.client_data_json
        flags = auth_data[32] if len(auth_data) > 32 else 0
        aaguid = UUID(verified.aaguid) if verified.aaguid else None
        record = {  # go-webauthn's `webauthn.Credential`
            "id": go_bytes(verified.credential_id),
            "publicKey": go_bytes(verified.credential_public_key),
            "attestationType": _text(verified.fmt),
            "transport": [_text(t) for t in credential.response.transports] if credential.response.transports else None,
            "flags": {
                "userPresent": bool(flags & 0x01),
                "userVerified": bool(flags & 0x04),
                "backupEligible": verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
                "backupState": verified.credential_backed_up,
            },
            "authenticator": {
                "AAGUID": go_bytes(aaguid.bytes if aaguid else b""),
                "signCount": verified.sign_count,
                "cloneWarning": False,
                "attachment": _text(credential.authenticator_attachment) if credential.authenticator_attachment else "",
            },
            "attestation": {
                "clientDataJSON": go_bytes(client_data),
                "clientDataHash": go_bytes(hashlib.sha256(client_data).digest()),
                "authenticatorData": go_bytes(bytes(auth_data)),
                "publicKeyAlgorithm": algorithm,
                "object": go_bytes(verified.attestation_object),
            },
        }
        return RegisteredCredential(record=record, aaguid=aaguid)

    def finish_authentication(
        self, *, user_id: bytes, session_data: dict[str, Any], response: Any, record: dict[str, Any]
    ) -> dict[str, Any]:
        self._configured()
        credential = _parse(response, parse_authentication_credential_json)
        assert isinstance(credential, AuthenticationCredential)
        challenge = self._expected(user_id, session_data)
        try:
            stored_id = from_go_bytes(record["id"])
            public_key = from_go_bytes(record["publicKey"])
            sign_count = int(record.get("authenticator", {}).get("signCount", 0))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise WebAuthnRefused("The stored credential is unreadable") from None
        if not hmac.compare_digest(credential.raw_id, stored_id):
            log.info("WebAuthn authentication refused: the credential ID provided is not the factor's")
            raise WebAuthnRefused("The credential ID provided is not owned by the user")
        allowed = session_data.get("allowed_credentials")
        if allowed and not any(hmac.compare_digest(_safe_bytes(a), stored_id) for a in allowed):
            raise WebAuthnRefused("The credential ID provided is not in the sessions allowed credential list")
        handle = credential.response.user_handle
        if handle and not hmac.compare_digest(handle, user_id):
            raise WebAuthnRefused("User handle and User ID do not match")
        try:
            verified = verify_authentication_response(
                credential=credential, expected_challenge=challenge, expected_rp_id=self._rp.rp_id,
                expected_origin=list(self._rp.rp_origins), credential_public_key=public_key,
                credential_current_sign_count=sign_count,
                require_user_verification=session_data.get("userVerification") == "required",
            )  # fmt: skip
        except (WebAuthnException, KeyError, TypeError, ValueError) as error:
            log.info("WebAuthn authentication refused: %s", error)
            raise WebAuthnRefused(str(error)) from None
        updated = copy.deepcopy(record)
        authenticator = updated.setdefault("authenticator", {})
        authenticator["signCount"] = verified.new_sign_count
        authenticator["cloneWarning"] = False
        if isinstance(updated.get("flags"), dict):
            updated["flags"]["backupState"] = verified.credential_backed_up
        return updated


def _parse(response: Any, parser: Any) -> Any:
    """GoTrue's `ParseCredential*ResponseBody`: anything but a well-formed object is "Invalid credential_response"."""
    if not isinstance(response, dict):
        raise WebAuthnMalformed("credential_response is not an object")
    try:
        credential = parser(response)
    except (InvalidJSONStructure, WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise WebAuthnMalformed(str(error)) from None
    if bytes_to_base64url(credential.raw_id) != credential.id:  # go-webauthn: "id and rawId must match"
        raise WebAuthnMalformed("id and rawId were not equivalent")
    return credential


def _text(value: Any) -> str:
    """An enum member's value, or the string py_webauthn left as it was."""
    return str(getattr(value, "value", value))


def _safe_bytes(text: Any) -> bytes:
    try:
        return from_go_bytes(text)
    except ValueError:
        return b""
