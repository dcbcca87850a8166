"""Hook URIs and Standard Webhooks secrets as GoTrue accepts them, checked once when configuration is read."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

HTTP_HOOK = "http"
POSTGRES_HOOK = "postgres"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "host.docker.internal"})
_SYMMETRIC = re.compile(r"v1,whsec_([A-Za-z0-9+/=]{32,})")
_POSTGRES_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class HookSecret:
    """One symmetric Standard Webhooks key (`v1,whsec_<base64>`); its repr shows nothing of it."""

    key: bytes = field(repr=False)

    def sign(self, message_id: str, timestamp: int, body: bytes) -> str:
        """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
        digest = hmac.new(self.key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True, kw_only=True)
class HookTarget:
    """Where a hook runs: an http(s) URI, or a PostgreSQL function (`function` is `"schema"."name"`)."""

    uri: str
    kind: str
    function: str = ""


def parse_hook_secrets(raw: str) -> tuple[HookSecret, ...]:
    """`GOTRUE_HOOK_<NAME>_SECRETS`: `v1,whsec_<base64>` keys separated by `|` (empty parts skipped).

    Stricter than GoTrue, which accepts at start what it then fails to sign with on every call:
    each key must be standard padded base64, and asymmetric `v1a,whpk_…` keys are refused.
    ValueError says which key is wrong, never what it holds."""
    parts = [part for part in raw.split("|") if part]
    return tuple(_secret(part, position, len(parts)) for position, part in enumerate(parts, start=1))


def _secret(part: str, position: int, count: int) -> HookSecret:
    where = f"secret {position} of {count}"
    if part.startswith("v1a,"):
        raise ValueError(f"{where}: asymmetric (v1a) hook secrets are not supported; use v1,whsec_<base64>")
    match = _SYMMETRIC.fullmatch(part)
    if match is None:
        raise ValueError(f"{where}: invalid secret format, expected v1,whsec_<base64 of at least 32 characters>")
    try:
        key = base64.b64decode(match.group(1), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: the part after whsec_ is not valid padded base64") from None
    return HookSecret(key)


def parse_hook_uri(uri: str) -> HookTarget:
    """`GOTRUE_HOOK_<NAME>_URI`: `https://…`, `http://` to a local host only, or
    `pg-functions://postgres/<schema>/<function>`. ValueError with GoTrue's reason otherwise
    (the URI is not quoted back: it may carry credentials)."""
    try:
        parts = urlsplit(uri)
        hostname = parts.hostname or ""
    except ValueError:
        raise ValueError("the hook URI is not a valid URI") from None
    scheme = parts.scheme.lower()
    if scheme == "pg-functions":
        return _postgres(uri, parts.path)
    if scheme == "http" and hostname not in LOCAL_HOSTS:
        raise ValueError("only localhost, 127.0.0.1, ::1 and host.docker.internal are supported with http")
    if scheme not in ("http", "https"):
        raise ValueError("only postgres hooks and HTTPS functions are supported at the moment")
    if not hostname:
        raise ValueError("the hook URI has no host")
    return HookTarget(uri=uri, kind=HTTP_HOOK)


def _postgres(uri: str, path: str) -> HookTarget:
    names = path.split("/")
    if len(names) < 3:
        raise ValueError("URI path does not contain enough parts")
    schema, function = names[1], names[2]
    if not _POSTGRES_NAME.match(schema):
        raise ValueError("invalid schema name in the hook URI")
    if not _POSTGRES_NAME.match(function):
        raise ValueError("invalid function name in the hook URI")
    return HookTarget(uri=uri, kind=POSTGRES_HOOK, function=f'"{schema}"."{function}"')


def parse_hook(uri: str, secrets: str) -> tuple[HookTarget, tuple[HookSecret, ...]]:
    """One extension point's URI and secrets together; an HTTP hook needs at least one secret
    (GoTrue would send it unsigned)."""
    target = parse_hook_uri(uri)
    keys = parse_hook_secrets(secrets)
    if target.kind == HTTP_HOOK and not keys:
        raise ValueError("an HTTP hook needs at least one v1,whsec_… secret")
    return target, keys
