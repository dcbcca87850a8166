"""Rows of `pytrue users import|export` (docs/user-import.md): parsed and checked into users, users written back out.

A row is a JSON object (one line of JSON Lines) or a CSV record whose JSON columns hold JSON
text. Parsing is pure: the same row and defaults give the same user, ids included (a row
without an `id` gets a uuid5 of its email or phone), so re-running an import finds what an
earlier run wrote. Whether a password hash is in a known format is the hasher's call, not
this module's.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid5

from pytrue.domain.errors import ValidationFailed
from pytrue.domain.user import NIL_UUID, Identity, User, new_identity
from pytrue.domain.values import Email, Phone

# uuid5 namespace of the ids given to rows without one: `uuid5(IMPORT_NAMESPACE, "email:" + email)`
IMPORT_NAMESPACE = UUID("4f6c0a64-3c0e-5b7e-9d1a-707974727565")

MAX_TEXT = 255  # the varchar(255) columns: aud, role, email, encrypted_password

# Columns of an exported row, in order; CSV files have this header.
EXPORT_FIELDS = (
    "id", "aud", "role", "email", "phone", "password_hash", "email_confirmed_at", "phone_confirmed_at",
    "invited_at", "last_sign_in_at", "created_at", "updated_at", "banned_until", "deleted_at",
    "is_anonymous", "is_sso_user", "user_metadata", "app_metadata", "identities",
)  # fmt: skip
# Accepted on import only
IMPORT_ONLY_FIELDS = ("password", "salt", "email_confirmed", "phone_confirmed")
FIELDS = frozenset(EXPORT_FIELDS + IMPORT_ONLY_FIELDS)
JSON_FIELDS = frozenset({"user_metadata", "app_metadata", "identities"})
BOOL_FIELDS = frozenset({"is_anonymous", "is_sso_user", "email_confirmed", "phone_confirmed"})
TIME_FIELDS = (
    "email_confirmed_at", "phone_confirmed_at", "invited_at", "last_sign_in_at", "created_at", "updated_at",
    "banned_until", "deleted_at",
)  # fmt: skip
IDENTITY_FIELDS = frozenset(
    {"identity_id", "id", "provider_id", "provider", "identity_data", "created_at", "updated_at", "last_sign_in_at", "user_id", "email"}
)
_BASE64_URL = str.maketrans("-_", "+/")
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


class RowInvalid(ValueError):
    """The row cannot be imported; the message says why."""


@dataclass(frozen=True, slots=True)
class FirebaseScrypt:
    """A Firebase project's password hash parameters (console: Authentication › Users › ⋮ › Password hash parameters).

    Keys are base64 as Firebase shows them; `mem_cost` is log₂ N and `rounds` scrypt's r."""

    signer_key: str
    salt_separator: str
    rounds: int
    mem_cost: int

    def __post_init__(self) -> None:
        if _base64(self.signer_key) is None or _base64(self.salt_separator) is None:
            raise ValidationFailed("the Firebase signer key and salt separator must be base64")
        if not 1 <= self.rounds <= 32 or not 1 <= self.mem_cost <= 20:
            raise ValidationFailed("Firebase rounds must be 1 to 32 and mem_cost 1 to 20")

    def encode(self, password_hash: str, salt: str) -> str:
        """GoTrue's `$fbscrypt$` string for one user's base64 hash and salt (Firebase's `auth:export`)."""
        digest, raw_salt = _base64(password_hash), _base64(salt)
        if not digest or not raw_salt:
            raise RowInvalid("password_hash and salt of a Firebase user must be base64")
        ss, sk = _base64(self.salt_separator), _base64(self.signer_key)
        assert ss is not None and sk is not None
        return (
            f"$fbscrypt$v=1,n={self.mem_cost},r={self.rounds},p=1,ss={_b64(ss)},sk={_b64(sk)}"
            f"${_b64(raw_salt)}${_b64(digest)}"
        )


@dataclass(frozen=True, slots=True)
class ImportDefaults:
    """What a row that says nothing gets: the audience and role, and `now` for timestamps."""

    aud: str
    role: str
    now: datetime
    firebase: FirebaseScrypt | None = None


@dataclass(slots=True)
class ImportRow:
    """A parsed row: the user to write (with `encrypted_password` set unless `password` is to be hashed)."""

    line: int
    user: User
    password: str | None = None

    @property
    def addresses(self) -> list[str]:
        """Keys that must be unique across the file and the database: `email:…`, `phone:…`, `identity:…`."""
        user = self.user
        keys = [f"email:{user.email}"] if user.email and not user.is_sso_user else []
        if user.phone:
            keys.append(f"phone:{user.phone}")
        keys.extend(
            f"identity:{i.provider}:{i.provider_id}"
            for i in user.identities
            if i.provider not in ("email", "phone") or i.provider_id != str(user.id)
        )
        return keys


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str


# --- reading files ---------------------------------------------------------------------------


def jsonl_records(lines: Iterable[str | bytes]) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    """Each non-blank line's object with its line number (1-based), or why it is not one (bytes are UTF-8)."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            ended = text.endswith(b"\n" if isinstance(text, bytes) else "\n")
            cut = "" if ended else " (the line is cut short: is the file complete?)"
            yield number, Rejection(number, f"malformed JSON: {_json_error(exc)}{cut}")
            continue
        if not isinstance(value, dict):
            yield number, Rejection(number, f"expected a JSON object, got {_json_type(value)}")
            continue
        yield number, value


def csv_records(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    """Each CSV record after the header, as typed values, with the line it starts on.

    Empty cells are absent; JSON columns are decoded, boolean columns read as true/false/1/0.
    Raises `RowInvalid` when the header names an unknown column."""
    source = iter(lines)
    reader = csv.reader(source, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise RowInvalid(f"line 1: unreadable CSV header: {exc}") from None
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in FIELDS]
    if unknown:
        raise RowInvalid(f"line 1: unknown column(s) {', '.join(unknown)}")
    last_line = reader.line_num
    while True:
        start = last_line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last_line = reader.line_num
            yield start, Rejection(start, f"unreadable CSV: {exc} (is the file complete?)")
            continue
        last_line = reader.line_num
        if not cells or cells == [""]:
            continue
        if len(cells) != len(header):
            yield start, Rejection(start, f"{len(cells)} fields where the header has {len(header)} (is the row complete?)")
            continue
        try:
            yield start, _typed_csv(dict(zip(header, cells, strict=True)))
        except RowInvalid as exc:
            yield start, Rejection(start, str(exc))


def _typed_csv(cells: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, text in cells.items():
        if text == "":
            continue
        if name in JSON_FIELDS:
            try:
                record[name] = json.loads(text)
            except ValueError as exc:
                raise RowInvalid(f"{name}: malformed JSON: {_json_error(exc)}") from None
        elif name in BOOL_FIELDS:
            lowered = text.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise RowInvalid(f"{name}: expected true or false, got {text!r}")
            record[name] = lowered in _TRUE
        else:
            record[name] = text
    return record


# --- one row -----------------------------------------------------------------------------------


def parse_row(record: Mapping[str, Any], line: int, defaults: ImportDefaults) -> ImportRow:
    """The user a row describes; `RowInvalid` says what is wrong with it."""
    unknown = sorted(set(record) - FIELDS)
    if unknown:
        raise RowInvalid(f"unknown field(s) {', '.join(unknown)}")
    email = _address(record, "email", Email.parse)
    phone = _address(record, "phone", Phone.parse)
    times = {name: _time(record, name) for name in TIME_FIELDS}
    created_at = times["created_at"] or defaults.now
    is_anonymous = _bool(record, "is_anonymous")
    user = User(
        id=NIL_UUID,
        aud=_text(record, "aud") or defaults.aud,
        role=_text(record, "role") or defaults.role,
        email=email,
        phone=phone,
        encrypted_password="",
        email_confirmed_at=_confirmed(record, "email", times["email_confirmed_at"], created_at, bool(email)),
        phone_confirmed_at=_confirmed(record, "phone", times["phone_confirmed_at"], created_at, bool(phone)),
        invited_at=times["invited_at"],
        last_sign_in_at=times["last_sign_in_at"],
        user_metadata=_object(record, "user_metadata"),
        app_metadata=_object(record, "app_metadata"),
        created_at=created_at,
        updated_at=times["updated_at"] or created_at,
        banned_until=times["banned_until"],
        deleted_at=times["deleted_at"],
        is_anonymous=is_anonymous,
        is_sso_user=_bool(record, "is_sso_user"),
    )
    raw_identities = _identity_records(record)
    if not (email or phone or raw_identities or is_anonymous):
        raise RowInvalid("a user needs an email, a phone, an identity or is_anonymous")
    user.id = _user_id(record, email, phone, raw_identities)
    user.identities = [_identity(raw, user, created_at) for raw in raw_identities]
    if not user.identities:
        _own_identities(user)
    if "provider" not in user.app_metadata:
        user.recompute_providers()
    password = _password(record, user, defaults)
    return ImportRow(line=line, user=user, password=password)


def _address(record: Mapping[str, Any], name: str, parse: Any) -> str:
    raw = record.get(name)
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise RowInvalid(f"{name}: expected a string, got {_json_type(raw)}")
    try:
        return str(parse(raw).value)
    except ValidationFailed as exc:
        raise RowInvalid(f"{name}: {exc.message} ({raw!r})") from None


def _text(record: Mapping[str, Any], name: str) -> str:
    raw = text_field(record, name)
    if len(raw) > MAX_TEXT:
        raise RowInvalid(f"{name}: longer than {MAX_TEXT} characters")
    return raw


def _bool(record: Mapping[str, Any], name: str) -> bool:
    raw = record.get(name, False)
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise RowInvalid(f"{name}: expected true or false, got {_json_type(raw)}")
    return raw


def _time(record: Mapping[str, Any], name: str) -> datetime | None:
    raw = record.get(name)
    return _timestamp(raw, name)


def _timestamp(raw: Any, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise RowInvalid(f"{name}: expected an ISO 8601 timestamp string, got {_json_type(raw)}")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise RowInvalid(f"{name}: not an ISO 8601 timestamp ({raw[:40]!r})") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _confirmed(
    record: Mapping[str, Any], kind: str, at: datetime | None, created_at: datetime, has_address: bool
) -> datetime | None:
    flag = record.get(f"{kind}_confirmed")
    if flag is not None and not isinstance(flag, bool):
        raise RowInvalid(f"{kind}_confirmed: expected true or false, got {_json_type(flag)}")
    if flag is False and at is not None:
        raise RowInvalid(f"{kind}_confirmed is false but {kind}_confirmed_at is set")
    if at is None and flag:
        at = created_at
    if at is not None and not has_address:
        raise RowInvalid(f"{kind}_confirmed_at is set but the row has no {kind}")
    return at


def _object(record: Mapping[str, Any], name: str) -> dict[str, Any]:
    raw = record.get(name)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RowInvalid(f"{name}: expected a JSON object, got {_json_type(raw)}")
    return dict(raw)


def _identity_records(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = record.get("identities")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RowInvalid(f"identities: expected a JSON array, got {_json_type(raw)}")
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RowInvalid(f"identities[{index}]: expected a JSON object, got {_json_type(item)}")
        unknown = sorted(set(item) - IDENTITY_FIELDS)
        if unknown:
            raise RowInvalid(f"identities[{index}]: unknown field(s) {', '.join(unknown)}")
        provider = item.get("provider")
        if not isinstance(provider, str) or not provider.strip():
            raise RowInvalid(f"identities[{index}]: provider must be a non-empty string")
    return raw


def _user_id(record: Mapping[str, Any], email: str, phone: str, identities: list[dict[str, Any]]) -> UUID:
    raw = record.get("id")
    if raw is not None and raw != "":
        if not isinstance(raw, str):
            raise RowInvalid(f"id: expected a UUID string, got {_json_type(raw)}")
        try:
            value = UUID(raw)
        except ValueError:
            raise RowInvalid(f"id: not a UUID ({raw[:40]!r})") from None
        if value == NIL_UUID:
            raise RowInvalid("id: the nil UUID is not a user id")
        return value
    if email:
        return uuid5(IMPORT_NAMESPACE, f"email:{email}")
    if phone:
        return uuid5(IMPORT_NAMESPACE, f"phone:{phone}")
    for item in identities:
        provider_id = item.get("provider_id", item.get("id"))
        if isinstance(provider_id, str) and provider_id:
            return uuid5(IMPORT_NAMESPACE, f"identity:{item['provider']}:{provider_id}")
    raise RowInvalid("id: required for a user without an email, a phone or an identity")


def _identity(item: dict[str, Any], user: User, created_at: datetime) -> Identity:
    provider = item["provider"].strip()
    where = f"identities ({provider})"
    provider_id = item.get("provider_id", item.get("id"))
    if provider_id is None and provider in ("email", "phone"):
        provider_id = str(user.id)
    if not isinstance(provider_id, str) or not provider_id:
        raise RowInvalid(f"{where}: provider_id must be a non-empty string")
    data = item.get("identity_data", {})
    if not isinstance(data, dict):
        raise RowInvalid(f"{where}: identity_data must be a JSON object")
    data = dict(data)
    if provider == "email":
        data.setdefault("email", user.email)
    if provider == "phone":
        data.setdefault("phone", user.phone)
    if isinstance(data.get("email"), str):
        data["email"] = data["email"].lower()  # GoTrue's identity model lower-cases it
    data.setdefault("sub", provider_id)
    identity_id = item.get("identity_id")
    if identity_id is None:
        row_id = uuid5(user.id, f"{provider}:{provider_id}")
    else:
        try:
            row_id = UUID(str(identity_id))
        except ValueError:
            raise RowInvalid(f"{where}: identity_id is not a UUID") from None
    stamps = {name: _timestamp(item.get(name), f"{where} {name}") for name in ("created_at", "updated_at", "last_sign_in_at")}
    return Identity(
        id=row_id,
        user_id=user.id,
        provider=provider,
        provider_id=provider_id,
        identity_data=data,
        last_sign_in_at=stamps["last_sign_in_at"],
        created_at=stamps["created_at"] or created_at,
        updated_at=stamps["updated_at"] or stamps["created_at"] or created_at,
    )


def _own_identities(user: User) -> None:
    """The `email`/`phone` identities GoTrue gives an account with that address (admin-created users have both)."""
    for provider, confirmed in (("email", user.email_confirmed_at), ("phone", user.phone_confirmed_at)):
        if not (user.email if provider == "email" else user.phone):
            continue
        identity = new_identity(
            identity_id=uuid5(user.id, f"{provider}:{user.id}"), user=user, provider=provider, data={}, now=user.created_at
        )
        identity.identity_data[f"{provider}_verified"] = confirmed is not None
        identity.last_sign_in_at = None
        user.identities.append(identity)


def _password(record: Mapping[str, Any], user: User, defaults: ImportDefaults) -> str | None:
    password_hash = text_field(record, "password_hash")
    password = text_field(record, "password")
    salt = text_field(record, "salt")
    if password and password_hash:
        raise RowInvalid("password and password_hash are exclusive: give one")
    if salt and not password_hash:
        raise RowInvalid("salt is given without a password_hash")
    if salt:
        if defaults.firebase is None:
            raise RowInvalid("a salt column is a Firebase hash: give --firebase-signer-key and the other --firebase-* options")
        password_hash = defaults.firebase.encode(password_hash, salt)
    if len(password_hash) > MAX_TEXT:
        raise RowInvalid(f"password_hash: longer than {MAX_TEXT} characters")
    user.encrypted_password = password_hash
    if password and len(password.encode("utf-8", "surrogatepass")) > 72:
        raise RowInvalid("password: longer than 72 bytes")
    return password or None


def text_field(record: Mapping[str, Any], name: str) -> str:
    """A string field, "" when absent; `RowInvalid` when it is not a string."""
    raw = record.get(name)
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise RowInvalid(f"{name}: expected a string, got {_json_type(raw)}")
    return raw


# --- writing files ---------------------------------------------------------------------------------


def export_row(user: User) -> dict[str, Any]:
    """The user as one row (JSON types); importing it gives the same user back."""
    return {
        "id": str(user.id),
        "aud": user.aud,
        "role": user.role,
        "email": user.email or None,
        "phone": user.phone or None,
        "password_hash": user.encrypted_password or None,
        "email_confirmed_at": _iso(user.email_confirmed_at),
        "phone_confirmed_at": _iso(user.phone_confirmed_at),
        "invited_at": _iso(user.invited_at),
        "last_sign_in_at": _iso(user.last_sign_in_at),
        "created_at": _iso(user.created_at),
        "updated_at": _iso(user.updated_at),
        "banned_until": _iso(user.banned_until),
        "deleted_at": _iso(user.deleted_at),
        "is_anonymous": user.is_anonymous,
        "is_sso_user": user.is_sso_user,
        "user_metadata": user.user_metadata,
        "app_metadata": user.app_metadata,
        "identities": [
            {
                "identity_id": str(i.id),
                "provider": i.provider,
                "provider_id": i.provider_id,
                "identity_data": i.identity_data,
                "created_at": _iso(i.created_at),
                "updated_at": _iso(i.updated_at),
                "last_sign_in_at": _iso(i.last_sign_in_at),
            }
            for i in user.identities
        ],
    }


def csv_cells(row: Mapping[str, Any]) -> list[str]:
    """An exported row as CSV cells in `EXPORT_FIELDS` order: JSON columns as JSON text, None as empty."""
    cells = []
    for name in EXPORT_FIELDS:
        value = row.get(name)
        if value is None:
            cells.append("")
        elif name in JSON_FIELDS:
            cells.append(json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True))
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        else:
            cells.append(str(value))
    return cells


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat()


# --- helpers ----------------------------------------------------------------------------------------

_JSON_ERROR = re.compile(r": line \d+ column (\d+) \(char \d+\)$")


def _json_error(exc: ValueError) -> str:
    message = str(exc)
    match = _JSON_ERROR.search(message)
    if match is None:
        return message
    prefix = message[: match.start()]
    return f"{prefix} column {match[1]}" if prefix.endswith(" at") else f"{prefix} at column {match[1]}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _base64(text: str) -> bytes | None:
    """Standard or URL-safe base64, padded or not; None when it is neither."""
    if not isinstance(text, str):
        return None
    cleaned = text.strip().translate(_BASE64_URL).rstrip("=")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
