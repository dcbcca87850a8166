"""GOTRUE_SESSIONS_SINGLE_PER_USER and GOTRUE_SESSIONS_TAGS: the domain rule, and a refresh that
asks the storage for nothing more while the setting is off."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytrue.adapters.memory.repositories import InMemorySessionRepository
from pytrue.adapters.system import FixedClock
from pytrue.domain.session import Session, SessionExpired, ensure_newest_login

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
USER = uuid4()
TAGS = ("web", "mobile")


def session(age_s: int, *, tag: str | None = None, refreshed_s: int | None = None, not_after: datetime | None = None) -> Session:
    created = NOW - timedelta(seconds=age_s)
    return Session(
        id=uuid4(),
        user_id=USER,
        created_at=created,
        updated_at=created,
        tag=tag,
        refreshed_at=None if refreshed_s is None else NOW - timedelta(seconds=refreshed_s),
        not_after=not_after,
    )


def refused(mine: Session, others: list[Session], tags: tuple[str, ...] = (), **limits: Any) -> bool:
    try:
        ensure_newest_login(
            mine, [mine, *others], NOW, tags=tags,
            timebox=limits.get("timebox"), inactivity_timeout=limits.get("inactivity_timeout"),
            presented_token_updated_at=limits.get("presented"),
        )
    except SessionExpired as error:
        assert error.message == "Invalid Refresh Token: Session Expired (Revoked by Newer Login)"
        return True
    return False


@pytest.mark.parametrize(
    ("tag", "expected"), [(None, "web"), ("", "web"), ("web", "web"), ("mobile", "mobile"), ("tv", "web")]
)
def test_a_session_counts_under_its_listed_tag_or_the_first(tag: str | None, expected: str) -> None:
    assert session(0, tag=tag).determine_tag(TAGS) == expected
    assert session(0, tag=tag).determine_tag(()) == ""


def test_a_newer_live_session_of_the_same_tag_refuses_the_older() -> None:
    old, new = session(20), session(10)
    assert refused(old, [new]) and not refused(new, [old])
    assert not refused(old, [session(10, tag="mobile")], TAGS)
    assert refused(session(20, tag="mobile"), [session(10, tag="mobile")], TAGS)


def test_refreshing_is_what_makes_a_session_newest() -> None:
    assert not refused(session(20, refreshed_s=5), [session(10)])
    # the presented legacy token's use counts for the refreshing session only (GoTrue's LastRefreshedAt)
    assert not refused(session(20), [session(10)], presented=NOW - timedelta(seconds=5))
    assert refused(session(20), [session(10, refreshed_s=1)], presented=NOW - timedelta(seconds=5))


def test_dead_sessions_do_not_count() -> None:
    old = session(20)
    assert not refused(old, [session(10, not_after=NOW - timedelta(seconds=1))])
    assert not refused(old, [session(10)], inactivity_timeout=timedelta(seconds=5))
    assert not refused(session(20, refreshed_s=1), [session(10)], timebox=timedelta(seconds=5))


def test_an_equally_recent_session_does_not_refuse() -> None:
    first, second = session(10), session(10)
    assert not refused(first, [second]) and not refused(second, [first])


@given(st.lists(st.tuples(st.integers(0, 50), st.sampled_from([None, "web", "mobile", "tv"])), min_size=1, max_size=6))
def test_of_each_tag_exactly_the_most_recent_sessions_may_refresh(specs: list[tuple[int, str | None]]) -> None:
    sessions = [session(age, tag=tag) for age, tag in specs]
    for mine in sessions:
        peers = [s for s in sessions if s.determine_tag(TAGS) == mine.determine_tag(TAGS)]
        newest = max(s.created_at for s in peers)
        assert refused(mine, [s for s in sessions if s is not mine], TAGS) == (mine.created_at < newest)


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_refresh_reads_the_users_sessions_only_when_the_setting_is_on(
    make_api: Any, monkeypatch: pytest.MonkeyPatch, single: bool, version: str
) -> None:
    api = await make_api(
        {"GOTRUE_SESSIONS_SINGLE_PER_USER": str(single).lower(), "GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION": version},
        clock=FixedClock(NOW),
    )
    signed_up = await api.signup()
    assert signed_up.status_code == 200, signed_up.text
    calls: list[UUID] = []
    real = InMemorySessionRepository.for_user

    async def counted(self: InMemorySessionRepository, user_id: UUID, *, lock_user: bool = False) -> list[Session]:
        calls.append(user_id)
        return await real(self, user_id, lock_user=lock_user)

    monkeypatch.setattr(InMemorySessionRepository, "for_user", counted)
    response = await api.refresh(signed_up.json()["refresh_token"])
    assert response.status_code == 200, response.text
    assert len(calls) == (1 if single else 0)
