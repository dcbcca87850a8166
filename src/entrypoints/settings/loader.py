"""One loader for every declared section (config.md §1).

`variables()` walks the declaration in `pytrue.application.config` and names each field's
variable the way GoTrue's envconfig does; `load_settings()` reads them from the environment
(completed by `.env`) with GoTrue's value syntax. Every error is a `SettingsError` naming the
variable; a secret's value never appears in a message.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import typing
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from pytrue.adapters.hooks.config import HTTP_HOOK, POSTGRES_HOOK, parse_hook_secrets, parse_hook_uri
from pytrue.adapters.jwt.keys import KeySet, parse_jwks
from pytrue.adapters.oauth.registry import ID_TOKEN_PROVIDERS, NEEDS_URL
from pytrue.application.config import (
    CAPTCHA_PROVIDERS, OTLP_PROTOCOLS, PREFIX, WEBHOOK_EVENTS, Settings, Var, leaf_default, redact_url,
)
from pytrue.domain.phone import parse_rfc3339
from pytrue.domain.rate import Rate
from pytrue.domain.redirects import compile_allow_list
from pytrue.domain.values import parse_go_duration
from pytrue.entrypoints.settings.dotenv import read_dotenv
from pytrue.entrypoints.settings.errors import SettingsError

log = logging.getLogger("pytrue.settings")

LOG_LEVELS = ("panic", "fatal", "error", "warn", "info", "debug", "trace")

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_INTEGER = re.compile(r"[+-]?[0-9]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class Variable:
    """One declared field: where it sits, the names it is read from, and how."""

    path: tuple[str, ...]  # attributes from the root: ("mailer", "otp_exp")
    names: tuple[str, ...]  # the name first, then its fallbacks
    var: Var
    type: Any
    default: Any

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def kind(self) -> str:
        return kind_of(self.type, self.var)


def kind_of(annotation: Any, var: Var) -> str:
    """The parser a field needs: its declared kind, else the one its type implies."""
    if var.kind:
        return var.kind
    if annotation is timedelta:
        return "seconds" if var.unit == "s" else "duration"
    if annotation == (timedelta | None):
        return "duration"
    simple = {str: "choice" if var.choices else "string", bool: "bool", int: "int", float: "float", Rate: "rate"}
    if annotation in simple:
        return simple[annotation]
    if annotation == tuple[str, ...]:
        return "list"
    raise TypeError(f"no parser for {annotation!r}")


@cache
def variables(root: type = Settings) -> tuple[Variable, ...]:
    """Every variable the declaration names, in declaration order."""
    return tuple(_walk(root, (), ()))


def _walk(cls: type, path: tuple[str, ...], segments: tuple[str, ...]) -> Iterator[Variable]:
    hints = typing.get_type_hints(cls)
    for item in fields(cls):
        info = item.metadata.get("section")
        if info is not None:
            segment = item.name.upper() if info.env is None else info.env
            yield from _walk(hints[item.name], (*path, item.name), (*segments, segment) if segment else segments)
            continue
        var: Var = item.metadata["var"]
        name = var.env or PREFIX + "_".join((*segments, item.name.upper()))
        yield Variable((*path, item.name), (name, *var.also), var, hints[item.name], leaf_default(item))


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | os.PathLike[str] | None = ".env",
    require: bool = True,
    require_database: bool = True,
) -> Settings:
    """Read the settings; `.env` fills only keys the environment does not set."""
    dotenv = read_dotenv(env_file) if env_file is not None else {}
    values = ChainMap(os.environ if environ is None else environ, dotenv)  # type: ignore[arg-type]
    return _Loader(values, require=require).load(require_database=require_database)


class _Loader:
    def __init__(self, values: Mapping[str, str], *, require: bool) -> None:
        self._values = values
        self._require = require

    def lookup(self, variable: Variable) -> tuple[str, str | None]:
        for name in variable.names:
            if name in self._values:
                return name, self._values[name]
        return variable.names[0], None

    def load(self, *, require_database: bool) -> Settings:
        parsed: dict[tuple[str, ...], Any] = {}
        for variable in variables():
            parsed[variable.path] = self.read(variable, needed=self._require and variable.var.required)
        settings = _build(Settings, (), parsed)
        database = _find(("db", "url"))
        if settings.db.driver == "postgres":
            self.read(database, needed=self._require and require_database, when=" when GOTRUE_DB_DRIVER is postgres")
        _check_keys(settings)
        _check_hooks(settings)
        _check_webhook(settings)
        _check_webauthn(settings)
        _check_captcha(settings)
        _check_providers(settings)
        self._check_otlp_protocols(settings)
        return settings

    def _check_otlp_protocols(self, settings: Settings) -> None:
        """GoTrue refuses to start tracing or metrics over an OTLP protocol it has no exporter for;
        only when the feature is on, as OTEL_EXPORTER_OTLP_PROTOCOL may be meant for other programs."""
        for section, on in (("tracing", settings.tracing.enabled), ("metrics", settings.metrics.enabled and settings.metrics.exporter == "opentelemetry")):
            variable = _find((section, "exporter_protocol"))
            name, raw = self.lookup(variable)
            if on and raw and raw not in OTLP_PROTOCOLS:
                raise SettingsError(name, f"unsupported OpenTelemetry exporter protocol {raw!r}: expected one of {', '.join(OTLP_PROTOCOLS)}")

    def read(self, variable: Variable, *, needed: bool, when: str = "") -> Any:
        name, raw = self.lookup(variable)
        if needed and not raw:
            names = variable.names
            state = "not set" if raw is None else "empty"
            also = f"; also read as {', '.join(names[:-1])}" if len(names) > 1 and raw is None else ""
            raise SettingsError(names[-1] if raw is None else name, f"required{when} but {state}{also}")
        value = variable.default if raw is None else PARSERS[variable.kind](_Raw(name, raw, variable))
        return value if variable.var.fix is None else variable.var.fix(value)


def _build(cls: type, path: tuple[str, ...], parsed: Mapping[tuple[str, ...], Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for item in fields(cls):
        here = (*path, item.name)
        is_section = "section" in item.metadata and is_dataclass(hints[item.name])
        kwargs[item.name] = _build(hints[item.name], here, parsed) if is_section else parsed[here]
    return cls(**kwargs)


def _find(path: tuple[str, ...]) -> Variable:
    return next(variable for variable in variables() if variable.path == path)


def _check_keys(settings: Settings) -> None:
    jwt = settings.jwt
    if jwt.secret:
        try:
            KeySet(jwt.secret)
        except ValueError as error:
            raise SettingsError("GOTRUE_JWT_SECRET", str(error)) from None
    if jwt.keys:
        try:
            KeySet(jwt.secret, list(jwt.keys), jwt.key_id, jwt.valid_methods)
        except ValueError as error:
            raise SettingsError("GOTRUE_JWT_KEYS", str(error)) from None


def _check_hooks(settings: Settings) -> None:
    """An enabled hook needs a URI, and an HTTP one at least one secret (as GoTrue refuses to start)."""
    for item in fields(settings.hook):
        hook = getattr(settings.hook, item.name)
        prefix = f"GOTRUE_HOOK_{item.name.upper()}"
        if not hook.enabled:
            continue
        if not hook.uri:
            raise SettingsError(f"{prefix}_URI", "required when the hook is enabled")
        if parse_hook_uri(hook.uri).kind == POSTGRES_HOOK and settings.db.driver == "memory":
            raise SettingsError(f"{prefix}_URI", "pg-functions:// hooks need PostgreSQL storage (GOTRUE_DB_DRIVER=postgres)")
        if parse_hook_uri(hook.uri).kind == HTTP_HOOK and not parse_hook_secrets(hook.secrets):
            raise SettingsError(f"{prefix}_SECRETS", "an HTTP hook needs at least one v1,whsec_ secret")


def _check_webhook(settings: Settings) -> None:
    """The legacy webhook: known events only, and an http(s) URL or a path (joined to SITE_URL)."""
    webhook = settings.webhook
    unknown = [event for event in webhook.events if event not in WEBHOOK_EVENTS]
    if unknown:
        raise SettingsError(
            "GOTRUE_WEBHOOK_EVENTS", f"unknown event {unknown[0]!r}; expected {', '.join(WEBHOOK_EVENTS)}"
        )
    if not webhook.url:
        return
    try:
        parts = urlsplit(webhook.url)
        host = parts.hostname
    except ValueError:
        raise SettingsError("GOTRUE_WEBHOOK_URL", "expected an http(s) URL or a path") from None
    if parts.scheme.lower() not in ("http", "https", "") or bool(parts.scheme) != bool(host):
        raise SettingsError(
            "GOTRUE_WEBHOOK_URL", f"expected an http(s) URL or a path, got {redact_url(webhook.url)!r}"
        )
    if not webhook.events:
        log.warning("GOTRUE_WEBHOOK_URL is set but GOTRUE_WEBHOOK_EVENTS is empty: no event is sent")


def _check_captcha(settings: Settings) -> None:
    """GoTrue's CaptchaConfiguration.Validate: a known provider and a secret when enabled."""
    captcha = settings.security.captcha
    if not captcha.enabled:
        return
    if captcha.provider not in CAPTCHA_PROVIDERS:
        raise SettingsError("GOTRUE_SECURITY_CAPTCHA_PROVIDER", f"unsupported captcha provider: {captcha.provider}")
    if not captcha.secret.strip():
        raise SettingsError("GOTRUE_SECURITY_CAPTCHA_SECRET", "captcha provider secret is empty")


def _check_providers(settings: Settings) -> None:
    """An enabled external provider must be usable as configured, checked at start rather than at its
    first /authorize (GoTrue reports the same gaps only then, as "Unsupported provider: ..."): a client
    id always; the base URL a provider has no default for (Keycloak's realm); and, for a provider that
    signs in only through the code flow, the secret and redirect URI of GoTrue's `ValidateOAuth`. A
    provider with id_token sign-in (native Google, Apple, ...) starts with its client ids alone."""
    external = settings.external
    for name in external.provider_names:
        provider = external.provider(name)
        if provider is None or not provider.enabled:
            continue
        needed = ["client_id"]
        if name in NEEDS_URL:
            needed.append("url")
        if name not in ID_TOKEN_PROVIDERS:
            needed += ["secret", "redirect_uri"]
        for key in needed:
            value = getattr(provider, key)
            parts = value if isinstance(value, tuple) else (value,)
            if not any(part.strip() for part in parts):
                enabled = _find(("external", name, "enabled")).name
                raise SettingsError(_find(("external", name, key)).name, f"required when {enabled} is true")


def _check_webauthn(settings: Settings) -> None:
    """GoTrue (since supabase/auth#2545) starts with WebAuthn factors enabled and the relying party
    incomplete, warning once; their challenges and verifies then fail with 500 unexpected_failure."""
    web_authn = settings.mfa.web_authn
    if web_authn.enroll_enabled or web_authn.verify_enabled:
        missing = settings.webauthn.missing()
        if missing is not None:
            log.warning("WebAuthn configuration is invalid: %s is required when WebAuthn is enabled", missing)


def key_set(settings: Settings) -> KeySet:
    """The JWT key set (secret, `GOTRUE_JWT_KEYS`, key id, accepted algorithms)."""
    jwt = settings.jwt
    return KeySet(jwt.secret, list(jwt.keys), jwt.key_id, jwt.valid_methods)


# ---------------------------------------------------------------------------------------------
# GoTrue's value syntax, one parser per kind.


@dataclass(frozen=True, slots=True)
class _Raw:
    name: str  # the variable the value was found under
    text: str
    variable: Variable

    def bad(self, expected: str) -> SettingsError:
        if self.variable.var.secret:
            return SettingsError(self.name, f"expected {expected}")
        return SettingsError(self.name, f"expected {expected}, got {self.text!r}")

    def bounded(self, value: Any) -> Any:
        var = self.variable.var
        if var.minimum is not None and value < var.minimum:
            raise SettingsError(self.name, f"must be at least {_number(var.minimum)}, got {value}")
        if var.maximum is not None and value > var.maximum:
            raise SettingsError(self.name, f"must be at most {_number(var.maximum)}, got {value}")
        if var.choices is not None and value not in var.choices:
            raise SettingsError(self.name, f"must be one of {', '.join(map(str, var.choices))}, got {value}")
        return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _string(raw: _Raw) -> str:
    return raw.text


def _choice(raw: _Raw) -> str:
    choices = raw.variable.var.choices or ()
    if raw.text not in choices:
        raise SettingsError(raw.name, f"expected one of {', '.join(choices)}, got {raw.text!r}")
    return raw.text


def _lower_choice(raw: _Raw) -> str:
    value = raw.text.strip().lower() or raw.variable.default
    choices = raw.variable.var.choices or ()
    if value not in choices:
        raise SettingsError(raw.name, f"expected one of {', '.join(choices)}, got {raw.text!r}")
    return str(value)


def _bool(raw: _Raw) -> bool:
    if raw.text in _TRUE:
        return True
    if raw.text in _FALSE:
        return False
    raise raw.bad("a boolean (true/false/1/0/t/f)")


def _int(raw: _Raw) -> int:
    if not _INTEGER.fullmatch(raw.text):
        raise raw.bad("an integer")
    return int(raw.bounded(int(raw.text)))


def _seconds(raw: _Raw) -> timedelta:
    return timedelta(seconds=_int(raw))


def _float(raw: _Raw) -> float:
    if not raw.text.strip():
        return float(raw.variable.default)
    try:
        value = float(raw.text)
    except ValueError:
        raise raw.bad("a number") from None
    if not math.isfinite(value) or value < 0:
        raise raw.bad("a finite number >= 0")
    return value


def _duration(raw: _Raw) -> timedelta:
    try:
        return parse_go_duration(raw.text)
    except ValueError:
        raise raw.bad("a duration such as 300ms, 60s, 1m30s or 24h") from None


def _seconds_float(raw: _Raw) -> float:
    seconds = _duration(raw).total_seconds()
    if seconds <= 0:
        raise SettingsError(raw.name, f"must be positive, got {raw.text!r}")
    return seconds


def _list(raw: _Raw) -> tuple[str, ...]:
    return tuple(raw.text.split(",")) if raw.text.strip() else ()


def _rate(raw: _Raw) -> Rate:
    try:
        return Rate.parse(raw.text)
    except ValueError:
        raise raw.bad("a rate such as 30 (per hour) or 10/1m (token bucket)") from None


def _url(raw: _Raw) -> str:
    if not raw.text:
        return raw.text
    try:
        parts = urlsplit(raw.text)
        valid = bool(parts.scheme) and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise SettingsError(raw.name, f"expected an absolute URL with scheme and host, got {redact_url(raw.text)!r}")
    return raw.text


def _port(raw: _Raw) -> int:
    if not _INTEGER.fullmatch(raw.text) or not 1 <= int(raw.text) <= 65535:
        raise raw.bad("a port number between 1 and 65535")
    return int(raw.text)


def _log_level(raw: _Raw) -> str:
    if not raw.text:
        return str(raw.variable.default)
    level = raw.text.lower()
    level = "warn" if level == "warning" else level
    if level not in LOG_LEVELS:
        raise raw.bad(f"one of {', '.join(LOG_LEVELS)}")
    return level


def _allow_list(raw: _Raw) -> tuple[str, ...]:
    patterns = _list(raw)
    try:
        compile_allow_list(patterns)
    except ValueError as error:
        raise SettingsError(raw.name, str(error)) from None
    return patterns


def _valid_methods(raw: _Raw) -> tuple[str, ...] | None:
    methods = _list(raw)
    if "none" in methods:
        raise SettingsError(raw.name, "the 'none' algorithm cannot be accepted")
    return methods or None


def _jwks(raw: _Raw) -> tuple[dict[str, Any], ...]:
    if not raw.text.strip():
        return ()
    try:
        return tuple(parse_jwks(raw.text))
    except ValueError as error:
        raise SettingsError(raw.name, str(error)) from None


def _smtp_headers(raw: _Raw) -> dict[str, tuple[str, ...]]:
    if not raw.text.strip():
        return {}
    try:
        parsed = json.loads(raw.text)
    except ValueError:
        raise SettingsError(raw.name, 'expected JSON such as {"X-Header": ["value"]}') from None
    if not isinstance(parsed, dict):
        raise SettingsError(raw.name, 'expected a JSON object such as {"X-Header": ["value"]}')
    headers: dict[str, tuple[str, ...]] = {}
    for header, values in parsed.items():
        if not _HEADER_NAME.fullmatch(header):
            raise SettingsError(raw.name, f"invalid header name {header!r}")
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise SettingsError(raw.name, f"the value of {header!r} must be a list of strings")
        if any("\r" in value or "\n" in value for value in values):
            raise SettingsError(raw.name, f"the value of {header!r} contains a line break")
        headers[header] = tuple(values)
    return headers


def _hook_uri(raw: _Raw) -> str:
    if raw.text:
        try:
            parse_hook_uri(raw.text)
        except ValueError as error:
            raise SettingsError(raw.name, str(error)) from None
    return raw.text


def _hook_secrets(raw: _Raw) -> str:
    try:
        parse_hook_secrets(raw.text)
    except ValueError as error:
        raise SettingsError(raw.name, str(error)) from None
    return raw.text


def _map(raw: _Raw) -> dict[str, str]:
    """envconfig's map syntax: `key:value,key2:value2`, nothing trimmed."""
    if not raw.text.strip():
        return {}
    pairs: dict[str, str] = {}
    for item in raw.text.split(","):
        parts = item.split(":")
        if len(parts) != 2:
            raise SettingsError(raw.name, "invalid map item, expected key:value pairs separated by commas")
        pairs[parts[0]] = parts[1]
    return pairs


def _time(raw: _Raw) -> datetime | None:
    if not raw.text.strip():
        return None
    try:
        return parse_rfc3339(raw.text.strip())
    except ValueError:
        raise raw.bad("an RFC 3339 time such as 2030-01-01T00:00:00Z") from None


PARSERS: dict[str, Callable[[_Raw], Any]] = {
    "string": _string,
    "dsn": _string,
    "jwt_secret": _string,
    "choice": _choice,
    "lower_choice": _lower_choice,
    "bool": _bool,
    "int": _int,
    "seconds": _seconds,
    "float": _float,
    "duration": _duration,
    "seconds_float": _seconds_float,
    "list": _list,
    "rate": _rate,
    "url": _url,
    "port": _port,
    "log_level": _log_level,
    "allow_list": _allow_list,
    "valid_methods": _valid_methods,
    "jwks": _jwks,
    "smtp_headers": _smtp_headers,
    "map": _map,
    "hook_uri": _hook_uri,
    "hook_secrets": _hook_secrets,
    "time": _time,
}
