"""Verified id_token claims → `UserProvidedData`, per issuer, as GoTrue's `ParseIDToken` maps them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pytrue.application.ports import IdTokenRejected
from pytrue.domain.external import Claims, ProviderEmail, UserProvidedData

ClaimsMapper = Callable[[Mapping[str, Any]], UserProvidedData]

# claims Azure puts in every token that say nothing about the person (GoTrue drops them)
AZURE_NOISE = frozenset({"aud", "iss", "iat", "nbf", "exp", "c_hash", "at_hash", "aio", "nonce", "rh", "uti", "jti"})


def _s(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def _primary(email: str, verified: bool) -> tuple[ProviderEmail, ...]:
    return (ProviderEmail(email, verified, True),) if email else ()


def generic(raw: Mapping[str, Any]) -> UserProvidedData:
    """Any other issuer: the standard claims as they are; `email_verified` as the token says."""
    claims = Claims.from_mapping(raw)
    return UserProvidedData(emails=_primary(claims.email, claims.email_verified), claims=claims)


def google(raw: Mapping[str, Any]) -> UserProvidedData:
    email = _s(raw, "email")
    verified = raw.get("email_verified") is True or raw.get("verified_email") is True
    name, picture, sub = _s(raw, "name"), _s(raw, "picture"), _s(raw, "sub")
    custom = {"hd": _s(raw, "hd")} if _s(raw, "hd") else {}
    claims = Claims(iss=_s(raw, "iss"), sub=sub, name=name, picture=picture, avatar_url=picture, full_name=name, provider_id=sub, custom_claims=custom)
    return UserProvidedData(emails=_primary(email, verified), claims=claims)


def azure_email_verified(raw: Mapping[str, Any]) -> bool:
    """`xms_edov` absent: an email is trusted; present: only when true (`true`, `"1"`, `"true"`)."""
    email = _s(raw, "email")
    if "xms_edov" not in raw or raw["xms_edov"] is None:
        return email != ""
    edov = raw["xms_edov"]
    trusted = edov if isinstance(edov, bool) else edov in ("1", "true")
    return email != "" and trusted


def azure(raw: Mapping[str, Any]) -> UserProvidedData:
    sub = _s(raw, "sub")
    custom = {k: v for k, v in raw.items() if k not in AZURE_NOISE}
    claims = Claims(
        iss=_s(raw, "iss"), sub=sub, provider_id=sub, preferred_username=_s(raw, "preferred_username"),
        full_name=_s(raw, "name"), custom_claims=custom,
    )  # fmt: skip
    return UserProvidedData(emails=_primary(_s(raw, "email"), azure_email_verified(raw)), claims=claims)


def _private_email(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "t"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "f"):
        return False
    return None


def apple(raw: Mapping[str, Any]) -> UserProvidedData:
    """Apple's address is always taken as verified (even when empty: GoTrue lists it anyway)."""
    sub = _s(raw, "sub")
    custom: dict[str, Any] = {}
    private = _private_email(raw.get("is_private_email"))
    if private is not None:
        custom["is_private_email"] = private
    if isinstance(raw.get("auth_time"), (int, float)) and not isinstance(raw.get("auth_time"), bool):
        auth_time = raw["auth_time"]
        custom["auth_time"] = int(auth_time) if float(auth_time).is_integer() else float(auth_time)
    if _s(raw, "transfer_sub"):
        custom["transfer_sub"] = _s(raw, "transfer_sub")
    claims = Claims(iss=_s(raw, "iss"), sub=sub, provider_id=sub, custom_claims=custom)
    return UserProvidedData(emails=(ProviderEmail(_s(raw, "email"), True, True),), claims=claims)


def linkedin(raw: Mapping[str, Any]) -> UserProvidedData:
    """LinkedIn sends `email_verified` as a string; anything Go's ParseBool refuses is an error."""
    text = raw.get("email_verified")
    values = {"1": True, "t": True, "T": True, "true": True, "TRUE": True, "True": True,
              "0": False, "f": False, "F": False, "false": False, "FALSE": False, "False": False}  # fmt: skip
    if not isinstance(text, str) or text not in values:
        raise IdTokenRejected("Bad ID token", detail=f"linkedin email_verified {text!r} is not a boolean")
    given, family, sub = _s(raw, "given_name"), _s(raw, "family_name"), _s(raw, "sub")
    claims = Claims(
        iss=_s(raw, "iss"), sub=sub, name=f"{given} {family}".strip(), given_name=given, family_name=family,
        locale=_s(raw, "locale"), picture=_s(raw, "picture"), provider_id=sub,
    )  # fmt: skip
    return UserProvidedData(emails=_primary(_s(raw, "email"), values[text]), claims=claims)


def kakao(raw: Mapping[str, Any]) -> UserProvidedData:
    nickname, sub = _s(raw, "nickname"), _s(raw, "sub")
    claims = Claims(iss=_s(raw, "iss"), sub=sub, name=nickname, preferred_username=nickname, provider_id=sub, picture=_s(raw, "picture"))
    return UserProvidedData(emails=_primary(_s(raw, "email"), True), claims=claims)


def facebook(raw: Mapping[str, Any]) -> UserProvidedData:
    """Facebook Limited Login tokens: their email is verified."""
    email, sub = _s(raw, "email"), _s(raw, "sub")
    claims = Claims(
        iss=_s(raw, "iss"), sub=sub, name=_s(raw, "name"), picture=_s(raw, "picture"), provider_id=sub,
        email=email, email_verified=email != "",
    )  # fmt: skip
    return UserProvidedData(emails=_primary(email, True), claims=claims)


def snapchat(raw: Mapping[str, Any]) -> UserProvidedData:
    base = Claims.from_mapping(raw)
    if base.email:
        return UserProvidedData(emails=_primary(base.email, True), claims=Claims.from_mapping({**raw, "email_verified": True}))
    return UserProvidedData(claims=base)


def vercel_marketplace(raw: Mapping[str, Any]) -> UserProvidedData:
    subject = _s(raw, "sub")
    if _s(raw, "global_user_id"):
        subject = "global_user_id:" + _s(raw, "global_user_id")
    claims = Claims(iss=_s(raw, "iss"), sub=subject, provider_id=subject, name=_s(raw, "user_name"), picture=_s(raw, "user_avatar_url"))
    return UserProvidedData(emails=(ProviderEmail(_s(raw, "user_email"), True, True),), claims=claims)
