"""Twilio Programmable Messaging and Twilio Verify, over their REST APIs (form posts, basic auth)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx

from pytrue.adapters.sms.transport import DEFAULT_TIMEOUT, ProviderCall, field, require, text
from pytrue.application.ports import SMS_CHANNEL, WHATSAPP_CHANNEL, SmsProviderError

TWILIO_API = "https://api.twilio.com"
TWILIO_VERIFY_API = "https://verify.twilio.com"
_PHONE_NUMBER = re.compile(r"^[1-9][0-9]{1,14}$")
_CHANNELS = frozenset({SMS_CHANNEL, WHATSAPP_CHANNEL})
_FAILED = ("failed", "undelivered")
# Verify answers these when the code will not verify: no pending verification (20404, expired,
# already approved or too many attempts), a malformed code (60200), too many checks (60202)
_REFUSALS = (400, 404, 429)


def _credentials(account_sid: str, auth_token: str, service_sid: str) -> tuple[str, str, str]:
    require(account_sid, "missing Twilio account SID")
    require(auth_token, "missing Twilio auth token")
    require(service_sid, "missing Twilio message service SID or Twilio phone number")
    return account_sid, auth_token, service_sid


def _refusal(call: ProviderCall, response: httpx.Response) -> SmsProviderError:
    """Twilio's error body, `{"code", "message", "more_info", "status"}`, worded as GoTrue does."""
    body = call.json(response)
    message = text(field(body, "message"))
    if not message:
        return call.error(f"unexpected response (HTTP {response.status_code})")
    return call.fail(f"{message} More information: {text(field(body, 'more_info'))}")


def _check_channel(channel: str) -> None:
    if channel not in _CHANNELS:
        raise SmsProviderError(f"channel type {json.dumps(channel)} is not supported for Twilio")


class TwilioSmsSender:
    """Programmable Messaging: the text goes as `Body`; on WhatsApp both ends get the `whatsapp:`
    prefix (the sender only when it is a phone number, not a Messaging Service SID), and with a
    content SID the approved template is sent with the code as its variable `1`. A message
    Twilio accepts but marks `failed` or `undelivered` is a failure."""

    channels = _CHANNELS

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        account_sid: str,
        auth_token: str,
        message_service_sid: str,
        content_sid: str = "",
        base_url: str = TWILIO_API,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._account_sid, self._auth_token, self._sender = _credentials(account_sid, auth_token, message_service_sid)
        self._content_sid = content_sid
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"
        self._call = ProviderCall(client=client, timeout=timeout, name="twilio", secrets=(auth_token,))

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        _check_channel(channel)
        response = await self._call.post(
            self._url, self._form(phone, message, channel, otp), auth=(self._account_sid, self._auth_token)
        )
        if response.status_code not in (200, 201):
            raise _refusal(self._call, response)
        body = self._call.json(response)
        sid = text(field(body, "sid"))
        if field(body, "status") in _FAILED:
            detail = f"{text(field(body, 'error_message'))} {text(field(body, 'error_code'))} for message {sid}"
            raise self._call.error(detail, message_id=sid)
        return sid

    def _form(self, phone: str, message: str, channel: str, otp: str) -> dict[str, str]:
        receiver, sender = "+" + phone, self._sender
        if channel != WHATSAPP_CHANNEL:
            return {"To": receiver, "Channel": channel, "From": sender, "Body": message}
        if _PHONE_NUMBER.match(sender.removeprefix("+").replace(" ", "")):
            sender = f"{channel}:{sender}"
        form = {"To": f"{channel}:{receiver}", "Channel": channel, "From": sender}
        if self._content_sid:
            form["ContentSid"] = self._content_sid
            form["ContentVariables"] = json.dumps({"1": otp})
        else:
            form["Body"] = message
        return form


class TwilioVerifySmsSender:
    """Twilio Verify: Twilio generates, sends and checks the code itself, so `send` ignores the
    text and code it is given and `verify` asks Twilio whether a code is approved."""

    channels = _CHANNELS

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        account_sid: str,
        auth_token: str,
        message_service_sid: str,
        base_url: str = TWILIO_VERIFY_API,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._account_sid, self._auth_token, service = _credentials(account_sid, auth_token, message_service_sid)
        self._service_url = f"{base_url.rstrip('/')}/v2/Services/{quote(service, safe='')}"
        self._call = ProviderCall(client=client, timeout=timeout, name="twilio verify", secrets=(auth_token,))

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        _check_channel(channel)
        response = await self._call.post(
            f"{self._service_url}/Verifications",
            {"To": "+" + phone, "Channel": channel},
            auth=(self._account_sid, self._auth_token),
        )
        if response.status_code not in (200, 201):
            raise _refusal(self._call, response)
        return text(field(self._call.json(response), "sid"))

    async def verify(self, *, phone: str, code: str) -> bool:
        response = await self._call.post(
            f"{self._service_url}/VerificationCheck",
            {"To": "+" + phone, "Code": code},
            auth=(self._account_sid, self._auth_token),
        )
        if response.status_code in _REFUSALS:
            return False
        if response.status_code not in (200, 201):
            raise _refusal(self._call, response)
        body = self._call.json(response)
        return field(body, "status") == "approved" and field(body, "valid") is True
