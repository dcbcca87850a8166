"""The package layout and layer contracts hold."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_source_folder_is_a_listed_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "pytrue" + ("." + ".".join(p.parent.relative_to(ROOT / "src").parts) if p.parent != ROOT / "src" else "")
        for p in (ROOT / "src").rglob("__init__.py")
    }
    assert found == listed


def test_import_linter_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_testing_kit_ships_typed_with_its_pytest_plugin() -> None:
    from importlib.metadata import entry_points

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {"pytrue": "pytrue.testing.pytest_plugin"}
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["pytrue.testing"]
    assert (ROOT / "src" / "testing" / "py.typed").exists() and (ROOT / "src" / "py.typed").exists()
    plugins = {point.name: point.value for point in entry_points(group="pytest11")}
    assert plugins.get("pytrue") == "pytrue.testing.pytest_plugin"  # the installed metadata says so too
