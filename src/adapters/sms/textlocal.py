"""Textlocal's API (`POST /send`, form fields, the API key in the form)."""

from __future__ import annotations

import json

import httpx

from pytrue.adapters.sms.transport import DEFAULT_TIMEOUT, ProviderCall, field, first, require, text
from pytrue.application.ports import SMS_CHANNEL, SmsProviderError

TEXTLOCAL_API = "https://api.textlocal.in"
_TEMPLATE_ERROR = 80


class TextlocalSmsSender:
    """Any answer whose `status` is not `success` is a failure carrying Textlocal's first error.

    Unlike GoTrue, the rejected text is not quoted back when it matches no approved template
    (code 80): it holds the code."""

    channels = frozenset({SMS_CHANNEL})

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        api_key: str,
        sender: str,
        base_url: str = TEXTLOCAL_API,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._api_key = require(api_key, "missing Textlocal API key")
        self._sender = require(sender, "missing Textlocal sender")
        self._url = f"{base_url.rstrip('/')}/send"
        self._call = ProviderCall(client=client, timeout=timeout, name="textlocal", secrets=(api_key,))

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        if channel not in self.channels:
            raise SmsProviderError(f"channel type {json.dumps(channel)} is not supported for TextLocal")
        form = {"sender": self._sender, "apikey": self._api_key, "message": message, "numbers": phone}
        body = self._call.json(await self._call.post(self._url, form))
        message_id = text(field(first(body, "messages"), "id"))
        if field(body, "status") == "success":
            return message_id
        error = first(body, "errors")
        if error is None:
            raise self._call.error(f"status {text(field(body, 'status')) or '(none)'}", message_id=message_id)
        detail, code = text(field(error, "message")), text(field(error, "code"))
        if code == str(_TEMPLATE_ERROR):
            raise self._call.error(f"{detail} (code: {code}) template message rejected", message_id=message_id)
        raise self._call.error(f"{detail} (code: {code}) message {message_id}", message_id=message_id)
