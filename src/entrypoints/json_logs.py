"""Production logging as GoTrue's logrus JSON: one JSON object per line, secrets scrubbed (docs/adr/0029).

Every line has `level`, `msg`, `time` (RFC 3339, UTC) and `component`; a line logged while a
request is served also has that request's `request_id` (the `current` context variable, set by
`pytrue.entrypoints.http.request_log`). Structured fields travel in `extra={"fields": {...}}`.

`Redaction`, a filter on the one handler `configure_logging` installs, rewrites each line before it
is written: JWT-shaped strings, `Bearer` credentials, `key=value` and `"key": "value"` pairs of secret
keys, field values under secret keys, and the configured secrets themselves (every `secret=True`
setting) become `[REDACTED]`. Records under the level never reach it: no cost on filtered lines.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from functools import lru_cache
from operator import attrgetter
from typing import Any
from urllib.parse import urlsplit

import msgspec

from pytrue.domain.audit import AuditLogEntry

LOG_LEVELS = {"panic": 50, "fatal": 50, "error": 40, "warn": 30, "info": 20, "debug": 10, "trace": 5}
# logrus' level names, as GoTrue's JSON lines carry them
LEVEL_NAMES = {50: "fatal", 40: "error", 30: "warning", 20: "info", 10: "debug", 5: "trace"}
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

# Python logger names to GoTrue's `component` values (the rest: the name after `pytrue.`)
COMPONENTS = {"pytrue": "api", "pytrue.http": "api", "pytrue.audit": "api"}

REDACTED = "[REDACTED]"

audit_log = logging.getLogger("pytrue.audit")


class RequestLog:
    """What one request's log lines share, and what its request-completed line reports.

    Built from the request's raw `headers`, the id (the `id_header`'s value, else a new UUID)
    and the user agent are read only when something asks for them: a request that logs
    nothing and echoes no id pays for neither (the hot paths: docs/adr/0029)."""

    __slots__ = ("_request_id", "_user_agent", "_headers", "_id_header", "user_id", "session_id", "auth_event", "error")

    def __init__(
        self, request_id: str = "", user_agent: str = "", *, headers: Iterable[tuple[bytes, bytes]] | None = None,
        id_header: bytes = b"",
    ) -> None:
        self._request_id = request_id or None
        self._user_agent = user_agent if headers is None else None
        self._headers = headers
        self._id_header = id_header
        self.user_id: str | None = None
        self.session_id: str | None = None
        self.auth_event: dict[str, Any] | None = None
        self.error: str | None = None

    @property
    def request_id(self) -> str:
        if self._request_id is None:
            found = ""
            if self._id_header and self._headers is not None:
                for name, value in self._headers:
                    if name == self._id_header:
                        found = value.decode("latin-1")
                        break
            self._request_id = found or str(uuid.uuid4())
        return self._request_id

    @property
    def user_agent(self) -> str:
        if self._user_agent is None:
            self._user_agent = ""
            for name, value in self._headers or ():
                if name == b"user-agent":
                    self._user_agent = value.decode("latin-1")
                    break
        return self._user_agent


current: ContextVar[RequestLog | None] = ContextVar("pytrue_request_log", default=None)


def request_id() -> str | None:
    """The id of the request being served, if any."""
    log = current.get()
    return log.request_id if log is not None else None


# --- the JSON formatter -------------------------------------------------------------------------


def _default(value: Any) -> Any:
    return str(value)


_encoder = msgspec.json.Encoder(enc_hook=_default, order="sorted")


class JsonFormatter(logging.Formatter):
    """One logrus-style JSON object per record, keys sorted, time in whole seconds UTC."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
            self._second = second
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {}
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        line["level"] = LEVEL_NAMES.get(record.levelno) or record.levelname.lower()
        line["msg"] = record.getMessage()
        line["time"] = self._time(record.created)
        line.setdefault("component", getattr(record, "component", None) or _component(record.name))
        if "request_id" not in line:
            log = current.get()
            if log is not None:
                line["request_id"] = log.request_id
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line["error"] = getattr(record, "error_text", None) or f"{type(exc).__name__}: {exc}"
            line["stack"] = record.exc_text or self.formatException(record.exc_info)
        return _encoder.encode(line).decode()


def _component(name: str) -> str:
    known = COMPONENTS.get(name)
    if known is not None:
        return known
    return name[len("pytrue.") :] if name.startswith("pytrue.") else name


# --- redaction ----------------------------------------------------------------------------------

# field and parameter names whose values are secret wherever they appear
SECRET_KEYS = frozenset(
    {
        "password", "new_password", "old_password", "current_password", "encrypted_password", "password_hash",
        "token", "token_hash", "access_token", "refresh_token", "id_token", "provider_token",
        "provider_refresh_token", "otp", "code", "auth_code", "code_verifier", "nonce", "secret", "secrets",
        "client_secret", "jwt_secret", "api_key", "apikey", "authorization", "cookie", "set-cookie",
        "confirmation_token", "recovery_token", "email_change_token", "email_change_token_new",
        "email_change_token_current", "phone_change_token", "reauthentication_token", "recovery_code",
    }
)  # fmt: skip


@lru_cache(maxsize=1024)
def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or "password" in lowered or "secret" in lowered or lowered.endswith("_token")


_KEYS = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_SCHEME = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")  # an Authorization header's credential
# key=value (query strings, form bodies, log text) and "key": "value" / 'key': 'value' (JSON, reprs)
_PAIR = re.compile(rf"(?i)(?<![A-Za-z0-9_])({_KEYS})=[^&\s\"'<>,;]+")
_QUOTED = re.compile(rf"(?i)([\"'])({_KEYS})\1\s*:\s*([\"'])(?:(?!\3).)*\3")


def _pair(match: re.Match[str]) -> str:
    return f"{match.group(1)}={REDACTED}"


def _quoted(match: re.Match[str]) -> str:
    quote, value_quote = match.group(1), match.group(3)
    return f"{quote}{match.group(2)}{quote}: {value_quote}{REDACTED}{value_quote}"


def _scheme(match: re.Match[str]) -> str:
    return f"{match.group(1)} {REDACTED}"


_plain = logging.Formatter()


class Redaction(logging.Filter):
    """Scrubs secrets out of each record it passes (never drops one). Each pattern runs only on
    text that has the characters it needs, so a plain value costs a few substring tests."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        known = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 6}, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(s) for s in known)) if known else None

    def scrub(self, text: str) -> str:
        text = self._scrub_known(text)
        lowered = text.lower()
        if "bearer" in lowered or "basic" in lowered:
            text = _SCHEME.sub(_scheme, text)
        if "=" in text:
            text = _PAIR.sub(_pair, text)
        if ":" in text and ('"' in text or "'" in text):
            text = _QUOTED.sub(_quoted, text)
        return text

    def _scrub_known(self, text: str) -> str:
        """Only the configured secrets and JWTs."""
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        return _JWT.sub(REDACTED, text) if "eyJ" in text else text

    def _value(self, key: str, value: Any) -> Any:
        if is_secret_key(key) and value not in (None, "", True, False):
            return REDACTED
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._value(str(k), v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._value("", v) for v in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "pytrue_scrubbed", False):
            return True
        message = record.getMessage()
        # the development mail and SMS transports log links and codes on purpose (no real delivery
        # configured): only JWTs and configured secrets are taken out of their lines
        scrubbed = self._scrub_known(message) if getattr(record, "dev_delivery", False) else self.scrub(message)
        if scrubbed is not message:
            record.msg, record.args = scrubbed, None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = {k: self._value(k, v) for k, v in fields.items()}
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.error_text = self.scrub(f"{type(exc).__name__}: {exc}")
            record.exc_text = self.scrub(record.exc_text or _plain.formatException(record.exc_info))
        record.pytrue_scrubbed = True
        return True


def configured_secrets(settings: Any) -> set[str]:
    """Every value of a `secret=True` setting, and the parts a log line could quote of it."""
    from pytrue.entrypoints.settings import variables

    found: set[str] = set()

    def add(value: Any) -> None:
        if isinstance(value, str) and value:
            found.add(value)
            if "://" in value:
                try:
                    password = urlsplit(value).password
                except ValueError:
                    password = None
                if password:
                    found.add(password)
            for piece in re.split(r"[|,\s]+", value):
                found.add(piece)
                if piece.startswith("whsec_"):
                    found.add(piece[len("whsec_") :])
        elif isinstance(value, dict):
            for item in value.values():
                add(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                add(item)

    for variable in variables():
        if variable.var.secret:
            try:
                add(attrgetter(".".join(variable.path))(settings))
            except AttributeError:
                continue
    return found


# --- configuration ------------------------------------------------------------------------------


def configure_logging(settings: Any) -> logging.Handler:
    """JSON lines on standard error, or appended to GOTRUE_LOG_FILE; the level GOTRUE_LOG_LEVEL.

    Raises OSError when the log file cannot be opened (GoTrue refuses to start then too)."""
    path = settings.logging.file
    handler: logging.Handler
    if path:
        handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redaction(configured_secrets(settings)))
    handler._pytrue = True  # type: ignore[attr-defined]  # a second call replaces this handler
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_pytrue", False):
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(LOG_LEVELS.get(settings.logging.level, logging.INFO))
    if path:
        logging.getLogger("pytrue").info("Set output file to %s", path)
    return handler


# --- audit events -------------------------------------------------------------------------------


def log_audit_entries(entries: Iterable[AuditLogEntry]) -> None:
    """After a commit: one `audit_event` line per entry (GoTrue's `auth_audit_event`), and the
    request's completed line carries the last one as `auth_event` (GoTrue's older field)."""
    log = current.get()
    for entry in entries:
        if log is not None:
            log.auth_event = entry.payload
        if not audit_log.isEnabledFor(logging.INFO):
            continue
        event: dict[str, Any] = dict(entry.payload)
        event["audit_log_id"] = str(entry.id)
        event["ip_address"] = entry.ip_address
        event["created_at"] = entry.created_at
        if log is not None:
            event["request_id"] = log.request_id
            if log.user_agent:
                event["user_agent"] = log.user_agent
        audit_log.info("audit_event", extra={"fields": {"auth_audit_event": event}})
