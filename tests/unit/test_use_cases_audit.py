"""Every state-changing use case writes its audit entry; failures leave no trace."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import bcrypt
import pytest
from dependency_injector import providers
from support.app import make_settings

from pytrue.adapters.system import FixedClock, SeededTokenGenerator
from pytrue.application.results import AuthResult
from pytrue.application.use_cases.admin import AdminUserAttributes
from pytrue.application.use_cases.refresh import RefreshTokenCommand
from pytrue.application.use_cases.signin import SignInWithPasswordCommand
from pytrue.application.use_cases.signup import SignUpCommand
from pytrue.application.use_cases.user import UpdateUserCommand
from pytrue.domain.errors import DomainError
from pytrue.domain.user import NIL_UUID
from pytrue.entrypoints.containers import Application, build_container, stop

START = datetime(2025, 2, 1, 8, 0, tzinfo=timezone.utc)
EMAIL = "audited@example.com"
PASSWORD = "s3cret-pass"


class World:
    def __init__(self, container: Application, clock: FixedClock) -> None:
        self.container = container
        self.clock = clock
        self.uc = container.use_cases
        self.store = container.adapters.store()

    def mark(self) -> int:
        return len(self.store.audit)

    def entries_since(self, mark: int) -> list[dict[str, Any]]:
        return [e.payload for e in self.store.audit[mark:]]

    def snapshot(self) -> Any:
        s = self.store
        return copy.deepcopy(
            (s.users, s.sessions, s.refresh_tokens, s.one_time_tokens, [e.payload for e in s.audit], s.next_refresh_token_id)
        )

    async def sign_up(self, email: str = EMAIL) -> AuthResult:
        result = await self.uc.sign_up()(SignUpCommand(email=email, password=PASSWORD, data={"full_name": "Aud Ited"}))
        assert result.auth is not None
        return result.auth

    async def principal(self, auth: AuthResult) -> Any:
        return await self.uc.authenticate_user()(auth.access_token)


@pytest.fixture
async def make_world() -> AsyncIterator[Any]:
    built: list[Application] = []

    def factory(env: dict[str, str] | None = None) -> World:
        clock = FixedClock(START)
        container = build_container(make_settings(env))
        container.core.clock.override(providers.Object(clock))
        container.core.tokens.override(providers.Object(SeededTokenGenerator(7)))
        built.append(container)
        return World(container, clock)

    yield factory
    for container in built:
        await stop(container)


@pytest.fixture
def world(make_world: Any) -> World:
    return make_world()


def _user_actor(entry: dict[str, Any], user_id: UUID, username: str) -> None:
    assert entry["actor_id"] == str(user_id)
    assert entry["actor_username"] == username
    assert entry["actor_via_sso"] is False


def _admin_actor(entry: dict[str, Any]) -> None:
    assert entry["actor_id"] == str(NIL_UUID)
    assert entry["actor_username"] == "service_role"


# --- user-driven use cases --------------------------------------------------------------------


async def test_sign_up_with_autoconfirm_audits_signup_then_login(world: World) -> None:
    mark = world.mark()
    auth = await world.sign_up()
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("user_signedup", "team"), ("login", "account")]
    for entry in entries:
        _user_actor(entry, auth.user.id, EMAIL)
        assert entry["actor_name"] == "Aud Ited"
        assert entry["traits"] == {"provider": "email"}


async def test_sign_up_without_autoconfirm_audits_confirmation_requested(make_world: Any) -> None:
    world = make_world({"GOTRUE_MAILER_AUTOCONFIRM": "false"})
    mark = world.mark()
    result = await world.uc.sign_up()(SignUpCommand(email=EMAIL, password=PASSWORD))
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("user_confirmation_requested", "user")]
    _user_actor(entries[0], result.user.id, EMAIL)


async def test_sign_in_audits_login(world: World) -> None:
    auth = await world.sign_up()
    mark = world.mark()
    signed_in = await world.uc.sign_in_with_password()(SignInWithPasswordCommand(email=EMAIL, password=PASSWORD))
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("login", "account")]
    _user_actor(entries[0], auth.user.id, EMAIL)
    assert entries[0]["traits"] == {"provider": "email"}
    assert signed_in.session.id != auth.session.id


async def test_failed_sign_in_writes_nothing(world: World) -> None:
    await world.sign_up()
    before = world.snapshot()
    with pytest.raises(DomainError) as info:
        await world.uc.sign_in_with_password()(SignInWithPasswordCommand(email=EMAIL, password="wrong-password"))
    assert info.value.code == "invalid_credentials"
    assert world.snapshot() == before


async def test_refresh_audits_revoked_and_refreshed(world: World) -> None:
    auth = await world.sign_up()
    mark = world.mark()
    await world.uc.refresh_token_grant()(RefreshTokenCommand(refresh_token=auth.refresh_token))
    entries = world.entries_since(mark)
    assert sorted((e["action"], e["log_type"]) for e in entries) == [("token_refreshed", "token"), ("token_revoked", "token")]
    for entry in entries:
        _user_actor(entry, auth.user.id, EMAIL)


async def test_reuse_detection_audits_token_revoked(world: World) -> None:
    auth = await world.sign_up()
    grant = world.uc.refresh_token_grant()
    first = await grant(RefreshTokenCommand(refresh_token=auth.refresh_token))
    await grant(RefreshTokenCommand(refresh_token=first.refresh_token))
    world.clock.advance(1)
    mark = world.mark()
    with pytest.raises(DomainError) as info:
        await grant(RefreshTokenCommand(refresh_token=auth.refresh_token))
    assert info.value.code == "refresh_token_already_used"
    assert [e["action"] for e in world.entries_since(mark)] == ["token_revoked"]


async def test_update_user_audits_user_modified_and_password_change(world: World) -> None:
    auth = await world.sign_up()
    principal = await world.principal(auth)
    mark = world.mark()
    await world.uc.update_user()(principal, UpdateUserCommand(data={"nick": "a"}))
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("user_modified", "user")]
    _user_actor(entries[0], auth.user.id, EMAIL)

    mark = world.mark()
    await world.uc.update_user()(principal, UpdateUserCommand(password="another-pass-1"))
    assert [(e["action"], e["log_type"]) for e in world.entries_since(mark)] == [
        ("user_updated_password", "user"),
        ("user_modified", "user"),
    ]


async def test_failed_update_user_writes_nothing(world: World) -> None:
    auth = await world.sign_up()
    principal = await world.principal(auth)
    before = world.snapshot()
    with pytest.raises(DomainError) as info:
        await world.uc.update_user()(principal, UpdateUserCommand(password=PASSWORD))
    assert info.value.code == "same_password"
    with pytest.raises(DomainError) as info:
        await world.uc.update_user()(principal, UpdateUserCommand(password="x"))
    assert info.value.code == "weak_password"
    assert world.snapshot() == before


async def test_logout_audits_logout(world: World) -> None:
    auth = await world.sign_up()
    principal = await world.principal(auth)
    mark = world.mark()
    await world.uc.logout()(principal, "local")
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("logout", "account")]
    _user_actor(entries[0], auth.user.id, EMAIL)
    assert auth.session.id not in world.store.sessions


# --- admin use cases --------------------------------------------------------------------------


async def test_admin_create_update_ban_delete_audit_as_admin(world: World) -> None:
    mark = world.mark()
    user = await world.uc.admin_create_user()(AdminUserAttributes(email="made@example.com", password="pw-123456"))
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("user_signedup", "team")]
    _admin_actor(entries[0])
    assert entries[0]["traits"] == {
        "user_id": str(user.id), "user_email": "made@example.com", "user_phone": "", "provider": "email",
    }

    mark = world.mark()
    await world.uc.admin_update_user()(user.id, AdminUserAttributes(user_metadata={"x": 1}))
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("user_modified", "user")]
    _admin_actor(entries[0])
    assert entries[0]["traits"] == {"user_id": str(user.id)}

    mark = world.mark()
    banned = await world.uc.ban_user()(user.id, "1h")
    assert banned.banned_until == START + timedelta(hours=1)
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("user_modified", "user")]
    _admin_actor(entries[0])

    mark = world.mark()
    await world.uc.admin_delete_user()(user.id)
    entries = world.entries_since(mark)
    assert [(e["action"], e["log_type"]) for e in entries] == [("user_deleted", "team")]
    _admin_actor(entries[0])
    assert entries[0]["traits"] == {"user_id": str(user.id), "user_email": "made@example.com", "user_phone": ""}
    assert user.id not in world.store.users


async def test_admin_soft_delete_audits_and_keeps_the_obfuscated_row(world: World) -> None:
    auth = await world.sign_up()
    mark = world.mark()
    await world.uc.admin_delete_user()(auth.user.id, soft=True)
    assert [e["action"] for e in world.entries_since(mark)] == ["user_deleted"]
    row = world.store.users[auth.user.id]
    assert row.deleted_at == START and row.email != EMAIL
    assert not [s for s in world.store.sessions.values() if s.user_id == auth.user.id]


async def test_ban_then_refresh_and_sign_in_are_refused(world: World) -> None:
    auth = await world.sign_up()
    await world.uc.ban_user()(auth.user.id, "30m")
    with pytest.raises(DomainError) as info:
        await world.uc.refresh_token_grant()(RefreshTokenCommand(refresh_token=auth.refresh_token))
    assert info.value.code == "user_banned"
    with pytest.raises(DomainError) as info:
        await world.uc.sign_in_with_password()(SignInWithPasswordCommand(email=EMAIL, password=PASSWORD))
    assert info.value.code == "user_banned"
    world.clock.advance(minutes=30)
    await world.uc.refresh_token_grant()(RefreshTokenCommand(refresh_token=auth.refresh_token))


# --- failures leave the store alone -----------------------------------------------------------


async def test_duplicate_sign_up_under_autoconfirm_changes_nothing_but_the_repeated_signup_entry(world: World) -> None:
    """GoTrue (api.md §3.3) audits `user_repeated_signup` in its own transaction, then answers 422."""
    auth = await world.sign_up()
    before = world.snapshot()
    with pytest.raises(DomainError) as info:
        await world.uc.sign_up()(SignUpCommand(email=EMAIL.upper(), password="other-pass-1"))
    assert info.value.code == "user_already_exists"
    after = world.snapshot()
    assert after[:4] == before[:4], "users, sessions and tokens are unchanged"
    assert after[5] == before[5]
    new_entries = after[4][len(before[4]):]
    assert after[4][: len(before[4])] == before[4]
    assert [(e["action"], e["log_type"]) for e in new_entries] == [("user_repeated_signup", "user")]
    _user_actor(new_entries[0], auth.user.id, EMAIL)


async def test_sign_up_failing_inside_its_transaction_rolls_everything_back(make_world: Any) -> None:
    # phone sign-up without autoconfirm: the user row and its audit entry are written, then the
    # provider refuses the SMS, so the whole unit of work must roll back.
    world = make_world({"GOTRUE_EXTERNAL_PHONE_ENABLED": "true", "GOTRUE_SMS_AUTOCONFIRM": "false"})
    await world.sign_up()
    world.uc.sms_codes().sender = RefusingSmsSender()
    before = world.snapshot()
    with pytest.raises(DomainError) as info:
        await world.uc.sign_up()(SignUpCommand(phone="+1 555 000 1111", password=PASSWORD))
    assert info.value.code == "sms_send_failed"
    assert info.value.message == "Error sending confirmation OTP to provider: the number is blocked"
    assert world.snapshot() == before


class RefusingSmsSender:
    channels = frozenset({"sms"})

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        from pytrue.application.ports import SmsProviderError

        raise SmsProviderError("the number is blocked")


async def test_admin_create_duplicate_and_update_clash_change_nothing(world: World) -> None:
    await world.sign_up()
    other = await world.uc.admin_create_user()(AdminUserAttributes(email="other@example.com"))
    before = world.snapshot()
    with pytest.raises(DomainError) as info:
        await world.uc.admin_create_user()(AdminUserAttributes(email=EMAIL))
    assert info.value.code == "email_exists"
    with pytest.raises(DomainError) as info:
        await world.uc.admin_update_user()(other.id, AdminUserAttributes(email=EMAIL, user_metadata={"x": 1}))
    assert info.value.code == "email_exists"
    with pytest.raises(DomainError) as info:
        await world.uc.ban_user()(other.id, "forever")
    assert info.value.code == "validation_failed"
    with pytest.raises(DomainError) as info:
        await world.uc.admin_delete_user()(UUID(int=12345))
    assert info.value.code == "user_not_found"
    assert world.snapshot() == before


@pytest.mark.parametrize("duration", ["forever", "99999999999999h", "3000000h", " 1h x"])
async def test_ban_with_an_unparsable_or_overflowing_duration_is_validation_failed(world: World, duration: str) -> None:
    auth = await world.sign_up()
    before = world.snapshot()
    with pytest.raises(DomainError) as info:
        await world.uc.ban_user()(auth.user.id, duration)
    assert info.value.code == "validation_failed"
    assert info.value.message.startswith("invalid format for ban duration")
    assert world.snapshot() == before


@pytest.mark.parametrize(("duration", "banned"), [("-1h", False), ("0s", False), ("none", False), ("1.5h", True)])
async def test_ban_durations(world: World, duration: str, banned: bool) -> None:
    auth = await world.sign_up()
    await world.uc.ban_user()(auth.user.id, "24h")
    user = await world.uc.ban_user()(auth.user.id, duration)
    assert user.is_banned(START) is banned
    assert world.store.users[auth.user.id].is_banned(START) is banned


# --- imported bcrypt hashes -------------------------------------------------------------------


async def test_sign_in_with_imported_bcrypt_hash_rehashes_to_argon2id(world: World) -> None:
    imported = bcrypt.hashpw(b"legacy-pass-1", bcrypt.gensalt(4, prefix=b"2a")).decode("ascii")
    assert imported.startswith("$2a$04$")
    user = await world.uc.admin_create_user()(
        AdminUserAttributes(email="legacy@example.com", password_hash=imported, email_confirm=True)
    )
    assert world.store.users[user.id].encrypted_password == imported

    with pytest.raises(DomainError):
        await world.uc.sign_in_with_password()(SignInWithPasswordCommand(email="legacy@example.com", password="nope-nope"))
    assert world.store.users[user.id].encrypted_password == imported

    mark = world.mark()
    result = await world.uc.sign_in_with_password()(
        SignInWithPasswordCommand(email="legacy@example.com", password="legacy-pass-1")
    )
    assert result.user.id == user.id
    stored = world.store.users[user.id].encrypted_password
    assert stored is not None and stored.startswith("$argon2id$")
    assert [e["action"] for e in world.entries_since(mark)] == ["login"]

    again = await world.uc.sign_in_with_password()(
        SignInWithPasswordCommand(email="legacy@example.com", password="legacy-pass-1")
    )
    assert again.user.id == user.id
    assert world.store.users[user.id].encrypted_password == stored, "an argon2id hash is kept as it is"
