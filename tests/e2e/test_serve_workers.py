"""`pytrue serve` as processes: N workers share the port; SIGTERM drains in-flight requests."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from e2e_support import start_server, stop_server

GENEROUS = 60.0
HASH_MEMORY_KIB = 256 * 1024


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _accepted_connections(port: int) -> set[str]:
    """Inodes of the server-side ends of established TCP connections to `port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01":
            inodes.add(fields[9])
    return inodes


def _wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + GENEROUS
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def postgres_dsn(tmp_path: Path) -> Iterator[str]:
    from pytrue.adapters.postgres.cluster import LocalCluster

    cluster = LocalCluster(tmp_path / "pg", persistent=False)
    cluster.start()
    try:
        yield cluster.provision()
    finally:
        cluster.stop()


def test_two_workers_each_accept_connections_on_the_one_port(tmp_path: Path, postgres_dsn: str) -> None:
    env = {"GOTRUE_DB_DRIVER": "postgres", "DATABASE_URL": postgres_dsn}
    process, server = start_server(tmp_path, env, ["--workers", "2"])
    clients: list[httpx.Client] = []
    try:
        workers = _children(process.pid)
        assert len(workers) == 2, workers
        owners: set[int] = set()
        for _ in range(64):
            client = httpx.Client(base_url=server.url)
            clients.append(client)
            assert client.get("/health").status_code == 200
            accepted = _accepted_connections(server.port)
            owners = {pid for pid in workers if _socket_inodes(pid) & accepted}
            if len(owners) == 2:
                break
        assert owners == set(workers)
        for client in clients:  # every kept-alive connection, whichever worker holds it, still answers
            assert client.get("/settings").status_code == 200
    finally:
        for client in clients:
            client.close()
        stop_server(process)
    assert process.returncode == 0, server.log()


def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    slow_hash = {"GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": str(HASH_MEMORY_KIB), "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": "8"}
    process, server = start_server(tmp_path, slow_hash)
    try:
        (worker,) = _children(process.pid)
        baseline = _rss_kib(worker)
        result: dict[str, httpx.Response | BaseException] = {}

        def sign_up() -> None:
            try:
                result["response"] = httpx.post(
                    f"{server.url}/signup",
                    json={"email": "slow@example.com", "password": "a slow password"},
                    headers={"apikey": server.anon_key},
                    timeout=GENEROUS,
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                result["response"] = exc

        request = threading.Thread(target=sign_up)
        request.start()
        # The worker fills argon2's memory while it hashes: the request is in flight.
        _wait_until(lambda: _rss_kib(worker) > baseline + HASH_MEMORY_KIB // 2, "the sign-up to start hashing")
        process.send_signal(signal.SIGTERM)
        request.join(GENEROUS)
        assert process.wait(timeout=GENEROUS) == 0, server.log()
    finally:
        stop_server(process)
    response = result["response"]
    assert isinstance(response, httpx.Response), repr(response)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == "slow@example.com"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health", timeout=2.0)


def test_memory_storage_runs_one_worker_whatever_is_asked(tmp_path: Path) -> None:
    process, server = start_server(tmp_path, None, ["--workers", "2"])
    try:
        assert len(_children(process.pid)) == 1
        assert "in-memory storage cannot be shared between processes" in server.log()
    finally:
        stop_server(process)
