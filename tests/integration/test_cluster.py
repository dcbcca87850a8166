"""LocalCluster: throw-away and persistent servers, crash leftovers, provisioning."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pytrue.adapters.postgres.cluster import (
    ClusterError,
    LocalCluster,
    _is_postgres_process,
    _read_postmaster,
    iter_binaries,
    provision_database,
)

BINARIES = list(iter_binaries())
pytestmark = pytest.mark.skipif(not BINARIES, reason="no PostgreSQL binaries available")


@pytest.fixture
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("cluster")
    yield base / "data"
    leftover = _read_postmaster(base / "data")
    if leftover is not None:
        LocalCluster(base / "data", persistent=True).stop(force=True)


def _query(dsn: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(query)
        return cursor.fetchall() if cursor.description else []


def test_throwaway_cluster_deletes_its_data(cluster_dir: Path) -> None:
    cluster = LocalCluster(cluster_dir, persistent=False)
    dsn = cluster.start()

    assert _query(dsn, "select current_user") == [("postgres",)]
    assert _query(dsn, "show fsync") == [("off",)]
    cluster.stop()

    assert not cluster_dir.exists()
    assert not cluster.is_running()


def test_persistent_cluster_survives_a_crash_and_a_recycled_pid(cluster_dir: Path) -> None:
    first = LocalCluster(cluster_dir, persistent=True)
    _query(first.start(), "create table kept as select 42 as answer")
    os.kill(first_pid := _read_postmaster(cluster_dir).pid, signal.SIGKILL)  # type: ignore[union-attr]
    _wait_gone(first_pid)
    _point_pid_file_at(cluster_dir, os.getpid())

    second = LocalCluster(cluster_dir, persistent=True)
    dsn = second.start()
    visitor = LocalCluster(cluster_dir, persistent=True)

    assert _query(dsn, "select answer from kept") == [(42,)]
    assert visitor.start() == dsn
    visitor.stop()
    assert second.is_running()
    visitor.stop(force=True)
    assert (cluster_dir / "PG_VERSION").exists() and not second.is_running()


def test_refuses_a_directory_that_is_not_a_cluster(cluster_dir: Path) -> None:
    cluster_dir.mkdir()
    (cluster_dir / "notes.txt").write_text("mine")

    for persistent in (True, False):
        with pytest.raises(ClusterError, match="not a PostgreSQL data directory"):
            LocalCluster(cluster_dir, persistent=persistent).start()
    assert (cluster_dir / "notes.txt").read_text() == "mine"


def test_provisioning_is_idempotent(cluster_dir: Path) -> None:
    with LocalCluster(cluster_dir, persistent=False) as cluster:
        first = cluster.provision("app")
        second = provision_database(cluster.dsn, "app")

        assert first == second
        with psycopg.connect(first) as conn:
            row = conn.execute(
                "select current_user, current_setting('search_path'), "
                "(select nspowner::regrole::text from pg_namespace where nspname = 'auth')"
            ).fetchone()
        assert row == ("supabase_auth_admin", "auth", "supabase_auth_admin")
        roles = _query(
            cluster.dsn,
            "select rolname, rolcanlogin, rolbypassrls from pg_roles where rolname in "
            "('supabase_auth_admin', 'anon', 'authenticated', 'service_role') order by 1",
        )
        assert roles == [
            ("anon", False, False),
            ("authenticated", False, False),
            ("service_role", False, True),
            ("supabase_auth_admin", True, False),
        ]


@pytest.mark.skipif(len({b.major for b in BINARIES}) < 2, reason="only one PostgreSQL version installed")
def test_falls_back_to_other_binaries(cluster_dir: Path) -> None:
    system = BINARIES[-1]
    with LocalCluster(cluster_dir, persistent=False, bindir=system.bindir) as cluster:
        version = _query(cluster.dsn, "show server_version_num")[0][0]
        assert str(version).startswith(str(system.major))


def _point_pid_file_at(data_dir: Path, pid: int) -> None:
    pid_file = data_dir / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    pid_file.write_text("\n".join([str(pid), *lines[1:]]) + "\n")


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _is_postgres_process(pid):
            return
        time.sleep(0.05)
