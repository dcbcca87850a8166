"""GoTrue's CAPTCHA gate (api.md §0.6): the routes that create users, sign in or send codes need a
`gotrue_meta_security.captcha_token` the provider accepts, unless the caller is an admin."""

from __future__ import annotations

from dataclasses import dataclass

from pytrue.application.config import Captcha
from pytrue.application.ports import CaptchaUnavailable, CaptchaVerifier
from pytrue.domain.errors import DomainError


@dataclass(slots=True, kw_only=True)
class CaptchaGate:
    captcha: Captcha
    verifier: CaptchaVerifier | None

    @property
    def enabled(self) -> bool:
        return self.captcha.enabled and self.verifier is not None

    async def check(self, token: str, client_ip: str) -> None:
        if not self.enabled:
            return
        assert self.verifier is not None
        token = token.strip()
        if not token:
            raise DomainError("captcha_failed", "captcha protection: request disallowed (no captcha_token found)")
        try:
            verdict = await self.verifier.verify(token, client_ip)
        except CaptchaUnavailable:
            raise DomainError("unexpected_failure", "captcha verification process failed") from None
        if not verdict.success:
            raise DomainError("captcha_failed", f"captcha protection: request disallowed ({', '.join(verdict.error_codes)})")
