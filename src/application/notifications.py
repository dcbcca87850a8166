"""Security notification emails: telling a user that their account changed (docs/adr/0031).

`GOTRUE_MAILER_NOTIFICATIONS_<KIND>_ENABLED` switches each kind on (all are off by default).
The use case where the change happens calls `notify` inside its unit of work, after the
change is written: the message goes into the mail outbox in the same transaction, so it
leaves after the commit (and only if the change was committed), is retried while the mail
server is down, and never holds up or fails the user's request. A notification carries no
code, so it always takes the outbox, even with `PYTRUE_MAILER_DELIVERY=inline` (whose point,
rolling the change back when the send is refused, is what a notification must never do).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from pytrue.application.config import Mailer as MailerSection
from pytrue.application.config import RateLimit
from pytrue.application.context import RequestContext
from pytrue.application.email_codes import EMAIL_SENT_KEY, EmailCodes
from pytrue.application.ports import (
    MAIL_EMAIL_CHANGED,
    MAIL_IDENTITY_LINKED,
    MAIL_IDENTITY_UNLINKED,
    MAIL_MFA_FACTOR_ENROLLED,
    MAIL_MFA_FACTOR_UNENROLLED,
    MAIL_PASSWORD_CHANGED,
    MAIL_PHONE_CHANGED,
    Clock,
    Mail,
    RateLimiter,
    UnitOfWork,
)
from pytrue.domain.user import User

log = logging.getLogger("pytrue.mail")


@dataclass(slots=True, kw_only=True)
class SecurityNotifications:
    mail: MailerSection
    rate_limit: RateLimit
    limiter: RateLimiter
    clock: Clock
    codes: EmailCodes | None = None  # its send-email hook, when GOTRUE_HOOK_SEND_EMAIL_* is on, gets the notices

    def enabled(self, kind: str) -> bool:
        return self.mail.notifications.enabled(kind)

    async def notify(
        self,
        uow: UnitOfWork,
        user: User,
        kind: str,
        *,
        to: str | None = None,
        shown_email: str | None = None,
        now: datetime | None = None,
        **details: str,
    ) -> bool:
        """Queue the notification `kind` about `user` (to `to`, else the user's address).

        `.Email` is the user's address unless `shown_email` says otherwise.
        `details` are the `Mail` fields the kind shows (`old_email`, `phone`, `old_phone`,
        `provider`, `factor_type`). Nothing is queued when the kind is off, there is no address
        or the global email budget (`GOTRUE_RATE_LIMIT_EMAIL_SENT`, as GoTrue) is spent. Never
        raises: a notification that cannot be queued is logged and the change goes on.
        Returns whether it was queued.
        """
        if not self.enabled(kind):
            return False
        address = (user.email or "") if to is None else to
        if not address:
            return False
        now = now or self.clock.now()
        try:
            if not self.mail.autoconfirm and not await self.limiter.consume(
                EMAIL_SENT_KEY, self.rate_limit.email_sent, now
            ):
                log.warning("mailer: %s email not sent: email rate limit exceeded", kind)
                return False
            mail = Mail.for_user(user, locale_key=self.mail.locale_key, kind=kind, to=address, **details)
            if shown_email is not None:
                mail = replace(mail, email=shown_email)
            if self.codes is not None and self.codes.hook is not None:
                # GoTrue hands notices to the send-email hook too. Not in the change's transaction:
                # a failing PostgreSQL function would abort it, and a notice must not undo the change.
                extra = {key: details[key] for key in ("old_email", "old_phone", "provider", "factor_type") if key in details}
                await self.codes.hook_email(None, mail, user, RequestContext(), now, token="", token_hash="", extra=extra)
                return True
            await uow.outbox.add(mail, now)
        except Exception as error:  # noqa: BLE001 - a notice must never fail the change it reports
            log.warning("mailer: unable to queue the %s email (%s)", kind, type(error).__name__)
            return False
        return True

    # --- one method per change, with GoTrue's conditions ----------------------------------------
    async def password_changed(self, uow: UnitOfWork, user: User) -> None:
        await self.notify(uow, user, MAIL_PASSWORD_CHANGED)

    async def email_changed(self, uow: UnitOfWork, user: User, old_email: str) -> None:
        """Sent to the old address, when there was one and it differs from the new one."""
        if old_email and user.email and old_email != user.email:
            await self.notify(uow, user, MAIL_EMAIL_CHANGED, to=old_email, old_email=old_email)

    async def phone_changed(self, uow: UnitOfWork, user: User, old_phone: str, *, identity_created: bool) -> None:
        """A changed number; a first number also links the `phone` identity, which is reported as such."""
        if old_phone and user.phone and old_phone != user.phone:
            await self.notify(uow, user, MAIL_PHONE_CHANGED, phone=user.phone or "", old_phone=old_phone)
        if identity_created:
            await self.identity_linked(uow, user, "phone")

    async def identity_linked(self, uow: UnitOfWork, user: User, provider: str) -> None:
        await self.notify(uow, user, MAIL_IDENTITY_LINKED, provider=provider)

    async def identity_unlinked(self, uow: UnitOfWork, user: User, provider: str, recipient: str) -> None:
        """`recipient` is the address before unlinking (unlinking may promote another identity's email)."""
        await self.notify(uow, user, MAIL_IDENTITY_UNLINKED, to=recipient, shown_email=recipient, provider=provider)

    async def factor_enrolled(self, uow: UnitOfWork, user: User, factor_type: str) -> None:
        await self.notify(uow, user, MAIL_MFA_FACTOR_ENROLLED, factor_type=factor_type)

    async def factor_unenrolled(self, uow: UnitOfWork, user: User, factor_type: str) -> None:
        await self.notify(uow, user, MAIL_MFA_FACTOR_UNENROLLED, factor_type=factor_type)
