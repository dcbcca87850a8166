"""Local stand-ins for the SMS providers' REST APIs: each checks a request as the provider does
(path, authentication, fields, WhatsApp addressing) and answers with the provider's own bodies.

`answer` replaces the normal answer (after the request is recorded) for the failure tests.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field

from support.fake_http import FakeHttpServer, Reply, Seen

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


def basic_auth(seen: Seen) -> tuple[str, str] | None:
    header = seen.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def twilio_error(status: int, code: int, message: str) -> Reply:
    return Reply(
        status,
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
    )


@dataclass
class Provider:
    """A provider API on a local socket; `server.requests` are what it received."""

    answer: Reply | None = None
    server: FakeHttpServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = FakeHttpServer(self._dispatch)

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> Provider:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def _dispatch(self, seen: Seen) -> Reply:
        return self.answer if self.answer is not None else self.handle(seen)

    def handle(self, seen: Seen) -> Reply:
        raise NotImplementedError


@dataclass
class TwilioApi(Provider):
    """`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, basic auth SID:token."""

    account_sid: str = "AC00000000000000000000000000000001"
    auth_token: str = "twilio-secret-token"

    def handle(self, seen: Seen) -> Reply:
        if seen.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return twilio_error(404, 20404, f"The requested resource {seen.path} was not found")
        if basic_auth(seen) != (self.account_sid, self.auth_token):
            return twilio_error(401, 20003, "Authenticate")
        form = seen.form
        whatsapp = form.get("Channel") == "whatsapp"
        to = form.get("To", "")
        if whatsapp != to.startswith("whatsapp:") or not E164.match(to.removeprefix("whatsapp:")):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        sender = form.get("From", "")
        if whatsapp and not (sender.startswith("whatsapp:+") or sender.startswith("MG")):
            return twilio_error(400, 63007, "Twilio could not find a Channel with the specified From address")
        if not form.get("Body") and not form.get("ContentSid"):
            return twilio_error(400, 21602, "Message body is required.")
        sid = "SM" + secrets.token_hex(16)
        return Reply(
            201,
            {
                "account_sid": self.account_sid,
                "body": form.get("Body", ""),
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": sender,
                "sid": sid,
                "status": "queued",
                "to": to,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
        )


@dataclass
class TwilioVerifyApi(Provider):
    """`POST /v2/Services/{ServiceSid}/Verifications` and `/VerificationCheck`; Twilio makes the code."""

    account_sid: str = "AC00000000000000000000000000000002"
    auth_token: str = "verify-secret-token"
    service_sid: str = "VA00000000000000000000000000000003"
    pending: dict[str, str] = field(default_factory=dict)

    def handle(self, seen: Seen) -> Reply:
        base = f"/v2/Services/{self.service_sid}"
        if basic_auth(seen) != (self.account_sid, self.auth_token):
            return twilio_error(401, 20003, "Authenticate")
        form = seen.form
        to = form.get("To", "")
        if not E164.match(to):
            return twilio_error(400, 60200, "Invalid parameter `To`")
        if seen.path == f"{base}/Verifications":
            if form.get("Channel") not in ("sms", "whatsapp", "call", "email"):
                return twilio_error(400, 60200, "Invalid parameter `Channel`")
            self.pending[to] = f"{secrets.randbelow(10**6):06d}"
            return Reply(201, self._verification(to, form["Channel"], "pending"))
        if seen.path == f"{base}/VerificationCheck":
            if to not in self.pending:
                return twilio_error(404, 20404, f"The requested resource {seen.path} was not found")
            if form.get("Code") != self.pending[to]:
                return Reply(200, self._verification(to, "sms", "pending"))
            del self.pending[to]
            return Reply(200, self._verification(to, "sms", "approved"))
        return twilio_error(404, 20404, f"The requested resource {seen.path} was not found")

    def _verification(self, to: str, channel: str, status: str) -> dict[str, object]:
        return {
            "sid": "VE" + secrets.token_hex(16),
            "service_sid": self.service_sid,
            "account_sid": self.account_sid,
            "to": to,
            "channel": channel,
            "status": status,
            "valid": status == "approved",
        }


@dataclass
class MessageBirdApi(Provider):
    """`POST /messages` with `Authorization: AccessKey …`; 201 with the message and its recipients."""

    access_key: str = "messagebird-live-key"

    def handle(self, seen: Seen) -> Reply:
        if seen.path != "/messages":
            return Reply(404, {"errors": [{"code": 20, "description": "message not found", "parameter": None}]})
        if seen.headers.get("authorization") != f"AccessKey {self.access_key}":
            description = "Request not allowed (incorrect access_key)"
            return Reply(401, {"errors": [{"code": 2, "description": description, "parameter": "access_key"}]})
        form = seen.form
        if not form.get("recipients", "").isdigit():
            return Reply(
                422, {"errors": [{"code": 9, "description": "no (correct) recipients found", "parameter": "recipient"}]}
            )
        if not form.get("originator") or not form.get("body"):
            return Reply(422, {"errors": [{"code": 9, "description": "originator is required", "parameter": "originator"}]})
        message_id = secrets.token_hex(16)
        return Reply(
            201,
            {
                "id": message_id,
                "href": f"https://rest.messagebird.com/messages/{message_id}",
                "direction": "mt",
                "type": form.get("type"),
                "originator": form["originator"],
                "body": form["body"],
                "datacoding": form.get("datacoding"),
                "recipients": {
                    "totalCount": 1,
                    "totalSentCount": 1,
                    "totalDeliveredCount": 0,
                    "totalDeliveryFailedCount": 0,
                    "items": [{"recipient": int(form["recipients"]), "status": "sent"}],
                },
            },
        )


@dataclass
class TextlocalApi(Provider):
    """`POST /send` with the API key in the form; always HTTP 200, `status` says how it went."""

    api_key: str = "textlocal-api-key"

    def handle(self, seen: Seen) -> Reply:
        form = seen.form
        if form.get("apikey") != self.api_key:
            return Reply(200, {"errors": [{"code": 3, "message": "Invalid login details"}], "status": "failure"})
        if not form.get("numbers", "").isdigit():
            return Reply(200, {"errors": [{"code": 4, "message": "No recipients specified"}], "status": "failure"})
        return Reply(
            200,
            {
                "balance": 1162,
                "batch_id": 123456789,
                "cost": 1,
                "num_messages": 1,
                "message": {"num_parts": 1, "sender": form.get("sender"), "content": form.get("message")},
                "messages": [{"id": "1151346216", "recipient": int(form["numbers"])}],
                "status": "success",
            },
        )


@dataclass
class VonageApi(Provider):
    """`POST /sms/json` with key and secret in the form; always HTTP 200, messages[0].status "0" is sent."""

    api_key: str = "vonage-key"
    api_secret: str = "vonage-secret-value"

    def handle(self, seen: Seen) -> Reply:
        form = seen.form
        if (form.get("api_key"), form.get("api_secret")) != (self.api_key, self.api_secret):
            return Reply(200, {"message-count": "1", "messages": [{"status": "4", "error-text": "Bad Credentials"}]})
        if not form.get("to", "").isdigit():
            return Reply(200, {"message-count": "1", "messages": [{"status": "3", "error-text": "Invalid to number"}]})
        if not form.get("text", "").isascii() and form.get("type") != "unicode":
            return Reply(200, {"message-count": "1", "messages": [{"status": "2", "error-text": "Missing type=unicode"}]})
        message = {"to": form["to"], "message-id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "status": "0"}
        return Reply(200, {"message-count": "1", "messages": [{**message, "remaining-balance": "3.14159265"}]})
