"""Following an emailed link or typing its code (`/verify`), and exchanging a PKCE code (`grant_type=pkce`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum

from pytrue.application.metrics import NO_METRICS, Metrics
from pytrue.application.code_attempts import CodeAttempts
from pytrue.application.config import External, Jwt, Mailer, Sms
from pytrue.application.context import RequestContext
from pytrue.application.ports import Clock, PasswordHasher, TokenGenerator, UnitOfWork, UnitOfWorkFactory
from pytrue.application.notifications import SecurityNotifications
from pytrue.application.results import AuthResult
from pytrue.application.sessions import SessionIssuer
from pytrue.application.sms_codes import SmsCodes
from pytrue.application.ports import LegacyWebhook
from pytrue.application.webhooks import tell_webhook
from pytrue.domain.audit import Actor
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.flow_state import AUTH_METHOD_OF_LINK
from pytrue.domain.one_time_token import (
    CONFIRMATION_TOKEN,
    EMAIL_CHANGE_TOKEN_CURRENT,
    EMAIL_CHANGE_TOKEN_NEW,
    PKCE_PREFIX,
    PHONE_CHANGE_TOKEN,
    RECOVERY_TOKEN,
    is_expired,
    is_pkce,
    otp_matches,
    token_hash,
)
from pytrue.domain.user import User
from pytrue.domain.values import Email, Phone

EMAIL_TYPES = ("signup", "invite", "magiclink", "recovery", "email_change", "email")
PHONE_TYPES = ("sms", "phone_change")
LINK_EXPIRED = "Email link is invalid or has expired"
CODE_EXPIRED = "Token has expired or is invalid"
FIRST_OF_TWO = "Confirmation link accepted. Please proceed to confirm link sent to the other email"
INVITED_PASSWORD_LENGTH = 64
# GoTrue's authentication method for each verification type, as a custom access token hook sees it
_HOOK_METHOD = {
    "signup": "email/signup",
    "invite": "invite",
    "magiclink": "magiclink",
    "recovery": "recovery",
    "email_change": "email_change",
}

# one_time_tokens types a token_hash may be looked up in, by verification type
_HASH_TYPES = {
    "email": (CONFIRMATION_TOKEN, RECOVERY_TOKEN),
    "signup": (CONFIRMATION_TOKEN,),
    "invite": (CONFIRMATION_TOKEN,),
    "recovery": (RECOVERY_TOKEN,),
    "magiclink": (RECOVERY_TOKEN,),
    "email_change": (EMAIL_CHANGE_TOKEN_CURRENT, EMAIL_CHANGE_TOKEN_NEW),
}


class Flow(Enum):
    IMPLICIT = "implicit"
    PKCE = "pkce"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyCommand:
    type: str = ""
    token: str = ""
    token_hash: str = ""
    email: str = ""
    phone: str = ""
    redirect_to: str = ""
    aud: str | None = None
    ctx: RequestContext = field(default_factory=RequestContext)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyResult:
    """A session (implicit), a PKCE code to redirect with, or the first-of-two email-change message."""

    type: str
    flow: Flow = Flow.IMPLICIT
    auth: AuthResult | None = None
    auth_code: str | None = None
    message: str | None = None


class _NeedsPassword(Exception):
    """An invited user without a password: one is hashed outside the transaction, then we retry."""


@dataclass(slots=True, kw_only=True)
class Verify:
    """Checks a link's hash or a typed code, applies what it confirms and signs the user in.

    Typed codes are counted (`CodeAttempts`): a code guessed wrong too often is spent.
    """

    uow: UnitOfWorkFactory
    jwt: Jwt
    mailer: Mailer
    sms: Sms
    clock: Clock
    tokens: TokenGenerator
    hasher: PasswordHasher
    issuer: SessionIssuer
    attempts: CodeAttempts
    sms_codes: SmsCodes
    notifications: SecurityNotifications
    metrics: Metrics = NO_METRICS
    webhook: LegacyWebhook | None = None  # GOTRUE_WEBHOOK_*

    # --- POST /verify ---------------------------------------------------------------------
    async def __call__(self, cmd: VerifyCommand) -> VerifyResult:
        """POST /verify: a session comes back in the body (PKCE hashes included)."""
        self._validate_post(cmd)
        return await self._run(cmd, link=False)

    def _validate_post(self, cmd: VerifyCommand) -> None:
        if not cmd.type:
            raise ValidationFailed("Verify requires a verification type")
        if bool(cmd.token) == bool(cmd.token_hash):
            raise ValidationFailed("Verify requires either a token or a token hash")
        if cmd.token_hash:
            if cmd.email or cmd.phone or cmd.redirect_to:
                raise ValidationFailed("Only the token_hash and type should be provided")
            return
        if bool(cmd.email) == bool(cmd.phone):
            raise ValidationFailed("Only an email address or phone number should be provided on verify")
        if cmd.email:
            try:
                Email.parse(cmd.email)
            except ValidationFailed:
                raise ValidationFailed("Invalid email format", where="unprocessable") from None
        else:
            Phone.parse(cmd.phone)

    # --- GET /verify ----------------------------------------------------------------------
    async def link(self, cmd: VerifyCommand) -> VerifyResult:
        """GET /verify: an emailed link; PKCE links yield a code instead of a session."""
        if cmd.type not in EMAIL_TYPES:
            raise ValidationFailed("Invalid email verification type")
        if is_pkce(cmd.token_hash) and cmd.type not in AUTH_METHOD_OF_LINK:
            raise DomainError("unexpected_failure", "Unsupported PKCE verification type")
        return await self._run(cmd, link=True)

    # --- shared ---------------------------------------------------------------------------
    async def _run(self, cmd: VerifyCommand, *, link: bool) -> VerifyResult:
        password_hash: str | None = None
        for _ in range(2):
            try:
                return await self._attempt(cmd, link=link, password_hash=password_hash)
            except _NeedsPassword:
                password_hash = await self.hasher.hash(self.tokens.password(INVITED_PASSWORD_LENGTH))
        raise DomainError("unexpected_failure", "Could not complete the verification")

    async def _attempt(self, cmd: VerifyCommand, *, link: bool, password_hash: str | None) -> VerifyResult:
        now = self.clock.now()
        async with self.uow() as uow:
            found, kind, matched = await (
                self._by_hash(uow, cmd, now) if cmd.token_hash else self._by_code(uow, cmd, now)
            )
            # Lock the user and check the code is still the one matched: of two requests spending
            # the same code at once, the second sees it spent.
            user = await uow.users.get_for_update(found.id)
            if user is None or not self._stored(found, matched)[0] or (
                self._stored(user, matched)[0] != self._stored(found, matched)[0]
            ):
                raise DomainError("otp_expired", LINK_EXPIRED if cmd.token_hash else CODE_EXPIRED)
            if user.is_banned(now):
                raise DomainError("user_banned", "User is banned", where="verify")
            message = await self._apply(uow, user, kind, matched, now, password_hash)
            if message is not None:
                await uow.commit()
                flow = Flow.PKCE if is_pkce(cmd.token_hash) else Flow.IMPLICIT
                return VerifyResult(type=kind, flow=flow, message=message)
            if link and is_pkce(cmd.token_hash):
                flow_state = await uow.flow_states.latest_for_user(user.id, AUTH_METHOD_OF_LINK[cmd.type])
                if flow_state is None:
                    raise DomainError(
                        "flow_state_not_found", "No associated flow state found. Flow state not found", where="verify"
                    )
                flow_state.auth_code_issued_at = now
                flow_state.updated_at = now
                await uow.flow_states.update(flow_state)
                await uow.commit()
                return VerifyResult(type=kind, flow=Flow.PKCE, auth_code=flow_state.auth_code)
            session, refresh = await self.issuer.open_session(uow, user, "otp", cmd.ctx, now)
            auth = await self.issuer.issue(uow, user, session, refresh, method=_HOOK_METHOD.get(cmd.type, "otp"), ctx=cmd.ctx)
            await uow.commit()
        self.metrics.signed_in("magiclink" if cmd.token_hash else "otp")
        return VerifyResult(type=kind, auth=auth)

    async def _by_hash(self, uow: UnitOfWork, cmd: VerifyCommand, now: datetime) -> tuple[User, str, str]:
        types = _HASH_TYPES.get(cmd.type)
        if types is None:
            raise ValidationFailed("Invalid email verification type")
        ott = await uow.one_time_tokens.find(cmd.token_hash, types)
        user = await uow.users.get(ott.user_id) if ott is not None else None
        if ott is None or user is None:
            raise DomainError("otp_expired", LINK_EXPIRED)
        kind = cmd.type
        if kind == "email":
            kind = "magiclink" if ott.token_type == RECOVERY_TOKEN else "signup"
        stored, sent_at = self._stored(user, ott.token_type)
        if stored != cmd.token_hash or is_expired(sent_at, now, self.mailer.otp_exp):
            raise DomainError("otp_expired", LINK_EXPIRED)
        return user, kind, ott.token_type

    def _stored(self, user: User, token_type: str) -> tuple[str, datetime | None]:
        if token_type == CONFIRMATION_TOKEN:
            return user.confirmation_token, user.confirmation_sent_at
        if token_type == RECOVERY_TOKEN:
            return user.recovery_token, user.recovery_sent_at
        if token_type == EMAIL_CHANGE_TOKEN_NEW:
            return user.email_change_token_new, user.email_change_sent_at
        if token_type == PHONE_CHANGE_TOKEN:
            return user.phone_change_token, user.phone_change_sent_at
        return user.email_change_token_current, user.email_change_sent_at

    async def _by_code(self, uow: UnitOfWork, cmd: VerifyCommand, now: datetime) -> tuple[User, str, str]:
        aud = cmd.aud if cmd.aud is not None else self.jwt.aud
        if cmd.phone:
            if cmd.type not in PHONE_TYPES:
                raise DomainError("otp_expired", CODE_EXPIRED)
            return await self._by_phone_code(uow, cmd, now)
        if cmd.type not in EMAIL_TYPES:
            raise DomainError("otp_expired", CODE_EXPIRED)
        email = Email.parse(cmd.email).value
        if cmd.type == "email_change":
            return await self._by_email_change_code(uow, email, cmd.token, now)
        user = await uow.users.get_by_email(email, aud)
        types = {
            "signup": (CONFIRMATION_TOKEN,),
            "invite": (CONFIRMATION_TOKEN,),
            "magiclink": (RECOVERY_TOKEN,),
            "recovery": (RECOVERY_TOKEN,),
            "email": (CONFIRMATION_TOKEN, RECOVERY_TOKEN),
        }[cmd.type]
        matched = await self._guess(uow, user, types, email, cmd.token, self.mailer.otp_exp, now)
        if user is None or matched is None:
            raise DomainError("otp_expired", CODE_EXPIRED)
        if cmd.type == "email":
            return (user, "signup", matched) if matched == CONFIRMATION_TOKEN else (user, "magiclink", matched)
        return user, cmd.type, matched

    async def _guess(
        self,
        uow: UnitOfWork,
        user: User | None,
        types: tuple[str, ...],
        identifier: str,
        otp: str,
        lifetime: timedelta,
        now: datetime,
    ) -> str | None:
        """The token type whose live code `otp` is, counting this attempt at each live code.

        Codes whose attempts ran out are spent (and the unit of work committed) before None comes back."""
        live = []
        if user is not None:
            for token_type in types:
                stored, sent_at = self._stored(user, token_type)
                if stored and not is_expired(sent_at, now, lifetime):
                    live.append((token_type, stored))
        if user is None or not live:
            await self.attempts.at_nothing("+".join(types), identifier, now)
            return None
        spent: dict[str, str] = {}
        for token_type, stored in live:
            guess = await self.attempts.at_code(user.id, token_type, stored, now)
            if guess.admitted and otp_matches(stored, identifier, otp):
                return token_type
            if guess.last:
                spent[token_type] = stored
        if spent:
            await self.attempts.spend(uow, user.id, spent, now)
        return None

    async def _by_email_change_code(
        self, uow: UnitOfWork, email: str, otp: str, now: datetime
    ) -> tuple[User, str, str]:
        # The code names no user until it matches: attempts are counted per address and UTC day (docs/adr/0016).
        if not (await self.attempts.at_nothing(f"email_change:{now.date().isoformat()}", email, now)).admitted:
            raise DomainError("otp_expired", CODE_EXPIRED)
        hashed = token_hash(email, otp)
        types = (
            (EMAIL_CHANGE_TOKEN_CURRENT, EMAIL_CHANGE_TOKEN_NEW)
            if self.mailer.secure_email_change_enabled
            else (EMAIL_CHANGE_TOKEN_NEW,)
        )
        ott = await uow.one_time_tokens.find(hashed, types) or await uow.one_time_tokens.find(PKCE_PREFIX + hashed, types)
        user = await uow.users.get(ott.user_id) if ott is not None else None
        if ott is None or user is None:
            raise DomainError("otp_expired", CODE_EXPIRED)
        stored, sent_at = self._stored(user, ott.token_type)
        if stored != ott.token_hash or is_expired(sent_at, now, self.mailer.otp_exp):
            raise DomainError("otp_expired", CODE_EXPIRED)
        return user, "email_change", ott.token_type

    async def _by_phone_code(self, uow: UnitOfWork, cmd: VerifyCommand, now: datetime) -> tuple[User, str, str]:
        phone = Phone.parse(cmd.phone).value
        aud = cmd.aud if cmd.aud is not None else self.jwt.aud
        if cmd.type == "sms":
            user = await uow.users.get_by_phone(phone, aud)
            types: tuple[str, ...] = (CONFIRMATION_TOKEN,)
        else:
            user = await uow.users.get_by_phone_change(phone, aud)
            types = (PHONE_CHANGE_TOKEN,)
        if user is not None and self.sms_codes.test_code(phone, now) == cmd.token:
            return user, cmd.type, types[0]  # a test number's fixed code: no hash, age or provider check
        if self.sms_codes.verifies_remotely:
            matched = await self._remote_guess(uow, user, types[0], phone, cmd.token, now)
        else:
            matched = await self._guess(uow, user, types, phone, cmd.token, self.sms.otp_exp, now)
        if user is None or matched is None:
            raise DomainError("otp_expired", CODE_EXPIRED)
        return user, cmd.type, matched

    async def _remote_guess(
        self, uow: UnitOfWork, user: User | None, token_type: str, phone: str, otp: str, now: datetime
    ) -> str | None:
        """Twilio Verify made and texted the code: it decides, after this attempt is counted here too."""
        stored = self._stored(user, token_type)[0] if user is not None else ""
        if user is None or not stored:
            await self.attempts.at_nothing(token_type, phone, now)
            return None
        guess = await self.attempts.at_code(user.id, token_type, stored, now)
        if guess.admitted and await self.sms_codes.check(phone, otp):
            return token_type
        if guess.last:
            await self.attempts.spend(uow, user.id, {token_type: stored}, now)
        return None

    async def _apply(
        self, uow: UnitOfWork, user: User, kind: str, matched: str, now: datetime, password_hash: str | None
    ) -> str | None:
        """Carry out what the verified code confirms; a message means "not signed in yet"."""
        if self.webhook is not None and kind != "email_change":
            await self._tell_webhook(user, kind, password_hash)
        actor = Actor.of_user(user)
        unproven = False
        if kind in ("signup", "invite"):
            if not user.has_password and user.invited_at is not None:
                if password_hash is None:
                    raise _NeedsPassword()
                user.set_password_hash(password_hash, now)
            await uow.audit.add(self.issuer.audit(actor, "user_signedup", now, {"provider": "email"}))
            unproven = user.prove_email(now, by_sign_up_code=True)
        elif kind in ("recovery", "magiclink"):
            user.recovery_token = ""
            if not user.is_email_confirmed:
                await uow.audit.add(self.issuer.audit(actor, "user_signedup", now, {"provider": "email"}))
                unproven = user.prove_email(now, by_sign_up_code=False)
            else:
                await uow.audit.add(self.issuer.audit(actor, "login", now, {"provider": "email"}))
        elif kind == "email_change":
            if self._first_of_two(user):
                return await self._first_confirmation(uow, user, matched, now)
            await uow.audit.add(self.issuer.audit(actor, "user_modified", now))
            old_email = user.email or ""
            user.apply_email_change(self.tokens.uuid(), now)
            await self.notifications.email_changed(uow, user, old_email)
        elif kind == "sms":
            await uow.audit.add(self.issuer.audit(actor, "user_signedup", now, {"provider": "phone"}))
            unproven = user.prove_phone(now)
            user.is_anonymous = False
        else:
            await uow.audit.add(self.issuer.audit(actor, "user_modified", now))
            old_phone, had_identity = user.phone or "", user.identity_for("phone") is not None
            user.apply_phone_change(self.tokens.uuid(), now)
            await self.notifications.phone_changed(uow, user, old_phone, identity_created=not had_identity)
        await uow.one_time_tokens.delete_for_user(user.id)
        user.recompute_providers()
        await uow.users.update(user)
        if unproven:
            # sessions of an account nobody had proved were not opened by whoever proved it now
            await uow.sessions.delete_for_user(user.id)
        return None

    async def _tell_webhook(self, user: User, kind: str, password_hash: str | None) -> None:
        """GoTrue's legacy webhook, before the confirmation is applied: `login` for a recovery or magic
        link of a confirmed address, `signup` for the rest (sign-up, invite and phone codes)."""
        if kind in ("signup", "invite") and password_hash is None and not user.has_password and user.invited_at is not None:
            raise _NeedsPassword()  # hashed first, so the webhook hears of this confirmation once
        login = kind in ("recovery", "magiclink") and user.is_email_confirmed
        await tell_webhook(self.webhook, "login" if login else "signup", user)

    def _first_of_two(self, user: User) -> bool:
        return (
            self.mailer.secure_email_change_enabled
            and not self.mailer.autoconfirm
            and user.email_change_confirm_status == 0
            and bool(user.email)
        )

    async def _first_confirmation(self, uow: UnitOfWork, user: User, matched: str, now: datetime) -> str:
        """One of the two addresses confirmed: blank that token; the other link finishes the change."""
        if matched == EMAIL_CHANGE_TOKEN_CURRENT:
            user.email_change_token_current = ""
        else:
            user.email_change_token_new = ""
        await uow.one_time_tokens.delete(user.id, matched)
        user.email_change_confirm_status = 1
        user.touch(now)
        await uow.users.update(user)
        return FIRST_OF_TWO


@dataclass(frozen=True, slots=True, kw_only=True)
class PkceGrantCommand:
    auth_code: str = ""
    code_verifier: str = ""
    ctx: RequestContext = field(default_factory=RequestContext)


@dataclass(slots=True, kw_only=True)
class PkceGrant:
    """`grant_type=pkce`: the code from a redirect plus the verifier the client kept, once."""

    uow: UnitOfWorkFactory
    external: External
    clock: Clock
    issuer: SessionIssuer
    metrics: Metrics = NO_METRICS

    async def __call__(self, cmd: PkceGrantCommand) -> AuthResult:
        if not cmd.auth_code or not cmd.code_verifier:
            raise ValidationFailed("invalid request: both auth code and code verifier should be non-empty")
        now = self.clock.now()
        async with self.uow() as uow:
            flow = await uow.flow_states.by_auth_code(cmd.auth_code, lock=True)
            if flow is None or flow.user_id is None:
                raise DomainError("flow_state_not_found", "invalid flow state, no valid flow state found")
            if flow.is_expired(now, self.external.flow_state_expiry_duration):
                raise DomainError("flow_state_expired", "invalid flow state, flow state has expired")
            flow.verify(cmd.code_verifier)
            user = await uow.users.get(flow.user_id)
            if user is None:
                raise DomainError("user_not_found", "User not found")
            if user.is_banned(now):
                raise DomainError("user_banned", "User is banned")
            await uow.audit.add(
                self.issuer.audit(Actor.of_user(user), "login", now, {"provider_type": flow.provider_type})
            )
            session, refresh = await self.issuer.open_session(uow, user, flow.authentication_method, cmd.ctx, now)
            await uow.flow_states.delete(flow.id)
            result = await self.issuer.issue(uow, user, session, refresh, method=flow.authentication_method, ctx=cmd.ctx)
            await uow.commit()
        self.metrics.signed_in("pkce", flow.provider_type)
        return replace(
            result, provider_token=flow.provider_access_token or "", provider_refresh_token=flow.provider_refresh_token or ""
        )
