"""Building the legacy webhook (`GOTRUE_WEBHOOK_*`) from the settings, or None when it is off."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from pytrue.adapters.hooks.legacy_webhook import HttpLegacyWebhook
from pytrue.adapters.outbound_http import OutboundHttp
from pytrue.application.ports import LegacyWebhook
from pytrue.entrypoints.settings import Settings

log = logging.getLogger("pytrue.webhook")


def legacy_webhook(settings: Settings, outbound: OutboundHttp) -> LegacyWebhook | None:
    """None without a URL or without events, so the use cases pay one `None` check (the loader has
    checked the URL and the events)."""
    webhook = settings.webhook
    if not webhook.url or not webhook.events:
        return None
    from pytrue.entrypoints.http.serialize import user_json

    longest = webhook.retries * webhook.timeout_sec
    if settings.db.driver == "postgres" and longest >= settings.db.transaction_timeout:
        log.warning(
            "GOTRUE_WEBHOOK_RETRIES x GOTRUE_WEBHOOK_TIMEOUT_SEC (%ss) is not below PYTRUE_DB_TRANSACTION_TIMEOUT "
            "(%ss): sign-ups and confirmations wait for the webhook inside their transaction",
            longest, settings.db.transaction_timeout,
        )
    return HttpLegacyWebhook(
        client=outbound.client,
        url=webhook_url(webhook.url, settings.site.redirects.site_url),
        secret=webhook.secret,
        events=webhook.events,
        user_json=user_json,
        retries=webhook.retries,
        timeout=float(webhook.timeout_sec),
    )


def webhook_url(url: str, site_url: str) -> str:
    """GoTrue's rule for a URL without scheme and host: SITE_URL's scheme and host, the URL's path."""
    parts = urlsplit(url)
    if parts.scheme:
        return url
    site = urlsplit(site_url)
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    return urlunsplit((site.scheme, site.netloc, path, parts.query, ""))
