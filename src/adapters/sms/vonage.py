"""Vonage's (Nexmo's) SMS API (`POST /sms/json`, form fields, key and secret in the form)."""

from __future__ import annotations

import json

import httpx

from pytrue.adapters.sms.transport import DEFAULT_TIMEOUT, ProviderCall, field, first, require, text
from pytrue.application.ports import SMS_CHANNEL, SmsProviderError

VONAGE_API = "https://rest.nexmo.com"


class VonageSmsSender:
    """A non-ASCII text goes as `type=unicode`; the first message's `status` must be "0"."""

    channels = frozenset({SMS_CHANNEL})

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        api_key: str,
        api_secret: str,
        sender: str,
        base_url: str = VONAGE_API,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._api_key = require(api_key, "missing Vonage API key")
        self._api_secret = require(api_secret, "missing Vonage API secret")
        self._sender = require(sender, "missing Vonage 'from' parameter")
        self._url = f"{base_url.rstrip('/')}/sms/json"
        self._call = ProviderCall(client=client, timeout=timeout, name="vonage", secrets=(api_secret,))

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        if channel not in self.channels:
            raise SmsProviderError(f"channel type {json.dumps(channel)} is not supported for Vonage")
        form = {
            "from": self._sender,
            "to": phone,
            "text": message,
            "api_key": self._api_key,
            "api_secret": self._api_secret,
        }
        if not message.isascii():
            form["type"] = "unicode"
        body = self._call.json(await self._call.post(self._url, form))
        sent = first(body, "messages")
        if sent is None:
            raise self._call.error("Internal Error")
        message_id, status = text(field(sent, "message-id")), text(field(sent, "status"))
        if status != "0":
            detail = f"{text(field(sent, 'error-text'))} (status: {status}) for message {message_id}"
            raise self._call.error(detail, message_id=message_id)
        return message_id
