"""Texted codes without a provider: the development outbox (test numbers and the failure answer: test_domain_phone)."""

from __future__ import annotations

import logging

import pytest

from pytrue.adapters.sms.dev import DevSmsOutbox, LoggingSmsSender
from pytrue.application.ports import SmsSender

async def test_the_logging_sender_keeps_and_logs_every_text(caplog: pytest.LogCaptureFixture) -> None:
    sender: SmsSender = LoggingSmsSender()
    with caplog.at_level(logging.INFO, logger="pytrue.sms"):
        first = await sender.send(phone="15551234567", message="Your code is 111111", channel="sms", otp="111111")
        second = await sender.send(phone="15551234567", message="Your code is 222222", channel="whatsapp", otp="222222")
    assert (first, second) == ("dev-sms-1", "dev-sms-2")
    outbox = sender.outbox  # type: ignore[attr-defined]
    assert outbox.latest("15551234567").otp == "222222"
    assert outbox.latest("15551234567", "sms").message_id == "dev-sms-1"
    assert outbox.latest("15550000000") is None
    assert "Your code is 222222" in caplog.text and "+15551234567" in caplog.text


async def test_the_outbox_keeps_the_newest() -> None:
    outbox = DevSmsOutbox(size=2)
    sender = LoggingSmsSender(outbox=outbox)
    for n in range(3):
        await sender.send(phone=str(n), message="m", channel="sms", otp="")
    assert [sms.phone for sms in outbox.messages] == ["1", "2"]
