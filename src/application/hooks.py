"""What every auth hook payload starts with (GoTrue's v0hooks `Metadata`), and the user-creation hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pytrue.application.context import RequestContext
from pytrue.application.ports import Clock, Hook, TokenGenerator, UnitOfWork
from pytrue.domain.user import User


def hook_metadata(uuid: str, name: str, now: datetime, ctx: RequestContext) -> dict[str, Any]:
    metadata: dict[str, Any] = {"uuid": uuid, "time": now.isoformat().replace("+00:00", "Z"), "name": name}
    if ctx.ip:
        metadata["ip_address"] = ctx.ip
    return metadata


@dataclass(slots=True, kw_only=True)
class UserCreationHooks:
    """GOTRUE_HOOK_BEFORE_USER_CREATED_* and _AFTER_USER_CREATED_*, on the paths GoTrue runs them:
    sign-up (email, phone, anonymous), invites and admin sign-up/invite links, and external
    sign-in (OAuth callback, id_token grant). The admin create-user API runs neither, as GoTrue.

    `add` shows the before hook the user about to be written, inside the unit of work (a
    PostgreSQL function hook runs in its transaction), and writes it only if the hook does not
    refuse: a refusal (`{"error": {"http_code", "message"}}`) is the request's answer and nothing
    is written. `created` tells the after hook, once the user is committed, as GoTrue does after
    its transaction: its failure is the request's answer, but the user stays."""

    before: Hook | None = None
    after: Hook | None = None
    user_json: Callable[[User], Mapping[str, Any]] = lambda user: {"id": str(user.id)}
    tokens: TokenGenerator
    clock: Clock

    async def add(self, uow: UnitOfWork, user: User, ctx: RequestContext) -> None:
        if self.before is not None:
            await self.before.invoke(self._payload(user, "before-user-created", ctx), uow=uow)
        await uow.users.add(user)

    async def created(self, user: User, ctx: RequestContext) -> None:
        if self.after is not None:
            await self.after.invoke(self._payload(user, "after-user-created", ctx))

    def _payload(self, user: User, name: str, ctx: RequestContext) -> dict[str, Any]:
        return {
            "metadata": hook_metadata(str(self.tokens.uuid()), name, self.clock.now(), ctx),
            "user": dict(self.user_json(user)),
        }
