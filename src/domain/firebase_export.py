"""Firebase Authentication's own export (`firebase auth:export users.json`) as import rows.

The file is one JSON document, `{"users": [{...}, ...]}`, of any size and layout: it is read
incrementally, user by user, and each user becomes the row of `pytrue.domain.user_import`
(docs/user-import.md):

- `localId` → `id` = uuid5(IMPORT_NAMESPACE, "firebase:" + localId) (stable, so a re-run skips
  the users already written) and `app_metadata.firebase_uid` (an app's own data keyed by the
  old uid can be joined to the new id);
- `email`, `emailVerified` → `email`, `email_confirmed`; `phoneNumber` → `phone`, confirmed
  (Firebase only stores verified numbers);
- `passwordHash`, `salt` → Firebase scrypt (`--firebase-*` parameters), as a row's
  `password_hash` and `salt`;
- `displayName`, `photoUrl` → `user_metadata` `name`, `full_name`, `avatar_url`, `picture`;
- `customAttributes` (custom claims, a JSON text) → `app_metadata`;
- `createdAt`, `lastSignedInAt` (milliseconds since the epoch, as strings) → the timestamps;
- `disabled: true` → banned (until 2999);
- `providerUserInfo` → identities (`google.com` → `google`, `apple.com` → `apple`,
  `microsoft.com` → `azure`, ...), with the `email` identity when the user has a password.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any
from uuid import uuid5

from pytrue.domain.user_import import IMPORT_NAMESPACE, Rejection, RowInvalid, text_field

__all__ = ["FIREBASE_PROVIDERS", "firebase_records", "firebase_row"]

# Firebase's provider ids → GoTrue's provider names
FIREBASE_PROVIDERS = {
    "google.com": "google",
    "apple.com": "apple",
    "facebook.com": "facebook",
    "github.com": "github",
    "twitter.com": "twitter",
    "microsoft.com": "azure",
    "gc.apple.com": "apple",
    "playgames.google.com": "google",
}
_SKIPPED_PROVIDERS = {"password", "phone", "anonymous"}  # Firebase's own: the row's email/phone say it
_BANNED_UNTIL = "2999-12-31T00:00:00+00:00"
_PRELUDE = re.compile(r'\A\ufeff?\s*\{\s*"users"\s*:\s*\[')
_WHITESPACE = re.compile(r"\s*")
_CHUNK_LIMIT = 64 * 1024 * 1024  # one user larger than this is not a Firebase user


def firebase_row(user: dict[str, Any]) -> dict[str, Any]:
    """The import row of one Firebase user; `RowInvalid` when it cannot be one."""
    local_id = user.get("localId")
    if not isinstance(local_id, str) or not local_id.strip():
        raise RowInvalid("localId: required (a Firebase user's uid)")
    row: dict[str, Any] = {"id": str(uuid5(IMPORT_NAMESPACE, f"firebase:{local_id}"))}
    email = _text(user, "email")
    if email:
        row["email"] = email
        row["email_confirmed"] = _flag(user, "emailVerified")
    phone = _text(user, "phoneNumber")
    if phone:
        row["phone"] = phone
        row["phone_confirmed"] = True
    password_hash, salt = _text(user, "passwordHash"), _text(user, "salt")
    if password_hash:
        if not salt:
            raise RowInvalid("passwordHash without a salt: not a Firebase scrypt hash")
        row["password_hash"] = password_hash
        row["salt"] = salt
    for name, field in (("created_at", "createdAt"), ("last_sign_in_at", "lastSignedInAt")):
        moment = _millis(user, field)
        if moment:
            row[name] = moment
    if _flag(user, "disabled"):
        row["banned_until"] = _BANNED_UNTIL
    row["user_metadata"] = _profile(_text(user, "displayName"), _text(user, "photoUrl"))
    row["app_metadata"] = {**_claims(user), "firebase_uid": local_id}
    identities = [_identity(item, index) for index, item in enumerate(_list(user, "providerUserInfo"))]
    identities = [item for item in identities if item is not None]
    if email and (password_hash or not identities):
        identities.insert(0, {"provider": "email"})
    if phone:
        identities.append({"provider": "phone"})
    row["identities"] = identities
    return row


def firebase_records(chunks: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    """Each user of a Firebase export, as an import row with the line its object starts on, or
    why it is not one. A document that is not `{"users": [...]}`, or is cut short or malformed,
    ends with one rejection saying so (nothing after it can be read reliably)."""
    reader = _Reader(iter(chunks))
    if not reader.prelude():
        yield 1, Rejection(1, 'not a Firebase auth:export JSON document (expected {"users": [ ... ]})')
        return
    first = True
    while True:
        if not reader.skip_whitespace():
            yield reader.line, Rejection(reader.line, "the file ends inside the users list: is it complete?")
            return
        if reader.peek() == "]":
            reader.take(1)
            if not reader.skip_whitespace() or reader.peek() != "}":
                yield reader.line, Rejection(reader.line, "the file ends before the document's closing }: is it complete?")
            return
        if not first:
            if reader.peek() != ",":
                yield reader.line, Rejection(reader.line, "malformed JSON: expected , or ] between users; the rest is not read")
                return
            reader.take(1)
            if not reader.skip_whitespace():
                yield reader.line, Rejection(reader.line, "the file ends inside the users list: is it complete?")
                return
        first = False
        line = reader.line
        value, problem = reader.value()
        if problem is not None:
            yield line, Rejection(line, problem)
            return
        if not isinstance(value, dict):
            yield line, Rejection(line, "a Firebase user must be a JSON object")
            continue
        try:
            yield line, firebase_row(value)
        except RowInvalid as exc:
            yield line, Rejection(line, str(exc))


class _Reader:
    """A text stream read chunk by chunk, with the line number of the read position."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._decoder = json.JSONDecoder()
        self.line = 1

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self._eof = True
            return False
        self._buffer = self._buffer[self._pos:] + chunk
        self._pos = 0
        return True

    def take(self, count: int) -> None:
        self.line += self._buffer.count("\n", self._pos, self._pos + count)
        self._pos += count

    def peek(self) -> str:
        return self._buffer[self._pos]

    def prelude(self) -> bool:
        while True:
            match = _PRELUDE.match(self._buffer)
            if match:
                self.take(match.end())
                return True
            if len(self._buffer) > 4096 or not self._fill():
                return False

    def skip_whitespace(self) -> bool:
        """Move past whitespace; False at the end of the text."""
        while True:
            self.take(_WHITESPACE.match(self._buffer, self._pos).end() - self._pos)  # type: ignore[union-attr]
            if self._pos < len(self._buffer):
                return True
            if not self._fill():
                return False

    def value(self) -> tuple[Any, str | None]:
        """The JSON value at the position, reading more text until it is whole."""
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buffer) - self._pos > _CHUNK_LIMIT or not self._fill():
                    if self._eof and exc.pos >= len(self._buffer) - 1:
                        return None, "the file is cut short inside this user: is it complete?"
                    return None, f"malformed JSON: {exc.msg}; the rest is not read"
                continue
            self.take(end - self._pos)
            return value, None


def _text(user: dict[str, Any], name: str) -> str:
    return text_field(user, name).strip()


def _flag(user: dict[str, Any], name: str) -> bool:
    value = user.get(name, False)
    if not isinstance(value, bool):
        raise RowInvalid(f"{name}: expected true or false")
    return value


def _millis(user: dict[str, Any], name: str) -> str:
    value = user.get(name)
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).isdigit():
        raise RowInvalid(f"{name}: expected milliseconds since the epoch")
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        raise RowInvalid(f"{name}: out of range") from None


def _list(user: dict[str, Any], name: str) -> list[Any]:
    value = user.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowInvalid(f"{name}: expected a JSON array")
    return value


def _claims(user: dict[str, Any]) -> dict[str, Any]:
    raw = _text(user, "customAttributes")
    if not raw:
        return {}
    try:
        claims = json.loads(raw)
    except ValueError:
        raise RowInvalid("customAttributes: not JSON") from None
    if not isinstance(claims, dict):
        raise RowInvalid("customAttributes: expected a JSON object")
    # provider and providers are GoTrue's, computed from the identities
    return {key: value for key, value in claims.items() if key not in ("provider", "providers", "firebase_uid")}


def _profile(name: str, photo: str) -> dict[str, Any]:
    profile: dict[str, Any] = {}
    if name:
        profile.update(name=name, full_name=name)
    if photo:
        profile.update(avatar_url=photo, picture=photo)
    return profile


def _identity(item: Any, index: int) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        raise RowInvalid(f"providerUserInfo[{index}]: expected a JSON object")
    provider_id = item.get("providerId")
    if not isinstance(provider_id, str) or not provider_id:
        raise RowInvalid(f"providerUserInfo[{index}]: providerId is required")
    if provider_id in _SKIPPED_PROVIDERS:
        return None
    provider = FIREBASE_PROVIDERS.get(provider_id, provider_id.removesuffix(".com"))
    raw_id = item.get("rawId") or item.get("federatedId")
    if not isinstance(raw_id, str) or not raw_id:
        raise RowInvalid(f"providerUserInfo[{index}]: rawId is required")
    data: dict[str, Any] = {"sub": raw_id, "provider_id": raw_id}
    email = item.get("email")
    if isinstance(email, str) and email:
        data["email"] = email.strip().lower()
    name, photo = item.get("displayName"), item.get("photoUrl")
    data.update(_profile(name if isinstance(name, str) else "", photo if isinstance(photo, str) else ""))
    return {"provider": provider, "provider_id": raw_id, "identity_data": data}
