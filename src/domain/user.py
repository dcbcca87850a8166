"""The user aggregate and its identities, mirroring GoTrue's `auth.users` and `auth.identities`."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from pytrue.domain.mfa import Factor

NIL_UUID = UUID(int=0)


def _obfuscate(*parts: str) -> str:
    digest = hashlib.sha256("".join(parts).encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(slots=True, kw_only=True)
class Identity:
    """A way the user signs in: `email` and `phone` identities are keyed by the user's own id."""

    id: UUID
    user_id: UUID
    provider: str
    provider_id: str
    identity_data: dict[str, Any] = field(default_factory=dict)
    last_sign_in_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def email(self) -> str | None:
        value = self.identity_data.get("email")
        return value.lower() if isinstance(value, str) else None


@dataclass(slots=True, kw_only=True)
class User:
    """A person's account. Rules about bans, confirmation and metadata live here."""

    id: UUID
    aud: str = ""
    role: str = ""
    email: str = ""
    encrypted_password: str | None = ""
    email_confirmed_at: datetime | None = None
    invited_at: datetime | None = None
    confirmation_token: str = ""
    confirmation_sent_at: datetime | None = None
    recovery_token: str = ""
    recovery_sent_at: datetime | None = None
    email_change_token_new: str = ""
    email_change: str = ""
    email_change_sent_at: datetime | None = None
    email_change_token_current: str = ""
    email_change_confirm_status: int = 0
    last_sign_in_at: datetime | None = None
    app_metadata: dict[str, Any] = field(default_factory=dict)
    user_metadata: dict[str, Any] = field(default_factory=dict)
    is_super_admin: bool | None = None
    created_at: datetime
    updated_at: datetime
    phone: str = ""
    phone_confirmed_at: datetime | None = None
    phone_change: str = ""
    phone_change_token: str = ""
    phone_change_sent_at: datetime | None = None
    banned_until: datetime | None = None
    reauthentication_token: str = ""
    reauthentication_sent_at: datetime | None = None
    is_sso_user: bool = False
    deleted_at: datetime | None = None
    is_anonymous: bool = False
    instance_id: UUID = NIL_UUID
    identities: list[Identity] = field(default_factory=list)
    # read with the user, for GET /user and the assurance-level rules; written through the
    # factor repository (never by saving the user), secrets left out
    factors: list[Factor] = field(default_factory=list)

    # --- derived -----------------------------------------------------------------------
    @property
    def has_verified_factor(self) -> bool:
        return any(f.status == "verified" for f in self.factors)

    @property
    def confirmed_at(self) -> datetime | None:
        stamps = [t for t in (self.email_confirmed_at, self.phone_confirmed_at) if t is not None]
        return min(stamps) if stamps else None

    @property
    def has_password(self) -> bool:
        return bool(self.encrypted_password)

    @property
    def is_email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def is_phone_confirmed(self) -> bool:
        return self.phone_confirmed_at is not None

    @property
    def username(self) -> str:
        """GoTrue's audit `actor_username`: the phone if set, else the email."""
        return self.phone or self.email

    # --- bans ----------------------------------------------------------------------------
    def is_banned(self, now: datetime) -> bool:
        return self.banned_until is not None and now < self.banned_until

    def ban(self, duration: timedelta | None, now: datetime) -> None:
        """Ban for `duration` from `now`; `None` or a zero duration lifts the ban."""
        if duration is None or duration == timedelta(0):
            self.banned_until = None
        else:
            self.banned_until = now + duration
        self.touch(now)

    # --- confirmation and sign-in -------------------------------------------------------
    def confirm_email(self, now: datetime) -> None:
        if self.email_confirmed_at is None:
            self.email_confirmed_at = now
        self.confirmation_token = ""
        self.user_metadata["email_verified"] = True
        for identity in self.identities:
            if identity.provider == "email" or (self.email and identity.email == self.email.lower()):
                identity.identity_data["email_verified"] = True
                identity.updated_at = now
        self.touch(now)

    # --- proof of address ownership (docs/adr/0015) ---------------------------------------
    @property
    def is_unproven(self) -> bool:
        """No address of this account was ever confirmed: its password and metadata were set by
        someone who has not shown they own the address (a sign-up, a magic-link request)."""
        return self.confirmed_at is None

    def restart_sign_up(self, provider: str, password_hash: str, data: dict[str, Any], identity_id: UUID, now: datetime) -> bool:
        """A new sign-up for an account nobody has proved: it takes the latest request's password
        and data, so that the one live confirmation code stands for exactly one request.

        An account with a confirmed address is left alone (False), as GoTrue leaves every
        repeated sign-up.
        """
        if not self.is_unproven:
            return False
        self.encrypted_password = password_hash
        self._reset_unproven_metadata(provider, data, identity_id, now)
        return True

    def prove_email(self, now: datetime, *, by_sign_up_code: bool) -> bool:
        """The address is proved (an emailed link or code was used): confirm it.

        On an account nobody had proved, whatever was set without proof goes unless the code was
        the confirmation of the sign-up that set it (`by_sign_up_code`): a magic link, an email OTP
        or a recovery keep no earlier password and no sign-up metadata. True when the account was
        unproven, so the caller also ends sessions opened before the proof.
        """
        unproven = self.is_unproven
        if unproven and not by_sign_up_code:
            self.encrypted_password = ""
            self._reset_unproven_metadata("email", {}, None, now)
        self.confirm_email(now)
        return unproven

    def prove_phone(self, now: datetime) -> bool:
        """A texted sign-up code was used: confirm the phone; True when the account was unproven."""
        unproven = self.is_unproven
        self.confirm_phone(now)
        return unproven

    def _reset_unproven_metadata(self, provider: str, data: dict[str, Any], identity_id: UUID | None, now: datetime) -> None:
        """`user_metadata` and the `provider` identity become what one sign-up with `data` writes."""
        identity = self.identity_for(provider)
        if identity is None and identity_id is not None:
            identity = new_identity(
                identity_id=identity_id, user=self, provider=provider, data=data, now=now, sign_up=True
            )
            self.identities = [identity]
            self.recompute_providers()
        elif identity is not None:
            fresh = new_identity(identity_id=identity.id, user=self, provider=provider, data=data, now=now, sign_up=True)
            identity.identity_data = fresh.identity_data
            identity.updated_at = now
        self.user_metadata = dict(identity.identity_data) if identity is not None else dict(data)
        self.touch(now)

    def confirm_phone(self, now: datetime) -> None:
        """GoTrue's `ConfirmPhone`: the sign-up code is spent and the phone confirmed as of now (again
        on every texted sign-in); `phone_verified` in the metadata and identity is left as it is
        (only a phone change or an admin update sets it)."""
        self.phone_confirmed_at = now
        self.confirmation_token = ""
        self.touch(now)

    def _verified_identity(self, provider: str, address: str, identity_id: UUID, now: datetime) -> None:
        """The user's `provider` identity (created when missing) now names `address`, verified."""
        identity = self.identity_for(provider)
        if identity is None:
            identity = new_identity(identity_id=identity_id, user=self, provider=provider, data={}, now=now)
            self.identities.append(identity)
        identity.identity_data[provider] = address
        identity.identity_data[f"{provider}_verified"] = True
        identity.updated_at = now

    def apply_email_change(self, identity_id: UUID, now: datetime) -> None:
        """The pending address becomes the user's email, confirmed, with its `email` identity."""
        self.email = self.email_change.lower()
        self._verified_identity("email", self.email, identity_id, now)
        self.email_change = ""
        self.email_change_token_new = ""
        self.email_change_token_current = ""
        self.email_change_confirm_status = 0
        self.is_anonymous = False
        if self.email_confirmed_at is None:
            self.email_confirmed_at = now
        self.user_metadata["email_verified"] = True
        self.recompute_providers()
        self.touch(now)

    def apply_phone_change(self, identity_id: UUID, now: datetime) -> None:
        """The pending number becomes the user's phone, confirmed, with its `phone` identity."""
        self.phone = self.phone_change
        self._verified_identity("phone", self.phone, identity_id, now)
        self.phone_change = ""
        self.phone_change_token = ""
        self.phone_confirmed_at = now
        self.is_anonymous = False
        self.recompute_providers()
        self.touch(now)

    def record_sign_in(self, now: datetime) -> None:
        self.last_sign_in_at = now
        self.touch(now)

    def set_password_hash(self, password_hash: str, now: datetime) -> None:
        self.encrypted_password = password_hash
        self.touch(now)

    def clear_tokens(self, now: datetime) -> None:
        """Forget every pending link or code and when it was sent (after a password change).

        Pending addresses (`email_change`, `phone_change`) stay, as in GoTrue: `/resend`
        can send them a fresh code.
        """
        self.confirmation_token = ""
        self.confirmation_sent_at = None
        self.recovery_token = ""
        self.recovery_sent_at = None
        self.email_change_token_new = ""
        self.email_change_token_current = ""
        self.email_change_sent_at = None
        self.phone_change_token = ""
        self.phone_change_sent_at = None
        self.reauthentication_token = ""
        self.reauthentication_sent_at = None
        self.touch(now)

    def forget_code(self, column: str, stored: str, now: datetime) -> bool:
        """Spend the code in `column` if it is still `stored` (guessed too often); its send time stays,
        so the per-user frequency still applies to the next one. True when something was forgotten."""
        if not stored or getattr(self, column) != stored:
            return False
        setattr(self, column, "")
        self.touch(now)
        return True

    def touch(self, now: datetime) -> None:
        self.updated_at = now

    # --- metadata ------------------------------------------------------------------------
    def merge_user_metadata(self, changes: dict[str, Any], now: datetime) -> None:
        _merge(self.user_metadata, changes)
        self.touch(now)

    def merge_app_metadata(self, changes: dict[str, Any], now: datetime) -> None:
        _merge(self.app_metadata, changes)
        self.touch(now)

    def add_identity(self, identity: Identity) -> None:
        self.identities.append(identity)
        self.recompute_providers()

    def identity_for(self, provider: str) -> Identity | None:
        return next((i for i in self.identities if i.provider == provider), None)

    def recompute_providers(self) -> None:
        providers: list[str] = []
        for identity in self.identities:
            if identity.provider not in providers:
                providers.append(identity.provider)
        if providers:
            self.app_metadata["provider"] = providers[0]
            self.app_metadata["providers"] = providers

    # --- deletion ------------------------------------------------------------------------
    def soft_delete(self, now: datetime) -> None:
        """Obfuscate everything that identifies the person, as GoTrue's soft delete does."""
        if self.deleted_at is not None:
            return
        uid = str(self.id)
        if self.email:
            self.email = _obfuscate(uid, self.email)
        if self.phone:
            self.phone = _obfuscate(uid, self.phone)[:15]
        if self.email_change:
            self.email_change = _obfuscate(uid, self.email_change)
        if self.phone_change:
            self.phone_change = _obfuscate(uid, self.phone_change)[:15]
        self.encrypted_password = None
        self.clear_tokens(now)
        self.user_metadata = {}
        self.app_metadata = {}
        for identity in self.identities:
            identity.identity_data = {}
            identity.provider_id = _obfuscate(uid, identity.provider, ":", identity.provider_id)
            identity.updated_at = now
        self.deleted_at = now
        self.touch(now)


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


def new_identity(
    *, identity_id: UUID, user: User, provider: str, data: dict[str, Any], now: datetime, sign_up: bool = False
) -> Identity:
    """An `email`/`phone` identity: keyed by the user id, `sub` and verification flags set.

    The address is in `identity_data` too, except for a phone sign-up's (GoTrue builds that one
    from claims with an empty email and no phone); admin-created and phone-change identities name it.
    """
    identity_data: dict[str, Any] = dict(data)
    identity_data.update({"sub": str(user.id), "email_verified": False, "phone_verified": False})
    if provider == "email":
        identity_data["email"] = user.email
    elif provider == "phone" and not sign_up:
        identity_data["phone"] = user.phone
    return Identity(
        id=identity_id,
        user_id=user.id,
        provider=provider,
        provider_id=str(user.id),
        identity_data=identity_data,
        last_sign_in_at=now,
        created_at=now,
        updated_at=now,
    )
