"""Telling the legacy webhook (`GOTRUE_WEBHOOK_*`, docs/adr/0032) about a user, where GoTrue did."""

from __future__ import annotations

from pytrue.application.ports import LegacyWebhook
from pytrue.domain.user import User


async def tell_webhook(webhook: LegacyWebhook | None, event: str, user: User) -> None:
    """Send `event` (validate, signup or login) about `user` and take the metadata it answers.

    Called before the use case writes what the event is about: a refusal (`HookFailed`) leaves the
    unit of work uncommitted, and the answered metadata is written with the rest."""
    if webhook is not None:
        (await webhook.send(event, user)).apply(user)
