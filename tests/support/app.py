"""Building pytrue for tests: settings from a dict, a container, an HTTP client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytrue.entrypoints.settings import Settings, load_settings

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"

BASE_ENV: dict[str, str] = {
    "GOTRUE_SITE_URL": "http://localhost:3000",
    "API_EXTERNAL_URL": "http://localhost:9999",
    "GOTRUE_JWT_SECRET": JWT_SECRET,
    "GOTRUE_JWT_AUD": "authenticated",
    "GOTRUE_JWT_DEFAULT_GROUP_NAME": "authenticated",
    "GOTRUE_DB_DRIVER": "memory",
    "GOTRUE_MAILER_AUTOCONFIRM": "true",
    "GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": "64",
    "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": "1",
}


def make_settings(overrides: Mapping[str, str] | None = None, **kwargs: Any) -> Settings:
    env = dict(BASE_ENV)
    env.update(overrides or {})
    return load_settings(env, env_file=None, **kwargs)


def service_role_key(settings: Settings) -> str:
    """A `service_role` API key as Supabase mints them: HS256 over the JWT secret, no `sub`."""
    from pytrue.adapters.jwt.keys import KeySet
    from pytrue.adapters.jwt.tokens import JoserfcTokenSigner

    signer = JoserfcTokenSigner(KeySet(settings.jwt.secret))
    return signer.sign({"role": "service_role", "iss": "supabase", "iat": 1700000000, "exp": 4102444800})


def anon_key(settings: Settings) -> str:
    from pytrue.adapters.jwt.keys import KeySet
    from pytrue.adapters.jwt.tokens import JoserfcTokenSigner

    signer = JoserfcTokenSigner(KeySet(settings.jwt.secret))
    return signer.sign({"role": "anon", "iss": "supabase", "iat": 1700000000, "exp": 4102444800})
