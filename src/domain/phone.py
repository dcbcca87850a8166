"""Texted codes as GoTrue sends them: message channels, the SMS template, test numbers and send limits.

The phone number itself is `values.Phone`; the code's hash, columns and expiry are those of
`one_time_token` (`CONFIRMATION`, `PHONE_CHANGE`, `REAUTHENTICATION` with the number as identifier).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.one_time_token import CONFIRMATION, PHONE_CHANGE, REAUTHENTICATION, TokenPurpose, too_soon
from pytrue.domain.values import INVALID_CHANNEL, Phone

SMS = "sms"
WHATSAPP = "whatsapp"
TWILIO = "twilio"
TWILIO_VERIFY = "twilio_verify"
SMS_PROVIDERS = (TWILIO, TWILIO_VERIFY, "messagebird", "textlocal", "vonage")
WHATSAPP_PROVIDERS = (TWILIO, TWILIO_VERIFY)

# GoTrue's wording of `phone_provider_disabled`, by endpoint
PHONE_SIGNUPS_DISABLED = "Phone signups are disabled"  # POST /signup
PHONE_LOGINS_DISABLED = "Phone logins are disabled"  # POST /token, POST /resend
UNSUPPORTED_PHONE_PROVIDER = "Unsupported phone provider"  # POST /otp

DEFAULT_SMS_TEMPLATE = "Your code is {{ .Code }}"
TEST_OTP_MESSAGE_ID = "test-otp"

# GoTrue's `otpType` names for sendPhoneConfirmation, with the columns each one writes
SMS_PURPOSES: Mapping[str, TokenPurpose] = MappingProxyType(
    {p.name: p for p in (CONFIRMATION, PHONE_CHANGE, REAUTHENTICATION)}
)


def message_channel(channel: str | None, *, provider: str, sms_hook: bool) -> str:
    """GoTrue's `IsValidMessageChannel` after defaulting to `sms`: with the send-SMS hook any channel
    passes; otherwise `sms`, or `whatsapp` with Twilio or Twilio Verify."""
    value = channel or SMS
    if sms_hook or value == SMS or (value == WHATSAPP and provider in WHATSAPP_PROVIDERS):
        return value
    raise ValidationFailed(INVALID_CHANNEL)


def verifies_remotely(provider: str, *, sms_hook: bool) -> bool:
    """`/verify` hands typed `sms`/`phone_change` codes to Twilio Verify (no local hash or expiry
    check), unless the send-SMS hook is on."""
    return provider == TWILIO_VERIFY and not sms_hook


def nonce_verifies_remotely(provider: str) -> bool:
    """The reauthentication nonce of a phone-only user goes to Twilio Verify whatever the hook says."""
    return provider == TWILIO_VERIFY


def sms_send_failed(purpose: TokenPurpose, detail: str) -> DomainError:
    """422: the provider refused the message (`otpType` is `confirmation`, `phone_change` or `reauthentication`)."""
    return DomainError("sms_send_failed", f"Error sending {purpose.name} OTP to provider: {detail}")


def sms_rate_limit_exceeded() -> DomainError:
    """429: the global `GOTRUE_RATE_LIMIT_SMS_SENT` budget is spent."""
    return DomainError("over_sms_send_rate_limit", "SMS rate limit exceeded")


def ensure_sms_send_allowed(last_sent: datetime | None, now: datetime, frequency: timedelta) -> None:
    """`GOTRUE_SMS_MAX_FREQUENCY` per user and code kind: unlike email, the very instant the interval
    ends is still too early (Go: `!sentAt.Add(f).Before(now)`)."""
    if last_sent is None:
        return
    ready = last_sent + frequency
    if ready >= now:
        raise DomainError("over_sms_send_rate_limit", too_soon(ready, now))


@dataclass(frozen=True, slots=True)
class SmsTemplate:
    """`GOTRUE_SMS_TEMPLATE`: a Go text/template whose only field is `.Code`; empty means the default."""

    source: str = DEFAULT_SMS_TEMPLATE

    @classmethod
    def of(cls, raw: str | None) -> SmsTemplate:
        return cls(raw or DEFAULT_SMS_TEMPLATE)

    @staticmethod
    def data(otp: str) -> dict[str, str]:
        """What the template is executed with (Go: `struct{ Code string }`)."""
        return {"Code": otp}


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)
_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)


def parse_rfc3339(raw: str) -> datetime:
    """Go's `time.Time.UnmarshalText`: strict RFC 3339 (`T` and `Z` upper case, `±hh:mm` offset,
    any number of fractional digits); ValueError otherwise."""
    match = _RFC3339.fullmatch(raw)
    if not match:
        raise ValueError(f"expected an RFC 3339 time such as 2030-01-01T00:00:00Z, got {raw!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_h, off_m = match.groups()[6:]
    if int(off_h or 0) > 23 or int(off_m or 0) > 59:
        raise ValueError(f"time zone offset out of range in {raw!r}")
    offset = timedelta(0) if zulu else (1 if sign == "+" else -1) * timedelta(hours=int(off_h), minutes=int(off_m))
    try:
        base = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as exc:
        raise ValueError(f"invalid RFC 3339 time {raw!r}: {exc}") from None
    micros = int((fraction or "0")[:6].ljust(6, "0"))  # Go keeps nanoseconds; microseconds is what we store
    return (base + timedelta(microseconds=micros)).astimezone(timezone.utc)


@dataclass(frozen=True, slots=True)
class SmsTestOtps:
    """`GOTRUE_SMS_TEST_OTP` (`phone:otp,…`) with `GOTRUE_SMS_TEST_OTP_VALID_UNTIL`.

    A listed number gets its fixed code and no message is sent (the response's `message_id` is
    `test-otp`); `/verify` accepts that code for it without looking at the stored hash or its
    age. The whole map stops applying at `valid_until` (exclusive); without it, never.
    """

    codes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    valid_until: datetime | None = None

    @classmethod
    def parse(cls, raw: str | None, valid_until: str | None = None) -> SmsTestOtps:
        """The map as envconfig reads it, keys normalised as GoTrue's `ApplyDefaults` does.

        Items are split on `,` then `:` (exactly one `:` per item, else ValueError "invalid map item");
        nothing is trimmed except what `Phone.normalise` removes from keys (one leading `+`, then
        every space — so ` +1…` keeps its `+` and never matches). A later duplicate wins.
        """
        codes: dict[str, str] = {}
        if raw is not None and raw.strip():
            for item in raw.split(","):
                parts = item.split(":")
                if len(parts) != 2:
                    raise ValueError(f"invalid map item: {item!r}")
                codes[Phone.normalise(parts[0])] = parts[1]
        until = (valid_until or "").strip()
        expiry = parse_rfc3339(until) if until else None
        if expiry == _GO_ZERO_TIME:
            expiry = None  # Go's zero time means "no expiry"
        return cls(MappingProxyType(codes), expiry)

    @classmethod
    def of(cls, codes: Mapping[str, str], valid_until: datetime | None = None) -> SmsTestOtps:
        """From an already split map (the loader's): keys normalised as `parse` does."""
        normalised = {Phone.normalise(number): code for number, code in codes.items()}
        return cls(MappingProxyType(normalised), None if valid_until == _GO_ZERO_TIME else valid_until)

    def active(self, now: datetime) -> bool:
        return self.valid_until is None or now < self.valid_until

    def is_listed(self, phone: str, now: datetime) -> bool:
        """GoTrue's `GetTestOTP` found an entry (even one with an empty code)."""
        return self.active(now) and phone in self.codes

    def code_for(self, phone: str, now: datetime) -> str | None:
        """The fixed code for the (normalised) number, or None to send a real one.

        An entry with an empty code counts as none: GoTrue then generates and sends a real code
        (while still answering `message_id: test-otp`, see `is_listed`).
        """
        if not self.is_listed(phone, now):
            return None
        return self.codes[phone] or None

    def __bool__(self) -> bool:
        return bool(self.codes)
