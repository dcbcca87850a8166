"""The user aggregate: bans, soft delete, metadata merge, confirmation."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from pytrue.domain.user import User, new_identity

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
UID = UUID("11111111-2222-4333-8444-555555555555")

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)
positive = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3650))
any_duration = st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650))
offsets = st.timedeltas(min_value=timedelta(days=-4000), max_value=timedelta(days=4000))


def make_user(**kw: object) -> User:
    user = User(
        id=kw.pop("id", UID),  # type: ignore[arg-type]
        aud="authenticated",
        role="authenticated",
        email=kw.pop("email", "Person@example.com"),  # type: ignore[arg-type]
        phone=kw.pop("phone", "15551234567"),  # type: ignore[arg-type]
        encrypted_password="$argon2id$x",
        user_metadata={"full_name": "A Person", "keep": 1},
        app_metadata={"provider": "email", "providers": ["email"]},
        created_at=T0,
        updated_at=T0,
        **kw,  # type: ignore[arg-type]
    )
    user.add_identity(new_identity(identity_id=UUID(int=7), user=user, provider="email", data={}, now=T0))
    return user


# --- bans -----------------------------------------------------------------------------------


@given(moments, positive, offsets)
def test_ban_window(now: datetime, duration: timedelta, offset: timedelta) -> None:
    user = make_user()
    user.ban(duration, now)
    t = now + offset
    assert user.is_banned(t) == (t < now + duration)
    assert user.is_banned(now)
    assert not user.is_banned(now + duration)
    assert user.updated_at == now


@given(moments, any_duration, offsets)
def test_any_ban_duration_bans_exactly_until_now_plus_duration(now: datetime, duration: timedelta, offset: timedelta) -> None:
    user = make_user()
    user.ban(duration, now)
    t = now + offset
    if duration == timedelta(0):
        assert user.banned_until is None
    assert user.is_banned(t) == (duration != timedelta(0) and t < now + duration)


@given(moments, positive, st.sampled_from([None, timedelta(0)]), offsets)
def test_ban_none_or_zero_lifts_the_ban(now: datetime, duration: timedelta, lift: timedelta | None, offset: timedelta) -> None:
    user = make_user()
    user.ban(duration, now)
    user.ban(lift, now)
    assert user.banned_until is None
    assert not user.is_banned(now + offset)


# --- soft delete ----------------------------------------------------------------------------


def test_soft_delete_obfuscates_deterministically_and_clears_metadata() -> None:
    a, b = make_user(), make_user()
    a.email_change = "new@example.com"
    b.email_change = "new@example.com"
    a.confirmation_token = b.confirmation_token = "tok"
    later = T0 + timedelta(hours=1)
    a.soft_delete(later)
    b.soft_delete(later)
    assert a.email == b.email and a.phone == b.phone and a.email_change == b.email_change
    assert a.email != "Person@example.com" and "@" not in a.email
    assert a.phone != "15551234567" and len(a.phone) <= 15
    assert a.email_change != "new@example.com"
    assert a.user_metadata == {} and a.app_metadata == {}
    assert a.encrypted_password is None
    assert a.confirmation_token == ""
    assert a.deleted_at == later and a.updated_at == later
    assert all(i.identity_data == {} for i in a.identities)
    assert a.identities[0].provider_id != str(UID)
    assert a.identities[0].provider_id == b.identities[0].provider_id


def test_soft_delete_depends_on_user_id() -> None:
    a = make_user()
    b = make_user(id=UUID(int=99))
    a.soft_delete(T0)
    b.soft_delete(T0)
    assert a.email != b.email


@given(st.emails(), st.from_regex(r"[1-9][0-9]{1,14}", fullmatch=True))
def test_soft_delete_is_idempotent(email: str, phone: str) -> None:
    user = make_user(email=email.lower(), phone=phone)
    user.soft_delete(T0)
    snapshot = copy.deepcopy(user)
    user.soft_delete(T0 + timedelta(days=1))
    assert user == snapshot


def test_soft_delete_leaves_empty_fields_empty() -> None:
    user = make_user(phone="")
    user.soft_delete(T0)
    assert user.phone == ""
    assert user.email_change == ""


# --- metadata -------------------------------------------------------------------------------

json_values = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
changes = st.dictionaries(st.text(max_size=4), json_values, max_size=6)


@given(st.dictionaries(st.text(max_size=4), json_values.filter(lambda v: v is not None), max_size=6), changes)
def test_merge_user_metadata_sets_and_none_deletes(start: dict[str, object], delta: dict[str, object]) -> None:
    user = make_user()
    user.user_metadata = dict(start)
    now = T0 + timedelta(minutes=5)
    user.merge_user_metadata(delta, now)
    for key, value in delta.items():
        if value is None:
            assert key not in user.user_metadata
        else:
            assert user.user_metadata[key] == value
    for key, value in start.items():
        if key not in delta:
            assert user.user_metadata[key] == value
    assert user.updated_at == now


@given(changes)
def test_merge_app_metadata_same_rules(delta: dict[str, object]) -> None:
    user = make_user()
    before = dict(user.app_metadata)
    user.merge_app_metadata(delta, T0)
    expected = dict(before)
    for key, value in delta.items():
        if value is None:
            expected.pop(key, None)
        else:
            expected[key] = value
    assert user.app_metadata == expected


# --- confirmation ---------------------------------------------------------------------------


def test_confirm_email_sets_email_verified_and_keeps_first_stamp() -> None:
    user = make_user()
    user.confirmation_token = "abc"
    first = T0 + timedelta(minutes=1)
    user.confirm_email(first)
    assert user.email_confirmed_at == first
    assert user.is_email_confirmed
    assert user.user_metadata["email_verified"] is True
    assert user.identity_for("email").identity_data["email_verified"] is True  # type: ignore[union-attr]
    assert user.confirmation_token == ""
    assert user.confirmed_at == first
    user.confirm_email(first + timedelta(hours=1))
    assert user.email_confirmed_at == first


def test_confirm_phone_confirms_as_of_now_and_leaves_phone_verified_alone() -> None:
    """GoTrue's `ConfirmPhone`: only `phone_confirmed_at` (reset on every texted sign-in) and the token."""
    user = make_user()
    user.confirmation_token = "abc"
    user.confirm_phone(T0)
    assert user.phone_confirmed_at == T0 and user.confirmation_token == ""
    assert "phone_verified" not in user.user_metadata
    later = T0 + timedelta(hours=1)
    user.confirm_phone(later)
    assert user.phone_confirmed_at == later


def test_username_prefers_phone() -> None:
    assert make_user().username == "15551234567"
    assert make_user(phone="").username == "Person@example.com"


def test_applying_a_phone_change_adds_a_verified_phone_identity() -> None:
    user = make_user(phone="", phone_change="15550001111")
    later = T0 + timedelta(hours=1)

    user.apply_phone_change(UUID(int=9), later)

    assert user.phone == "15550001111" and user.phone_change == "" and user.phone_confirmed_at == later
    identity = user.identity_for("phone")
    assert identity is not None and identity.id == UUID(int=9)
    assert identity.identity_data["phone"] == "15550001111" and identity.identity_data["phone_verified"] is True
    assert identity.updated_at == later
    assert sorted(user.app_metadata["providers"]) == ["email", "phone"]


def test_applying_an_email_change_updates_the_existing_email_identity() -> None:
    user = make_user(email_change="New@Example.com", email_change_token_new="abc", email_change_confirm_status=1)
    later = T0 + timedelta(hours=1)

    user.apply_email_change(UUID(int=9), later)

    assert user.email == "new@example.com" and user.email_change == "" and user.email_change_confirm_status == 0
    identity = user.identity_for("email")
    assert identity is not None and identity.id == UUID(int=7), "the existing identity, not a new one"
    assert identity.identity_data["email"] == "new@example.com" and identity.identity_data["email_verified"] is True
    assert identity.updated_at == later
    assert len(user.identities) == 1


# --- proof of address ownership (ADR 0015) -------------------------------------------------------


def test_restart_sign_up_replaces_password_and_data_of_an_unproven_account_only() -> None:
    user = make_user(phone="")
    assert user.is_unproven
    assert user.restart_sign_up("email", "$new", {"lang": "en"}, UUID(int=8), T0 + timedelta(1))
    assert user.encrypted_password == "$new"
    assert user.user_metadata["lang"] == "en" and "full_name" not in user.user_metadata
    assert user.identity_for("email").identity_data["lang"] == "en"  # type: ignore[union-attr]
    proven = make_user(phone="", email_confirmed_at=T0)
    assert not proven.restart_sign_up("email", "$new", {"lang": "en"}, UUID(int=8), T0)
    assert proven.encrypted_password == "$argon2id$x" and proven.user_metadata["full_name"] == "A Person"


def test_proof_by_another_code_drops_unproven_password_and_metadata() -> None:
    user = make_user(phone="")
    assert user.prove_email(T0, by_sign_up_code=False) is True
    assert user.encrypted_password == "" and "full_name" not in user.user_metadata
    assert user.user_metadata["email_verified"] is True and user.email_confirmed_at == T0
    again = make_user(phone="")
    assert again.prove_email(T0, by_sign_up_code=True) is True
    assert again.encrypted_password == "$argon2id$x" and again.user_metadata["full_name"] == "A Person"


def test_proof_on_a_proven_account_keeps_everything() -> None:
    user = make_user(phone="", phone_confirmed_at=T0)
    assert user.prove_email(T0, by_sign_up_code=False) is False
    assert user.encrypted_password == "$argon2id$x" and user.user_metadata["full_name"] == "A Person"
