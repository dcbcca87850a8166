"""Emailed codes, send frequency and PKCE flow states: the domain rules behind the email flows."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.domain.errors import DomainError, ValidationFailed
from pytrue.domain.flow_state import FlowState, parse_challenge_method
from pytrue.domain.links import encode_redirect, verify_link
from pytrue.domain.one_time_token import (
    PKCE_PREFIX,
    ensure_send_allowed,
    is_expired,
    otp_matches,
    stored_hash,
    token_hash,
)

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
emails = st.emails().map(str.lower)
codes = st.text(alphabet="0123456789", min_size=6, max_size=10)


def test_token_hash_is_gotrue_sha224_of_address_and_code() -> None:
    assert token_hash("a@b.co", "123456") == hashlib.sha224(b"a@b.co123456").hexdigest()
    assert len(token_hash("a@b.co", "123456")) == 56


@given(emails, codes, st.booleans())
def test_a_code_matches_its_stored_hash_with_or_without_pkce(address: str, code: str, pkce: bool) -> None:
    stored = stored_hash(address, code, pkce=pkce)
    assert stored.startswith(PKCE_PREFIX) == pkce
    assert otp_matches(stored, address.upper(), code)


@given(emails, codes, codes)
def test_another_code_never_matches(address: str, code: str, other: str) -> None:
    if other != code:
        assert not otp_matches(stored_hash(address, code), address, other)


def test_empty_stored_or_typed_codes_never_match() -> None:
    assert not otp_matches("", "a@b.co", "123456")
    assert not otp_matches(stored_hash("a@b.co", "123456"), "a@b.co", "")


def test_expiry_counts_from_the_send_and_a_missing_send_never_verifies() -> None:
    assert is_expired(None, NOW, timedelta(hours=1))
    assert not is_expired(NOW, NOW + timedelta(hours=1), timedelta(hours=1))
    assert is_expired(NOW, NOW + timedelta(hours=1, microseconds=1), timedelta(hours=1))


@given(st.floats(min_value=0, max_value=59.999))
def test_send_frequency_message_counts_whole_seconds_left(elapsed: float) -> None:
    with pytest.raises(DomainError) as refused:
        ensure_send_allowed(NOW, NOW + timedelta(seconds=elapsed), timedelta(minutes=1))
    remaining = int((timedelta(minutes=1) - timedelta(seconds=elapsed)).total_seconds())
    assert refused.value.code == "over_email_send_rate_limit"
    assert refused.value.message == f"For security purposes, you can only request this after {remaining} seconds."


def test_send_frequency_allows_first_and_late_sends() -> None:
    ensure_send_allowed(None, NOW, timedelta(minutes=1))
    ensure_send_allowed(NOW, NOW + timedelta(minutes=1), timedelta(minutes=1))


def flow(method: str = "s256", challenge: str = "", auth_method: str = "email/signup") -> FlowState:
    return FlowState(
        id=uuid4(),
        user_id=uuid4(),
        auth_code=str(uuid4()),
        code_challenge_method=method,
        code_challenge=challenge,
        provider_type="email",
        authentication_method=auth_method,
        created_at=NOW,
        updated_at=NOW,
    )


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=43, max_size=128))
def test_s256_verifier_matches_its_challenge_only(verifier: str) -> None:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    flow("s256", challenge).verify(verifier)
    with pytest.raises(DomainError) as wrong:
        flow("s256", challenge).verify(verifier + "x")
    assert wrong.value.code == "bad_code_verifier"
    flow("plain", verifier).verify(verifier)


def test_challenge_methods_are_case_insensitive_and_closed() -> None:
    assert parse_challenge_method("S256") == "s256" and parse_challenge_method("PLAIN") == "plain"
    with pytest.raises(ValidationFailed):
        parse_challenge_method("sha1")


def test_flow_state_expiry_and_the_magic_link_quirk() -> None:
    lifetime = timedelta(seconds=300)
    signup = flow()
    signup.auth_code_issued_at = NOW + timedelta(seconds=250)
    assert signup.is_expired(NOW + timedelta(seconds=301), lifetime)  # measured from the request
    magic = flow(auth_method="magiclink")
    magic.auth_code_issued_at = NOW + timedelta(seconds=250)
    assert not magic.is_expired(NOW + timedelta(seconds=301), lifetime)  # from the code's issue
    assert magic.is_expired(NOW + timedelta(seconds=551), lifetime)


@pytest.mark.parametrize(
    ("external", "path", "expected"),
    [
        ("http://localhost:9999", "/verify", "http://localhost:9999/verify"),
        ("https://x.co/auth/v1", "/auth/v1/verify", "https://x.co/auth/v1/verify"),
        ("https://x.co/auth/v1", "/verify", "https://x.co/verify"),
        ("https://x.co/auth/v1/", "verify", "https://x.co/auth/v1/verify"),
        ("https://x.co", "https://links.example.com/go?drop=1", "https://links.example.com/go"),
    ],
)
def test_verify_link_resolves_the_url_path_like_gotrue(external: str, path: str, expected: str) -> None:
    link = verify_link(external, path, "pkce_abc", "magiclink", "http://localhost:3000")
    assert link == f"{expected}?token=pkce_abc&type=magiclink&redirect_to=http://localhost:3000"


def test_redirect_is_escaped_only_when_it_holds_query_characters() -> None:
    assert encode_redirect("http://a.co/cb") == "http://a.co/cb"
    assert encode_redirect("http://a.co/cb?x=1&y=2") == "http%3A%2F%2Fa.co%2Fcb%3Fx%3D1%26y%3D2"
