"""The script example runs as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_script_example_signs_up_refreshes_and_bans(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "script_usage.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": "64", "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "'same_session': True" in result.stdout
    assert "'rotated': True" in result.stdout
    assert "'banned_sign_in': 'user_banned'" in result.stdout
