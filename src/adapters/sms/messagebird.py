"""MessageBird's REST API (`POST /messages`, form fields, `AccessKey` authorization)."""

from __future__ import annotations

import json

import httpx

from pytrue.adapters.sms.transport import DEFAULT_TIMEOUT, ProviderCall, field, first, require, text
from pytrue.application.ports import SMS_CHANNEL, SmsProviderError

MESSAGEBIRD_API = "https://rest.messagebird.com"
_ERROR_STATUSES = (400, 401, 403, 422)


class MessageBirdSmsSender:
    """Sends unicode SMS; a refusal (400, 401, 403, 422) carries MessageBird's first error
    description, and an answer that reached no recipient is a failure."""

    channels = frozenset({SMS_CHANNEL})

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        access_key: str,
        originator: str,
        base_url: str = MESSAGEBIRD_API,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._access_key = require(access_key, "missing Messagebird access key")
        self._originator = require(originator, "missing Messagebird originator")
        self._url = f"{base_url.rstrip('/')}/messages"
        self._call = ProviderCall(client=client, timeout=timeout, name="messagebird", secrets=(access_key,))

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        if channel not in self.channels:
            raise SmsProviderError(f"channel type {json.dumps(channel)} is not supported for Messagebird")
        form = {
            "originator": self._originator,
            "body": message,
            "recipients": phone,
            "type": "sms",
            "datacoding": "unicode",
        }
        response = await self._call.post(self._url, form, headers={"Authorization": f"AccessKey {self._access_key}"})
        body = self._call.json(response)
        if response.status_code in _ERROR_STATUSES:
            description = text(field(first(body, "errors"), "description"))
            raise self._call.fail(description) if description else self._call.error(f"HTTP {response.status_code}")
        sent = field(field(body, "recipients"), "totalSentCount")
        if not isinstance(sent, int) or sent == 0:
            raise self._call.error("total sent count is 0")
        return text(field(body, "id"))
