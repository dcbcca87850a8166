"""Texted codes without a provider: the development outbox, test numbers, GoTrue's failure answer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from pytrue.adapters.sms.dev import DevSmsOutbox, LoggingSmsSender
from pytrue.application.ports import SmsProviderError, SmsSender
from pytrue.application.sms import TestOtps, format_phone, parse_test_otps, sms_send_failure

NOW = datetime(2026, 1, 1, tzinfo=UTC)


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


def test_the_failure_answer_is_gotrues() -> None:
    error = sms_send_failure("phone_change", SmsProviderError("vonage error: Bad Credentials (status: 4) for message "))
    assert error.code == "sms_send_failed"
    assert error.message == "Error sending phone_change OTP to provider: vonage error: Bad Credentials (status: 4) for message "


def test_test_otps_are_keyed_by_the_stored_phone_form() -> None:
    assert parse_test_otps("+1 555 123 4567:123456,447700900000:654321") == {
        "15551234567": "123456",
        "447700900000": "654321",
    }
    assert parse_test_otps("") == {}
    assert format_phone("+44 7700 900000") == "447700900000"


@pytest.mark.parametrize("raw", ["15551234567", "1:2:3", "1:2,,"])
def test_a_malformed_test_otp_item_names_its_position_not_its_code(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^item \d is not of the form phone:otp$"):
        parse_test_otps(raw)


def test_test_otps_expire() -> None:
    otps = TestOtps(otps={"15551234567": "123456"}, valid_until=NOW + timedelta(hours=1))
    assert otps.lookup("15551234567", NOW) == "123456"
    assert otps.lookup("15550000000", NOW) is None
    assert otps.lookup("15551234567", NOW + timedelta(hours=1)) is None
    assert TestOtps(otps={"1": "2"}).lookup("1", NOW + timedelta(days=9999)) == "2"
    assert "123456" not in repr(otps)
