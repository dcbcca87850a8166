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


def test_pool_is_the_configured_size_within_each_workers_share(workers: object) -> None:
    workers(2)  # type: ignore[operator]
    assert serving.pool_size(0, None) == serving.DEFAULT_POOL_SIZE
    assert serving.pool_size(30, 100, 3) == 30  # (100 - 3 - 5) // 2 = 46
    workers(8)  # type: ignore[operator]
    assert serving.pool_size(30, 100, 3) == 11
    assert serving.pool_size(0, 20, 3) == 1  # never below one connection


def test_memory_storage_defaults_to_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "cpu_count", lambda: 8)
    assert serving.default_workers("memory") == 1
    assert serving.default_workers("postgres") == 8
