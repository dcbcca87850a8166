"""Choosing the SMS sender, the Twilio Verify checker and the SMS template from the settings."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pytrue.adapters.mail.gotemplate import TemplateError
from pytrue.adapters.outbound_http import OutboundHttp
from pytrue.adapters.sms.dev import DevSmsOutbox, LoggingSmsSender
from pytrue.adapters.sms.messagebird import MessageBirdSmsSender
from pytrue.adapters.sms.template import sms_renderer
from pytrue.adapters.sms.textlocal import TextlocalSmsSender
from pytrue.adapters.sms.twilio import TwilioSmsSender, TwilioVerifySmsSender
from pytrue.adapters.sms.vonage import VonageSmsSender
from pytrue.application.ports import SmsOtpVerifier, SmsSender
from pytrue.entrypoints.settings import Settings, SettingsError

log = logging.getLogger("pytrue.sms")


def sms_sender(settings: Settings, outbound: OutboundHttp, outbox: DevSmsOutbox) -> SmsSender:
    """The provider `GOTRUE_SMS_PROVIDER` names; without one the development sender (log + memory)."""
    sms = settings.sms
    provider = sms.provider
    if not provider:
        if settings.external.phone.enabled and not settings.hook.send_sms.enabled:
            log.warning(
                "GOTRUE_SMS_PROVIDER is not set: texts are not sent, each one is logged with its code "
                "(development only)"
            )
        return LoggingSmsSender(outbox=outbox)
    timeout = settings.api.internal_http_timeout.total_seconds()
    if settings.db.driver == "postgres" and timeout >= settings.db.transaction_timeout:
        log.warning(
            "GOTRUE_INTERNAL_HTTP_TIMEOUT (%ss) is not below PYTRUE_DB_TRANSACTION_TIMEOUT (%ss): texts are sent "
            "inside the request's transaction, so a slow provider will be answered 503",
            timeout, settings.db.transaction_timeout,
        )
    client = outbound.client
    try:
        if provider == "twilio":
            t = sms.twilio
            return TwilioSmsSender(
                client=client, account_sid=t.account_sid, auth_token=t.auth_token,
                message_service_sid=t.message_service_sid, content_sid=t.content_sid,
                base_url=t.api_url, timeout=timeout,
            )
        if provider == "twilio_verify":
            v = sms.twilio_verify
            return TwilioVerifySmsSender(
                client=client, account_sid=v.account_sid, auth_token=v.auth_token,
                message_service_sid=v.message_service_sid, base_url=v.api_url, timeout=timeout,
            )
        if provider == "messagebird":
            m = sms.messagebird
            return MessageBirdSmsSender(
                client=client, access_key=m.access_key, originator=m.originator, base_url=m.api_url, timeout=timeout
            )
        if provider == "textlocal":
            x = sms.textlocal
            return TextlocalSmsSender(client=client, api_key=x.api_key, sender=x.sender, base_url=x.api_url, timeout=timeout)
        if provider == "vonage":
            n = sms.vonage
            return VonageSmsSender(
                client=client, api_key=n.api_key, api_secret=n.api_secret, sender=n.sender,
                base_url=n.api_url, timeout=timeout,
            )
    except ValueError as error:
        raise SettingsError(f"GOTRUE_SMS_{provider.upper()}_*", str(error)) from None
    raise SettingsError("GOTRUE_SMS_PROVIDER", f"unknown SMS provider {provider!r}")


def sms_verifier(settings: Settings, sender: SmsSender) -> SmsOtpVerifier | None:
    """Twilio Verify checks the codes it sent itself; no other provider does."""
    if settings.sms.provider == "twilio_verify" and isinstance(sender, TwilioVerifySmsSender):
        return sender
    return None


def sms_render(settings: Settings) -> Callable[[str], str]:
    try:
        return sms_renderer(settings.sms.template)
    except TemplateError as error:
        raise SettingsError("GOTRUE_SMS_TEMPLATE", str(error)) from None


def mfa_sms_render(settings: Settings) -> Callable[[str], str]:
    try:
        return sms_renderer(settings.mfa.phone.template)
    except TemplateError as error:
        raise SettingsError("GOTRUE_MFA_PHONE_TEMPLATE", str(error)) from None
