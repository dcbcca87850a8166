"""Issuing texted codes: one place for the per-user and global SMS limits, test numbers and delivery."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytrue.application.codes import store_code
from pytrue.application.config import RateLimit, Sms
from pytrue.application.context import RequestContext
from pytrue.application.hooks import hook_metadata
from pytrue.application.ports import (
    Clock,
    Hook,
    RateLimiter,
    SmsOtpVerifier,
    SmsProviderError,
    SmsSender,
    TokenGenerator,
    UnitOfWork,
)
from pytrue.domain.one_time_token import PHONE_CHANGE, TokenPurpose
from pytrue.domain.phone import (
    TEST_OTP_MESSAGE_ID,
    SmsTestOtps,
    ensure_sms_send_allowed,
    message_channel,
    nonce_verifies_remotely,
    sms_rate_limit_exceeded,
    sms_send_failed,
    verifies_remotely,
)
from pytrue.domain.errors import DomainError
from pytrue.domain.user import User

log = logging.getLogger("pytrue.sms")

SMS_SENT_KEY = "sms_sent"
SEND_SMS_HOOK = "send-sms"


@dataclass(slots=True, kw_only=True)
class SmsCodes:
    """Generates a code, texts it and stores its hash on the user and in `one_time_tokens`, as
    GoTrue's `sendPhoneConfirmation` does, inside the caller's unit of work.

    The text leaves before the commit: a refused send (provider or send-SMS hook) raises, the
    caller's unit of work rolls back, and neither the code nor its sent-at time is stored, so the
    earlier code stays valid and the frequency timer does not start. Test numbers get their fixed
    code and nothing is sent; they, and `GOTRUE_SMS_AUTOCONFIRM`, skip the global budget.
    """

    sms: Sms
    rate_limit: RateLimit
    clock: Clock
    tokens: TokenGenerator
    limiter: RateLimiter
    sender: SmsSender
    render: Callable[[str], str]  # the code -> the text (`GOTRUE_SMS_TEMPLATE`)
    hook: Hook | None = None  # the send-SMS hook, which replaces the sender
    user_json: Callable[[User], Mapping[str, Any]] = lambda user: {"id": str(user.id)}  # the hook's `user`
    verifier: SmsOtpVerifier | None = None  # Twilio Verify
    mfa_render: Callable[[str], str] | None = None  # `GOTRUE_MFA_PHONE_TEMPLATE`
    mfa_otp_length: int = 6
    test_otps: SmsTestOtps = field(init=False)

    def __post_init__(self) -> None:
        self.test_otps = self.sms.test_otps

    def channel(self, channel: str | None) -> str:
        """The request's channel after GoTrue's defaulting and `IsValidMessageChannel`."""
        return message_channel(channel, provider=self.sms.provider, sms_hook=self.hook is not None)

    async def send(
        self,
        uow: UnitOfWork,
        user: User,
        purpose: TokenPurpose,
        phone: str,
        channel: str = "sms",
        *,
        ctx: RequestContext | None = None,
    ) -> str:
        """Text a fresh `purpose` code to `phone`; the `message_id` to answer (`test-otp` or "")."""
        now = self.clock.now()
        ensure_sms_send_allowed(getattr(user, purpose.sent_at), now, self.sms.max_frequency)
        if purpose is PHONE_CHANGE:
            user.phone_change = phone
        listed = self.test_otps.is_listed(phone, now)
        otp = self.test_otps.code_for(phone, now)
        if otp is None:
            if not self.sms.autoconfirm and not await self.limiter.consume(SMS_SENT_KEY, self.rate_limit.sms_sent, now):
                raise sms_rate_limit_exceeded()
            otp = self.tokens.otp(self.sms.otp_length)
            await self._deliver(uow, user, purpose, phone, channel, otp, ctx or RequestContext(), now)
        await store_code(uow, self.tokens, user, purpose, phone, otp, now)
        return TEST_OTP_MESSAGE_ID if listed else ""

    async def _deliver(
        self, uow: UnitOfWork, user: User, purpose: TokenPurpose, phone: str, channel: str, otp: str, ctx: RequestContext,
        now: datetime,
    ) -> None:
        if self.hook is not None:
            # HookFailed carries GoTrue's answer; a PostgreSQL function hook runs in the request's transaction
            await self.hook.invoke(self._hook_payload(user, phone, otp, ctx, now), uow=uow)
            return
        try:
            await self.sender.send(phone=phone, message=self.render(otp), channel=channel, otp=otp)
        except SmsProviderError as exc:
            log.warning("SMS provider refused a %s code: %s", purpose.name, exc)
            raise sms_send_failed(purpose, str(exc)) from exc

    def _hook_payload(self, user: User, phone: str, otp: str, ctx: RequestContext, now: datetime) -> dict[str, Any]:
        """GoTrue's `SendSMSInput`: metadata, the user as the API renders it, and the code with its number."""
        metadata = hook_metadata(str(self.tokens.uuid()), SEND_SMS_HOOK, now, ctx)
        return {"metadata": metadata, "user": dict(self.user_json(user)), "sms": {"otp": otp, "phone": phone}}

    async def send_mfa(self, user: User, phone: str, channel: str, *, ctx: RequestContext) -> str:
        """Text a fresh MFA code (`GOTRUE_MFA_PHONE_*` length and template) to a phone factor's
        number and return it; a refused send raises and nothing is to be stored."""
        assert self.mfa_render is not None, "MFA phone factors need their template"
        otp = self.tokens.otp(self.mfa_otp_length)
        if self.hook is not None:
            payload = self._hook_payload(user, phone, otp, ctx, self.clock.now())
            payload["sms"]["sms_type"] = "mfa"
            await self.hook.invoke(payload)
            return otp
        try:
            await self.sender.send(phone=phone, message=self.mfa_render(otp), channel=channel, otp=otp)
        except SmsProviderError as exc:
            log.warning("SMS provider refused an MFA code: %s", exc)
            raise DomainError("unexpected_failure", "error sending message") from exc
        return otp

    # --- codes the provider made (Twilio Verify) -------------------------------------------
    def test_code(self, phone: str, now: datetime) -> str | None:
        return self.test_otps.code_for(phone, now)

    @property
    def verifies_remotely(self) -> bool:
        """`/verify` asks Twilio Verify instead of the stored hash (not with the send-SMS hook)."""
        return self.verifier is not None and verifies_remotely(self.sms.provider, sms_hook=self.hook is not None)

    @property
    def nonce_verifies_remotely(self) -> bool:
        """A phone-only user's reauthentication nonce goes to Twilio Verify, hook or not."""
        return self.verifier is not None and nonce_verifies_remotely(self.sms.provider)

    async def check(self, phone: str, code: str) -> bool:
        """Twilio Verify approves `code` for `phone`; a provider that cannot be asked counts as a refusal."""
        if self.verifier is None:
            return False
        try:
            return await self.verifier.verify(phone=phone, code=code)
        except SmsProviderError as exc:
            log.warning("Twilio Verify could not check a code: %s", exc)
            return False
