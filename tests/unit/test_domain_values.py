"""Value objects (api.md §0.10, password-and-otp.md §2, api.md §15.4 durations)."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from pytrue.domain.errors import ValidationFailed, WeakPassword
from pytrue.domain.values import Email, Password, PasswordPolicy, Phone, parse_go_duration

# The pattern exactly as api.md §0.10 states it (kept separate from the implementation's copy).
GOTRUE_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
E164 = re.compile(r"^[1-9][0-9]{1,14}$")

EMAIL_CHARS = string.ascii_letters + string.digits + ".!#$%&'*+/=?^_`{|}~-@ "
email_like = st.text(alphabet=EMAIL_CHARS, max_size=40) | st.emails() | st.text(max_size=20)
valid_emails = st.from_regex(GOTRUE_EMAIL, fullmatch=True).filter(lambda s: len(s) <= 255)


# --- Email ----------------------------------------------------------------------------------


@given(email_like)
@example("User@Example.COM")
@example("  a@b  ")
@example("a@-b.com")
@example("a@b.c-")
def test_email_accepted_values_match_gotrue_pattern_and_are_lower_case(raw: str) -> None:
    try:
        parsed = Email.parse(raw)
    except ValidationFailed:
        stripped = raw.strip()
        assert stripped == "" or len(stripped) > 255 or not GOTRUE_EMAIL.fullmatch(stripped)
        return
    assert GOTRUE_EMAIL.fullmatch(raw.strip())
    assert len(parsed.value) <= 255
    assert parsed.value == raw.strip().lower()
    assert parsed.value == parsed.value.lower()
    assert Email.parse(parsed.value) == parsed


@given(valid_emails)
def test_every_gotrue_valid_email_is_accepted_and_idempotent(raw: str) -> None:
    parsed = Email.parse(raw)
    assert parsed.value == raw.lower()
    assert Email.parse(parsed.value) == parsed
    assert str(parsed) == parsed.value


@pytest.mark.parametrize("raw", [None, "", "   ", "plain", "a@", "@b.com", "a b@c.com", "a@b..com", "a@" + "b" * 64])
def test_invalid_emails_are_refused(raw: str | None) -> None:
    with pytest.raises(ValidationFailed):
        Email.parse(raw)


def test_email_length_limit_is_255() -> None:
    base = "x@" + ".".join(["c" * 50] * 5)  # 2 + 254 = 256 characters
    assert len(base) == 256
    with pytest.raises(ValidationFailed):
        Email.parse(base)
    ok = "x@" + ".".join(["c" * 50] * 4) + "." + "c" * 49  # 255 characters
    assert len(ok) == 255
    assert Email.parse(ok).value == ok


# --- Phone ----------------------------------------------------------------------------------

digits = st.from_regex(E164, fullmatch=True)


@st.composite
def decorated_phones(draw: st.DrawFn) -> tuple[str, str]:
    number = draw(digits)
    pieces: list[str] = []
    for ch in number:
        pieces.append(" " * draw(st.integers(0, 2)))
        pieces.append(ch)
    pieces.append(" " * draw(st.integers(0, 2)))
    body = "".join(pieces)
    plus = draw(st.booleans())
    return ("+" + body if plus else body), number


@given(decorated_phones())
def test_phone_strips_one_plus_and_spaces(case: tuple[str, str]) -> None:
    raw, number = case
    parsed = Phone.parse(raw)
    assert parsed.value == number
    assert E164.fullmatch(parsed.value)
    assert Phone.parse(parsed.value) == parsed


@given(st.text(alphabet="+0123456789 -()a", max_size=20))
@example("++15551234567")
@example("0123")
@example("1")
@example("1234567890123456")
@example(" +15551234567")
@example("+ 15551234567")
def test_phone_accepts_exactly_e164_after_normalising(raw: str) -> None:
    # GoTrue's formatPhoneNumber: TrimPrefix(phone, "+") first, then remove all spaces.
    normalised = (raw[1:] if raw.startswith("+") else raw).replace(" ", "")
    if E164.fullmatch(normalised):
        assert Phone.parse(raw).value == normalised
    else:
        with pytest.raises(ValidationFailed):
            Phone.parse(raw)


def test_space_before_plus_is_refused_like_gotrue() -> None:
    with pytest.raises(ValidationFailed):
        Phone.parse(" +15551234567")
    assert Phone.parse("+1 555 123 4567").value == "15551234567"


def test_phone_none_is_invalid() -> None:
    with pytest.raises(ValidationFailed):
        Phone.parse(None)


# --- PasswordPolicy -------------------------------------------------------------------------

charsets = st.lists(st.text(alphabet=string.ascii_letters + string.digits + "!@#:", min_size=1, max_size=6), max_size=4)
passwords = st.text(max_size=30)


@given(passwords, st.integers(-5, 40), charsets)
def test_policy_reasons(secret: str, min_length: int, required: list[str]) -> None:
    password = Password(secret)
    assume(password.byte_length <= 72)
    policy = PasswordPolicy(min_length=min_length, required_characters=tuple(required))
    result = policy.check(password)
    too_short = len(secret.encode("utf-8")) < max(6, min_length)
    missing = any(not set(charset) & set(secret) for charset in required)
    assert ("length" in result.reasons) == too_short
    assert ("characters" in result.reasons) == missing
    assert result.reasons.count("characters") <= 1
    assert result.ok == (not too_short and not missing)
    if result.ok:
        policy.enforce(password)
    else:
        with pytest.raises(WeakPassword) as info:
            policy.enforce(password)
        assert info.value.code == "weak_password"
        assert info.value.reasons == result.reasons
        assert info.value.message == " ".join(result.messages)


def test_policy_messages() -> None:
    policy = PasswordPolicy(min_length=8, required_characters=("abc", "123"))
    result = policy.check(Password("x"))
    assert result.reasons == ("length", "characters")
    assert result.message == (
        "Password should be at least 8 characters. "
        "Password should contain at least one character of each: abc, 123."
    )


def test_min_length_never_below_six() -> None:
    assert PasswordPolicy(min_length=0).min_length == 6
    assert PasswordPolicy(min_length=-3).check(Password("12345")).reasons == ("length",)
    assert PasswordPolicy(min_length=0).check(Password("123456")).ok


@given(st.text(min_size=73, max_size=90) | st.text(alphabet="é€😀", min_size=37, max_size=45), charsets)
@example("a" * 73, [])
@example("é" * 37, ["z"])
def test_over_72_bytes_is_validation_failed_not_weak(secret: str, required: list[str]) -> None:
    policy = PasswordPolicy(min_length=100, required_characters=tuple(required))
    with pytest.raises(ValidationFailed) as info:
        policy.enforce(Password(secret))
    assert not isinstance(info.value, WeakPassword)
    assert info.value.code == "validation_failed"


def test_exactly_72_bytes_is_not_too_long() -> None:
    PasswordPolicy().enforce(Password("a" * 72))


def test_password_never_shows_the_secret() -> None:
    p = Password("hunter22")
    assert "hunter22" not in repr(p) and "hunter22" not in str(p)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("abc", ("abc",)),
        ("abc:123", ("abc", "123")),
        ("abc:\\:", ("abc", ":")),
        ("a\\:b:c", ("a:b", "c")),
        ("abcdefghijklmnopqrstuvwxyz:ABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789:!@#$%^&*()_+-=[]{};'\\:\"|<>?,./`~",
         ("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789",
          "!@#$%^&*()_+-=[]{};':\"|<>?,./`~")),
        ("::a::", ("a",)),
    ],
)
def test_parse_required_characters_examples(raw: str, expected: tuple[str, ...]) -> None:
    assert PasswordPolicy.parse_required_characters(raw) == expected


plain_sets = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + "!@#:", min_size=1, max_size=6).filter(
        lambda s: "::" not in s
    ),
    max_size=5,
)


@given(plain_sets)
def test_parse_required_characters_round_trips_escaped_colons(sets: list[str]) -> None:
    raw = ":".join(s.replace(":", "\\:") for s in sets)
    assert PasswordPolicy.parse_required_characters(raw) == tuple(sets)


# --- Go durations ---------------------------------------------------------------------------

UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}


@given(
    st.lists(st.tuples(st.integers(0, 500), st.sampled_from(sorted(UNIT_SECONDS))), min_size=1, max_size=6),
    st.sampled_from(["", "+", "-"]),
)
def test_parse_go_duration_matches_reference(parts: list[tuple[int, str]], sign: str) -> None:
    text = sign + "".join(f"{n}{unit}" for n, unit in parts)
    expected = sum(n * UNIT_SECONDS[unit] for n, unit in parts) * (-1 if sign == "-" else 1)
    assert parse_go_duration(text).total_seconds() == pytest.approx(expected, abs=1e-6)


@given(st.integers(0, 1000), st.integers(0, 999), st.sampled_from(sorted(UNIT_SECONDS)))
def test_parse_go_duration_fractions(whole: int, frac: int, unit: str) -> None:
    text = f"{whole}.{frac:03d}{unit}"
    expected = (whole + frac / 1000) * UNIT_SECONDS[unit]
    assert parse_go_duration(text).total_seconds() == pytest.approx(expected, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("0", 0), ("-0", 0), ("+0", 0), ("0s", 0), ("1h30m", 5400), ("1.5h", 5400), ("300ms", 0.3),
     (".5s", 0.5), ("1.s", 1), ("2us", 2e-6), ("2µs", 2e-6), ("2μs", 2e-6), ("5ns", 5e-9), ("-1.5h", -5400),
     ("1s1h", 3601)],
)
def test_parse_go_duration_examples(raw: str, seconds: float) -> None:
    assert parse_go_duration(raw).total_seconds() == pytest.approx(seconds, abs=1e-6)


@pytest.mark.parametrize("raw", ["10", "", "h", "1x", ".", ".s", "-", "+", "1h1", "00", "1 h", "1hh", "s1", "--1s", "1.2.3s"])
def test_parse_go_duration_rejects_invalid(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(raw)


@pytest.mark.parametrize("raw", ["2562048h", "99999999999999h", "1" * 400 + "h", "-3000000h", "9223372037s"])
def test_parse_go_duration_rejects_int64_nanosecond_overflow_like_go(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(raw)


def test_parse_go_duration_accepts_up_to_the_int64_limit() -> None:
    assert parse_go_duration("2562047h").total_seconds() == 2562047 * 3600
    assert parse_go_duration("-2562047h47m16s").total_seconds() == -(2562047 * 3600 + 47 * 60 + 16)
