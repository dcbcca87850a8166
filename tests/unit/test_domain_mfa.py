"""MFA rules (pytrue.domain.mfa): TOTP against an independent implementation (pyotp), the
enrolment limits in GoTrue's order, challenge checks, assurance levels."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.domain.errors import DomainError
from pytrue.domain.mfa import (
    AAL1,
    AAL2,
    PHONE,
    TOTP,
    TOTP_PERIOD,
    VERIFIED,
    Challenge,
    ChallengeExpired,
    Factor,
    FactorLimits,
    aal_of,
    challenge_ip,
    check_challenge,
    check_enrolment,
    check_unenrolment,
    downgrade,
    expired_unverified,
    new_totp_secret,
    next_level,
    phone_factors_to_replace,
    step_up,
    totp_match,
    totp_uri,
)
from pytrue.domain.session import Session

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
secrets = st.binary(min_size=20, max_size=20).map(new_totp_secret)
moments = st.integers(min_value=10**9, max_value=4 * 10**9).map(lambda t: datetime.fromtimestamp(t, UTC))


def factor(kind: str = TOTP, *, status: str = "unverified", name: str = "", age: timedelta = timedelta(0), phone: str = "") -> Factor:
    return Factor(
        id=uuid4(), user_id=uuid4(), factor_type=kind, status=status, friendly_name=name, phone=phone,
        created_at=NOW - age, updated_at=NOW - age,
    )  # fmt: skip


def session(aal: str = AAL1) -> Session:
    s = Session(id=uuid4(), user_id=uuid4(), created_at=NOW, updated_at=NOW, aal=aal)
    s.add_amr("password", NOW)
    return s


@given(st.binary(min_size=20, max_size=20))
def test_secrets_are_32_base32_characters_of_the_20_bytes(raw: bytes) -> None:
    secret = new_totp_secret(raw)
    assert len(secret) == 32 and "=" not in secret
    assert base64.b32decode(secret) == raw


@given(secrets, moments, st.integers(-3, 3))
def test_a_code_matches_exactly_within_one_step_either_way(secret: str, now: datetime, offset: int) -> None:
    code = pyotp.TOTP(secret).at(now + timedelta(seconds=offset * TOTP_PERIOD))
    step = totp_match(secret, code, now)
    if abs(offset) <= 1:
        assert step is not None
        assert pyotp.TOTP(secret).at(datetime.fromtimestamp(step * TOTP_PERIOD, UTC)) == code
    elif step is not None:  # a code of another step may collide with a nearby one (1 in 10**6)
        assert pyotp.TOTP(secret).at(datetime.fromtimestamp(step * TOTP_PERIOD, UTC)) == code


@given(secrets, moments, st.text(max_size=8))
def test_anything_but_six_digits_never_matches(secret: str, now: datetime, code: str) -> None:
    if len(code) == 6 and code.isdigit() and code.isascii():
        return
    assert totp_match(secret, code, now) is None


def test_the_uri_is_what_authenticator_apps_read() -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    uri = totp_uri(issuer="app.example.com", account="ann@example.com", secret=secret)
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret and parsed.issuer == "app.example.com" and parsed.name == "ann@example.com"
    assert uri == (
        "otpauth://totp/app.example.com:ann@example.com?algorithm=SHA1&digits=6&issuer=app.example.com&period=30&secret=" + secret
    )


@given(st.lists(st.tuples(st.sampled_from(["", "a", "b"]), st.booleans()), max_size=6), st.sampled_from(["", "a", "c"]),
       st.integers(1, 4), st.integers(1, 4), st.booleans())  # fmt: skip
def test_enrolment_refusals_come_in_gotrues_order(
    specs: list[tuple[str, bool]], name: str, max_enrolled: int, max_verified: int, aal2: bool
) -> None:
    factors = [factor(name=n, status=VERIFIED if v else "unverified") for n, v in specs]
    limits = FactorLimits(max_enrolled=max_enrolled, max_verified=max_verified)
    verified = sum(v for _, v in specs)
    try:
        check_enrolment(factors, name, session(AAL2 if aal2 else AAL1), limits)
        refused = None
    except DomainError as error:
        refused = error.code
    if any(n == name for n, _ in specs):
        assert refused == "mfa_factor_name_conflict"
    elif len(factors) >= max_enrolled or verified >= max_verified:
        assert refused == "too_many_enrolled_mfa_factors"
    elif verified and not aal2:
        assert refused == "insufficient_aal"
    else:
        assert refused is None


@given(st.lists(st.tuples(st.integers(0, 900), st.booleans()), max_size=6))
def test_only_unverified_factors_past_their_expiry_are_swept(specs: list[tuple[int, bool]]) -> None:
    factors = [factor(status=VERIFIED if v else "unverified", age=timedelta(seconds=a)) for a, v in specs]
    swept = expired_unverified(factors, NOW, timedelta(seconds=300))
    assert {f.id for f in swept} == {f.id for f, (a, v) in zip(factors, specs) if not v and a > 300}


def test_a_verified_phone_factor_for_the_number_refuses_a_new_one() -> None:
    unverified = factor(PHONE, phone="15550001111")
    assert phone_factors_to_replace([unverified, factor(PHONE, phone="15550002222")], "15550001111") == [unverified]
    with pytest.raises(DomainError) as refused:
        phone_factors_to_replace([factor(PHONE, phone="15550001111", status=VERIFIED)], "15550001111")
    assert refused.value.code == "mfa_verified_factor_exists"


@given(st.booleans(), st.booleans())
def test_unenrolling_a_verified_factor_needs_aal2(verified: bool, aal2: bool) -> None:
    f = factor(status=VERIFIED if verified else "unverified")
    if verified and not aal2:
        with pytest.raises(DomainError) as refused:
            check_unenrolment(f, session(AAL1))
        assert refused.value.code == "insufficient_aal"
    else:
        check_unenrolment(f, session(AAL2 if aal2 else AAL1))


def test_challenges_are_checked_for_owner_use_address_and_age() -> None:
    lifetime = timedelta(seconds=300)
    fresh = Challenge(id=uuid4(), factor_id=uuid4(), created_at=NOW, ip_address="203.0.113.7")
    assert check_challenge(fresh, "203.0.113.7", NOW + lifetime, lifetime) is fresh
    with pytest.raises(DomainError) as missing:
        check_challenge(None, "203.0.113.7", NOW, lifetime)
    assert missing.value.code == "mfa_factor_not_found"
    with pytest.raises(DomainError) as elsewhere:
        check_challenge(fresh, "198.51.100.1", NOW, lifetime)
    assert elsewhere.value.code == "mfa_ip_address_mismatch"
    used = Challenge(id=uuid4(), factor_id=uuid4(), created_at=NOW, ip_address="203.0.113.7", verified_at=NOW)
    with pytest.raises(DomainError):
        check_challenge(used, "203.0.113.7", NOW, lifetime)
    with pytest.raises(ChallengeExpired) as old:
        check_challenge(fresh, "203.0.113.7", NOW + lifetime + timedelta(seconds=1), lifetime)
    assert old.value.challenge is fresh
    assert challenge_ip("  ::FFFF:203.0.113.7 ") == "::ffff:cb00:7107" and challenge_ip(None) == challenge_ip("nonsense") == "0.0.0.0"


@given(st.sampled_from([TOTP, PHONE]), st.integers(0, 3))
def test_step_up_and_downgrade_move_between_aal1_and_aal2(kind: str, later: int) -> None:
    s = session()
    f = factor(kind, status=VERIFIED)
    assert aal_of(s) == AAL1
    step_up(s, f, NOW + timedelta(seconds=later))
    assert s.aal == aal_of(s) == AAL2 and s.factor_id == f.id
    assert s.amr_newest_first()[0].method == ("totp" if kind == TOTP else "mfa/phone") or later == 0
    downgrade(s, f, NOW)
    assert s.aal == aal_of(s) == AAL1 and s.factor_id is None and [c.method for c in s.amr] == ["password"]


@given(st.lists(st.booleans(), max_size=4))
def test_the_next_level_is_aal2_once_any_factor_is_verified(flags: list[bool]) -> None:
    assert next_level([factor(status=VERIFIED if v else "unverified") for v in flags]) == (AAL2 if any(flags) else AAL1)
