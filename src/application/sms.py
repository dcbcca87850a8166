"""Texted codes: GoTrue's answers when a provider fails, and the fixed codes of test numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pytrue.application.ports import SmsProviderError
from pytrue.domain.errors import DomainError

# the otp kinds GoTrue names in "Error sending <kind> OTP to provider: …"
SMS_OTP_CONFIRMATION = "confirmation"
SMS_OTP_PHONE_CHANGE = "phone_change"
SMS_OTP_REAUTHENTICATION = "reauthentication"

TEST_OTP_MESSAGE_ID = "test-otp"


def sms_send_failure(otp_kind: str, error: SmsProviderError) -> DomainError:
    """GoTrue's 422 `sms_send_failed` for /signup, /otp, /resend, PUT /user and /reauthenticate.

    (An MFA phone challenge answers 500 "error sending message" instead, without the cause.)"""
    return DomainError("sms_send_failed", f"Error sending {otp_kind} OTP to provider: {error}")


def format_phone(phone: str) -> str:
    """GoTrue's stored form: no leading `+`, no spaces."""
    return phone.removeprefix("+").replace(" ", "")


def parse_test_otps(raw: str) -> dict[str, str]:
    """`GOTRUE_SMS_TEST_OTP` (`phone:otp,phone:otp`) as a map keyed by the stored phone form.

    ValueError names the bad item's position, never its code."""
    if not raw:
        return {}
    otps: dict[str, str] = {}
    for position, item in enumerate(raw.split(","), start=1):
        parts = item.split(":")
        if len(parts) != 2:
            raise ValueError(f"item {position} is not of the form phone:otp")
        otps[format_phone(parts[0])] = parts[1]
    return otps


@dataclass(frozen=True, slots=True, kw_only=True)
class TestOtps:
    """Fixed codes for test numbers: no SMS is sent and the code always verifies, until `valid_until`."""

    __test__ = False

    otps: Mapping[str, str] = field(default_factory=dict)
    valid_until: datetime | None = None

    def lookup(self, phone: str, now: datetime) -> str | None:
        if not self.otps or (self.valid_until is not None and now >= self.valid_until):
            return None
        return self.otps.get(phone)

    def __repr__(self) -> str:
        return f"TestOtps(phones={len(self.otps)}, valid_until={self.valid_until!r})"
