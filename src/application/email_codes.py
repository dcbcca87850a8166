"""Issuing emailed codes and links: one place for the per-user and global send limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytrue.application.config import Mailer as MailerSection
from pytrue.application.config import Links, RateLimit, Smtp
from pytrue.application.codes import locked, store_code
from pytrue.application.context import RequestContext
from pytrue.application.hooks import hook_metadata
from pytrue.application.mail_health import MailHealth
from pytrue.application.ports import (
    Clock,
    Hook,
    Mail,
    MailDeliveryFailed,
    Mailer,
    RateLimiter,
    TokenGenerator,
    UnitOfWork,
)
from pytrue.domain.errors import DomainError
from pytrue.domain.flow_state import AUTH_METHOD_OF_LINK, PROVIDER_TYPE_OF_LINK, FlowState, parse_challenge_method
from pytrue.domain.one_time_token import TokenPurpose, ensure_send_allowed
from pytrue.domain.user import User

__all__ = ["EMAIL_SENT_KEY", "EmailCodes", "Pkce", "locked", "send_failure"]

EMAIL_SENT_KEY = "email_sent"

# the send-email hook's `email_action_type` for each mail kind (GoTrue's names)
EMAIL_ACTION_TYPES = {
    "confirmation": "signup",
    "invite": "invite",
    "magic_link": "magiclink",
    "recovery": "recovery",
    "email_change": "email_change",
    "reauthentication": "reauthentication",
}

# what the mail error says when a send fails, by mail kind (GoTrue's messages)
SEND_FAILURE = {
    "confirmation": "Error sending confirmation email",
    "invite": "Error sending invite email",
    "magic_link": "Error sending magic link email",
    "recovery": "Error sending recovery email",
    "email_change": "Error sending email change email",
    "reauthentication": "Error sending reauthentication email",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Pkce:
    """A PKCE request: the challenge to keep until the code is exchanged."""

    challenge: str
    method: str

    @classmethod
    def of(cls, challenge: str | None, method: str | None) -> Pkce | None:
        if not challenge or not method:
            return None
        return cls(challenge=challenge, method=parse_challenge_method(method))


def send_failure(kind: str) -> DomainError:
    return DomainError("unexpected_failure", SEND_FAILURE.get(kind, "Error sending email"))


@dataclass(slots=True, kw_only=True)
class EmailCodes:
    """Generates a code, stores its hash on the user and in `one_time_tokens`, and queues the message.

    The message goes into the outbox inside the caller's unit of work (docs/adr/0017): it is
    delivered after the response if and only if the code it carries was committed. With
    `mailer_delivery = "inline"` it is sent before the commit instead (GoTrue's way), and a
    refused send rolls everything back. Once delivery has been failing for longer than
    `mailer_outbox_fail_fast_after`, new messages are refused with GoTrue's 500 instead of
    being queued behind an outage.
    """

    mail: MailerSection
    smtp: Smtp
    rate_limit: RateLimit
    links: Links  # where the links in a message lead
    clock: Clock
    tokens: TokenGenerator
    mailer: Mailer
    limiter: RateLimiter
    health: MailHealth = field(default_factory=MailHealth)
    hook: Hook | None = None  # GOTRUE_HOOK_SEND_EMAIL_*: replaces SMTP and the outbox
    user_json: Callable[[User], Mapping[str, Any]] = lambda user: {"id": str(user.id), "email": user.email}

    def ensure_deliverable(self, kind: str, now: datetime | None = None) -> None:
        """GoTrue's 500 for `kind` while the outbox has been failing too long; checked before any write."""
        if self.mail.delivery != "inline" and self.health.outage(
            now or self.clock.now(), self.mail.outbox_fail_fast_after
        ):
            raise send_failure(kind)

    def check_frequency(self, user: User, purpose: TokenPurpose, now: datetime) -> None:
        ensure_send_allowed(getattr(user, purpose.sent_at), now, self.smtp.max_frequency)

    async def issue(
        self,
        uow: UnitOfWork,
        user: User,
        purpose: TokenPurpose,
        address: str,
        now: datetime,
        *,
        pkce: bool = False,
        otp: str | None = None,
    ) -> tuple[str, str]:
        """Store a fresh code for `purpose`; returns (otp, stored hash)."""
        code = otp or self.tokens.otp(self.mail.otp_length)
        stored = await store_code(uow, self.tokens, user, purpose, address, code, now, pkce=pkce)
        return code, stored

    async def deliver(
        self,
        uow: UnitOfWork,
        mail: Mail,
        now: datetime,
        *,
        user: User | None = None,
        ctx: RequestContext | None = None,
        hook_extra: Mapping[str, str] | None = None,
    ) -> None:
        """Queue one message (or send it, inline) after taking it from the global email budget.

        With the send-email hook the hook gets it instead, inside the unit of work, as GoTrue
        calls it within its transaction: a hook that fails or refuses fails the request, and
        the code is not stored."""
        if self.hook is None:
            self.ensure_deliverable(mail.kind, now)
        if not self.mail.autoconfirm:
            if not await self.limiter.consume(EMAIL_SENT_KEY, self.rate_limit.email_sent, now):
                raise DomainError("over_email_send_rate_limit", "email rate limit exceeded")
        if self.hook is not None:
            await self.hook_email(
                uow, mail, user, ctx or RequestContext(), now, token=mail.otp, token_hash=mail.token_hash, extra=hook_extra
            )
            return
        if self.mail.delivery != "inline":
            await uow.outbox.add(mail, now)
            return
        try:
            await self.mailer.send(mail)
        except MailDeliveryFailed as exc:
            raise send_failure(mail.kind) from exc

    async def send(
        self,
        uow: UnitOfWork,
        user: User,
        purpose: TokenPurpose,
        *,
        kind: str,
        link_type: str,
        address: str,
        redirect_to: str,
        pkce: Pkce | None = None,
        new_flow: bool = True,
        limit_frequency: bool = True,
        new_email: str = "",
        now: datetime | None = None,
        ctx: RequestContext | None = None,
        deliver: bool = True,
    ) -> tuple[str, str]:
        """Check the per-user frequency, record the PKCE flow state, store a fresh code and mail it.

        `new_flow=False` when an earlier copy of the same message already recorded the flow state.
        """
        now = now or self.clock.now()
        if limit_frequency:
            self.check_frequency(user, purpose, now)
        if pkce is not None and new_flow:
            await self.start_flow(uow, user, pkce, link_type, now)
        otp, stored = await self.issue(uow, user, purpose, address, now, pkce=pkce is not None)
        if not deliver:
            return otp, stored
        await self.deliver(
            uow,
            Mail.for_user(
                user,
                locale_key=self.mail.locale_key,
                kind=kind,
                to=address,
                otp=otp,
                token_hash=stored,
                link_type=link_type,
                redirect_to=redirect_to,
                new_email=new_email,
            ),
            now,
            user=user,
            ctx=ctx,
        )
        return otp, stored

    async def hook_email(
        self,
        uow: UnitOfWork | None,
        mail: Mail,
        user: User | None,
        ctx: RequestContext,
        now: datetime,
        *,
        token: str,
        token_hash: str,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """GoTrue's send-email hook payload: `{metadata, user, email_data}`."""
        assert self.hook is not None
        email_data = {
            "token": token,
            "token_hash": token_hash,
            "redirect_to": mail.redirect_to,
            "email_action_type": EMAIL_ACTION_TYPES.get(mail.kind, mail.kind),
            "site_url": self.links.api_external_url,
            "token_new": "",
            "token_hash_new": "",
            "old_email": "",
            "old_phone": "",
            "provider": "",
            "factor_type": "",
            **(extra or {}),
        }
        who = dict(self.user_json(user)) if user is not None else {"email": mail.email, "user_metadata": dict(mail.data)}
        await self.hook.invoke(
            {"metadata": hook_metadata(str(self.tokens.uuid()), "send-email", now, ctx), "user": who, "email_data": email_data},
            uow=uow,
        )

    async def start_flow(self, uow: UnitOfWork, user: User, pkce: Pkce, link_type: str, now: datetime) -> FlowState:
        """Record a PKCE flow state for a link that will be exchanged for a session."""
        flow = FlowState(
            id=self.tokens.uuid(),
            user_id=user.id,
            auth_code=str(self.tokens.uuid()),
            code_challenge_method=pkce.method,
            code_challenge=pkce.challenge,
            provider_type=PROVIDER_TYPE_OF_LINK[link_type],
            authentication_method=AUTH_METHOD_OF_LINK[link_type],
            created_at=now,
            updated_at=now,
        )
        await uow.flow_states.add(flow)
        return flow
