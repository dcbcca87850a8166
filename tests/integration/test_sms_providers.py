"""The SMS provider adapters against local servers that speak each provider's REST API."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from support.fake_http import Reply
from support.smtp import free_port
from support.sms_providers import MessageBirdApi, Provider, TextlocalApi, TwilioApi, TwilioVerifyApi, VonageApi

from pytrue.adapters.sms.messagebird import MessageBirdSmsSender
from pytrue.adapters.sms.textlocal import TextlocalSmsSender
from pytrue.adapters.sms.twilio import TwilioSmsSender, TwilioVerifySmsSender
from pytrue.adapters.sms.vonage import VonageSmsSender
from pytrue.application.ports import SmsProviderError

PHONE = "15551234567"
TEXT = "Your code is 123456"
OTP = "123456"
HTML = Reply(502, "<html><body>Bad Gateway</body></html>", {"Content-Type": "text/html"})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as shared:
        yield shared


def twilio(api: TwilioApi, client: httpx.AsyncClient, url: str, **kw: Any) -> TwilioSmsSender:
    kw.setdefault("message_service_sid", "+15550001111")
    return TwilioSmsSender(client=client, account_sid=api.account_sid, auth_token=api.auth_token, base_url=url, **kw)


def verify(api: TwilioVerifyApi, client: httpx.AsyncClient, url: str, **kw: Any) -> TwilioVerifySmsSender:
    return TwilioVerifySmsSender(
        client=client,
        account_sid=api.account_sid,
        auth_token=kw.pop("auth_token", api.auth_token),
        message_service_sid=api.service_sid,
        base_url=url,
        **kw,
    )


def messagebird(api: MessageBirdApi, client: httpx.AsyncClient, url: str, **kw: Any) -> MessageBirdSmsSender:
    return MessageBirdSmsSender(client=client, access_key=api.access_key, originator="pytrue", base_url=url, **kw)


def textlocal(api: TextlocalApi, client: httpx.AsyncClient, url: str, **kw: Any) -> TextlocalSmsSender:
    return TextlocalSmsSender(client=client, api_key=api.api_key, sender="PYTRUE", base_url=url, **kw)


def vonage(api: VonageApi, client: httpx.AsyncClient, url: str, **kw: Any) -> VonageSmsSender:
    return VonageSmsSender(
        client=client, api_key=api.api_key, api_secret=api.api_secret, sender="pytrue", base_url=url, **kw
    )


PROVIDERS: dict[str, tuple[Callable[[], Provider], Callable[..., Any], str]] = {
    "twilio": (TwilioApi, twilio, "twilio-secret-token"),
    "twilio_verify": (TwilioVerifyApi, verify, "verify-secret-token"),
    "messagebird": (MessageBirdApi, messagebird, "messagebird-live-key"),
    "textlocal": (TextlocalApi, textlocal, "textlocal-api-key"),
    "vonage": (VonageApi, vonage, "vonage-secret-value"),
}


async def failure(sender: Any, channel: str = "sms") -> SmsProviderError:
    with pytest.raises(SmsProviderError) as caught:
        await sender.send(phone=PHONE, message=TEXT, channel=channel, otp=OTP)
    return caught.value


# --- every provider: success and the transport failures ---------------------------------------
@pytest.mark.parametrize("name", PROVIDERS)
async def test_every_provider_sends_and_returns_its_message_id(name: str, client: httpx.AsyncClient) -> None:
    api_class, make, _ = PROVIDERS[name]
    with api_class() as api:
        message_id = await make(api, client, api.url).send(phone=PHONE, message=TEXT, channel="sms", otp=OTP)
    assert message_id
    assert len(api.server.requests) == 1


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_non_json_answer_is_a_provider_error(name: str, client: httpx.AsyncClient) -> None:
    api_class, make, secret = PROVIDERS[name]
    with api_class(answer=HTML) as api:
        error = await failure(make(api, client, api.url))
    assert "not JSON" in str(error) and "502" in str(error)
    assert secret not in str(error)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_an_answer_later_than_the_timeout_is_a_provider_error(name: str, client: httpx.AsyncClient) -> None:
    api_class, make, _ = PROVIDERS[name]
    with api_class(answer=Reply(200, {}, delay=1.5)) as api:
        started = time.monotonic()
        error = await failure(make(api, client, api.url, timeout=0.3))
    assert time.monotonic() - started < 1.2
    assert "no answer within 0.3 seconds" in str(error)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_refused_connection_is_a_provider_error(name: str, client: httpx.AsyncClient) -> None:
    api_class, make, secret = PROVIDERS[name]
    error = await failure(make(api_class(), client, f"http://127.0.0.1:{free_port()}"))
    assert "could not reach the provider (ConnectError)" in str(error)
    assert secret not in str(error)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_missing_credentials_are_refused_at_construction(name: str, client: httpx.AsyncClient) -> None:
    api_class, make, _ = PROVIDERS[name]
    api = api_class()
    for attribute in ("auth_token", "access_key", "api_key", "api_secret"):
        if hasattr(api, attribute):
            setattr(api, attribute, "")
    with pytest.raises(ValueError, match="missing"):
        make(api, client, api.url)


@pytest.mark.parametrize("name", ["messagebird", "textlocal", "vonage"])
async def test_whatsapp_is_only_for_twilio(name: str, client: httpx.AsyncClient) -> None:
    api_class, make, _ = PROVIDERS[name]
    with api_class() as api:
        sender = make(api, client, api.url)
        error = await failure(sender, channel="whatsapp")
    assert str(error) == f'channel type "whatsapp" is not supported for {str(error).rsplit(" ", 1)[1]}'
    assert sender.channels == {"sms"}
    assert api.server.requests == []


# --- Twilio -----------------------------------------------------------------------------------
async def test_twilio_posts_the_text_with_basic_auth(client: httpx.AsyncClient) -> None:
    with TwilioApi() as api:
        sid = await twilio(api, client, api.url).send(phone=PHONE, message=TEXT, channel="sms", otp=OTP)
    (seen,) = api.server.requests
    assert sid.startswith("SM")
    assert seen.path == f"/2010-04-01/Accounts/{api.account_sid}/Messages.json"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.form == {"To": "+" + PHONE, "Channel": "sms", "From": "+15550001111", "Body": TEXT}


async def test_twilio_whatsapp_prefixes_both_numbers(client: httpx.AsyncClient) -> None:
    with TwilioApi() as api:
        await twilio(api, client, api.url).send(phone=PHONE, message=TEXT, channel="whatsapp", otp=OTP)
    assert api.server.requests[0].form == {
        "To": "whatsapp:+" + PHONE,
        "Channel": "whatsapp",
        "From": "whatsapp:+15550001111",
        "Body": TEXT,
    }


async def test_twilio_whatsapp_leaves_a_messaging_service_sid_alone(client: httpx.AsyncClient) -> None:
    with TwilioApi() as api:
        sender = twilio(api, client, api.url, message_service_sid="MG0123456789abcdef0123456789abcdef")
        await sender.send(phone=PHONE, message=TEXT, channel="whatsapp", otp=OTP)
    assert api.server.requests[0].form["From"] == "MG0123456789abcdef0123456789abcdef"


async def test_twilio_whatsapp_with_a_content_sid_sends_the_template_with_the_code(client: httpx.AsyncClient) -> None:
    with TwilioApi() as api:
        sender = twilio(api, client, api.url, content_sid="HX0123456789abcdef0123456789abcdef")
        await sender.send(phone=PHONE, message=TEXT, channel="whatsapp", otp=OTP)
        await sender.send(phone=PHONE, message=TEXT, channel="sms", otp=OTP)
    whatsapp, sms = (seen.form for seen in api.server.requests)
    assert "Body" not in whatsapp
    assert whatsapp["ContentSid"] == "HX0123456789abcdef0123456789abcdef"
    assert json.loads(whatsapp["ContentVariables"]) == {"1": OTP}
    assert whatsapp["ContentVariables"] == '{"1": "123456"}'
    assert sms["Body"] == TEXT and "ContentSid" not in sms


async def test_twilio_refusal_carries_its_message_and_more_info(client: httpx.AsyncClient) -> None:
    with TwilioApi() as api:
        api.auth_token = "the-real-token"
        sender = TwilioSmsSender(
            client=client,
            account_sid=api.account_sid,
            auth_token="a-wrong-token",
            message_service_sid="+15550001111",
            base_url=api.url,
        )
        error = await failure(sender)
    assert str(error) == "Authenticate More information: https://www.twilio.com/docs/errors/20003"


async def test_twilio_invalid_number_is_its_400(client: httpx.AsyncClient) -> None:
    with TwilioApi() as api:
        with pytest.raises(SmsProviderError) as caught:
            await twilio(api, client, api.url).send(phone="0123", message=TEXT, channel="sms", otp=OTP)
    assert str(caught.value).startswith("The 'To' number +0123 is not a valid phone number. More information:")


async def test_twilio_accepted_but_failed_is_an_error_with_the_message_id(client: httpx.AsyncClient) -> None:
    body = {"sid": "SMfailed", "status": "failed", "error_code": 30008, "error_message": "Unknown error"}
    with TwilioApi(answer=Reply(201, body)) as api:
        error = await failure(twilio(api, client, api.url))
    assert str(error) == "twilio error: Unknown error 30008 for message SMfailed"
    assert error.message_id == "SMfailed"


async def test_twilio_undelivered_with_null_fields(client: httpx.AsyncClient) -> None:
    body = {"sid": "SMx", "status": "undelivered", "error_code": None, "error_message": None}
    with TwilioApi(answer=Reply(200, body)) as api:
        error = await failure(twilio(api, client, api.url))
    assert str(error) == "twilio error:   for message SMx"


async def test_twilio_5xx_with_its_error_body(client: httpx.AsyncClient) -> None:
    body = {"code": 20500, "message": "Internal Server Error", "more_info": "https://www.twilio.com/docs/errors/20500"}
    with TwilioApi(answer=Reply(500, body)) as api:
        error = await failure(twilio(api, client, api.url))
    assert str(error) == "Internal Server Error More information: https://www.twilio.com/docs/errors/20500"


async def test_twilio_refuses_an_unknown_channel_without_a_request(client: httpx.AsyncClient) -> None:
    with TwilioApi() as api:
        error = await failure(twilio(api, client, api.url), channel="voice")
    assert str(error) == 'channel type "voice" is not supported for Twilio'
    assert api.server.requests == []


async def test_a_provider_echoing_the_secret_never_shows_it(client: httpx.AsyncClient) -> None:
    body = {"code": 20003, "message": "bad token twilio-secret-token", "more_info": "x"}
    with TwilioApi(answer=Reply(401, body)) as api:
        error = await failure(twilio(api, client, api.url))
    assert "twilio-secret-token" not in str(error) and "[redacted]" in str(error)


# --- Twilio Verify ----------------------------------------------------------------------------
async def test_twilio_verify_starts_a_verification_and_checks_the_code(client: httpx.AsyncClient) -> None:
    with TwilioVerifyApi() as api:
        sender = verify(api, client, api.url)
        sid = await sender.send(phone=PHONE, message="ignored", channel="whatsapp", otp="ignored")
        assert await sender.verify(phone=PHONE, code="not-the-code") is False
        assert await sender.verify(phone=PHONE, code=api.pending["+" + PHONE]) is True
        assert await sender.verify(phone=PHONE, code="123456") is False  # nothing pending: Twilio's 404
    start, wrong, right, gone = api.server.requests
    assert sid.startswith("VE")
    assert start.path == f"/v2/Services/{api.service_sid}/Verifications"
    assert start.form == {"To": "+" + PHONE, "Channel": "whatsapp"}
    assert right.path == f"/v2/Services/{api.service_sid}/VerificationCheck"
    assert set(right.form) == {"To", "Code"} and right.form["To"] == "+" + PHONE
    assert gone.form["Code"] == "123456"


async def test_twilio_verify_check_that_cannot_be_asked_raises(client: httpx.AsyncClient) -> None:
    with TwilioVerifyApi() as api:
        with pytest.raises(SmsProviderError) as caught:
            await verify(api, client, api.url, auth_token="wrong").verify(phone=PHONE, code=OTP)
    assert str(caught.value) == "Authenticate More information: https://www.twilio.com/docs/errors/20003"
    with pytest.raises(SmsProviderError, match="could not reach"):
        await verify(api, client, f"http://127.0.0.1:{free_port()}").verify(phone=PHONE, code=OTP)


async def test_twilio_verify_send_refusal(client: httpx.AsyncClient) -> None:
    with TwilioVerifyApi() as api:
        error = await failure(verify(api, client, api.url, auth_token="wrong"))
    assert str(error).startswith("Authenticate More information:")


# --- MessageBird ------------------------------------------------------------------------------
async def test_messagebird_posts_unicode_sms_with_its_access_key(client: httpx.AsyncClient) -> None:
    with MessageBirdApi() as api:
        message_id = await messagebird(api, client, api.url).send(phone=PHONE, message=TEXT, channel="sms", otp=OTP)
    (seen,) = api.server.requests
    assert len(message_id) == 32
    assert seen.path == "/messages"
    assert seen.headers["authorization"] == "AccessKey messagebird-live-key"
    assert seen.form == {
        "originator": "pytrue",
        "body": TEXT,
        "recipients": PHONE,
        "type": "sms",
        "datacoding": "unicode",
    }


async def test_messagebird_refusal_is_its_first_error_description(client: httpx.AsyncClient) -> None:
    with MessageBirdApi() as api:
        sender = MessageBirdSmsSender(client=client, access_key="wrong", originator="pytrue", base_url=api.url)
        error = await failure(sender)
    assert str(error) == "Request not allowed (incorrect access_key)"


async def test_messagebird_invalid_recipient_is_its_422(client: httpx.AsyncClient) -> None:
    with MessageBirdApi() as api:
        with pytest.raises(SmsProviderError, match=r"^no \(correct\) recipients found$"):
            await messagebird(api, client, api.url).send(phone="+1", message=TEXT, channel="sms", otp=OTP)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(201, {"id": "x", "recipients": {"totalCount": 1, "totalSentCount": 0}}),
        Reply(500, {"errors": [{"code": 99, "description": "internal error"}]}),
    ],
)
async def test_messagebird_reaching_nobody_is_a_failure(reply: Reply, client: httpx.AsyncClient) -> None:
    with MessageBirdApi(answer=reply) as api:
        error = await failure(messagebird(api, client, api.url))
    assert str(error) == "messagebird error: total sent count is 0"


async def test_messagebird_error_status_without_errors(client: httpx.AsyncClient) -> None:
    with MessageBirdApi(answer=Reply(403, {"errors": []})) as api:
        error = await failure(messagebird(api, client, api.url))
    assert str(error) == "messagebird error: HTTP 403"


# --- Textlocal --------------------------------------------------------------------------------
async def test_textlocal_posts_the_form_with_its_api_key(client: httpx.AsyncClient) -> None:
    with TextlocalApi() as api:
        message_id = await textlocal(api, client, api.url).send(phone=PHONE, message=TEXT, channel="sms", otp=OTP)
    (seen,) = api.server.requests
    assert message_id == "1151346216"
    assert seen.path == "/send"
    assert seen.form == {"sender": "PYTRUE", "apikey": "textlocal-api-key", "message": TEXT, "numbers": PHONE}


async def test_textlocal_failure_carries_its_first_error(client: httpx.AsyncClient) -> None:
    with TextlocalApi() as api:
        sender = TextlocalSmsSender(client=client, api_key="wrong", sender="PYTRUE", base_url=api.url)
        error = await failure(sender)
    assert str(error) == "textlocal error: Invalid login details (code: 3) message "


async def test_textlocal_template_refusal_does_not_quote_the_code(client: httpx.AsyncClient) -> None:
    body = {"errors": [{"code": 80, "message": "Invalid template"}], "status": "failure"}
    with TextlocalApi(answer=Reply(200, body)) as api:
        error = await failure(textlocal(api, client, api.url))
    assert str(error) == "textlocal error: Invalid template (code: 80) template message rejected"
    assert OTP not in str(error)


async def test_textlocal_failure_without_errors(client: httpx.AsyncClient) -> None:
    with TextlocalApi(answer=Reply(500, {"status": "failure"})) as api:
        error = await failure(textlocal(api, client, api.url))
    assert str(error) == "textlocal error: status failure"


# --- Vonage -----------------------------------------------------------------------------------
async def test_vonage_posts_the_form_with_key_and_secret(client: httpx.AsyncClient) -> None:
    with VonageApi() as api:
        message_id = await vonage(api, client, api.url).send(phone=PHONE, message=TEXT, channel="sms", otp=OTP)
    (seen,) = api.server.requests
    assert message_id == "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    assert seen.path == "/sms/json"
    assert seen.form == {
        "from": "pytrue",
        "to": PHONE,
        "text": TEXT,
        "api_key": "vonage-key",
        "api_secret": "vonage-secret-value",
    }


async def test_vonage_sends_non_ascii_text_as_unicode(client: httpx.AsyncClient) -> None:
    with VonageApi() as api:
        await vonage(api, client, api.url).send(phone=PHONE, message="Votre code : 123456 ✓", channel="sms", otp=OTP)
    assert api.server.requests[0].form["type"] == "unicode"


async def test_vonage_non_zero_status_is_an_error(client: httpx.AsyncClient) -> None:
    with VonageApi() as api:
        sender = VonageSmsSender(client=client, api_key="vonage-key", api_secret="nope", sender="x", base_url=api.url)
        error = await failure(sender)
    assert str(error) == "vonage error: Bad Credentials (status: 4) for message "


@pytest.mark.parametrize("body", [{"message-count": "0", "messages": []}, {"type": "x", "title": "Unauthorized"}])
async def test_vonage_without_messages_is_an_internal_error(body: dict[str, Any], client: httpx.AsyncClient) -> None:
    with VonageApi(answer=Reply(401, body)) as api:
        error = await failure(vonage(api, client, api.url))
    assert str(error) == "vonage error: Internal Error"
