"""Value objects that validate on construction: email, phone, password, durations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from pytrue.domain.errors import ValidationFailed, WeakPassword

_EMAIL_RE = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
_PHONE_RE = re.compile(r"^[1-9][0-9]{1,14}$")
MAX_EMAIL_LENGTH = 255
MAX_PASSWORD_BYTES = 72


@dataclass(frozen=True, slots=True)
class Email:
    """An email address as GoTrue accepts it: at most 255 characters, its pattern, lower-cased."""

    value: str

    @classmethod
    def parse(cls, raw: str | None) -> Email:
        if raw is None or raw.strip() == "":
            raise ValidationFailed("An email address is required")
        candidate = raw.strip()
        if len(candidate) > MAX_EMAIL_LENGTH:
            raise ValidationFailed("An email address is too long")
        if not _EMAIL_RE.fullmatch(candidate):
            raise ValidationFailed("Unable to validate email address: invalid format")
        return cls(candidate.lower())

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Phone:
    """An E.164 phone number stored without its leading `+`."""

    value: str

    @staticmethod
    def normalise(raw: str) -> str:
        """GoTrue's `formatPhoneNumber`: trim one leading `+`, then remove every space."""
        trimmed = raw[1:] if raw.startswith("+") else raw
        return trimmed.replace(" ", "")

    @classmethod
    def parse(cls, raw: str | None) -> Phone:
        candidate = cls.normalise(raw or "")
        if not _PHONE_RE.fullmatch(candidate):
            raise ValidationFailed("Invalid phone number format (E.164 required)")
        return cls(candidate)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Password:
    """A plain-text password; its repr never shows the secret."""

    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return "Password(****)"

    def __str__(self) -> str:
        return "****"

    @property
    def byte_length(self) -> int:
        return len(self.secret.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """The outcome of a policy check: empty `reasons` means the password is strong enough."""

    reasons: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def message(self) -> str:
        return " ".join(self.messages)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """GoTrue's strength rules: a minimum byte length (never below 6) and required character sets."""

    min_length: int = 6
    required_characters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_length < 6:
            object.__setattr__(self, "min_length", 6)

    @staticmethod
    def parse_required_characters(raw: str) -> tuple[str, ...]:
        """Split a `:`-separated list of sets; `\\:` stands for a literal colon."""
        if not raw:
            return ()
        sets: list[str] = []
        current: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw) and raw[i + 1] == ":":
                current.append(":")
                i += 2
                continue
            if ch == ":":
                sets.append("".join(current))
                current = []
            else:
                current.append(ch)
            i += 1
        sets.append("".join(current))
        return tuple(s for s in sets if s)

    def ensure_not_too_long(self, password: Password) -> None:
        if password.byte_length > MAX_PASSWORD_BYTES:
            raise ValidationFailed(f"Password cannot be longer than {MAX_PASSWORD_BYTES} characters")

    def check(self, password: Password) -> PasswordCheck:
        reasons: list[str] = []
        messages: list[str] = []
        if password.byte_length < self.min_length:
            reasons.append("length")
            messages.append(f"Password should be at least {self.min_length} characters.")
        for charset in self.required_characters:
            if not any(ch in charset for ch in password.secret):
                reasons.append("characters")
                messages.append(
                    "Password should contain at least one character of each: "
                    + ", ".join(self.required_characters)
                    + "."
                )
                break
        return PasswordCheck(tuple(reasons), tuple(messages))

    def enforce(self, password: Password) -> None:
        """Raise `validation_failed` for >72 bytes and `weak_password` for a policy failure."""
        self.ensure_not_too_long(password)
        result = self.check(password)
        if not result.ok:
            raise WeakPassword(result.message, result.reasons)


_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_MAX_DURATION_SECONDS = (2**63) / 1e9  # Go's time.Duration is int64 nanoseconds (~292 years)
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(raw: str) -> timedelta:
    """Parse a Go duration string such as `1h30m`, `-1.5h`, `300ms` or `0`; raise ValueError."""
    text = raw.strip()
    if not text:
        raise ValueError(f"invalid duration {raw!r}")
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return timedelta(0)
    if not text:
        raise ValueError(f"invalid duration {raw!r}")
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {raw!r}")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if total > _MAX_DURATION_SECONDS:
        # Go's int64 nanoseconds overflow: `time: invalid duration` (also keeps timedelta in range)
        raise ValueError(f"invalid duration {raw!r}")
    return timedelta(seconds=sign * total)


_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
PKCE_METHODS = ("s256", "plain")
CHANNELS = ("sms", "whatsapp")
INVALID_CHANNEL = (
    "Invalid channel, supported values are 'sms' or 'whatsapp'. "
    "'whatsapp' is only supported if Twilio or Twilio Verify is used as the provider."
)


def validate_pkce_params(challenge: str | None, method: str | None) -> str | None:
    """GoTrue's PKCE parameter rules; returns the lower-cased method, or None without PKCE."""
    if not challenge and not method:
        return None
    if not challenge or not method:
        raise ValidationFailed("PKCE flow requires code_challenge_method and code_challenge")
    if not _CHALLENGE.fullmatch(challenge):
        raise ValidationFailed("code challenge has to be between 43 and 128 characters and only contain a-z, A-Z, 0-9, ., _, ~ and -")
    if method.lower() not in PKCE_METHODS:
        raise ValidationFailed(f"code challenge method not supported: {method}")
    return method.lower()


def validate_channel(channel: str | None) -> str:
    """The channel's name check alone, with GoTrue's message; `phone.message_channel` also applies
    the provider rule (`whatsapp` only with Twilio or Twilio Verify, anything with the SMS hook)."""
    value = channel or "sms"
    if value not in CHANNELS:
        raise ValidationFailed(INVALID_CHANNEL)
    return value
