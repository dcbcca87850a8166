"""Multi-factor authentication (api.md §17): `POST /factors`, `POST /factors/{id}/challenge`,
`POST /factors/{id}/verify`, `DELETE /factors/{id}` — TOTP, phone and WebAuthn factors.

The domain (`pytrue.domain.mfa`) decides limits, expiry, codes and assurance levels; these use
cases load the caller's factors, write what changed with its audit row in one unit of work, and
mint the aal2 session's tokens. A verify locks the factor and then its challenge, so of two
verifies of one challenge (or one TOTP step) only the first succeeds. WebAuthn's ceremonies run
behind the `WebAuthnCeremonies` port; a WebAuthn challenge is consumed (deleted) by its verify.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from pytrue.application.config import Mfa
from pytrue.application.context import RequestContext
from pytrue.application.hooks import hook_metadata
from pytrue.application.ports import (
    Clock,
    Hook,
    QrCodes,
    TokenGenerator,
    UnitOfWork,
    UnitOfWorkFactory,
    WebAuthnCeremonies,
    WebAuthnMalformed,
    WebAuthnRefused,
    WebAuthnUnavailable,
)
from pytrue.application.results import AuthResult, Principal
from pytrue.application.sessions import SessionIssuer
from pytrue.application.sms_codes import SmsCodes
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.mfa import (
    FACTOR_TYPES,
    PHONE,
    TOTP,
    TOTP_PERIOD,
    UNEXPECTED_FAILURE,
    UNVERIFIED,
    WEBAUTHN,
    WEBAUTHN_CREATE,
    WEBAUTHN_REGISTRATION_DATA_FAILED,
    ChallengeExpired,
    Challenge,
    Factor,
    FactorLimits,
    check_challenge,
    check_enrolment,
    check_phone_frequency,
    check_unenrolment,
    check_verify_code,
    check_webauthn_ceremony,
    check_webauthn_params,
    challenge_ip,
    downgrade,
    expired_unverified,
    new_totp_secret,
    phone_factors_to_replace,
    record_webauthn_use,
    recorded_step,
    register_webauthn,
    registered_credentials,
    step_record,
    step_up,
    totp_match,
    totp_uri,
    webauthn_ceremony,
    webauthn_failed,
    webauthn_user_id,
)
from pytrue.domain.session import Session
from pytrue.domain.user import User
from pytrue.domain.values import Phone

_LABEL = {TOTP: "TOTP", PHONE: "Phone", WEBAUTHN: "WebAuthn"}


def mfa_caller(principal: Principal) -> tuple[User, Session]:
    """The signed-in, non-anonymous user and their session (every `/factors` route needs both)."""
    if principal.claims.get("is_anonymous") is True:
        raise DomainError("no_authorization", "Anonymous user not allowed to perform these actions", where="forbidden")
    if principal.user is None or principal.session is None:
        raise DomainError("unexpected_failure", "A valid session and a registered user are required to enroll a factor")
    return principal.user, principal.session


def factor_id_of(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise ValidationFailed("factor_id must be an UUID", where="path") from None


async def owned_factor(uow: UnitOfWork, user: User, raw_id: str, *, lock: bool = False) -> Factor:
    factor = await uow.factors.get(factor_id_of(raw_id), lock=lock)
    if factor is None or factor.user_id != user.id:
        raise DomainError("mfa_factor_not_found", "Factor not found")
    return factor


def _limits(mfa: Mfa) -> FactorLimits:
    return FactorLimits(
        max_enrolled=int(mfa.max_enrolled_factors), max_verified=mfa.max_verified_factors, factor_expiry=mfa.factor_expiry_duration
    )


def _verify_enabled(mfa: Mfa, factor_type: str) -> None:
    enabled = {TOTP: mfa.totp.verify_enabled, PHONE: mfa.phone.verify_enabled, WEBAUTHN: mfa.web_authn.verify_enabled}
    if factor_type not in enabled:
        raise ValidationFailed("factor_type needs to be totp, phone, or webauthn")
    if not enabled[factor_type]:
        raise DomainError(f"mfa_{factor_type}_verify_not_enabled", f"MFA verification is disabled for {_LABEL[factor_type]}")


# --- enrol -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollFactorCommand:
    factor_type: str = ""
    friendly_name: str = ""
    issuer: str = ""
    phone: str = ""
    ctx: RequestContext = field(default_factory=RequestContext)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolledFactor:
    factor: Factor
    totp_secret: str = ""
    totp_uri: str = ""
    qr_code: str = ""
    phone: str = ""  # as the request gave it (GoTrue answers `params.Phone`)


@dataclass(slots=True, kw_only=True)
class EnrollFactor:
    uow: UnitOfWorkFactory
    mfa: Mfa
    site_url: str
    clock: Clock
    tokens: TokenGenerator
    issuer: SessionIssuer
    qr: QrCodes

    async def __call__(self, principal: Principal, cmd: EnrollFactorCommand) -> EnrolledFactor:
        user, session = mfa_caller(principal)
        kind = cmd.factor_type
        enabled = {TOTP: self.mfa.totp.enroll_enabled, PHONE: self.mfa.phone.enroll_enabled, WEBAUTHN: self.mfa.web_authn.enroll_enabled}
        if kind not in FACTOR_TYPES:
            raise ValidationFailed("factor_type needs to be totp, phone, or webauthn")
        if not enabled[kind]:
            raise DomainError(f"mfa_{kind}_enroll_not_enabled", f"MFA enroll is disabled for {_LABEL[kind]}")
        phone = ""
        if kind == PHONE:
            if not cmd.phone:
                raise ValidationFailed("Phone number required to enroll Phone factor")
            try:
                phone = Phone.parse(cmd.phone).value
            except DomainError:
                raise ValidationFailed("Invalid phone number format (E.164 required)") from None
        now = self.clock.now()
        async with self.uow() as uow:
            factors = await uow.factors.for_user(user.id)
            gone = [f.id for f in expired_unverified(factors, now, self.mfa.factor_expiry_duration)]
            if kind == PHONE:
                gone += [f.id for f in phone_factors_to_replace(factors, phone) if f.id not in gone]
            remaining = [f for f in factors if f.id not in gone]
            check_enrolment(remaining, cmd.friendly_name, session, _limits(self.mfa))
            await uow.factors.delete(gone)
            factor = Factor(
                id=self.tokens.uuid(), user_id=user.id, factor_type=kind, status=UNVERIFIED, friendly_name=cmd.friendly_name,
                phone=phone, created_at=now, updated_at=now,
            )  # fmt: skip
            result = EnrolledFactor(factor=factor, phone=cmd.phone)
            traits: dict[str, Any] = {"factor_id": str(factor.id)}
            if kind == TOTP:
                secret = new_totp_secret(self.tokens.random_bytes(20))
                factor.secret = secret
                uri = totp_uri(issuer=cmd.issuer or urlsplit(self.site_url).netloc, account=user.email, secret=secret)
                result = EnrolledFactor(factor=factor, totp_secret=secret, totp_uri=uri, qr_code=self.qr.svg(uri))
            else:
                traits["factor_type"] = kind
            await uow.factors.add(factor)
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), "factor_in_progress", now, traits))
            await uow.commit()
        return result


# --- challenge ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ChallengeResult:
    challenge: Challenge
    factor_type: str
    expires_at: datetime
    webauthn_type: str = ""  # "create" or "request" (GoTrue's `webauthn.type`)
    webauthn_options: dict[str, Any] | None = None  # GoTrue's `webauthn.credential_options`


@dataclass(slots=True, kw_only=True)
class ChallengeFactor:
    uow: UnitOfWorkFactory
    mfa: Mfa
    clock: Clock
    tokens: TokenGenerator
    issuer: SessionIssuer
    sms_codes: SmsCodes
    webauthn: WebAuthnCeremonies

    async def __call__(self, principal: Principal, factor_id: str, *, channel: str = "", ctx: RequestContext) -> ChallengeResult:
        user, _ = mfa_caller(principal)
        async with self.uow() as uow:
            factor = await owned_factor(uow, user, factor_id)
            others = await uow.factors.for_user(user.id) if factor.factor_type == WEBAUTHN else []
        _verify_enabled(self.mfa, factor.factor_type)
        if factor.factor_type == WEBAUTHN:
            return await self._webauthn(user, factor, others, ctx)
        now = self.clock.now()
        challenge = Challenge(id=self.tokens.uuid(), factor_id=factor.id, created_at=now, ip_address=challenge_ip(ctx.ip))
        if factor.factor_type == PHONE:
            chosen = self.sms_codes.channel(channel or None)
            check_phone_frequency(factor, now, self.mfa.phone.max_frequency)
            # the text leaves before anything is stored: a refused send leaves no challenge behind
            challenge.otp_code = await self.sms_codes.send_mfa(user, factor.phone, chosen, ctx=ctx)
        async with self.uow() as uow:
            locked = await uow.factors.get(factor.id, lock=True)
            if locked is None:
                raise DomainError("mfa_factor_not_found", "Factor not found")
            if factor.factor_type == PHONE:
                check_phone_frequency(locked, now, self.mfa.phone.max_frequency)  # a racing challenge got there first
            locked.last_challenged_at = now
            await uow.factors.update(locked)
            await uow.factors.add_challenge(challenge)
            await uow.audit.add(
                self.issuer.audit(
                    Actor.of_user(user), "challenge_created", now, {"factor_id": str(factor.id), "factor_status": factor.status}
                )
            )
            await uow.commit()
        return ChallengeResult(
            challenge=challenge, factor_type=factor.factor_type, expires_at=challenge.expires_at(self.mfa.challenge_expiry_duration)
        )

    async def _webauthn(self, user: User, factor: Factor, factors: list[Factor], ctx: RequestContext) -> ChallengeResult:
        """GoTrue's `challengeWebAuthnFactor`: creation options for an unverified factor (the user's
        registered credentials excluded), request options for a verified one; no audit entry."""
        kind = webauthn_ceremony(factor)
        try:
            if kind == WEBAUTHN_CREATE:
                start = self.webauthn.begin_registration(
                    user_id=webauthn_user_id(user.id), user_name=user.email, exclude=registered_credentials(factors)
                )
            else:
                allow = [factor.web_authn_credential] if factor.web_authn_credential else []
                start = self.webauthn.begin_authentication(user_id=webauthn_user_id(user.id), allow=allow)
        except WebAuthnUnavailable as missing:
            origins = "RP_ORIGINS" in str(missing)
            message = WEBAUTHN_REGISTRATION_DATA_FAILED if kind == WEBAUTHN_CREATE and not origins else UNEXPECTED_FAILURE
            raise DomainError("unexpected_failure", message) from None
        except WebAuthnRefused:  # a verified factor without a credential: go-webauthn's "Found no credentials"
            raise DomainError("unexpected_failure", UNEXPECTED_FAILURE) from None
        now = self.clock.now()
        challenge = Challenge(
            id=self.tokens.uuid(), factor_id=factor.id, created_at=now, ip_address=challenge_ip(ctx.ip),
            web_authn_session_data=start.session_data,
        )  # fmt: skip
        async with self.uow() as uow:
            locked = await uow.factors.get(factor.id, lock=True)
            if locked is None:
                raise DomainError("mfa_factor_not_found", "Factor not found")
            locked.last_challenged_at = now
            await uow.factors.update(locked)
            await uow.factors.add_challenge(challenge)
            await uow.commit()
        return ChallengeResult(
            challenge=challenge, factor_type=WEBAUTHN, expires_at=challenge.expires_at(self.mfa.challenge_expiry_duration),
            webauthn_type=kind, webauthn_options=start.options,
        )  # fmt: skip


# --- verify ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyFactorCommand:
    factor_id: str
    challenge_id: str = ""
    code: str = ""
    webauthn: dict[str, Any] | None = None  # `{"type": "create"|"request", "credential_response": {...}}`
    ctx: RequestContext = field(default_factory=RequestContext)


MFA_HOOK_REJECTION = "Further MFA verification attempts will be rejected."


@dataclass(slots=True, kw_only=True)
class VerifyFactor:
    uow: UnitOfWorkFactory
    mfa: Mfa
    clock: Clock
    issuer: SessionIssuer
    webauthn: WebAuthnCeremonies
    hook: Hook | None = None  # GOTRUE_HOOK_MFA_VERIFICATION_ATTEMPT

    async def __call__(self, principal: Principal, cmd: VerifyFactorCommand) -> AuthResult:
        user, session = mfa_caller(principal)
        async with self.uow() as uow:
            factor = await owned_factor(uow, user, cmd.factor_id)
        kind, response = "", None
        if factor.factor_type != WEBAUTHN:
            check_verify_code(cmd.code)
            _verify_enabled(self.mfa, factor.factor_type)
        else:
            if not self.mfa.web_authn.verify_enabled:  # GoTrue's verify answers with the enrol code here
                raise DomainError("mfa_webauthn_enroll_not_enabled", "MFA verification is disabled for WebAuthn")
            kind, response = check_webauthn_params(cmd.webauthn)
        try:  # GoTrue decodes the field as a UUID: an absent one is the nil UUID (no such challenge)
            challenge_id = UUID(cmd.challenge_id) if cmd.challenge_id else UUID(int=0)
        except ValueError:
            raise DomainError("bad_json", "Could not parse request body as JSON: invalid UUID for challenge_id") from None
        now = self.clock.now()
        lifetime = self.mfa.challenge_expiry_duration
        expired: Challenge | None = None
        async with self.uow() as uow:
            locked = await uow.factors.get(factor.id, lock=True)
            if locked is None or locked.user_id != user.id:
                raise DomainError("mfa_factor_not_found", "Factor not found")
            try:
                challenge = check_challenge(
                    await uow.factors.get_challenge(challenge_id, factor.id, lock=True), challenge_ip(cmd.ctx.ip), now, lifetime,
                    mismatch_period=factor.factor_type != PHONE,
                )
            except ChallengeExpired as refusal:
                expired = refusal.challenge
                challenge = None
            rejected: DomainError | None = None
            if challenge is not None:
                if factor.factor_type == WEBAUTHN:
                    self._prove_webauthn(user, locked, challenge, kind, response, now)
                else:
                    valid = await self._check_code(uow, locked, challenge, cmd.code, now)
                    if self.hook is not None:
                        rejected = await self._ask_hook(uow, user, locked, valid, cmd.ctx, now)
                    if rejected is None and not valid:
                        message = "Invalid MFA Phone code entered" if locked.factor_type == PHONE else "Invalid TOTP code entered"
                        raise DomainError("mfa_verification_failed", message)
                if rejected is None:
                    result = await self._verified(uow, user, session, locked, challenge, now, cmd.ctx)
                    await uow.commit()
                    return result
                await uow.sessions.delete_for_user(user.id)  # GoTrue logs the user out, then refuses
                await uow.commit()
        if rejected is not None:
            raise rejected
        assert expired is not None
        async with self.uow() as uow:  # GoTrue deletes the expired challenge, then refuses
            await uow.factors.delete_challenge(expired.id)
            await uow.commit()
        raise ChallengeExpired(expired)

    async def _check_code(self, uow: UnitOfWork, factor: Factor, challenge: Challenge, code: str, now: datetime) -> bool:
        if factor.factor_type == PHONE:
            return bool(challenge.otp_code) and hmac.compare_digest(challenge.otp_code.encode(), code.encode())
        step = totp_match(factor.secret, code, now)
        if step is not None:
            since = now - timedelta(seconds=TOTP_PERIOD * 3)
            spent = {recorded_step(c) for c in await uow.factors.verified_challenges(factor.id, since)}
            if step in spent:  # one code, once per factor and time step
                return False
            challenge.otp_code = step_record(step)
        return step is not None

    async def _ask_hook(
        self, uow: UnitOfWork, user: User, factor: Factor, valid: bool, ctx: RequestContext, now: datetime
    ) -> DomainError | None:
        """GoTrue's MFA verification attempt hook: `{"decision": "reject"}` refuses (403) and ends the
        user's sessions; any other answer lets the code's verdict stand."""
        assert self.hook is not None
        answer = await self.hook.invoke(
            {
                "metadata": hook_metadata(str(self.issuer.tokens.uuid()), "mfa-verification", now, ctx),
                "factor_id": str(factor.id),
                "factor_type": factor.factor_type,
                "user_id": str(user.id),
                "valid": valid,
            },
            uow=uow,
        )
        if answer.get("decision") != "reject":
            return None
        message = answer.get("message")
        return DomainError("mfa_verification_rejected", message if isinstance(message, str) and message else MFA_HOOK_REJECTION)

    def _prove_webauthn(self, user: User, factor: Factor, challenge: Challenge, kind: str, response: Any, now: datetime) -> None:
        """GoTrue's `verifyWebAuthnFactor` after `validateChallenge`: register the credential on an
        unverified factor, check an assertion by it on a verified one (its sign count kept)."""
        check_webauthn_ceremony(factor, kind)
        session_data = challenge.web_authn_session_data or {}
        try:
            if kind == WEBAUTHN_CREATE:
                registered = self.webauthn.finish_registration(
                    user_id=webauthn_user_id(user.id), session_data=session_data, response=response
                )
                register_webauthn(factor, registered.record, registered.aaguid, now)
            else:
                assert factor.web_authn_credential is not None  # check_webauthn_ceremony
                factor.web_authn_credential = self.webauthn.finish_authentication(
                    user_id=webauthn_user_id(user.id), session_data=session_data, response=response, record=factor.web_authn_credential
                )
        except WebAuthnMalformed:
            raise ValidationFailed("Invalid credential_response") from None
        except WebAuthnRefused:
            raise webauthn_failed(kind) from None
        except WebAuthnUnavailable:
            raise DomainError("unexpected_failure", UNEXPECTED_FAILURE) from None
        record_webauthn_use(factor, challenge, kind, response, now)

    async def _verified(
        self, uow: UnitOfWork, user: User, session: Session, factor: Factor, challenge: Challenge, now: datetime,
        ctx: RequestContext,
    ) -> AuthResult:
        """The factor proved: the challenge spent, the factor verified, the session stepped up to aal2
        with a rotated refresh token, the user's other aal1 sessions and unverified factors of this type gone."""
        await uow.audit.add(
            self.issuer.audit(
                Actor.of_user(user), "verification_attempted", now,
                {"factor_id": str(factor.id), "challenge_id": str(challenge.id), "factor_type": factor.factor_type},
            )
        )
        if factor.factor_type == WEBAUTHN:  # GoTrue destroys a WebAuthn challenge once it is answered
            await uow.factors.delete_challenge(challenge.id)
        else:
            challenge.verified_at = now
            await uow.factors.update_challenge(challenge)
        if factor.verify(now) or factor.factor_type == WEBAUTHN:  # a WebAuthn verify writes its credential and challenge data
            await uow.factors.update(factor)
        fresh, current = await uow.users.get_with_session(user.id, session.id)
        if fresh is None or current is None:
            raise DomainError("session_not_found", "Session not found", where="bearer")
        step_up(current, factor, now)
        refresh_token = await self.issuer.rotate_for_mfa(uow, fresh, current, now)
        await uow.sessions.update(current)
        await uow.sessions.delete_below_aal2(user.id, keep=current.id)
        others = [f.id for f in await uow.factors.for_user(user.id) if f.factor_type == factor.factor_type and not f.is_verified and f.id != factor.id]
        await uow.factors.delete(others)
        fresh.factors = [f for f in (await uow.factors.for_user(user.id))]
        for f in fresh.factors:
            f.secret = ""
        method = {PHONE: "mfa/phone", WEBAUTHN: "mfa/webauthn"}.get(factor.factor_type, "totp")  # GoTrue's names
        return await self.issuer.issue(uow, fresh, current, refresh_token, method=method, ctx=ctx)


# --- unenrol ------------------------------------------------------------------------------------
@dataclass(slots=True, kw_only=True)
class UnenrollFactor:
    uow: UnitOfWorkFactory
    clock: Clock
    issuer: SessionIssuer

    async def __call__(self, principal: Principal, factor_id: str) -> UUID:
        user, session = mfa_caller(principal)
        now = self.clock.now()
        async with self.uow() as uow:
            factor = await owned_factor(uow, user, factor_id, lock=True)
            check_unenrolment(factor, session)
            await remove_factor(uow, factor, now)
            await uow.audit.add(
                self.issuer.audit(
                    Actor.of_user(user), "factor_unenrolled", now,
                    {"factor_id": str(factor.id), "factor_status": factor.status, "session_id": str(session.id)},
                )
            )
            await uow.commit()
        return factor.id


async def remove_factor(uow: UnitOfWork, factor: Factor, now: datetime) -> None:
    """Delete the factor (its challenges go with it) and bring the sessions it stepped up back to aal1."""
    for stepped_up in await uow.sessions.using_factor(factor.id):
        downgrade(stepped_up, factor, now)
        await uow.sessions.update(stepped_up)
    await uow.factors.delete([factor.id])
