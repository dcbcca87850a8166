"""`pytrue dev`: zero configuration, an embedded PostgreSQL that survives restarts and stops with pytrue."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from e2e_support import free_port

pytestmark = pytest.mark.e2e
PYTRUE = [sys.executable, "-m", "pytrue"]


def _start(cwd: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOTRUE_") and k not in ("DATABASE_URL", "PORT")}
    env.update(GOTRUE_PASSWORD_HASH_ARGON2_MEMORY="64", GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS="1")
    return subprocess.Popen(
        [*PYTRUE, "dev", "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait(url: str) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("pytrue dev did not become healthy")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    return output


def _postgres_running(data_dir: Path) -> bool:
    result = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
    return str(data_dir) in result.stdout


def test_dev_keeps_its_data_and_keys_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = _start(tmp_path, port)
    try:
        _wait(url)
        signup = httpx.post(f"{url}/signup", json={"email": "dev@example.com", "password": "dev-password"})
        assert signup.status_code == 200 and signup.json()["access_token"]
    finally:
        first_output = _stop(first)
    assert "NOT a production setup" in first_output
    assert "embedded PostgreSQL" in first_output
    anon = re.search(r"anon key:\s+(\S+)", first_output)
    assert anon is not None
    data_dir = tmp_path / ".pytrue" / "postgres"
    assert not _postgres_running(data_dir)

    second = _start(tmp_path, port)
    try:
        _wait(url)
        signin = httpx.post(
            f"{url}/token?grant_type=password", json={"email": "dev@example.com", "password": "dev-password"}
        )
        assert signin.status_code == 200
    finally:
        second_output = _stop(second)
    assert anon.group(1) in second_output
    assert not _postgres_running(data_dir)


def test_dev_signs_in_by_phone_with_the_code_it_logs(tmp_path: Path) -> None:
    """Zero setup: no SMS provider, so `pytrue dev` logs each text (and keeps it in its outbox)."""
    import threading

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start(tmp_path, port)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        _wait(url)
        assert httpx.post(f"{url}/otp", json={"phone": "+15550123456"}).status_code == 200
        deadline = time.monotonic() + 10
        code = None
        while code is None and time.monotonic() < deadline:
            found = [re.search(r"to \+15550123456: Your code is (\d{6})", line) for line in list(lines)]
            code = next((m.group(1) for m in found if m), None)
            time.sleep(0.05)
        assert code is not None, "".join(lines)
        verified = httpx.post(f"{url}/verify", json={"type": "sms", "phone": "+15550123456", "token": code})
        assert verified.status_code == 200, verified.text
        assert verified.json()["user"]["phone"] == "15550123456" and verified.json()["access_token"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=5)
