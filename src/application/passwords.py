"""Password strength as GoTrue checks it (`checkPasswordStrength`): the policy's rules (domain) and,
with `GOTRUE_PASSWORD_HIBP_ENABLED`, whether the password is in the Pwned Passwords corpus."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pytrue.application.ports import PwnedPasswords, PwnedPasswordsUnavailable
from pytrue.domain.errors import DomainError, WeakPassword
from pytrue.domain.values import Password, PasswordCheck, PasswordPolicy

log = logging.getLogger("pytrue.passwords")

PWNED = "pwned"
PWNED_MESSAGE = "Password is known to be weak and easy to guess, please choose a different one."


@dataclass(slots=True, kw_only=True)
class LeakedPasswords:
    """`fail_closed`: a Pwned Passwords outage refuses the password (500) instead of letting it through."""

    source: PwnedPasswords
    fail_closed: bool = False

    async def pwned(self, password: str) -> bool:
        try:
            return await self.source.is_pwned(password)
        except PwnedPasswordsUnavailable:
            if self.fail_closed:
                raise DomainError(
                    "unexpected_failure", "Unable to perform password strength check with HaveIBeenPwned.org."
                ) from None
            log.warning("Unable to perform password strength check with HaveIBeenPwned.org, pwned passwords are being allowed")
            return False


async def check_password(policy: PasswordPolicy, leaks: LeakedPasswords | None, password: Password) -> PasswordCheck:
    """The policy's verdict, with `pwned` added when the corpus has the password."""
    policy.ensure_not_too_long(password)
    result = policy.check(password)
    if leaks is not None and await leaks.pwned(password.secret):
        result = PasswordCheck((*result.reasons, PWNED), (*result.messages, PWNED_MESSAGE))
    return result


async def enforce_password(policy: PasswordPolicy, leaks: LeakedPasswords | None, password: Password) -> None:
    """`validation_failed` past 72 bytes, `weak_password` (with every reason) when not strong enough."""
    result = await check_password(policy, leaks, password)
    if not result.ok:
        raise WeakPassword(result.message, result.reasons)
