"""The configuration reference, generated from the declaration (`pytrue config --list`, docs/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pytrue.domain.rate import Rate
from pytrue.entrypoints.settings.loader import Variable, variables

TYPE_LABELS = {
    "string": "string",
    "dsn": "DSN",
    "jwt_secret": "string",
    "choice": "string",
    "lower_choice": "string",
    "bool": "bool",
    "int": "int",
    "seconds": "int seconds",
    "float": "float",
    "duration": "duration",
    "seconds_float": "duration",
    "list": "list",
    "rate": "rate",
    "url": "URL",
    "port": "port",
    "log_level": "log level",
    "allow_list": "list of globs",
    "valid_methods": "list",
    "jwks": "JSON (JWKS)",
    "smtp_headers": "JSON",
    "map": "map",
    "hook_uri": "URI",
    "hook_secrets": "secrets",
    "time": "RFC 3339 time",
}


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    fallbacks: tuple[str, ...]
    type: str
    default: str
    meaning: str
    secret: bool


def go_duration(value: timedelta) -> str:
    """A timedelta as a Go duration string (`90s` → `1m30s`)."""
    micros = round(value.total_seconds() * 1_000_000)
    if micros == 0:
        return "0s"
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micro = divmod(rest, 1_000_000)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    if seconds or micro:
        text += f"{seconds}.{micro:06d}".rstrip("0").rstrip(".") + "s" if micro else f"{seconds}s"
    return text


def _default(variable: Variable) -> str:
    value: Any = variable.default
    if variable.var.required:
        return "required"
    if variable.var.secret:
        return ""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return str(int(value.total_seconds())) if variable.kind == "seconds" else go_duration(value)
    if variable.kind == "seconds_float":
        return go_duration(timedelta(seconds=value))
    if isinstance(value, Rate):
        return f"{value.limit:g}" if not value.bucket else f"{value.limit:g}/{go_duration(value.per)}"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, dict):
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _type(variable: Variable) -> str:
    var = variable.var
    label = TYPE_LABELS[variable.kind]
    if var.choices is not None:
        return " | ".join(map(str, var.choices))
    if var.minimum is not None and var.maximum is not None:
        return f"{label} {var.minimum:g}–{var.maximum:g}"
    if var.minimum is not None:
        return f"{label} ≥ {var.minimum:g}"
    return label


def entries() -> list[Entry]:
    """Every variable pytrue reads, in declaration order."""
    return [
        Entry(v.name, v.names[1:], _type(v), _default(v), v.var.doc, v.var.secret)
        for v in variables()
    ]


def render_text() -> str:
    lines = []
    for entry in entries():
        also = f" (or {', '.join(entry.fallbacks)})" if entry.fallbacks else ""
        default = f" = {entry.default}" if entry.default else ""
        secret = " [secret]" if entry.secret else ""
        lines.append(f"{entry.name}{also}: {entry.type}{default}{secret}\n    {entry.meaning}")
    return "\n".join(lines) + "\n"


def render_markdown() -> str:
    head = [
        "# Configuration reference",
        "",
        "Generated from `pytrue.application.config` by `pytrue config --list --markdown`; a test keeps it",
        "equal to the declaration (do not edit by hand). Every variable is read from the environment,",
        "completed by `.env` for keys the environment does not set. Behaviour of each GoTrue variable:",
        "`shared/spec/config.md`. `PYTRUE_*` variables are pytrue's own.",
        "",
        "| Variable | Type | Default | Meaning |",
        "|---|---|---|---|",
    ]
    rows = []
    for entry in entries():
        name = f"`{entry.name}`" + "".join(f" / `{other}`" for other in entry.fallbacks)
        default = f"`{entry.default}`" if entry.default else ""
        meaning = entry.meaning.replace("|", "\\|") + (" Secret: never logged." if entry.secret else "")
        kind = entry.type.replace("|", "\\|")
        rows.append(f"| {name} | {kind} | {default} | {meaning} |")
    return "\n".join(head + rows) + "\n"
