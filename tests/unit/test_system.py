"""Clocks and token generators."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.adapters.system import (
    PASSWORD_ALPHABET,
    FixedClock,
    SecretsTokenGenerator,
    SeededTokenGenerator,
    SystemClock,
)
from pytrue.application.ports import TokenGenerator

REFRESH_TOKEN = re.compile(r"[a-z2-7]{12}")
START = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def test_system_clock_is_aware_utc_and_current() -> None:
    before = datetime.now(timezone.utc)
    now = SystemClock().now()

    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(timezone.utc)


def test_fixed_clock_stands_still_until_advanced() -> None:
    clock = FixedClock(START)

    assert clock.now() == clock.now() == START
    assert clock.advance(30) == START + timedelta(seconds=30)
    assert clock.advance(minutes=2, seconds=1.5) == START + timedelta(minutes=2, seconds=31.5)
    assert clock.now() == START + timedelta(minutes=2, seconds=31.5)


def test_fixed_clock_can_be_set_and_normalises_to_utc() -> None:
    clock = FixedClock(START)
    cest = timezone(timedelta(hours=2))

    clock.set(datetime(2024, 5, 1, 16, 0, tzinfo=cest))

    assert clock.now() == START + timedelta(hours=2)
    assert clock.now().tzinfo is timezone.utc


def test_fixed_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        FixedClock(datetime(2024, 5, 1))
    with pytest.raises(ValueError):
        FixedClock(START).set(datetime(2024, 5, 1))


@pytest.mark.parametrize("generator", [SecretsTokenGenerator(), SeededTokenGenerator(7)])
def test_uuids_are_version_4_and_distinct(generator: TokenGenerator) -> None:
    first, second = generator.uuid(), generator.uuid()

    assert first.version == second.version == 4
    assert first != second


@pytest.mark.parametrize("generator", [SecretsTokenGenerator(), SeededTokenGenerator(7)])
def test_passwords_have_the_length_and_alphabet(generator: TokenGenerator) -> None:
    password = generator.password(64)

    assert len(password) == 64
    assert set(password) <= set(PASSWORD_ALPHABET)
    assert generator.password(0) == ""


@pytest.mark.parametrize("generator", [SecretsTokenGenerator(), SeededTokenGenerator(7)])
def test_invalid_lengths_are_refused(generator: TokenGenerator) -> None:
    with pytest.raises(ValueError):
        generator.otp(0)
    with pytest.raises(ValueError):
        generator.password(-1)


def test_refresh_token_is_the_base32_prefix_of_eight_bytes() -> None:
    generator = SeededTokenGenerator(1)
    raw = random.Random(1).randbytes(8)
    bits = int.from_bytes(raw, "big") << 1
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    expected = "".join(alphabet[(bits >> (60 - 5 * i)) & 31] for i in range(12))

    assert generator.refresh_token() == expected


def test_otps_keep_leading_zeros() -> None:
    otps = {SeededTokenGenerator(seed).otp(2) for seed in range(500)}

    assert any(otp.startswith("0") for otp in otps)
    assert all(len(otp) == 2 for otp in otps)


def test_seeded_generator_is_reproducible() -> None:
    def draw(generator: SeededTokenGenerator) -> tuple[object, ...]:
        return (generator.uuid(), generator.refresh_token(), generator.otp(6), generator.password(16))

    assert draw(SeededTokenGenerator(42)) == draw(SeededTokenGenerator(42))
    assert draw(SeededTokenGenerator(42)) != draw(SeededTokenGenerator(43))


@given(seed=st.integers(), length=st.integers(min_value=1, max_value=12))
def test_seeded_tokens_have_the_wire_format(seed: int, length: int) -> None:
    generator = SeededTokenGenerator(seed)

    assert REFRESH_TOKEN.fullmatch(generator.refresh_token())
    assert re.fullmatch(rf"[0-9]{{{length}}}", generator.otp(length))


@given(length=st.integers(min_value=1, max_value=12))
def test_secret_tokens_have_the_wire_format(length: int) -> None:
    generator = SecretsTokenGenerator()

    assert REFRESH_TOKEN.fullmatch(generator.refresh_token())
    assert re.fullmatch(rf"[0-9]{{{length}}}", generator.otp(length))
