"""Database cleanup pieces without storage: the rules, the round-robin, the background trigger, the setting."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest
from support.app import make_settings

from pytrue.adapters.system import FixedClock
from pytrue.application.use_cases.cleanup import CleanedRows, CleanStaleRows
from pytrue.domain.cleanup import CleanupRule, StaleRows, cleanup_rules
from pytrue.entrypoints.http.cleanup import BackgroundCleanup
from pytrue.entrypoints.settings import SettingsError

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
ALWAYS = (
    StaleRows.REVOKED_REFRESH_TOKENS,
    StaleRows.TOKENS_OF_ENDED_SESSIONS,
    StaleRows.ENDED_SESSIONS,
    StaleRows.SAML_RELAY_STATES,
    StaleRows.FLOW_STATES,
    StaleRows.OAUTH_CLIENT_STATES,
    StaleRows.MFA_CHALLENGES,
    StaleRows.UNVERIFIED_FACTORS,
    StaleRows.WEBAUTHN_CHALLENGES,
)


def test_the_default_rules_are_gotrues_nine_statements_in_order() -> None:
    rules = cleanup_rules()
    assert tuple(r.kind for r in rules) == ALWAYS
    ages = {r.kind: (r.age, r.batch) for r in rules}
    assert ages[StaleRows.ENDED_SESSIONS] == (timedelta(hours=72), 10)
    assert ages[StaleRows.WEBAUTHN_CHALLENGES] == (timedelta(0), 100)
    assert {ages[k] for k in ALWAYS if k not in (StaleRows.ENDED_SESSIONS, StaleRows.WEBAUTHN_CHALLENGES)} == {
        (timedelta(hours=24), 100)
    }


def test_optional_rules_follow_their_features() -> None:
    rules = cleanup_rules(
        anonymous_users_enabled=True,
        sessions_timebox=timedelta(hours=8),
        sessions_inactivity_timeout=timedelta(minutes=30),
    )
    extra = {r.kind: r.age for r in rules[len(ALWAYS) :]}
    assert extra == {
        StaleRows.ANONYMOUS_USERS: timedelta(days=30),
        StaleRows.TIMEBOXED_SESSIONS: timedelta(hours=32),
        StaleRows.INACTIVE_SESSIONS: timedelta(hours=24, minutes=30),
        StaleRows.INACTIVE_UNREFRESHED_SESSIONS: timedelta(hours=24, minutes=30),
    }
    assert rules[0].cutoff(NOW) == NOW - timedelta(hours=24)
    with pytest.raises(ValueError):
        CleanupRule(StaleRows.FLOW_STATES, timedelta(hours=1), batch=0)


class FakeCleaner:
    def __init__(self, rows: dict[StaleRows, list[int]] | None = None, failing: StaleRows | None = None) -> None:
        self.rows = rows or {}
        self.failing = failing
        self.calls: list[tuple[StaleRows, datetime]] = []

    async def clean(self, rule: CleanupRule, now: datetime) -> int:
        self.calls.append((rule.kind, now))
        if rule.kind is self.failing:
            raise RuntimeError("boom")
        queue = self.rows.get(rule.kind, [])
        return queue.pop(0) if queue else 0


async def test_steps_take_the_rules_in_turn_at_the_clocks_time() -> None:
    cleaner = FakeCleaner({StaleRows.FLOW_STATES: [3]})
    clean = CleanStaleRows(cleaner=cleaner, clock=FixedClock(NOW), rules=cleanup_rules())
    results = [await clean.step() for _ in range(len(ALWAYS) + 2)]
    assert [r.kind for r in results] == [*ALWAYS, *ALWAYS[:2]]
    assert results[ALWAYS.index(StaleRows.FLOW_STATES)] == CleanedRows(StaleRows.FLOW_STATES, 3)
    assert {now for _, now in cleaner.calls} == {NOW}


async def test_a_failing_step_does_not_stall_the_next_rule() -> None:
    cleaner = FakeCleaner(failing=StaleRows.REVOKED_REFRESH_TOKENS)
    clean = CleanStaleRows(cleaner=cleaner, clock=FixedClock(NOW), rules=cleanup_rules())
    with pytest.raises(RuntimeError):
        await clean.step()
    assert (await clean.step()).kind is StaleRows.TOKENS_OF_ENDED_SESSIONS


async def test_until_clean_stops_after_a_whole_idle_round_or_at_the_step_limit() -> None:
    rows = {StaleRows.REVOKED_REFRESH_TOKENS: [100, 100, 7], StaleRows.ENDED_SESSIONS: [10]}
    clean = CleanStaleRows(cleaner=FakeCleaner(rows), clock=FixedClock(NOW), rules=cleanup_rules())
    report = await clean.until_clean()
    assert report.rows == {StaleRows.REVOKED_REFRESH_TOKENS: 207, StaleRows.ENDED_SESSIONS: 10}
    assert report.total == 217
    # three rounds opened by a batch of revoked tokens, then the ninth idle step in a row
    assert report.steps == 3 * len(ALWAYS) + 1

    limited = CleanStaleRows(
        cleaner=FakeCleaner({StaleRows.REVOKED_REFRESH_TOKENS: [100, 100]}), clock=FixedClock(NOW), rules=cleanup_rules()
    )
    assert (await limited.until_clean(max_steps=1)).steps == 1


async def test_a_trigger_while_a_step_runs_is_dropped_not_queued() -> None:
    release = asyncio.Event()
    runs = 0

    async def step() -> CleanedRows:
        nonlocal runs
        runs += 1
        await release.wait()
        return CleanedRows(StaleRows.FLOW_STATES, 1)

    cleanup = BackgroundCleanup(step)
    assert cleanup.trigger() is True
    await asyncio.sleep(0)
    assert cleanup.running
    assert [cleanup.trigger() for _ in range(5)] == [False] * 5
    release.set()
    await cleanup.drain()
    assert (runs, cleanup.started, cleanup.skipped, cleanup.finished) == (1, 1, 5, 1)
    assert cleanup.trigger() is True
    await cleanup.drain()
    assert runs == 2


async def test_a_failed_step_is_logged_by_type_only(caplog: pytest.LogCaptureFixture) -> None:
    async def step() -> CleanedRows:
        raise RuntimeError("postgresql://auth:hunter2@db/auth")

    cleanup = BackgroundCleanup(step)
    with caplog.at_level(logging.WARNING, logger="pytrue.cleanup"):
        cleanup.trigger()
        await cleanup.drain()
    assert cleanup.failed == 1 and not cleanup.running
    assert "RuntimeError" in caplog.text and "hunter2" not in caplog.text


def test_the_setting_is_a_go_boolean_off_by_default() -> None:
    assert make_settings().db.cleanup_enabled is False
    assert make_settings({"GOTRUE_DB_CLEANUP_ENABLED": "true"}).db.cleanup_enabled is True
    assert make_settings({"GOTRUE_DB_CLEANUP_ENABLED": "0"}).db.cleanup_enabled is False
    with pytest.raises(SettingsError, match="GOTRUE_DB_CLEANUP_ENABLED"):
        make_settings({"GOTRUE_DB_CLEANUP_ENABLED": "yes please"})


async def test_the_cli_runs_steps_on_the_configured_storage(capsys: pytest.CaptureFixture[str]) -> None:
    from pytrue.entrypoints import cli

    parsed = cli.build_parser().parse_args(["cleanup", "--steps", "4"])
    assert parsed.steps == 4 and parsed.func is cli.cmd_cleanup
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["cleanup", "--steps", "0"])
    result = await cli._cleanup(make_settings(), 4)  # noqa: SLF001
    assert result == {"steps": 4, "rows": 0, "by_kind": {}}
    assert (await cli._cleanup(make_settings(), None))["steps"] == len(ALWAYS)  # noqa: SLF001
