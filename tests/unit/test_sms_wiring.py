"""Choosing the SMS sender, verifier, hook and template from the settings; the outbound client's life."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.app import make_settings  # noqa: E402

from pytrue.adapters.hooks.http import HttpHook  # noqa: E402
from pytrue.adapters.sms.dev import LoggingSmsSender  # noqa: E402
from pytrue.adapters.sms.messagebird import MessageBirdSmsSender  # noqa: E402
from pytrue.adapters.sms.textlocal import TextlocalSmsSender  # noqa: E402
from pytrue.adapters.sms.twilio import TwilioSmsSender, TwilioVerifySmsSender  # noqa: E402
from pytrue.adapters.sms.vonage import VonageSmsSender  # noqa: E402
from pytrue.entrypoints.containers import build_container, start, stop  # noqa: E402
from pytrue.entrypoints.settings import SettingsError  # noqa: E402

PROVIDERS = {
    "twilio": (TwilioSmsSender, {"ACCOUNT_SID": "AC1", "AUTH_TOKEN": "t", "MESSAGE_SERVICE_SID": "+15550001111"}),
    "twilio_verify": (TwilioVerifySmsSender, {"ACCOUNT_SID": "AC1", "AUTH_TOKEN": "t", "MESSAGE_SERVICE_SID": "VA1"}),
    "messagebird": (MessageBirdSmsSender, {"ACCESS_KEY": "k", "ORIGINATOR": "pytrue"}),
    "textlocal": (TextlocalSmsSender, {"API_KEY": "k", "SENDER": "pytrue"}),
    "vonage": (VonageSmsSender, {"API_KEY": "k", "API_SECRET": "s", "FROM": "pytrue"}),
}


def env_for(provider: str, credentials: dict[str, str]) -> dict[str, str]:
    return {"GOTRUE_SMS_PROVIDER": provider, **{f"GOTRUE_SMS_{provider.upper()}_{k}": v for k, v in credentials.items()}}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_the_provider_named_is_the_sender_and_only_twilio_verify_checks_codes(provider: str) -> None:
    cls, credentials = PROVIDERS[provider]
    core = build_container(make_settings(env_for(provider, credentials))).core
    assert isinstance(core.sms_sender(), cls)
    assert (core.sms_verifier() is not None) == (provider == "twilio_verify")
    assert build_container(make_settings(env_for(provider, credentials))).use_cases.send_sms_hook() is None


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_missing_credentials_stop_the_start_naming_the_provider(provider: str) -> None:
    container = build_container(make_settings({"GOTRUE_SMS_PROVIDER": provider}))
    with pytest.raises(SettingsError) as caught:
        container.use_cases.sms_codes()
    assert caught.value.variable == f"GOTRUE_SMS_{provider.upper()}_*"


def test_without_a_provider_texts_go_to_the_development_outbox() -> None:
    core = build_container(make_settings()).core
    sender = core.sms_sender()
    assert isinstance(sender, LoggingSmsSender) and sender.outbox is core.dev_sms_outbox()
    assert core.sms_verifier() is None


def test_the_send_sms_hook_is_built_when_enabled() -> None:
    env = {
        "GOTRUE_HOOK_SEND_SMS_ENABLED": "true",
        "GOTRUE_HOOK_SEND_SMS_URI": "http://localhost:9000/sms",
        "GOTRUE_HOOK_SEND_SMS_SECRETS": "v1,whsec_" + "QUJD" * 8,
    }
    assert isinstance(build_container(make_settings(env)).use_cases.send_sms_hook(), HttpHook)


@pytest.mark.parametrize("template", ["{{ .Code", "{{ .Phone }} {{ .Code }}", "{{ range .Code }}{{ end }}"])
def test_a_bad_sms_template_stops_the_start(template: str) -> None:
    container = build_container(make_settings({"GOTRUE_SMS_TEMPLATE": template}))
    with pytest.raises(SettingsError) as caught:
        container.use_cases.sms_codes()
    assert caught.value.variable == "GOTRUE_SMS_TEMPLATE"


def test_a_custom_sms_template_is_rendered_as_plain_text() -> None:
    render = build_container(make_settings({"GOTRUE_SMS_TEMPLATE": "<b>{{ .Code }}</b> & co"})).core.sms_render()
    assert render("123456") == "<b>123456</b> & co"


async def test_stop_closes_the_shared_outbound_client() -> None:
    container = build_container(make_settings(env_for("twilio", PROVIDERS["twilio"][1])))
    await start(container, deliver_mail=False)
    client = container.core.outbound().client
    assert container.core.sms_sender()._call._client is client  # type: ignore[attr-defined]
    await stop(container)
    assert client.is_closed
