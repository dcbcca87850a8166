"""How `pytrue serve` shares cores and database connections between its workers."""

from __future__ import annotations

import pytest

from pytrue.entrypoints import serving


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> object:
    def set_workers(count: int) -> None:
        monkeypatch.setenv(serving.WORKERS_ENV, str(count))

    return set_workers


def test_outside_serve_there_is_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(serving.WORKERS_ENV, raising=False)
    assert serving.workers() == 1
    assert serving.hasher_threads() == serving.cpu_count()


def test_hashing_threads_are_split_between_workers(workers: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "cpu_count", lambda: 8)
    workers(4)  # type: ignore[operator]
    assert serving.hasher_threads() == 2
    workers(16)  # type: ignore[operator]
    assert serving.hasher_threads() == 1


def test_without_a_budget_each_worker_has_the_default_pool_and_the_limiters(workers: object) -> None:
    workers(2)  # type: ignore[operator]
    share = serving.pool_share(0)
    assert (share.main, share.limiter) == (serving.DEFAULT_POOL_SIZE, serving.LIMITER_POOL_SIZE)
    workers(8)  # type: ignore[operator]
    assert serving.pool_share(0, 100, 3).total == 11  # (100 - 3 - 5) // 8


@pytest.mark.parametrize(("budget", "count"), [(40, 4), (41, 4), (12, 2), (8, 4), (100, 3), (4, 2)])
def test_the_budget_is_shared_by_the_workers_and_never_exceeded(workers: object, budget: int, count: int) -> None:
    workers(count)  # type: ignore[operator]
    share = serving.pool_share(budget)
    assert share.main >= 1 and share.limiter >= 1
    assert count * share.total <= budget
    assert count * share.total > budget - count  # nothing but the remainder is left unused


def test_the_servers_limit_caps_a_direct_connections_budget(workers: object) -> None:
    workers(2)  # type: ignore[operator]
    assert serving.pool_share(200, 100, 3).total == 46  # (100 - 3 - 5) // 2
    assert serving.pool_share(20, 100, 3).total == 10
    workers(8)  # type: ignore[operator]
    assert serving.pool_share(0, 20, 3).total == 2  # never below one connection per pool


def test_memory_storage_defaults_to_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "cpu_count", lambda: 8)
    assert serving.default_workers("memory") == 1
    assert serving.default_workers("postgres") == 8
