"""GoTrue's per-IP request limiters (api.md §0.5), kept in the shared `RateLimiter`.

They only run when the deployment names where the client IP comes from
(`GOTRUE_RATE_LIMIT_HEADER`, or `Sb-Forwarded-For` with `GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED`);
without one every request would share one address, so the limiters are skipped, as in GoTrue.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar import Request

from pytrue.application.ports import Clock, RateLimiter
from pytrue.domain.errors import DomainError
from pytrue.domain.rate import Rate

FIVE_MINUTES = timedelta(minutes=5)
BURST = 30

# bucket -> the settings field with its per-window rate
TOKEN = "token"
VERIFY = "verify"
SIGNUP = "signup"
ANONYMOUS = "anonymous"
OTP = "otp"
MAGICLINK = "magiclink"
RECOVER = "recover"
RESEND = "resend"
USER = "user"
FACTOR_CHALLENGE = "factor_challenge"
FACTOR_VERIFY = "factor_verify"


@dataclass(slots=True, kw_only=True)
class IpLimits:
    limiter: RateLimiter
    clock: Clock
    rates: dict[str, Rate]
    header: str = ""
    sb_forwarded_for: bool = False

    @classmethod
    def from_settings(cls, settings: Any, limiter: RateLimiter, clock: Clock) -> IpLimits:
        otp = Rate.per_ip(settings.rate_limit.otp, FIVE_MINUTES, BURST)
        anonymous = settings.rate_limit.anonymous_users
        rates = {
            TOKEN: Rate.per_ip(settings.rate_limit.token_refresh, FIVE_MINUTES, BURST),
            VERIFY: Rate.per_ip(settings.rate_limit.verify, FIVE_MINUTES, BURST),
            ANONYMOUS: Rate.per_ip(anonymous, timedelta(hours=1), anonymous),
            **{bucket: otp for bucket in (SIGNUP, OTP, MAGICLINK, RECOVER, RESEND, USER)},
            # GoTrue: MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY per minute, burst 30, each route its own limiter
            **{
                bucket: Rate.per_ip(settings.mfa.rate_limit_challenge_and_verify, timedelta(minutes=1), BURST)
                for bucket in (FACTOR_CHALLENGE, FACTOR_VERIFY)
            },
        }
        return cls(
            limiter=limiter,
            clock=clock,
            rates=rates,
            header=settings.rate_limit.header,
            sb_forwarded_for=settings.security.sb_forwarded_for_enabled,
        )

    def client_key(self, request: Request[Any, Any, Any]) -> str | None:
        """The first value of the trusted header, or None when there is none to trust."""
        raw = ""
        if self.sb_forwarded_for:
            raw = request.headers.get("sb-forwarded-for", "")
        if not raw and self.header:
            raw = request.headers.get(self.header, "")
        key = raw.split(",")[0].strip()
        return key or None

    async def check(self, request: Request[Any, Any, Any], bucket: str) -> None:
        """Take one request from this client's `bucket`; 429 `over_request_rate_limit` when spent."""
        if not self.header and not self.sb_forwarded_for:
            return
        key = self.client_key(request)
        if key is None:
            return
        # hashed: the header is the client's to fill, the key must stay short whatever it sends
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        if not await self.limiter.consume(f"ip:{bucket}:{digest}", self.rates[bucket], self.clock.now()):
            raise DomainError("over_request_rate_limit", "Request rate limit reached")


async def limit(request: Request[Any, Any, Any], bucket: str) -> None:
    limits: IpLimits = request.app.state.ip_limits
    await limits.check(request, bucket)
