"""Asking for a link or code: magic link, password recovery, resend and reauthentication (emailed or texted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytrue.application.config import External, Jwt, Links, Mailer
from pytrue.domain.values import PasswordPolicy
from pytrue.application.context import RequestContext
from pytrue.application.email_codes import EmailCodes, Pkce, locked
from pytrue.application.sms_codes import SmsCodes
from pytrue.application.ports import (
    MAIL_CONFIRMATION,
    MAIL_EMAIL_CHANGE,
    MAIL_MAGIC_LINK,
    MAIL_REAUTHENTICATION,
    MAIL_RECOVERY,
    Clock,
    Mail,
    TokenGenerator,
    UnitOfWork,
    UnitOfWorkFactory,
)
from pytrue.application.results import Principal
from pytrue.application.sessions import SessionIssuer
from pytrue.application.timing import TimingMask
from pytrue.application.use_cases.signup import SignUp, SignUpCommand
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.one_time_token import (
    CONFIRMATION,
    EMAIL_CHANGE_CURRENT,
    EMAIL_CHANGE_NEW,
    PHONE_CHANGE,
    REAUTHENTICATION,
    RECOVERY,
)
from pytrue.domain.user import User
from pytrue.domain.values import Email, Phone, validate_pkce_params

GENERATED_PASSWORD_LENGTH = 33
RESEND_TYPES = ("signup", "email_change", "sms", "phone_change")


def generated_password(tokens: TokenGenerator, policy: PasswordPolicy) -> str:
    """A random password that also satisfies the configured required character classes."""
    required = policy.required_characters
    password = tokens.password(GENERATED_PASSWORD_LENGTH - len(required))
    for alphabet in required:
        password += alphabet[int(tokens.otp(6)) % len(alphabet)]
    return password


async def send_recovery_token(
    issuer: SessionIssuer,
    codes: EmailCodes,
    uow: UnitOfWork,
    user: User,
    email: str,
    kind: str,
    link_type: str,
    request: LinkRequest,
    pkce: Pkce | None,
) -> None:
    """Magic links and recovery links share the recovery token (and its send frequency)."""
    now = codes.clock.now()
    await uow.audit.add(issuer.audit(Actor.of_user(user), "user_recovery_requested", now))
    await codes.send(
        uow,
        user,
        RECOVERY,
        kind=kind,
        link_type=link_type,
        address=email,
        redirect_to=codes.links.redirect_target(request.redirect_to, request.ctx.referer),
        pkce=pkce,
        now=now,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRequest:
    """What every request for an emailed link carries: audience, redirect target, PKCE challenge."""

    aud: str | None = None
    redirect_to: str = ""
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    ctx: RequestContext = field(default_factory=RequestContext)

    def audience(self, jwt: Jwt) -> str:
        return self.aud if self.aud is not None else jwt.aud

    def pkce(self) -> Pkce | None:
        """The validated challenge, or None without PKCE."""
        validate_pkce_params(self.code_challenge, self.code_challenge_method)
        return Pkce.of(self.code_challenge, self.code_challenge_method)


@dataclass(frozen=True, slots=True, kw_only=True)
class MagicLinkCommand(LinkRequest):
    email: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class SendMagicLink:
    """`/magiclink` and email `/otp`: a link (with its code) for a confirmed user.

    An unknown or unconfirmed address is signed up with a random password instead and gets
    the confirmation message, as GoTrue does.
    """

    uow: UnitOfWorkFactory
    jwt: Jwt
    passwords: PasswordPolicy
    mailer: Mailer
    external: External
    clock: Clock
    tokens: TokenGenerator
    issuer: SessionIssuer
    codes: EmailCodes
    sign_up: SignUp
    timing: TimingMask = field(default_factory=TimingMask)  # a link costs what a sign-up does (docs/adr/0017)

    async def __call__(self, cmd: MagicLinkCommand) -> None:
        if not self.external.email.enabled:
            raise DomainError("email_provider_disabled", "Email logins are disabled", where="login")
        if not self.external.email.magic_link_enabled:
            raise DomainError("email_provider_disabled", "Login with magic link is disabled", where="login")
        if not cmd.email:
            raise ValidationFailed("Password recovery requires an email", where="unprocessable")
        email = Email.parse(cmd.email).value
        pkce = cmd.pkce()
        aud = cmd.audience(self.jwt)
        self.codes.ensure_deliverable(MAIL_MAGIC_LINK)  # known or not: an outage must not tell them apart
        started = self.timing.start()
        async with self.uow() as uow:
            user = await locked(uow, await uow.users.get_by_email(email, aud))
            if user is not None and user.is_email_confirmed:
                await self._send(uow, user, email, cmd, pkce)
                await uow.commit()
                await self.timing.pad(started)
                return
        await self._sign_up(email, aud, cmd)
        self.timing.record(started)
        if self.mailer.autoconfirm:
            await self(cmd)

    async def _sign_up(self, email: str, aud: str, cmd: MagicLinkCommand) -> None:
        await self.sign_up(
            SignUpCommand(
                email=email,
                password=generated_password(self.tokens, self.passwords),
                data=cmd.data,
                aud=aud,
                redirect_to=cmd.redirect_to,
                code_challenge=cmd.code_challenge,
                code_challenge_method=cmd.code_challenge_method,
                ctx=cmd.ctx,
                open_session=False,
            )
        )

    async def _send(self, uow: UnitOfWork, user: User, email: str, cmd: MagicLinkCommand, pkce: Pkce | None) -> None:
        await send_recovery_token(self.issuer, self.codes, uow, user, email, MAIL_MAGIC_LINK, "magiclink", cmd, pkce)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoverCommand(LinkRequest):
    email: str | None = None


@dataclass(slots=True, kw_only=True)
class RecoverPassword:
    """`/recover`: a recovery link for a known address; an unknown one gets the same empty answer."""

    uow: UnitOfWorkFactory
    jwt: Jwt
    external: External
    clock: Clock
    issuer: SessionIssuer
    codes: EmailCodes
    timing: TimingMask = field(default_factory=TimingMask)  # unknown costs what known does (docs/adr/0017)

    async def __call__(self, cmd: RecoverCommand) -> None:
        if not self.external.email.enabled:
            raise DomainError("email_provider_disabled", "Email logins are disabled")
        if not cmd.email:
            raise ValidationFailed("Password recovery requires an email")
        email = Email.parse(cmd.email).value
        pkce = cmd.pkce()
        aud = cmd.audience(self.jwt)
        self.codes.ensure_deliverable(MAIL_RECOVERY)  # known or not: an outage must not tell them apart
        started = self.timing.start()
        async with self.uow() as uow:
            user = await locked(uow, await uow.users.get_by_email(email, aud))
            if user is not None:
                await send_recovery_token(
                    self.issuer, self.codes, uow, user, email, MAIL_RECOVERY, "recovery", cmd, pkce
                )
                await uow.commit()
        if user is None:
            await self.timing.pad(started)
        else:
            self.timing.record(started)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResendCommand(LinkRequest):
    type: str = ""
    email: str | None = None
    phone: str | None = None


@dataclass(slots=True, kw_only=True)
class Resend:
    """`/resend`: another copy of a pending confirmation or change (email or texted); otherwise nothing."""

    uow: UnitOfWorkFactory
    jwt: Jwt
    external: External
    links: Links
    clock: Clock
    issuer: SessionIssuer
    codes: EmailCodes
    sms_codes: SmsCodes
    email_change: EmailChangeSender
    timing: TimingMask = field(default_factory=TimingMask)  # nothing to resend costs what a resend does

    async def __call__(self, cmd: ResendCommand) -> str:
        """The `message_id` to answer: `test-otp` when a test number's code was resent, else ""."""
        address = self._validate(cmd)
        pkce = cmd.pkce() if cmd.type in ("signup", "email_change") else None  # GoTrue ignores PKCE for phones
        aud = cmd.audience(self.jwt)
        redirect_to = self.links.redirect_target(cmd.redirect_to, cmd.ctx.referer)
        if cmd.email:  # known or not: an outage must not tell them apart
            self.codes.ensure_deliverable(MAIL_CONFIRMATION if cmd.type == "signup" else MAIL_EMAIL_CHANGE)
        started = self.timing.start()
        message_id = await self._resend(cmd, address, aud, redirect_to, pkce)
        if message_id is not None:
            self.timing.record(started)
            return message_id
        await self.timing.pad(started)
        return ""

    async def _resend(
        self, cmd: ResendCommand, address: str, aud: str, redirect_to: str, pkce: Pkce | None
    ) -> str | None:
        """Send another copy if one is pending (its message id); None when there was nothing to send."""
        message_id = ""
        async with self.uow() as uow:
            found = await (uow.users.get_by_email(address, aud) if cmd.email else uow.users.get_by_phone(address, aud))
            user = await locked(uow, found)
            if user is None:
                return None
            now = self.clock.now()
            if cmd.type == "signup":
                if user.is_email_confirmed:
                    return None
                await uow.audit.add(self.issuer.audit(Actor.of_user(user), "user_confirmation_requested", now))
                await self.codes.send(
                    uow,
                    user,
                    CONFIRMATION,
                    kind=MAIL_CONFIRMATION,
                    link_type="signup",
                    address=user.email,
                    redirect_to=redirect_to,
                    pkce=pkce,
                )
            elif cmd.type == "email_change":
                if not user.email_change:
                    return None
                await self.email_change.send(uow, user, user.email_change, redirect_to, pkce)
            elif cmd.type == "sms":
                if user.is_phone_confirmed:
                    return None
                await uow.audit.add(self.issuer.audit(Actor.of_user(user), "user_recovery_requested", now))
                message_id = await self.sms_codes.send(uow, user, CONFIRMATION, address, ctx=cmd.ctx)
            else:
                if not user.phone_change:
                    return None
                message_id = await self.sms_codes.send(uow, user, PHONE_CHANGE, user.phone_change, ctx=cmd.ctx)
            await uow.commit()
        return message_id

    def _validate(self, cmd: ResendCommand) -> str:
        if cmd.type not in RESEND_TYPES:
            raise ValidationFailed("Missing one of these types: signup, email_change, sms, phone_change")
        if cmd.email and cmd.phone:
            raise ValidationFailed("Only an email address or phone number should be provided.")
        if cmd.type == "signup" and not cmd.email:
            raise ValidationFailed("Type provided requires an email address")
        if cmd.type == "sms" and not cmd.phone:
            raise ValidationFailed("Type provided requires a phone number")
        if cmd.type in ("signup", "email_change"):
            validate_pkce_params(cmd.code_challenge, cmd.code_challenge_method)
        if cmd.email:
            if not self.external.email.enabled:
                raise DomainError("email_provider_disabled", "Email logins are disabled")
            return Email.parse(cmd.email).value
        if cmd.phone:
            if not self.external.phone.enabled:
                raise DomainError("phone_provider_disabled", "Phone logins are disabled")
            return Phone.parse(cmd.phone).value
        raise ValidationFailed("Missing email address or phone number")


@dataclass(slots=True, kw_only=True)
class EmailChangeSender:
    """Mails an email change: the new address, and the current one too under secure email change."""

    mailer: Mailer
    clock: Clock
    codes: EmailCodes

    async def send(
        self, uow: UnitOfWork, user: User, new_email: str, redirect_to: str, pkce: Pkce | None
    ) -> None:
        now = self.clock.now()
        self.codes.check_frequency(user, EMAIL_CHANGE_NEW, now)
        user.email_change = new_email
        user.email_change_confirm_status = 0
        both = self.mailer.secure_email_change_enabled and bool(user.email)
        copies = [(EMAIL_CHANGE_NEW, new_email)]
        if both:
            copies.append((EMAIL_CHANGE_CURRENT, user.email))
        else:
            user.email_change_token_current = ""
            await uow.one_time_tokens.delete(user.id, EMAIL_CHANGE_CURRENT.token_type)
        hooked = self.codes.hook is not None
        issued = [
            await self.codes.send(
                uow,
                user,
                purpose,
                kind=MAIL_EMAIL_CHANGE,
                link_type="email_change",
                address=address,
                redirect_to=redirect_to,
                pkce=pkce,
                new_flow=index == 0,
                limit_frequency=False,
                new_email=new_email,
                now=now,
                deliver=not hooked,
            )
            for index, (purpose, address) in enumerate(copies)
        ]
        if hooked:
            await self._hook(uow, user, new_email, redirect_to, issued, now)

    async def _hook(
        self, uow: UnitOfWork, user: User, new_email: str, redirect_to: str, issued: list[tuple[str, str]], now: datetime
    ) -> None:
        """One send-email hook call for both addresses, with GoTrue's field layout: under secure
        email change `token` is the current address's code and `token_new` the new one's, while
        `token_hash` is the new address's hash and `token_hash_new` the current one's (GoTrue's
        documented mismatch, kept for hooks written against it); otherwise `token` and
        `token_hash` are the new address's."""
        (otp_new, hash_new), *current = issued
        extra: dict[str, str] = {}
        token = otp_new
        if current:
            (otp_current, hash_current), = current
            token = otp_current
            extra = {"token_new": otp_new, "token_hash_new": hash_current}
        mail = Mail.for_user(
            user, locale_key=self.codes.mail.locale_key, kind=MAIL_EMAIL_CHANGE, to=new_email, otp=token, token_hash=hash_new, link_type="email_change",
            redirect_to=redirect_to, new_email=new_email,
        )
        await self.codes.deliver(uow, mail, now, user=user, hook_extra=extra)


@dataclass(slots=True, kw_only=True)
class Reauthenticate:
    """`/reauthenticate`: a code the user passes as `nonce` to change their password."""

    uow: UnitOfWorkFactory
    links: Links
    clock: Clock
    issuer: SessionIssuer
    codes: EmailCodes
    sms_codes: SmsCodes

    async def __call__(self, principal: Principal, ctx: RequestContext | None = None) -> str:
        """The `message_id` to answer (`test-otp` for a phone-only user on a test number, else "")."""
        if principal.user is None:
            raise DomainError("bad_jwt", "invalid claim: missing sub claim")
        async with self.uow() as uow:
            user = await uow.users.get_for_update(principal.user.id)
            if user is None:
                raise DomainError("user_not_found", "User not found", where="bearer")
            if not user.email and not user.phone:
                raise ValidationFailed("Reauthentication requires the user to have an email or a phone number")
            if user.email and not user.is_email_confirmed:
                raise DomainError("email_not_confirmed", "Please verify your email first.", where="unprocessable")
            if not user.email and not user.is_phone_confirmed:
                raise DomainError("phone_not_confirmed", "Please verify your phone first.", where="unprocessable")
            now = self.clock.now()
            await uow.audit.add(self.issuer.audit(Actor.of_user(user), "user_reauthenticate_requested", now))
            message_id = ""
            if user.email:
                await self.codes.send(
                    uow,
                    user,
                    REAUTHENTICATION,
                    kind=MAIL_REAUTHENTICATION,
                    link_type="",
                    address=user.email,
                    redirect_to=self.links.site_url,
                )
            else:
                message_id = await self.sms_codes.send(uow, user, REAUTHENTICATION, user.phone, ctx=ctx)
            await uow.commit()
        return message_id
