"""Building the auth hooks GOTRUE_HOOK_<NAME>_* configure: HTTP(S) or a PostgreSQL function."""

from __future__ import annotations

from pytrue.adapters.hooks.config import POSTGRES_HOOK, parse_hook
from pytrue.adapters.hooks.http import HttpHook
from pytrue.adapters.hooks.pg_function import PostgresFunctionHook
from pytrue.adapters.outbound_http import OutboundHttp
from pytrue.application.config import Settings
from pytrue.application.ports import Hook, UnitOfWorkFactory


def auth_hook(settings: Settings, outbound: OutboundHttp, uow: UnitOfWorkFactory, name: str) -> Hook | None:
    """The hook `GOTRUE_HOOK_<NAME>_*` configures, when enabled (the settings loader has checked it)."""
    hook = getattr(settings.hook, name)
    if not hook.enabled:
        return None
    target, secrets = parse_hook(hook.uri, hook.secrets)
    if target.kind == POSTGRES_HOOK:
        return PostgresFunctionHook(function=target.function, uow=uow)
    return HttpHook(client=outbound.client, uri=hook.uri, secrets=secrets)
