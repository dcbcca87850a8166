"""Configuration read once at start (config.md §1–3, §7).

The process environment, completed by a `.env` file for keys it does not set, is parsed
with GoTrue's rules into frozen `Settings`. A bad value raises `SettingsError` naming the
variable; secrets never appear in messages or in `repr()`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytrue.adapters.jwt.keys import KeySet, parse_jwks
from pytrue.application.config import AuthConfig
from pytrue.domain.rate import Rate
from pytrue.domain.redirects import compile_allow_list
from pytrue.domain.values import PasswordPolicy, parse_go_duration

LOG_LEVELS = ("panic", "fatal", "error", "warn", "info", "debug", "trace")
DB_DRIVERS = ("memory", "postgres")
DB_POOL_MODES = ("session", "transaction")
DEFAULT_ADMIN_ROLES = ("service_role", "supabase_admin")

SECRET_VARIABLES = frozenset(
    {
        "GOTRUE_JWT_SECRET",
        "GOTRUE_JWT_KEYS",
        "GOTRUE_SMTP_PASS",
        "GOTRUE_DB_DATABASE_URL",
        "DATABASE_URL",
    }
)
_SECRET_FIELDS = frozenset({"jwt_secret", "jwt_keys", "smtp_pass"})
_URL_FIELDS = frozenset({"database_url"})

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# Mail kinds (application.ports.MAIL_*) and the GoTrue variable suffix of each.
MAIL_TEMPLATE_TYPES = {
    "invite": "INVITE",
    "confirmation": "CONFIRMATION",
    "recovery": "RECOVERY",
    "magic_link": "MAGIC_LINK",
    "email_change": "EMAIL_CHANGE",
    "reauthentication": "REAUTHENTICATION",
}
MAIL_URL_PATHS = ("invite", "confirmation", "recovery", "email_change")
DEFAULT_MAIL_URL_PATH = "/verify"


class SettingsError(Exception):
    """A configuration value is missing or malformed; the message starts with the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***` (unparsable input is fully hidden)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    except ValueError:
        return "***"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Settings:
    site_url: str = ""
    uri_allow_list: tuple[str, ...] = ()
    disable_signup: bool = False
    external_email_enabled: bool = True
    external_phone_enabled: bool = False
    external_anonymous_users_enabled: bool = False
    rate_limit_email_sent: Rate = Rate(30)
    rate_limit_sms_sent: Rate = Rate(30)
    rate_limit_header: str = ""
    sb_forwarded_for_enabled: bool = False
    rate_limit_token_refresh: float = 150
    rate_limit_verify: float = 30
    rate_limit_otp: float = 30
    rate_limit_anonymous_users: float = 30
    password_min_length: int = 6
    password_required_characters: str = ""
    password_hash_memory_kib: int = 19456
    password_hash_time_cost: int = 2
    password_hash_parallelism: int = 1

    api_host: str = ""
    port: int = 8081
    api_external_url: str = ""
    request_id_header: str = ""
    cors_allowed_headers: tuple[str, ...] = ()

    db_driver: str = "postgres"
    database_url: str = ""
    db_max_pool_size: int = 0
    db_namespace: str = "auth"
    db_cleanup_enabled: bool = False
    db_pool_mode: str = "session"
    db_pool_timeout: float = 2.0
    db_transaction_timeout: float = 5.0

    log_level: str = "info"

    jwt_secret: str = ""
    jwt_exp: int = 3600
    jwt_aud: str = ""
    jwt_admin_roles: tuple[str, ...] = DEFAULT_ADMIN_ROLES
    jwt_admin_group_name: str = "admin"
    jwt_default_group_name: str = ""
    jwt_issuer: str = ""
    jwt_key_id: str = ""
    jwt_keys: tuple[dict[str, Any], ...] = ()
    jwt_valid_methods: tuple[str, ...] | None = None

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_pass: str = ""
    smtp_admin_email: str = ""
    smtp_sender_name: str = ""
    smtp_max_frequency: timedelta = timedelta(minutes=1)
    mailer_autoconfirm: bool = False
    mailer_secure_email_change_enabled: bool = True
    mailer_otp_exp: int = 86400
    mailer_otp_length: int = 6
    external_email_magic_link_enabled: bool = True
    flow_state_expiry: timedelta = timedelta(seconds=300)
    update_password_require_reauthentication: bool = False
    update_password_require_current_password: bool = False
    smtp_headers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mailer_subjects: dict[str, str] = field(default_factory=dict)
    mailer_templates: dict[str, str] = field(default_factory=dict)
    mailer_url_paths: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(MAIL_URL_PATHS, DEFAULT_MAIL_URL_PATH)
    )
    mailer_template_max_size: int = 1_000_000
    mailer_template_max_age: timedelta = timedelta(minutes=10)
    mailer_template_retry_interval: timedelta = timedelta(seconds=10)
    dev_inbox_file: str = ""
    mailer_delivery: str = "outbox"
    mailer_outbox_retry_interval: timedelta = timedelta(seconds=15)
    mailer_outbox_fail_fast_after: timedelta | None = timedelta(minutes=10)
    mailer_outbox_poll_interval: timedelta = timedelta(seconds=2)
    otp_max_failed_attempts: int = 5  # PYTRUE_OTP_MAX_FAILED_ATTEMPTS (not a GoTrue variable)

    sms_autoconfirm: bool = False

    refresh_token_rotation_enabled: bool = True
    refresh_token_reuse_interval: int = 0
    refresh_token_algorithm_version: int = 0
    refresh_token_upgrade_percentage: int = 0
    refresh_token_allow_reuse: bool = False
    verify_confirmation_page: bool = False
    sessions_timebox: timedelta | None = None
    sessions_inactivity_timeout: timedelta | None = None

    def __repr__(self) -> str:
        shown = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in _SECRET_FIELDS:
                text = "'***'" if value else repr(value)
            elif item.name in _URL_FIELDS:
                text = repr(redact_url(value))
            else:
                text = repr(value)
            shown.append(f"{item.name}={text}")
        return f"Settings({', '.join(shown)})"

    def auth_config(self) -> AuthConfig:
        """The switches the use cases obey."""
        extra: dict[str, Any] = {"site_url": self.site_url} if self.site_url else {}
        return AuthConfig(
            jwt_exp=self.jwt_exp,
            jwt_aud=self.jwt_aud,
            jwt_issuer=self.jwt_issuer,
            jwt_default_group_name=self.jwt_default_group_name,
            jwt_admin_group_name=self.jwt_admin_group_name,
            jwt_admin_roles=self.jwt_admin_roles,
            disable_signup=self.disable_signup,
            external_email_enabled=self.external_email_enabled,
            external_phone_enabled=self.external_phone_enabled,
            external_anonymous_users_enabled=self.external_anonymous_users_enabled,
            mailer_autoconfirm=self.mailer_autoconfirm,
            sms_autoconfirm=self.sms_autoconfirm,
            mailer_otp_length=self.mailer_otp_length,
            mailer_otp_exp=timedelta(seconds=self.mailer_otp_exp),
            mailer_secure_email_change_enabled=self.mailer_secure_email_change_enabled,
            smtp_max_frequency=self.smtp_max_frequency,
            external_email_magic_link_enabled=self.external_email_magic_link_enabled,
            flow_state_expiry=self.flow_state_expiry,
            update_password_require_reauthentication=self.update_password_require_reauthentication,
            update_password_require_current_password=self.update_password_require_current_password,
            uri_allow_list=self.uri_allow_list,
            api_external_url=self.api_external_url,
            mailer_urlpath_invite=self.mailer_url_paths.get("invite", DEFAULT_MAIL_URL_PATH),
            mailer_urlpath_confirmation=self.mailer_url_paths.get("confirmation", DEFAULT_MAIL_URL_PATH),
            mailer_urlpath_recovery=self.mailer_url_paths.get("recovery", DEFAULT_MAIL_URL_PATH),
            mailer_urlpath_email_change=self.mailer_url_paths.get("email_change", DEFAULT_MAIL_URL_PATH),
            mailer_delivery=self.mailer_delivery,
            mailer_outbox_fail_fast_after=self.mailer_outbox_fail_fast_after,
            rate_limit_email_sent=self.rate_limit_email_sent,
            rate_limit_sms_sent=self.rate_limit_sms_sent,
            otp_max_failed_attempts=self.otp_max_failed_attempts,
            password_policy=PasswordPolicy(
                min_length=self.password_min_length,
                required_characters=PasswordPolicy.parse_required_characters(self.password_required_characters),
            ),
            refresh_token_rotation_enabled=self.refresh_token_rotation_enabled,
            refresh_token_reuse_interval=timedelta(seconds=self.refresh_token_reuse_interval),
            refresh_token_algorithm_version=self.refresh_token_algorithm_version,
            refresh_token_upgrade_percentage=self.refresh_token_upgrade_percentage,
            refresh_token_allow_reuse=self.refresh_token_allow_reuse,
            verify_confirmation_page=self.verify_confirmation_page,
            sessions_timebox=self.sessions_timebox,
            sessions_inactivity_timeout=self.sessions_inactivity_timeout,
            **extra,
        )

    def key_set(self) -> KeySet:
        """The JWT key set (secret, `GOTRUE_JWT_KEYS`, key id, accepted algorithms)."""
        return KeySet(self.jwt_secret, list(self.jwt_keys), self.jwt_key_id, self.jwt_valid_methods)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | os.PathLike[str] | None = ".env",
    require: bool = True,
    require_database: bool = True,
) -> Settings:
    """Read the settings; `.env` fills only keys the environment does not set."""
    values: dict[str, str] = {}
    if env_file is not None:
        values.update(read_dotenv(env_file))
    values.update(os.environ if environ is None else environ)
    return _Parser(values).settings(require=require, require_database=require_database)


def read_dotenv(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a dotenv file: `KEY=VALUE`, optional `export `, quotes, `#` comments; missing is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(str(path), f"cannot read the file ({type(error).__name__})") from None
    return _DotenvParser(text, str(path)).parse()


class _DotenvParser:
    def __init__(self, text: str, name: str) -> None:
        self._text = text.replace("\r\n", "\n").replace("\r", "\n")
        self._name = name
        self._pos = 0
        self._line = 1

    def parse(self) -> dict[str, str]:
        values: dict[str, str] = {}
        while self._pos < len(self._text):
            self._skip_blank()
            if self._pos >= len(self._text):
                break
            if self._peek() == "#":
                self._skip_line()
                continue
            key = self._key()
            values[key] = self._value()
        return values

    def _error(self, problem: str) -> SettingsError:
        return SettingsError(f"{self._name} line {self._line}", problem)

    def _peek(self) -> str:
        return self._text[self._pos] if self._pos < len(self._text) else ""

    def _advance(self, count: int = 1) -> None:
        self._line += self._text.count("\n", self._pos, self._pos + count)
        self._pos += count

    def _skip_blank(self) -> None:
        while self._peek() in (" ", "\t", "\n"):
            self._advance()

    def _skip_spaces(self) -> None:
        while self._peek() in (" ", "\t"):
            self._advance()

    def _skip_line(self) -> None:
        end = self._text.find("\n", self._pos)
        self._advance((len(self._text) if end < 0 else end) - self._pos)

    def _key(self) -> str:
        if self._text.startswith("export ", self._pos) or self._text.startswith("export\t", self._pos):
            self._advance(len("export"))
            self._skip_spaces()
        match = _DOTENV_KEY.match(self._text, self._pos)
        if not match:
            raise self._error("expected KEY=VALUE")
        self._advance(match.end() - self._pos)
        self._skip_spaces()
        if self._peek() not in ("=", ":"):
            raise self._error("expected KEY=VALUE")
        self._advance()
        self._skip_spaces()
        return match.group(0)

    def _value(self) -> str:
        quote = self._peek()
        if quote in ("'", '"'):
            value = self._quoted(quote)
            self._skip_spaces()
            if self._peek() == "#":
                self._skip_line()
            elif self._peek() not in ("\n", ""):
                raise self._error("unexpected characters after a quoted value")
            return value
        end = self._text.find("\n", self._pos)
        raw = self._text[self._pos : len(self._text) if end < 0 else end]
        self._advance(len(raw))
        comment = re.search(r"[ \t]#", raw)
        if comment:
            raw = raw[: comment.start()]
        return raw.strip()

    def _quoted(self, quote: str) -> str:
        start_line = self._line
        self._advance()
        chars: list[str] = []
        escapes = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}
        while True:
            ch = self._peek()
            if not ch:
                self._line = start_line
                raise self._error("unterminated quoted value")
            self._advance()
            if ch == quote:
                return "".join(chars)
            if ch == "\\" and quote == '"' and self._peek() in escapes:
                chars.append(escapes[self._peek()])
                self._advance()
                continue
            chars.append(ch)


def _check_url(variable: str, value: str) -> str:
    try:
        parts = urlsplit(value)
        valid = bool(parts.scheme) and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise SettingsError(variable, f"expected an absolute URL with scheme and host, got {redact_url(value)!r}")
    return value


class _Parser:
    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def _lookup(self, *names: str) -> tuple[str, str | None]:
        for name in names:
            if name in self._values:
                return name, self._values[name]
        return names[0], None

    @staticmethod
    def _bad(name: str, expected: str, raw: str) -> SettingsError:
        if name in SECRET_VARIABLES:
            return SettingsError(name, f"expected {expected}")
        return SettingsError(name, f"expected {expected}, got {raw!r}")

    def string(self, *names: str, default: str = "") -> str:
        _, raw = self._lookup(*names)
        return default if raw is None else raw

    def required(self, *names: str, needed: bool, when: str = "") -> str:
        name, raw = self._lookup(*names)
        if not raw and needed:
            state = "not set" if raw is None else "empty"
            also = f"; also read as {', '.join(names[:-1])}" if len(names) > 1 and raw is None else ""
            raise SettingsError(names[-1] if raw is None else name, f"required{when} but {state}{also}")
        return raw or ""

    def boolean(self, *names: str, default: bool) -> bool:
        name, raw = self._lookup(*names)
        if raw is None:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise self._bad(name, "a boolean (true/false/1/0/t/f)", raw)

    def integer(self, *names: str, default: int, minimum: int | None = None) -> int:
        name, raw = self._lookup(*names)
        if raw is None:
            return default
        if not _INTEGER.fullmatch(raw):
            raise self._bad(name, "an integer", raw)
        value = int(raw)
        if minimum is not None and value < minimum:
            raise SettingsError(name, f"must be at least {minimum}, got {value}")
        return value

    def duration(self, *names: str, default: timedelta | None) -> timedelta | None:
        name, raw = self._lookup(*names)
        if raw is None:
            return default
        try:
            return parse_go_duration(raw)
        except ValueError:
            raise self._bad(name, "a duration such as 300ms, 60s, 1m30s or 24h", raw) from None

    def number(self, name: str, *, default: float) -> float:
        raw = self._values.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self._bad(name, "a number", raw) from None
        if value != value or value in (float("inf"), float("-inf")) or value < 0:
            raise self._bad(name, "a finite number >= 0", raw)
        return value

    def rate(self, name: str, *, default: Rate) -> Rate:
        raw = self._values.get(name)
        if raw is None:
            return default
        try:
            return Rate.parse(raw)
        except ValueError:
            raise self._bad(name, "a rate such as 30 (per hour) or 10/1m (token bucket)", raw) from None

    def _allow_list(self) -> tuple[str, ...]:
        patterns = self.listing("GOTRUE_URI_ALLOW_LIST")
        try:
            compile_allow_list(patterns)
        except ValueError as error:
            raise SettingsError("GOTRUE_URI_ALLOW_LIST", str(error)) from None
        return patterns

    def listing(self, *names: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        _, raw = self._lookup(*names)
        if raw is None:
            return default
        if not raw.strip():
            return ()
        return tuple(raw.split(","))

    def settings(self, *, require: bool, require_database: bool) -> Settings:
        site_url = self.required("GOTRUE_SITE_URL", needed=require)
        if site_url:
            _check_url("GOTRUE_SITE_URL", site_url)
        external_names = ("GOTRUE_API_API_EXTERNAL_URL", "API_EXTERNAL_URL")
        api_external_url = self.required(*external_names, needed=require)
        if api_external_url:
            _check_url(self._lookup(*external_names)[0], api_external_url)
        jwt_secret = self.required("GOTRUE_JWT_SECRET", needed=require)

        db_driver = self.string("GOTRUE_DB_DRIVER", default="postgres")
        if db_driver not in DB_DRIVERS:
            raise SettingsError("GOTRUE_DB_DRIVER", f"expected one of {', '.join(DB_DRIVERS)}, got {db_driver!r}")
        database_url = self.required(
            "GOTRUE_DB_DATABASE_URL",
            "DATABASE_URL",
            needed=require and require_database and db_driver == "postgres",
            when=" when GOTRUE_DB_DRIVER is postgres",
        )

        jwt_exp = self.integer("GOTRUE_JWT_EXP", default=3600, minimum=0) or 3600
        mailer_otp_exp = self.integer("GOTRUE_MAILER_OTP_EXP", default=86400, minimum=0) or 86400
        otp_length = self.integer("GOTRUE_MAILER_OTP_LENGTH", default=6)
        smtp_max_frequency = self.duration("GOTRUE_SMTP_MAX_FREQUENCY", default=timedelta(minutes=1))

        return Settings(
            site_url=site_url,
            uri_allow_list=self._allow_list(),
            disable_signup=self.boolean("GOTRUE_DISABLE_SIGNUP", default=False),
            external_email_enabled=self.boolean("GOTRUE_EXTERNAL_EMAIL_ENABLED", default=True),
            external_phone_enabled=self.boolean("GOTRUE_EXTERNAL_PHONE_ENABLED", default=False),
            external_anonymous_users_enabled=self.boolean("GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED", default=False),
            rate_limit_email_sent=self.rate("GOTRUE_RATE_LIMIT_EMAIL_SENT", default=Rate(30)),
            rate_limit_sms_sent=self.rate("GOTRUE_RATE_LIMIT_SMS_SENT", default=Rate(30)),
            rate_limit_header=self.string("GOTRUE_RATE_LIMIT_HEADER"),
            sb_forwarded_for_enabled=self.boolean("GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED", default=False),
            rate_limit_token_refresh=self.number("GOTRUE_RATE_LIMIT_TOKEN_REFRESH", default=150),
            rate_limit_verify=self.number("GOTRUE_RATE_LIMIT_VERIFY", default=30),
            rate_limit_otp=self.number("GOTRUE_RATE_LIMIT_OTP", default=30),
            rate_limit_anonymous_users=self.number("GOTRUE_RATE_LIMIT_ANONYMOUS_USERS", default=30),
            password_min_length=max(6, self.integer("GOTRUE_PASSWORD_MIN_LENGTH", default=6)),
            password_required_characters=self.string("GOTRUE_PASSWORD_REQUIRED_CHARACTERS"),
            password_hash_memory_kib=self.integer("GOTRUE_PASSWORD_HASH_ARGON2_MEMORY", default=19456, minimum=8),
            password_hash_time_cost=self.integer("GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS", default=2, minimum=1),
            password_hash_parallelism=self.integer("GOTRUE_PASSWORD_HASH_ARGON2_PARALLELISM", default=1, minimum=1),
            api_host=self.string("GOTRUE_API_HOST"),
            port=self._port(),
            api_external_url=api_external_url,
            request_id_header=self.string("GOTRUE_API_REQUEST_ID_HEADER", "REQUEST_ID_HEADER"),
            cors_allowed_headers=self.listing("GOTRUE_CORS_ALLOWED_HEADERS"),
            db_driver=db_driver,
            database_url=database_url,
            db_max_pool_size=self.integer("GOTRUE_DB_MAX_POOL_SIZE", default=0, minimum=0),
            db_namespace=self.string("GOTRUE_DB_DB_NAMESPACE", "DB_NAMESPACE", "GOTRUE_DB_NAMESPACE", default="auth")
            or "auth",
            db_cleanup_enabled=self.boolean("GOTRUE_DB_CLEANUP_ENABLED", default=False),
            db_pool_mode=self._pool_mode(),
            db_pool_timeout=self._seconds("PYTRUE_DB_POOL_TIMEOUT", default=2.0),
            db_transaction_timeout=self._seconds("PYTRUE_DB_TRANSACTION_TIMEOUT", default=5.0),
            log_level=self._log_level(),
            jwt_secret=jwt_secret,
            jwt_exp=jwt_exp,
            jwt_aud=self.string("GOTRUE_JWT_AUD"),
            jwt_admin_roles=self.listing("GOTRUE_JWT_ADMIN_ROLES") or DEFAULT_ADMIN_ROLES,
            jwt_admin_group_name=self.string("GOTRUE_JWT_ADMIN_GROUP_NAME", default="admin") or "admin",
            jwt_default_group_name=self.string("GOTRUE_JWT_DEFAULT_GROUP_NAME"),
            jwt_issuer=self.string("GOTRUE_JWT_ISSUER"),
            jwt_key_id=self.string("GOTRUE_JWT_KEY_ID"),
            jwt_keys=self._jwt_keys(jwt_secret),
            jwt_valid_methods=self._valid_methods(),
            smtp_host=self.string("GOTRUE_SMTP_HOST"),
            smtp_port=self.integer("GOTRUE_SMTP_PORT", default=587, minimum=1),
            smtp_user=self.string("GOTRUE_SMTP_USER"),
            smtp_pass=self.string("GOTRUE_SMTP_PASS"),
            smtp_admin_email=self.string("GOTRUE_SMTP_ADMIN_EMAIL"),
            smtp_sender_name=self.string("GOTRUE_SMTP_SENDER_NAME"),
            smtp_max_frequency=_positive(smtp_max_frequency) or timedelta(minutes=1),
            mailer_autoconfirm=self.boolean("GOTRUE_MAILER_AUTOCONFIRM", default=False),
            mailer_secure_email_change_enabled=self.boolean("GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED", default=True),
            mailer_otp_exp=mailer_otp_exp,
            mailer_otp_length=otp_length if 6 <= otp_length <= 10 else 6,
            external_email_magic_link_enabled=self.boolean("GOTRUE_EXTERNAL_EMAIL_MAGIC_LINK_ENABLED", default=True),
            flow_state_expiry=max(
                self.duration("GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION", default=timedelta(seconds=300))
                or timedelta(seconds=300),
                timedelta(seconds=300),
            ),
            update_password_require_reauthentication=self.boolean(
                "GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION", default=False
            ),
            update_password_require_current_password=self.boolean(
                "GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_CURRENT_PASSWORD", default=False
            ),
            smtp_headers=self._smtp_headers(),
            mailer_subjects=self._per_mail_type("GOTRUE_MAILER_SUBJECTS_"),
            mailer_templates=self._per_mail_type("GOTRUE_MAILER_TEMPLATES_"),
            mailer_url_paths={
                kind: self.string(f"GOTRUE_MAILER_URLPATHS_{kind.upper()}") or DEFAULT_MAIL_URL_PATH
                for kind in MAIL_URL_PATHS
            },
            mailer_template_max_size=self.integer("GOTRUE_MAILER_TEMPLATE_MAX_SIZE", default=1_000_000, minimum=1),
            mailer_template_max_age=_positive(
                self.duration("GOTRUE_MAILER_TEMPLATE_MAX_AGE", default=timedelta(minutes=10))
            )
            or timedelta(minutes=10),
            mailer_template_retry_interval=_positive(
                self.duration("GOTRUE_MAILER_TEMPLATE_RETRY_INTERVAL", default=timedelta(seconds=10))
            )
            or timedelta(seconds=10),
            dev_inbox_file=self.string("PYTRUE_DEV_INBOX_FILE"),
            mailer_delivery=self._delivery(),
            mailer_outbox_retry_interval=_positive(
                self.duration("PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL", default=timedelta(seconds=15))
            )
            or timedelta(seconds=15),
            mailer_outbox_fail_fast_after=_positive(
                self.duration("PYTRUE_MAILER_OUTBOX_FAIL_FAST_AFTER", default=timedelta(minutes=10))
            ),
            mailer_outbox_poll_interval=_positive(
                self.duration("PYTRUE_MAILER_OUTBOX_POLL_INTERVAL", default=timedelta(seconds=2))
            )
            or timedelta(seconds=2),
            otp_max_failed_attempts=self.integer("PYTRUE_OTP_MAX_FAILED_ATTEMPTS", default=5, minimum=1),
            sms_autoconfirm=self.boolean("GOTRUE_SMS_AUTOCONFIRM", default=False),
            refresh_token_rotation_enabled=self.boolean(
                "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED", default=True
            ),
            refresh_token_reuse_interval=self.integer(
                "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL", default=0, minimum=0
            ),
            refresh_token_algorithm_version=self._choice(
                "GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION", default=0, choices=(0, 1, 2)
            ),
            refresh_token_upgrade_percentage=self._bounded(
                "GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE", default=0, low=0, high=100
            ),
            refresh_token_allow_reuse=self.boolean("GOTRUE_SECURITY_REFRESH_TOKEN_ALLOW_REUSE", default=False),
            verify_confirmation_page=self.boolean("PYTRUE_VERIFY_CONFIRMATION_PAGE", default=False),
            sessions_timebox=_positive(self.duration("GOTRUE_SESSIONS_TIMEBOX", default=None)),
            sessions_inactivity_timeout=_positive(
                self.duration("GOTRUE_SESSIONS_INACTIVITY_TIMEOUT", default=None)
            ),
        )

    def _choice(self, name: str, *, default: int, choices: tuple[int, ...]) -> int:
        value = self.integer(name, default=default)
        if value not in choices:
            raise SettingsError(name, f"must be one of {', '.join(map(str, choices))}, got {value}")
        return value

    def _delivery(self) -> str:
        value = self.string("PYTRUE_MAILER_DELIVERY", default="outbox").strip().lower() or "outbox"
        if value not in ("outbox", "inline"):
            raise SettingsError("PYTRUE_MAILER_DELIVERY", f"must be outbox or inline, got {value!r}")
        return value

    def _bounded(self, name: str, *, default: int, low: int, high: int) -> int:
        value = self.integer(name, default=default, minimum=low)
        if value > high:
            raise SettingsError(name, f"must be at most {high}, got {value}")
        return value

    def _port(self) -> int:
        name, raw = self._lookup("GOTRUE_API_PORT", "PORT")
        if raw is None:
            return 8081
        if not _INTEGER.fullmatch(raw) or not 1 <= int(raw) <= 65535:
            raise self._bad(name, "a port number between 1 and 65535", raw)
        return int(raw)

    def _per_mail_type(self, prefix: str) -> dict[str, str]:
        found = {kind: self.string(prefix + suffix) for kind, suffix in MAIL_TEMPLATE_TYPES.items()}
        return {kind: value for kind, value in found.items() if value}

    def _smtp_headers(self) -> dict[str, tuple[str, ...]]:
        name = "GOTRUE_SMTP_HEADERS"
        raw = self.string(name)
        if not raw.strip():
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise SettingsError(name, 'expected JSON such as {"X-Header": ["value"]}') from None
        if not isinstance(parsed, dict):
            raise SettingsError(name, 'expected a JSON object such as {"X-Header": ["value"]}')
        headers: dict[str, tuple[str, ...]] = {}
        for header, values in parsed.items():
            if not _HEADER_NAME.fullmatch(header):
                raise SettingsError(name, f"invalid header name {header!r}")
            if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
                raise SettingsError(name, f"the value of {header!r} must be a list of strings")
            if any("\r" in value or "\n" in value for value in values):
                raise SettingsError(name, f"the value of {header!r} contains a line break")
            headers[header] = tuple(values)
        return headers

    def _pool_mode(self) -> str:
        """How DATABASE_URL is pooled: `transaction` behind PgBouncer/Supavisor in transaction mode."""
        name, raw = self._lookup("PYTRUE_DB_POOL_MODE")
        mode = (raw or "session").strip().lower()
        if mode not in DB_POOL_MODES:
            raise SettingsError(name, f"expected one of {', '.join(DB_POOL_MODES)}, got {raw!r}")
        return mode

    def _seconds(self, name: str, *, default: float) -> float:
        value = self.duration(name, default=timedelta(seconds=default))
        seconds = value.total_seconds() if value is not None else default
        if seconds <= 0:
            raise SettingsError(name, f"must be positive, got {self._lookup(name)[1]!r}")
        return seconds

    def _log_level(self) -> str:
        name, raw = self._lookup("GOTRUE_LOG_LEVEL", "LOG_LEVEL")
        if not raw:
            return "info"
        level = raw.lower()
        level = "warn" if level == "warning" else level
        if level not in LOG_LEVELS:
            raise self._bad(name, f"one of {', '.join(LOG_LEVELS)}", raw)
        return level

    def _valid_methods(self) -> tuple[str, ...] | None:
        methods = self.listing("GOTRUE_JWT_VALID_METHODS")
        if not methods:
            return None
        if "none" in methods:
            raise SettingsError("GOTRUE_JWT_VALID_METHODS", "the 'none' algorithm cannot be accepted")
        return methods

    def _jwt_keys(self, jwt_secret: str) -> tuple[dict[str, Any], ...]:
        if jwt_secret:
            try:
                KeySet(jwt_secret)
            except ValueError as error:
                raise SettingsError("GOTRUE_JWT_SECRET", str(error)) from None
        raw = self.string("GOTRUE_JWT_KEYS")
        if not raw.strip():
            return ()
        try:
            jwks = parse_jwks(raw)
            if jwks:
                KeySet(jwt_secret, jwks, self.string("GOTRUE_JWT_KEY_ID"), self._valid_methods())
        except ValueError as error:
            raise SettingsError("GOTRUE_JWT_KEYS", str(error)) from None
        return tuple(jwks)


def _positive(value: timedelta | None) -> timedelta | None:
    return value if value is not None and value > timedelta(0) else None
