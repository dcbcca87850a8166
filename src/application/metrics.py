"""What the use cases count, as a port: the adapters record it with Prometheus or OpenTelemetry.

Metrics are off by default; the use cases then hold `NO_METRICS`, whose methods do nothing
(docs/adr/0030). Labels are small fixed vocabularies (methods, provider names): never an
address, an id or anything a client typed.
"""

from __future__ import annotations

from typing import Protocol

from pytrue.application.ports import Mail, Mailer, SmsSender


class Metrics(Protocol):
    def signed_in(self, method: str, provider: str = "") -> None:
        """A session was opened by a sign-in: password, otp, magiclink, pkce, oauth, id_token, anonymous."""

    def signed_up(self, method: str, provider: str = "") -> None:
        """A user was created by a sign-up: email, phone, anonymous, oauth, id_token."""

    def token_refreshed(self) -> None:
        """A refresh token was exchanged for a new access token."""

    def email_sent(self, ok: bool) -> None:
        """One delivery attempt of an email, and whether it went out."""

    def sms_sent(self, ok: bool) -> None:
        """One attempt to send an SMS, and whether the provider (or hook) took it."""


class NoMetrics:
    """The default recorder: counts nothing, costs a method call."""

    __slots__ = ()

    def signed_in(self, method: str, provider: str = "") -> None:
        return None

    def signed_up(self, method: str, provider: str = "") -> None:
        return None

    def token_refreshed(self) -> None:
        return None

    def email_sent(self, ok: bool) -> None:
        return None

    def sms_sent(self, ok: bool) -> None:
        return None


NO_METRICS: Metrics = NoMetrics()


class CountedMailer:
    """A `Mailer` that counts each delivery attempt and its outcome (wired only when metrics are on)."""

    __slots__ = ("_inner", "_metrics")

    def __init__(self, inner: Mailer, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def send(self, mail: Mail) -> None:
        try:
            await self._inner.send(mail)
        except BaseException:
            self._metrics.email_sent(False)
            raise
        self._metrics.email_sent(True)


class CountedSmsSender:
    """An `SmsSender` that counts each text handed to the provider and whether it took it."""

    __slots__ = ("_inner", "_metrics", "channels")

    def __init__(self, inner: SmsSender, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self.channels = inner.channels

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        try:
            sent = await self._inner.send(phone=phone, message=message, channel=channel, otp=otp)
        except BaseException:
            self._metrics.sms_sent(False)
            raise
        self._metrics.sms_sent(True)
        return sent
