"""Building the legacy webhook from the settings: off without URL or events, a path joined to
SITE_URL's origin, and a warning when its attempts may outlast a PostgreSQL transaction."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.app import make_settings  # noqa: E402

from pytrue.adapters.hooks.legacy_webhook import HttpLegacyWebhook  # noqa: E402
from pytrue.adapters.outbound_http import OutboundHttp  # noqa: E402
from pytrue.entrypoints.webhook_wiring import legacy_webhook, webhook_url  # noqa: E402

ON = {"GOTRUE_WEBHOOK_URL": "https://hooks.example.com/in", "GOTRUE_WEBHOOK_EVENTS": "login"}
POSTGRES = {"GOTRUE_DB_DRIVER": "postgres", "GOTRUE_DB_DATABASE_URL": "postgres://u:p@db:5432/postgres"}


def test_the_webhook_is_built_only_with_a_url_and_events() -> None:
    outbound = OutboundHttp(timeout=1.0)
    assert legacy_webhook(make_settings({}), outbound) is None
    assert legacy_webhook(make_settings({"GOTRUE_WEBHOOK_URL": ON["GOTRUE_WEBHOOK_URL"]}), outbound) is None
    assert legacy_webhook(make_settings({"GOTRUE_WEBHOOK_EVENTS": "login"}), outbound) is None
    assert isinstance(legacy_webhook(make_settings(ON), outbound), HttpLegacyWebhook)


def test_a_path_takes_the_site_urls_scheme_and_host() -> None:
    assert webhook_url("/hooks/in?x=1", "https://app.example.com/base/") == "https://app.example.com/hooks/in?x=1"
    assert webhook_url("hooks", "http://localhost:3000") == "http://localhost:3000/hooks"
    assert webhook_url("https://hooks.example.com/in", "http://localhost:3000") == "https://hooks.example.com/in"


def test_attempts_that_may_outlast_a_transaction_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    outbound = OutboundHttp(timeout=1.0)
    with caplog.at_level(logging.WARNING, logger="pytrue.webhook"):
        legacy_webhook(make_settings({**ON, **POSTGRES, "GOTRUE_WEBHOOK_RETRIES": "1", "GOTRUE_WEBHOOK_TIMEOUT_SEC": "2"}), outbound)
        assert caplog.records == []
        legacy_webhook(make_settings({**ON, **POSTGRES}), outbound)  # 3 x 5 s against 5 s
    [record] = caplog.records
    assert "PYTRUE_DB_TRANSACTION_TIMEOUT" in record.getMessage()
