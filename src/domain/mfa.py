"""Multi-factor authentication (api.md §17): factors, challenges, TOTP, WebAuthn and assurance levels.

GoTrue's `models/factor.go`, `models/challenge.go` and `api/mfa.go` decide the shapes and the
order of refusals; the rules here are pure, the use cases in `application/use_cases/mfa.py`
load what they need and write what these functions changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.one_time_token import ensure_send_allowed
from pytrue.domain.session import Session

TOTP = "totp"
PHONE = "phone"
WEBAUTHN = "webauthn"
FACTOR_TYPES = (TOTP, PHONE, WEBAUTHN)
UNVERIFIED = "unverified"
VERIFIED = "verified"

AAL1 = "aal1"
AAL2 = "aal2"
# the AMR method a verified factor of each type adds to its session
AMR_OF_FACTOR = {TOTP: "totp", PHONE: "mfa/phone", WEBAUTHN: "mfa/webauthn"}
MFA_METHODS = frozenset(AMR_OF_FACTOR.values())

TOTP_PERIOD = 30
TOTP_DIGITS = 6
TOTP_SKEW = 1
TOTP_SECRET_BYTES = 20
# a TOTP challenge records the time step its code was accepted for (`mfa_challenges.otp_code`,
# unused by GoTrue for TOTP), so one code is good once per factor and step
TOTP_STEP_PREFIX = "totp-step:"


@dataclass(slots=True, kw_only=True)
class Factor:
    """A row of `auth.mfa_factors`. `secret` is the TOTP secret as stored ("" when the row was read
    only to describe the user, e.g. for `GET /user`)."""

    id: UUID
    user_id: UUID
    factor_type: str
    status: str = UNVERIFIED
    friendly_name: str = ""
    secret: str = ""
    phone: str = ""
    created_at: datetime
    updated_at: datetime
    last_challenged_at: datetime | None = None
    web_authn_credential: dict[str, Any] | None = None
    web_authn_aaguid: UUID | None = None
    last_webauthn_challenge_data: dict[str, Any] | None = None

    @property
    def is_verified(self) -> bool:
        return self.status == VERIFIED

    def verify(self, now: datetime) -> bool:
        """Mark verified; True when it was not yet (its first successful verification)."""
        if self.is_verified:
            return False
        self.status = VERIFIED
        self.updated_at = now
        return True


@dataclass(slots=True, kw_only=True)
class Challenge:
    """A row of `auth.mfa_challenges`: one attempt to prove a factor, from one IP address."""

    id: UUID
    factor_id: UUID
    created_at: datetime
    ip_address: str
    verified_at: datetime | None = None
    otp_code: str = ""
    web_authn_session_data: dict[str, Any] | None = None

    def expires_at(self, lifetime: timedelta) -> datetime:
        return self.created_at + lifetime

    def is_expired(self, now: datetime, lifetime: timedelta) -> bool:
        return now > self.expires_at(lifetime)


@dataclass(frozen=True, slots=True, kw_only=True)
class FactorLimits:
    max_enrolled: int = 10
    max_verified: int = 10
    factor_expiry: timedelta = timedelta(seconds=300)


class InsufficientAal(DomainError):
    def __init__(self, message: str, *, status_403: bool) -> None:
        super().__init__("insufficient_aal", message, where="forbidden" if status_403 else "")


# --- enrolment ---------------------------------------------------------------------------------
def expired_unverified(factors: Iterable[Factor], now: datetime, expiry: timedelta) -> list[Factor]:
    """Unverified factors older than `GOTRUE_MFA_FACTOR_EXPIRY_DURATION`: deleted before an enrolment."""
    return [f for f in factors if not f.is_verified and f.created_at < now - expiry]


def check_enrolment(factors: Sequence[Factor], friendly_name: str, session: Session | None, limits: FactorLimits) -> None:
    """GoTrue's `validateFactors` on the factors left after expiry, in its order."""
    verified = 0
    for factor in factors:
        if factor.friendly_name == friendly_name:
            raise DomainError(
                "mfa_factor_name_conflict", f'A factor with the friendly name "{friendly_name}" for this user already exists'
            )
        if factor.is_verified:
            verified += 1
    if len(factors) >= limits.max_enrolled or verified >= limits.max_verified:
        raise DomainError("too_many_enrolled_mfa_factors", "Maximum number of verified factors reached, unenroll to continue")
    if verified > 0 and session is not None and session.aal != AAL2:
        raise InsufficientAal("AAL2 required to enroll a new factor", status_403=True)


def phone_factors_to_replace(factors: Iterable[Factor], phone: str) -> list[Factor]:
    """Unverified phone factors for the same number give way to a new one; a verified one refuses."""
    same = [f for f in factors if f.factor_type == PHONE and f.phone == phone]
    if any(f.is_verified for f in same):
        raise DomainError(
            "mfa_verified_factor_exists", "A verified phone factor already exists, unenroll the existing factor to continue"
        )
    return same


def check_unenrolment(factor: Factor, session: Session) -> None:
    if factor.is_verified and session.aal != AAL2:
        raise InsufficientAal("AAL2 required to unenroll verified factor", status_403=False)


def require_aal2_if_enrolled(has_verified_factor: bool, session: Session | None, what: str) -> None:
    """A user with a verified factor does `what` only from an aal2 session (403 insufficient_aal)."""
    if has_verified_factor and (session is None or session.aal != AAL2):
        raise InsufficientAal(f"AAL2 required to {what}", status_403=True)


def check_verify_code(code: str) -> None:
    if not code:
        raise ValidationFailed("Code needs to be non-empty")


# --- challenges ----------------------------------------------------------------------------------
def challenge_ip(raw: str | None) -> str:
    """The client address a challenge is bound to (`mfa_challenges.ip_address` is `inet`): the
    request's IP in canonical form, or 0.0.0.0 when it has none that parses."""
    try:
        return str(ipaddress.ip_address((raw or "").strip()))
    except ValueError:
        return "0.0.0.0"


def check_challenge(
    challenge: Challenge | None, ip_address: str, now: datetime, lifetime: timedelta, *, mismatch_period: bool = True
) -> Challenge:
    """GoTrue's `validateChallenge`: a challenge of this factor, unverified, from this IP, in time.

    An expired one is to be deleted by the caller (`ChallengeExpired.challenge`)."""
    if challenge is None:
        raise DomainError("mfa_factor_not_found", "MFA factor with the provided challenge ID not found", where="unprocessable")
    if challenge.verified_at is not None or challenge.ip_address != ip_address:
        # GoTrue's TOTP message ends with a period, its phone message does not
        raise DomainError("mfa_ip_address_mismatch", "Challenge and verify IP addresses mismatch" + ("." if mismatch_period else ""))
    if challenge.is_expired(now, lifetime):
        raise ChallengeExpired(challenge)
    return challenge


class ChallengeExpired(DomainError):
    def __init__(self, challenge: Challenge) -> None:
        super().__init__(
            "mfa_challenge_expired",
            f"MFA challenge {challenge.id} has expired, verify against another challenge or create a new challenge.",
        )
        self.challenge = challenge


def check_phone_frequency(factor: Factor, now: datetime, max_frequency: timedelta) -> None:
    """`GOTRUE_MFA_PHONE_MAX_FREQUENCY` between two challenges of one phone factor."""
    ensure_send_allowed(factor.last_challenged_at, now, max_frequency, code="over_sms_send_rate_limit")


# --- TOTP (RFC 6238 over RFC 4226) -------------------------------------------------------------
def new_totp_secret(random_bytes: bytes) -> str:
    """GoTrue's secret: 20 random bytes in base32 without padding (32 characters)."""
    return base64.b32encode(random_bytes).decode("ascii").rstrip("=")


def _secret_bytes(secret: str) -> bytes:
    cleaned = secret.strip().replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(secret: str, counter: int, digits: int = TOTP_DIGITS) -> str:
    mac = hmac.new(_secret_bytes(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_PERIOD


def totp_match(secret: str, code: str, now: datetime, *, skew: int = TOTP_SKEW) -> int | None:
    """The time step `code` is valid for (now ±`skew` steps), or None. Compared in constant time."""
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    current = totp_step(now)
    matched = None
    for step in range(current - skew, current + skew + 1):
        if hmac.compare_digest(hotp(secret, step), code) and matched is None:
            matched = step
    return matched


def totp_uri(*, issuer: str, account: str, secret: str) -> str:
    from urllib.parse import quote, urlencode

    label = quote(f"{issuer}:{account}", safe=":@$&+,/;=")  # what Go's url.URL leaves in a path
    query = urlencode({"algorithm": "SHA1", "digits": TOTP_DIGITS, "issuer": issuer, "period": TOTP_PERIOD, "secret": secret})
    return f"otpauth://totp/{label}?{query}"


def step_record(step: int) -> str:
    return f"{TOTP_STEP_PREFIX}{step}"


def recorded_step(challenge: Challenge) -> int | None:
    if challenge.otp_code.startswith(TOTP_STEP_PREFIX):
        try:
            return int(challenge.otp_code[len(TOTP_STEP_PREFIX) :])
        except ValueError:
            return None
    return None


# --- WebAuthn ---------------------------------------------------------------------------------
# The ceremonies themselves (CBOR, signatures, attestation statements) are an adapter's; the rules
# here say which ceremony a factor is in, what a verify must carry and what a success writes.
WEBAUTHN_CREATE = "create"  # registration: the factor is unverified
WEBAUTHN_REQUEST = "request"  # authentication: the factor is verified
UNEXPECTED_FAILURE = "Unexpected failure, please check server logs for more information"
WEBAUTHN_REGISTRATION_DATA_FAILED = "Failed to generate WebAuthn registration data"
WEBAUTHN_VALIDATION_FAILED = "Failed to validate WebAuthn MFA response"


def webauthn_user_id(user_id: UUID) -> bytes:
    """GoTrue's `WebAuthnID`: the user id's text, as bytes (the credential's user handle)."""
    return str(user_id).encode("ascii")


def webauthn_ceremony(factor: Factor) -> str:
    """An unverified factor registers a credential; a verified one proves it holds it."""
    return WEBAUTHN_REQUEST if factor.is_verified else WEBAUTHN_CREATE


def registered_credentials(factors: Iterable[Factor]) -> list[dict[str, Any]]:
    """The credentials of the user's verified WebAuthn factors (excluded from a new registration)."""
    return [f.web_authn_credential for f in factors if f.factor_type == WEBAUTHN and f.is_verified and f.web_authn_credential]


def check_webauthn_params(params: Mapping[str, Any] | None) -> tuple[str, Any]:
    """GoTrue's checks of a WebAuthn verify's `webauthn` object, in its order: (type, credential_response)."""
    if params is None:
        raise ValidationFailed("WebAuthn config required")
    kind = params.get("type")
    if kind not in (WEBAUTHN_CREATE, WEBAUTHN_REQUEST):
        raise ValidationFailed("WebAuthn type must be create or request")
    if "credential_response" not in params:
        raise ValidationFailed("credential_response required")
    return kind, params["credential_response"]


def webauthn_failed(kind: str) -> DomainError:
    """A response that does not verify: GoTrue answers 500 — go-webauthn's error unhandled for a
    registration, "Failed to validate WebAuthn MFA response" for an authentication."""
    return DomainError("unexpected_failure", WEBAUTHN_VALIDATION_FAILED if kind == WEBAUTHN_REQUEST else UNEXPECTED_FAILURE)


def check_webauthn_ceremony(factor: Factor, kind: str) -> None:
    """The response must be of the factor's ceremony: a registration never proves a verified factor
    (nor an assertion an unverified one) — GoTrue does not check this."""
    if kind != webauthn_ceremony(factor) or (kind == WEBAUTHN_REQUEST and not factor.web_authn_credential):
        raise webauthn_failed(kind)


def register_webauthn(factor: Factor, record: dict[str, Any], aaguid: UUID | None, now: datetime) -> None:
    """A verified registration: the credential and its authenticator's AAGUID are the factor's."""
    factor.web_authn_credential = record
    factor.web_authn_aaguid = aaguid
    factor.updated_at = now


def record_webauthn_use(factor: Factor, challenge: Challenge, kind: str, response: Any, now: datetime) -> None:
    """GoTrue's `last_webauthn_challenge_data`: the challenge answered, the ceremony and the response."""
    challenge_json: dict[str, Any] = {
        "challenge_id": str(challenge.id),
        "factor_id": str(challenge.factor_id),
        "created_at": challenge.created_at.isoformat().replace("+00:00", "Z"),
        "ip_address": challenge.ip_address,
    }
    if challenge.web_authn_session_data is not None:
        challenge_json["web_authn_session_data"] = challenge.web_authn_session_data
    factor.last_webauthn_challenge_data = {"challenge": challenge_json, "type": kind, "credential_response": response}
    factor.updated_at = now


# --- assurance levels ----------------------------------------------------------------------------
def aal_of(session: Session) -> str:
    """`aal2` iff the session's AMR claims include an MFA method."""
    return AAL2 if any(c.method in MFA_METHODS for c in session.amr) else AAL1


def step_up(session: Session, factor: Factor, now: datetime) -> None:
    """A verified factor raises its session to aal2 (AMR claim added or refreshed)."""
    session.add_amr(AMR_OF_FACTOR[factor.factor_type], now)
    session.aal = AAL2
    session.factor_id = factor.id
    session.updated_at = now


def downgrade(session: Session, factor: Factor, now: datetime) -> None:
    """A session that used `factor` loses its AMR entry for the factor's method and falls to aal1."""
    method = AMR_OF_FACTOR.get(factor.factor_type)
    session.amr = [c for c in session.amr if c.method != method]
    session.aal = aal_of(session)
    session.factor_id = None
    session.updated_at = now


def next_level(factors: Iterable[Factor]) -> str:
    """What clients may reach: aal2 when the user has a verified factor."""
    return AAL2 if any(f.is_verified for f in factors) else AAL1
