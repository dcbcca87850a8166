"""`/otp`: an emailed magic link or code, or a texted code (sign-up for a new number)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytrue.application.codes import locked
from pytrue.application.config import External, Jwt, Sms
from pytrue.application.ports import Clock, TokenGenerator, UnitOfWorkFactory
from pytrue.application.sessions import SessionIssuer
from pytrue.application.sms_codes import SmsCodes
from pytrue.application.use_cases.email_links import LinkRequest, MagicLinkCommand, SendMagicLink, generated_password
from pytrue.application.use_cases.signup import SignUp, SignUpCommand
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.one_time_token import CONFIRMATION
from pytrue.domain.values import Email, PasswordPolicy, Phone


@dataclass(frozen=True, slots=True, kw_only=True)
class OtpCommand(LinkRequest):
    email: str | None = None
    phone: str | None = None
    create_user: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    channel: str | None = None


@dataclass(slots=True, kw_only=True)
class SendOtp:
    """`/otp`: by email it is the magic link; by phone a texted code (`type: sms` at `/verify`).

    An unknown number, or one nobody has confirmed, is signed up with a random password and
    gets the confirmation code; a confirmed one gets a sign-in code in the same column.
    """

    uow: UnitOfWorkFactory
    jwt: Jwt
    passwords: PasswordPolicy
    external: External
    sms: Sms
    clock: Clock
    tokens: TokenGenerator
    issuer: SessionIssuer
    magic_link: SendMagicLink
    sign_up: SignUp
    sms_codes: SmsCodes

    async def __call__(self, cmd: OtpCommand) -> str:
        """The `message_id` to answer: `test-otp` for a test number, else ""."""
        if cmd.email and cmd.phone:
            raise ValidationFailed("Only an email address or phone number should be provided")
        if cmd.email and cmd.channel:
            raise ValidationFailed("Channel should only be specified with Phone OTP")
        cmd.pkce()
        aud = cmd.audience(self.jwt)
        if cmd.email:
            email = Email.parse(cmd.email).value
            if not cmd.create_user and await self._missing(email, None, aud):
                raise DomainError("otp_disabled", "Signups not allowed for otp")
            await self.magic_link(
                MagicLinkCommand(
                    email=email,
                    data=cmd.data,
                    aud=aud,
                    redirect_to=cmd.redirect_to,
                    code_challenge=cmd.code_challenge,
                    code_challenge_method=cmd.code_challenge_method,
                    ctx=cmd.ctx,
                )
            )
            return ""
        if cmd.phone:
            return await self._phone(cmd, aud)
        raise ValidationFailed("One of email or phone must be set")

    async def _phone(self, cmd: OtpCommand, aud: str) -> str:
        if not cmd.create_user:
            # GoTrue: a malformed number answers like an unknown one, before the provider check
            try:
                phone = Phone.parse(cmd.phone).value
            except ValidationFailed:
                raise DomainError("otp_disabled", "Signups not allowed for otp") from None
            if await self._missing(None, phone, aud):
                raise DomainError("otp_disabled", "Signups not allowed for otp")
        if not self.external.phone.enabled:
            raise DomainError("phone_provider_disabled", "Unsupported phone provider")
        phone = Phone.parse(cmd.phone).value
        channel = self.sms_codes.channel(cmd.channel)
        for _ in range(2):
            async with self.uow() as uow:
                user = await locked(uow, await uow.users.get_by_phone(phone, aud))
                if user is not None and user.is_phone_confirmed:
                    now = self.clock.now()
                    await uow.audit.add(
                        self.issuer.audit(Actor.of_user(user), "user_recovery_requested", now, {"channel": channel})
                    )
                    message_id = await self.sms_codes.send(uow, user, CONFIRMATION, phone, channel, ctx=cmd.ctx)
                    await uow.commit()
                    return message_id
            await self.sign_up(
                SignUpCommand(
                    phone=phone,
                    password=generated_password(self.tokens, self.passwords),
                    data=cmd.data,
                    aud=aud,
                    channel=channel,
                    ctx=cmd.ctx,
                    open_session=False,
                )
            )
            if not self.sms.autoconfirm:
                return ""
        return ""

    async def _missing(self, email: str | None, phone: str | None, aud: str) -> bool:
        async with self.uow() as uow:
            if email is not None:
                return await uow.users.get_by_email(email, aud) is None
            return await uow.users.get_by_phone(phone or "", aud) is None
