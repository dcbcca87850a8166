"""Mapping between `auth` schema rows and domain entities."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from pytrue.domain.mfa import Challenge, Factor
from pytrue.domain.session import AmrClaim, RefreshToken, Session
from pytrue.domain.user import Identity, User

USER_COLUMNS = (
    "instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, invited_at, "
    "confirmation_token, confirmation_sent_at, recovery_token, recovery_sent_at, email_change_token_new, "
    "email_change, email_change_sent_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data, "
    "is_super_admin, created_at, updated_at, phone, phone_confirmed_at, phone_change, phone_change_token, "
    "phone_change_sent_at, email_change_token_current, email_change_confirm_status, banned_until, "
    "reauthentication_token, reauthentication_sent_at, is_sso_user, deleted_at, is_anonymous"
)
USER_FIELDS = tuple(c.strip() for c in USER_COLUMNS.split(","))
_RENAMED = {"raw_app_meta_data": "app_metadata", "raw_user_meta_data": "user_metadata"}
_TEXT = {
    "email", "confirmation_token", "recovery_token", "email_change_token_new", "email_change", "phone",
    "phone_change", "phone_change_token", "email_change_token_current", "reauthentication_token", "aud", "role",
}


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def user_from_row(row: dict[str, Any], identities: list[Identity]) -> User:
    values: dict[str, Any] = {}
    for column in USER_FIELDS:
        value = row[column]
        if column in _TEXT and value is None:
            value = ""
        if column in ("raw_app_meta_data", "raw_user_meta_data") and value is None:
            value = {}
        if column == "email_change_confirm_status" and value is None:
            value = 0
        if column == "is_sso_user" or column == "is_anonymous":
            value = bool(value)
        values[_RENAMED.get(column, column)] = value
    if values["instance_id"] is None:
        values.pop("instance_id")
    return User(**values, identities=identities)


def user_params(user: User) -> dict[str, Any]:
    from psycopg.types.json import Jsonb

    params: dict[str, Any] = {}
    for column in USER_FIELDS:
        params[column] = getattr(user, _RENAMED.get(column, column))
    params["raw_app_meta_data"] = Jsonb(user.app_metadata)
    params["raw_user_meta_data"] = Jsonb(user.user_metadata)
    params["email"] = user.email or None
    params["phone"] = user.phone or None
    return params


def identity_from_row(row: dict[str, Any]) -> Identity:
    return Identity(
        id=row["id"],
        user_id=row["user_id"],
        provider=row["provider"],
        provider_id=row["provider_id"],
        identity_data=row["identity_data"] or {},
        last_sign_in_at=row["last_sign_in_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def session_from_row(row: dict[str, Any], amr: list[AmrClaim]) -> Session:
    return Session(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        aal=row["aal"] or "aal1",
        factor_id=row["factor_id"],
        not_after=row["not_after"],
        refreshed_at=utc(row["refreshed_at"]),
        user_agent=row["user_agent"],
        ip=str(row["ip"]) if row["ip"] is not None else None,
        tag=row["tag"],
        amr=amr,
        refresh_token_hmac_key=row["refresh_token_hmac_key"],
        refresh_token_counter=row["refresh_token_counter"],
    )


def refresh_token_from_row(row: dict[str, Any]) -> RefreshToken:
    return RefreshToken(
        id=row["id"],
        token=row["token"],
        user_id=row["user_id"] or "",
        session_id=row["session_id"],
        parent=row["parent"],
        revoked=bool(row["revoked"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


FACTOR_COLUMNS = (
    "id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret, phone, "
    "last_challenged_at, web_authn_credential, web_authn_aaguid, last_webauthn_challenge_data"
)


def _stamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # from json_build_object
        return utc(datetime.fromisoformat(value))
    return utc(value)


def factor_from_row(row: dict[str, Any]) -> Factor:
    aaguid = row.get("web_authn_aaguid")
    return Factor(
        id=row["id"] if isinstance(row["id"], UUID) else UUID(row["id"]),
        user_id=row["user_id"] if isinstance(row["user_id"], UUID) else UUID(row["user_id"]),
        friendly_name=row.get("friendly_name") or "",
        factor_type=str(row["factor_type"]),
        status=str(row["status"]),
        created_at=_stamp(row["created_at"]),  # type: ignore[arg-type]
        updated_at=_stamp(row["updated_at"]),  # type: ignore[arg-type]
        secret=row.get("secret") or "",
        phone=row.get("phone") or "",
        last_challenged_at=_stamp(row.get("last_challenged_at")),
        web_authn_credential=row.get("web_authn_credential"),
        web_authn_aaguid=(aaguid if isinstance(aaguid, UUID) else UUID(aaguid)) if aaguid else None,
        last_webauthn_challenge_data=row.get("last_webauthn_challenge_data"),
    )


def challenge_from_row(row: dict[str, Any]) -> Challenge:
    return Challenge(
        id=row["id"],
        factor_id=row["factor_id"],
        created_at=utc(row["created_at"]),  # type: ignore[arg-type]
        verified_at=utc(row["verified_at"]),
        ip_address=str(row["ip_address"]),
        otp_code=row.get("otp_code") or "",
        web_authn_session_data=row.get("web_authn_session_data"),
    )
