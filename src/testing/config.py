"""GoTrue configuration as keyword arguments: `mailer_autoconfirm=True` is GOTRUE_MAILER_AUTOCONFIRM.

A keyword is a variable's full name (`GOTRUE_SITE_URL`, `API_EXTERNAL_URL`) or its name without
the `GOTRUE_` / `PYTRUE_` prefix, in any case. Values are Python values: booleans, numbers,
strings, lists (joined with commas), dicts (JSON), `timedelta`s; `None` leaves the variable unset.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from typing import Any

from pytrue.entrypoints.settings.loader import Variable, variables

__all__ = ["TEST_DEFAULTS", "environment"]

# What the test server changes from GoTrue's defaults, and why (docs/testing.md):
TEST_DEFAULTS: dict[str, str] = {
    "GOTRUE_SITE_URL": "http://localhost:3000",
    "GOTRUE_JWT_AUD": "authenticated",
    "GOTRUE_JWT_DEFAULT_GROUP_NAME": "authenticated",
    "GOTRUE_DB_DRIVER": "memory",
    # no SMS provider: texts land in the outbox, so phone sign-in can be on
    "GOTRUE_EXTERNAL_PHONE_ENABLED": "true",
    # mail is rendered and in the inbox before the request that sent it answers
    "PYTRUE_MAILER_DELIVERY": "inline",
    # cheap hashes: a test signs in often; never use these parameters in production
    "GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": "64",
    "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": "1",
    # one test client sends everything from 127.0.0.1: limits off unless a test sets them
    "GOTRUE_SMTP_MAX_FREQUENCY": "0s",
    "GOTRUE_SMS_MAX_FREQUENCY": "0s",
    "GOTRUE_MFA_PHONE_MAX_FREQUENCY": "0s",
    "GOTRUE_RATE_LIMIT_EMAIL_SENT": "1000000",
    "GOTRUE_RATE_LIMIT_SMS_SENT": "1000000",
    "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "1000000",
    "GOTRUE_RATE_LIMIT_VERIFY": "1000000",
    "GOTRUE_RATE_LIMIT_OTP": "1000000",
    "GOTRUE_RATE_LIMIT_ANONYMOUS_USERS": "1000000",
    "GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY": "1000000",
    "GOTRUE_DB_CLEANUP_ENABLED": "false",
}

_PREFIXES = ("", "GOTRUE_", "PYTRUE_")
# read by the server although not in the declaration's names (the container's environment)
_EXTRA_NAMES = frozenset({"PYTRUE_WORKERS"})


@cache
def _by_name() -> dict[str, Variable]:
    return {name: variable for variable in variables() for name in variable.names}


def env_name(key: str) -> str:
    """The variable a keyword names; `TypeError` (with the closest names) when none."""
    known = _by_name()
    upper = key.upper()
    for prefix in _PREFIXES:
        if prefix + upper in known or prefix + upper in _EXTRA_NAMES:
            return prefix + upper
    close = difflib.get_close_matches(upper, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise TypeError(f"pytrue has no setting {key!r}{hint}")


def env_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        variable = _by_name().get(name)
        seconds = value.total_seconds()
        if variable is not None and variable.kind == "seconds":
            return str(int(seconds))
        return f"{seconds:g}s"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def environment(config: Mapping[str, Any], *, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test defaults, then `env` (raw variables), then the keyword settings."""
    result = dict(TEST_DEFAULTS)
    for source in (dict(env or {}), {env_name(key): value for key, value in config.items()}):
        for name, value in source.items():
            if value is None:
                result.pop(name, None)
            else:
                result[name] = env_value(name, value) if not isinstance(value, str) else value
    return result
