"""Phone rules as GoTrue has them: numbers, channels, texted-code hashes, send frequency, test OTPs, template."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pytrue.adapters.mail import gotemplate
from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.one_time_token import (
    CONFIRMATION,
    PHONE_CHANGE,
    REAUTHENTICATION,
    ensure_send_allowed,
    otp_matches,
    stored_hash,
)
from pytrue.domain.phone import (
    DEFAULT_SMS_TEMPLATE,
    SMS_PROVIDERS,
    SMS_PURPOSES,
    SmsTemplate,
    SmsTestOtps,
    ensure_sms_send_allowed,
    message_channel,
    nonce_verifies_remotely,
    parse_rfc3339,
    sms_send_failed,
    verifies_remotely,
)
from pytrue.domain.values import INVALID_CHANNEL, Phone, validate_channel

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
E164 = re.compile(r"^[1-9][0-9]{1,14}$")
numbers = st.from_regex(E164, fullmatch=True)
codes = st.text(alphabet="0123456789", min_size=6, max_size=10)
PHONE_MESSAGE = "Invalid phone number format (E.164 required)"


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", None, "1" * 100, "+1555abc1234", "+1-555-123-4567", "(555) 123", "0123456", "+", "1"])
def test_bad_numbers_are_validation_failed_with_gotrues_message(raw: str | None) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Phone.parse(raw)
    assert caught.value.code == "validation_failed" and caught.value.message == PHONE_MESSAGE


@given(numbers)
def test_stored_form_is_digits_without_plus(number: str) -> None:
    assert Phone.parse("+" + number).value == number
    assert Phone.parse(number).value.isdigit()


@given(st.text(alphabet="0123456789٠١٢３", min_size=2, max_size=15))
def test_only_ascii_digits_count(raw: str) -> None:
    # Go's [0-9] is ASCII; Python's \d would also take Arabic-Indic or full-width digits
    if raw.isascii() and E164.fullmatch(raw):
        assert Phone.parse(raw).value == raw
    else:
        with pytest.raises(ValidationFailed):
            Phone.parse(raw)


# --- texted-code hashes ------------------------------------------------------------------------


@given(numbers, codes)
def test_a_texted_code_is_stored_as_sha224_of_the_digits_and_the_code(number: str, code: str) -> None:
    stored = stored_hash(number, code)
    assert stored == hashlib.sha224((number + code).encode()).hexdigest()
    assert otp_matches(stored, number, code)
    assert not otp_matches(stored, "+" + number, code)


def test_each_sms_kind_writes_gotrues_columns() -> None:
    assert SMS_PURPOSES["confirmation"] is CONFIRMATION
    assert SMS_PURPOSES["phone_change"] is PHONE_CHANGE
    assert SMS_PURPOSES["reauthentication"] is REAUTHENTICATION
    assert {(p.column, p.sent_at, p.token_type) for p in SMS_PURPOSES.values()} == {
        ("confirmation_token", "confirmation_sent_at", "confirmation_token"),
        ("phone_change_token", "phone_change_sent_at", "phone_change_token"),
        ("reauthentication_token", "reauthentication_sent_at", "reauthentication_token"),
    }


def test_send_failure_names_the_kind_like_gotrue() -> None:
    error = sms_send_failed(PHONE_CHANGE, "boom")
    assert error.code == "sms_send_failed"
    assert error.message == "Error sending phone_change OTP to provider: boom"


# --- channels ----------------------------------------------------------------------------------

providers = st.sampled_from(["", *SMS_PROVIDERS])


@given(st.one_of(st.none(), st.sampled_from(["", "sms", "whatsapp", "SMS", "voice"]), st.text(max_size=8)), providers, st.booleans())
def test_channel_rule(channel: str | None, provider: str, hook: bool) -> None:
    value = channel or "sms"
    allowed = hook or value == "sms" or (value == "whatsapp" and provider in ("twilio", "twilio_verify"))
    if allowed:
        assert message_channel(channel, provider=provider, sms_hook=hook) == value
    else:
        with pytest.raises(ValidationFailed) as caught:
            message_channel(channel, provider=provider, sms_hook=hook)
        assert caught.value.message == INVALID_CHANNEL


def test_validate_channel_uses_gotrues_message() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_channel("voice")
    assert caught.value.message.startswith("Invalid channel, supported values are 'sms' or 'whatsapp'.")
    assert validate_channel(None) == "sms"


def test_remote_verification_is_twilio_verify_without_hook_but_the_nonce_ignores_the_hook() -> None:
    assert verifies_remotely("twilio_verify", sms_hook=False)
    assert not verifies_remotely("twilio_verify", sms_hook=True)
    assert not verifies_remotely("twilio", sms_hook=False)
    assert nonce_verifies_remotely("twilio_verify") and not nonce_verifies_remotely("vonage")


# --- send frequency ------------------------------------------------------------------------------


@given(st.integers(0, 3600), st.integers(1, 3600))
def test_sms_frequency_blocks_up_to_and_including_the_end_of_the_interval(elapsed_ms: int, frequency_s: int) -> None:
    frequency = timedelta(seconds=frequency_s)
    sent = NOW
    now = sent + timedelta(milliseconds=elapsed_ms)
    if now <= sent + frequency:
        with pytest.raises(DomainError) as caught:
            ensure_sms_send_allowed(sent, now, frequency)
        left = (sent + frequency - now) // timedelta(seconds=1)
        assert caught.value.code == "over_sms_send_rate_limit"
        assert caught.value.message == f"For security purposes, you can only request this after {left} seconds."
    else:
        ensure_sms_send_allowed(sent, now, frequency)


def test_sms_and_email_differ_only_at_the_exact_instant() -> None:
    minute = timedelta(minutes=1)
    ensure_send_allowed(NOW, NOW + minute, minute)  # email: the instant itself is allowed
    with pytest.raises(DomainError, match="after 0 seconds"):
        ensure_sms_send_allowed(NOW, NOW + minute, minute)
    ensure_sms_send_allowed(NOW, NOW + minute + timedelta(microseconds=1), minute)
    ensure_sms_send_allowed(None, NOW, minute)


# --- test OTPs ------------------------------------------------------------------------------------


@st.composite
def decorated(draw: st.DrawFn, number: str) -> str:
    spaced = "".join(ch + " " * draw(st.integers(0, 1)) for ch in number)
    return ("+" if draw(st.booleans()) else "") + spaced


@st.composite
def otp_maps(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    entries = draw(st.dictionaries(numbers, codes, min_size=1, max_size=5))
    items = [f"{draw(decorated(number))}:{code}" for number, code in entries.items()]
    return ",".join(items), entries


@given(otp_maps())
def test_test_otp_map_parses_like_envconfig_and_normalises_keys(case: tuple[str, dict[str, str]]) -> None:
    raw, entries = case
    otps = SmsTestOtps.parse(raw)
    assert dict(otps.codes) == entries
    for number, code in entries.items():
        assert otps.code_for(number, NOW) == code
        assert otps.is_listed(number, NOW)


@pytest.mark.parametrize("raw", ["1555:1:2", "1555", "1555:123,", ",1555:123", "a:b,c"])
def test_an_item_without_exactly_one_colon_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="invalid map item"):
        SmsTestOtps.parse(raw)


def test_test_otp_edge_cases() -> None:
    assert not SmsTestOtps.parse(None) and not SmsTestOtps.parse("   ")
    otps = SmsTestOtps.parse(" +15550001111:123456, 15550002222:654321 ,15550003333:")
    assert otps.code_for("15550001111", NOW) is None  # a space before the "+" keeps the "+" (GoTrue)
    assert dict(otps.codes)["+15550001111"] == "123456"
    assert otps.code_for("15550002222", NOW) == "654321 "  # values are not trimmed
    assert otps.is_listed("15550003333", NOW) and otps.code_for("15550003333", NOW) is None
    assert otps.code_for("19999999999", NOW) is None


@given(st.integers(-5, 5))
def test_test_otps_apply_strictly_before_valid_until(offset_s: int) -> None:
    otps = SmsTestOtps.parse("15550001111:123456", "2026-01-01T00:00:00Z")
    now = NOW + timedelta(seconds=offset_s)
    assert (otps.code_for("15550001111", now) == "123456") == (now < NOW)


def test_no_or_zero_valid_until_means_forever() -> None:
    far = datetime(9999, 1, 1, tzinfo=timezone.utc)
    assert SmsTestOtps.parse("1555:1", "").code_for("1555", far) == "1"
    assert SmsTestOtps.parse("1555:1", "  ").code_for("1555", far) == "1"
    assert SmsTestOtps.parse("1555:1", "0001-01-01T00:00:00Z").valid_until is None


# --- RFC 3339 -----------------------------------------------------------------------------------

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets))
def test_rfc3339_round_trips_isoformat(moment: datetime) -> None:
    text = moment.isoformat()
    if text.endswith("+00:00") and moment.microsecond % 2:
        text = text[:-6] + "Z"
    assert parse_rfc3339(text) == moment
    assert parse_rfc3339(text).tzinfo == timezone.utc


@pytest.mark.parametrize(
    "raw",
    [
        "2030-01-01",
        "2030-01-01T00:00:00",
        "2030-01-01t00:00:00Z",
        "2030-01-01 00:00:00Z",
        "2030-01-01T00:00:00z",
        "2030-01-01T00:00:00+0100",
        "2030-01-01T00:00:00+24:00",
        "2030-02-30T00:00:00Z",
        "2030-01-01T24:00:00Z",
        "2030-01-01T00:00:60Z",
        "2030-01-01T00:00:00.Z",
        "2030-01-01T00:00:00,5Z",
        "２030-01-01T00:00:00Z",
    ],
)
def test_rfc3339_is_strict(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(raw)


@example("2030-01-01T00:00:00.123456789Z")
@given(st.from_regex(r"\A2030-01-01T00:00:00\.[0-9]{1,12}Z\Z"))
def test_rfc3339_keeps_microseconds_of_any_fraction(raw: str) -> None:
    digits = raw.split(".")[1][:-1]
    assert parse_rfc3339(raw).microsecond == int(digits[:6].ljust(6, "0"))


# --- template ------------------------------------------------------------------------------------


@given(codes)
def test_default_template_renders_gotrues_text(code: str) -> None:
    template = SmsTemplate.of("")
    assert template.source == DEFAULT_SMS_TEMPLATE
    assert gotemplate.parse(template.source).render(SmsTemplate.data(code)) == f"Your code is {code}"


def test_custom_template_keeps_its_text() -> None:
    template = SmsTemplate.of("{{ .Code }} is your Acme code")
    assert gotemplate.parse(template.source).render(SmsTemplate.data("123456")) == "123456 is your Acme code"
