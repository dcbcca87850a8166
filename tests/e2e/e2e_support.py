"""Helpers for the end-to-end tests: start/stop `pytrue serve`, sign API keys."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from pytrue.adapters.jwt.keys import KeySet
from pytrue.adapters.jwt.tokens import JoserfcTokenSigner

STARTUP_TIMEOUT = 20.0
FAR_FUTURE = 4_102_444_800  # 2100-01-01T00:00:00Z


def pytrue_command() -> list[str]:
    """The installed `pytrue` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "pytrue"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pytrue"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(overrides: Mapping[str, str | None]) -> dict[str, str]:
    """The parent environment without any GoTrue/pytrue configuration, plus `overrides`.

    A value of None removes the variable.
    """
    prefixes = ("GOTRUE_", "API_EXTERNAL_URL", "PYTRUE_", "DATABASE_URL", "PORT")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def server_environment(port: int, secret: str) -> dict[str, str | None]:
    return {
        "GOTRUE_DB_DRIVER": "memory",
        "GOTRUE_SITE_URL": "http://localhost:3000",
        "API_EXTERNAL_URL": f"http://127.0.0.1:{port}",
        "GOTRUE_JWT_SECRET": secret,
        "GOTRUE_JWT_AUD": "authenticated",
        "GOTRUE_JWT_DEFAULT_GROUP_NAME": "authenticated",
        "GOTRUE_MAILER_AUTOCONFIRM": "true",
        "GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": "64",
        "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": "1",
        "PYTHONUNBUFFERED": "1",
    }


def sign_api_key(secret: str, role: str) -> str:
    claims = {"role": role, "iss": "supabase", "iat": int(time.time()), "exp": FAR_FUTURE}
    return JoserfcTokenSigner(KeySet(secret)).sign(claims)


@dataclass(frozen=True)
class Server:
    url: str
    port: int
    jwt_secret: str
    anon_key: str
    service_key: str
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"pytrue exited with {process.returncode} during start-up:\n"
                f"{log_path.read_text(errors='replace')}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last_error = exc
        time.sleep(0.1)
    raise RuntimeError(
        f"pytrue did not answer GET /health within {STARTUP_TIMEOUT:.0f}s "
        f"(last error: {last_error!r}):\n{log_path.read_text(errors='replace')}"
    )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def start_server(
    workdir: Path, extra_env: Mapping[str, str] | None = None, extra_args: list[str] | None = None, *, port: int | None = None
) -> tuple[subprocess.Popen[bytes], Server]:
    """Start `pytrue serve` in `workdir` (empty cwd: no .env) and wait for GET /health; on `port`
    when given (a caller that must name its URL in the configuration picks it with `free_port`)."""
    port = port or free_port()
    secret = secrets.token_urlsafe(48)
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*pytrue_command(), "serve", "--host", "127.0.0.1", "--port", str(port), *(extra_args or [])],
            cwd=workdir,
            env=clean_environment({**server_environment(port, secret), **(extra_env or {})}),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(process, url, log_path)
    except BaseException:
        stop_server(process)
        raise
    server = Server(
        url=url,
        port=port,
        jwt_secret=secret,
        anon_key=sign_api_key(secret, "anon"),
        service_key=sign_api_key(secret, "service_role"),
        log_path=log_path,
    )
    return process, server


def run_auth_js(node: str, script: str, cwd: Path, server: Server, timeout: float, **extra_env: str) -> dict[str, object]:
    """Run one auth-js scenario script against `server`; its JSON summary (fails with all output)."""
    import json

    env = {
        **os.environ,
        "PYTRUE_URL": server.url,
        "PYTRUE_ANON_KEY": server.anon_key,
        "PYTRUE_SERVICE_KEY": server.service_key,
        **extra_env,
    }
    result = subprocess.run([node, script], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"auth-js {script} failed (exit {result.returncode})\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}\n"
        f"--- server log ---\n{server.log()[-4000:]}"
    )
    summary: dict[str, object] = json.loads(result.stdout)
    return summary
