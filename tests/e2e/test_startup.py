"""`pytrue serve` start-up: the shared server answers, bad configuration fails fast and safely."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import httpx

from e2e_support import Server, clean_environment, free_port, pytrue_command, server_environment

FAIL_FAST_SECONDS = 15


def _serve_with(tmp_path: Path, **overrides: str | None) -> tuple[subprocess.CompletedProcess[str], str]:
    port = free_port()
    secret = "s3cr3t-" + secrets.token_hex(24)
    env = {**server_environment(port, secret), **overrides}
    result = subprocess.run(
        [*pytrue_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=clean_environment(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=FAIL_FAST_SECONDS,
    )
    return result, secret


def test_server_is_healthy(server: Server) -> None:
    response = httpx.get(f"{server.url}/health")
    assert response.status_code == 200
    assert httpx.get(f"{server.url}/settings").status_code == 200


def test_invalid_jwt_exp_exits_non_zero_naming_the_variable(tmp_path: Path) -> None:
    result, secret = _serve_with(tmp_path, GOTRUE_JWT_EXP="abc")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "GOTRUE_JWT_EXP" in output
    assert secret not in output


def test_missing_jwt_secret_exits_non_zero_naming_the_variable(tmp_path: Path) -> None:
    result, _ = _serve_with(tmp_path, GOTRUE_JWT_SECRET=None)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "GOTRUE_JWT_SECRET" in output


def test_an_enabled_provider_without_its_secret_exits_non_zero_naming_the_variable(tmp_path: Path) -> None:
    result, _ = _serve_with(
        tmp_path,
        GOTRUE_EXTERNAL_GITHUB_ENABLED="true",
        GOTRUE_EXTERNAL_GITHUB_CLIENT_ID="gh-client",
        GOTRUE_EXTERNAL_GITHUB_REDIRECT_URI="http://127.0.0.1/callback",
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "GOTRUE_EXTERNAL_GITHUB_SECRET" in result.stderr
