"""The v2 counter rules (tokens.md §6.4) and the session's v2 state, as pure domain decisions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.domain.counter_token import parse_counter_token
from pytrue.domain.errors import ValidationFailed
from pytrue.domain.session import (
    REUSE_ALWAYS_ALLOWED,
    REUSE_CONCURRENT,
    REUSE_FAIL_TO_SAVE,
    CounterAction,
    Session,
    plan_counter_refresh,
    upgrade_selects,
)

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(timezone.utc))


@given(
    current=st.integers(0, 10_000),
    behind=st.integers(-3, 50),
    since=st.timedeltas(min_value=timedelta(minutes=-5), max_value=timedelta(minutes=5)),
    interval=st.integers(0, 120).map(lambda s: timedelta(seconds=s)),
    allow=st.booleans(),
)
def test_plan_follows_the_rules(current: int, behind: int, since: timedelta, interval: timedelta, allow: bool) -> None:
    presented = current - behind
    kwargs = dict(now=NOW, last_refreshed=NOW - since, reuse_interval=interval, allow_reuse=allow)
    if presented > current:
        with pytest.raises(ValidationFailed, match="Not Issued By This Server"):
            plan_counter_refresh(presented, current, **kwargs)  # type: ignore[arg-type]
        return
    plan = plan_counter_refresh(presented, current, **kwargs)  # type: ignore[arg-type]
    if presented == current:
        assert plan.action is CounterAction.NEXT and plan.causes == ()
        return
    expected = []
    if abs(since) < interval:
        expected.append(REUSE_CONCURRENT)
    if behind == 1:
        expected.append(REUSE_FAIL_TO_SAVE)
    if allow:
        expected.append(REUSE_ALWAYS_ALLOWED)
    assert plan.causes == tuple(expected)
    assert plan.action is (CounterAction.REISSUE if expected else CounterAction.REUSE_DETECTED)


def test_the_concurrency_window_is_strict() -> None:
    at = plan_counter_refresh(3, 5, now=NOW, last_refreshed=NOW - timedelta(seconds=10),
                              reuse_interval=timedelta(seconds=10), allow_reuse=False)  # fmt: skip
    inside = plan_counter_refresh(3, 5, now=NOW, last_refreshed=NOW - timedelta(seconds=9, microseconds=999_999),
                                  reuse_interval=timedelta(seconds=10), allow_reuse=False)  # fmt: skip
    assert at.action is CounterAction.REUSE_DETECTED
    assert inside.action is CounterAction.REISSUE and inside.causes == (REUSE_CONCURRENT,)


def _session() -> Session:
    return Session(id=uuid4(), user_id=uuid4(), created_at=NOW, updated_at=NOW)


def test_a_new_v2_session_starts_at_zero_and_signs_its_tokens() -> None:
    session = _session()
    assert not session.issues_counter_tokens
    session.start_counter_tokens(b"k" * 32)
    assert session.issues_counter_tokens and session.refresh_token_counter == 0
    parsed = parse_counter_token(session.counter_token())
    assert parsed is not None and parsed.counter == 0 and session.issued(parsed)
    other = _session()
    other.start_counter_tokens(b"j" * 32)
    assert not other.issued(parsed)  # another session, another key


def test_a_token_for_another_session_id_is_not_issued_even_with_the_same_key() -> None:
    first, second = _session(), _session()
    first.start_counter_tokens(b"k" * 32)
    second.start_counter_tokens(b"k" * 32)
    parsed = parse_counter_token(first.counter_token())
    assert parsed is not None and not second.issued(parsed)


def test_upgrading_sets_up_once_then_moves_the_counter_on() -> None:
    session = _session()
    session.upgrade_to_counter_tokens(b"a" * 32)
    key = session.refresh_token_hmac_key
    assert session.refresh_token_counter == 0
    session.upgrade_to_counter_tokens(b"b" * 32)
    assert session.refresh_token_counter == 1 and session.refresh_token_hmac_key == key


def test_mfa_moves_the_counter_by_two_so_the_earlier_token_is_a_reuse() -> None:
    session = _session()
    session.start_counter_tokens(b"k" * 32)
    session.refresh_token_counter = 4
    before = parse_counter_token(session.counter_token())
    session.skip_counter_for_mfa()
    assert session.refresh_token_counter == 6
    assert before is not None
    plan = plan_counter_refresh(before.counter, 6, now=NOW, last_refreshed=NOW - timedelta(hours=1),
                                reuse_interval=timedelta(seconds=10), allow_reuse=False)  # fmt: skip
    assert plan.action is CounterAction.REUSE_DETECTED


def test_a_legacy_session_cannot_mint_v2_tokens() -> None:
    with pytest.raises(ValueError):
        _session().counter_token()
    legacy = _session()
    legacy.skip_counter_for_mfa()
    assert legacy.refresh_token_counter is None


@given(st.uuids(), st.integers(-5, 105))
def test_upgrade_choice_is_by_session_and_monotonic_in_the_percentage(session_id: UUID, percentage: int) -> None:
    chosen = upgrade_selects(session_id, percentage)
    assert chosen == upgrade_selects(session_id, percentage)
    if percentage <= 0:
        assert not chosen
    if percentage >= 100:
        assert chosen
    if chosen:
        assert upgrade_selects(session_id, percentage + 1)


def test_upgrade_percentage_selects_about_that_share() -> None:
    ids = [UUID(int=i * 7919 + 13) for i in range(4000)]
    share = sum(upgrade_selects(i, 25) for i in ids) / len(ids)
    assert 0.20 < share < 0.30
