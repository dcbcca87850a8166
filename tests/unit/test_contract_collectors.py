"""The contract suites reach both storages whole: every module is collected twice, no test shadows another.

The collectors pull the suites in with `from contract.x import *`; a test (or fixture) named the
same in two modules would silently replace the first, and a module missing from a collector
would silently run on one storage only.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
CONTRACT = TESTS / "contract"
COLLECTORS = (TESTS / "unit" / "test_contract_memory.py", TESTS / "integration" / "test_contract_postgres.py")


def _suites() -> list[str]:
    return sorted(p.stem for p in CONTRACT.glob("*.py") if p.stem != "__init__")


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)


def _collected_names(module: Path) -> list[str]:
    """Top-level tests, test classes and fixtures: what pytest finds by name in the collector."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name.startswith("test") or _is_fixture(node):
                names.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.append(node.name)
    return names


def _star_imports(collector: Path) -> list[str]:
    tree = ast.parse(collector.read_text(encoding="utf-8"))
    return sorted(
        node.module.removeprefix("contract.")
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("contract.")
        and [alias.name for alias in node.names] == ["*"]
    )


def test_every_contract_suite_is_collected_on_both_storages() -> None:
    for collector in COLLECTORS:
        assert _star_imports(collector) == _suites(), collector.name


def test_no_test_or_fixture_name_is_shared_between_suites() -> None:
    tests_and_fixtures = Counter(name for suite in _suites() for name in _collected_names(CONTRACT / f"{suite}.py"))
    assert [name for name, n in tests_and_fixtures.items() if n > 1] == []
