"""CAPTCHA tokens checked with the provider's siteverify API (hCaptcha, Cloudflare Turnstile)."""

from __future__ import annotations

import logging

import httpx

from pytrue.application.ports import CaptchaUnavailable, CaptchaVerdict

log = logging.getLogger("pytrue.captcha")

SITEVERIFY = {
    "hcaptcha": "https://hcaptcha.com/siteverify",
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
}


class SiteverifyCaptcha:
    """POSTs `secret`, `response` and `remoteip` as a form, as GoTrue's HTTPCaptchaVerifier does."""

    def __init__(self, *, client: httpx.AsyncClient, provider: str, secret: str, timeout: float, url: str = "") -> None:
        self._client = client
        self._url = url or SITEVERIFY[provider]
        self._secret = secret.strip()
        self._timeout = timeout

    async def verify(self, token: str, client_ip: str) -> CaptchaVerdict:
        try:
            answer = await self._client.post(
                self._url, data={"secret": self._secret, "response": token, "remoteip": client_ip}, timeout=self._timeout
            )
            body = answer.json()
        except httpx.HTTPError as error:
            log.warning("captcha provider unreachable: %s", type(error).__name__)
            raise CaptchaUnavailable("failed to verify captcha response") from None
        except ValueError:
            log.warning("captcha provider answered HTTP %s without JSON", answer.status_code)
            raise CaptchaUnavailable("failed to decode captcha response: not JSON") from None
        if not isinstance(body, dict):
            raise CaptchaUnavailable("failed to decode captcha response: not an object")
        codes = body.get("error-codes")
        return CaptchaVerdict(
            success=body.get("success") is True,
            error_codes=tuple(str(c) for c in codes) if isinstance(codes, list) else (),
        )
