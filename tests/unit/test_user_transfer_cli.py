"""`pytrue users import|export` in-process on in-memory storage: formats, exit statuses, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytrue.entrypoints.cli import main
from support.app import BASE_ENV


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in BASE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)


def _run(*args: str) -> int:
    try:
        main(["users", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_a_dry_run_reads_csv_and_reports_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.csv").write_text(
        "\ufeffemail,password_hash,email_confirmed,user_metadata\n"
        'a@cli.test,$2a$10$vVz26aE3xkpSS9HFgafcH.M0Ina2tRm.Kp08WcVfjipXccGakj6i.,true,"{""k"": 1}"\n'
        "b@cli.test,plain-text,false,\n"
    )
    assert _run("import", "in.csv", "--dry-run", "--json") == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["imported"] == 1 and summary["dry_run"] is True
    assert summary["rejections"][0]["line"] == 3 and "no known format" in summary["rejections"][0]["reason"]
    (tmp_path / "ok.jsonl").write_text('{"email": "c@cli.test"}\n')
    assert _run("import", "ok.jsonl", "--dry-run") == 0
    assert capsys.readouterr().out == "would import 1, skipped 0 (already present), rejected 0\n"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.csv").write_text("email,passwd\n")
    assert _run("import", "in.csv", "--dry-run") == 2
    assert "unknown column(s) passwd" in capsys.readouterr().err
    assert _run("import", "in.txt", "--dry-run") == 2
    assert _run("import", "missing.jsonl", "--dry-run") == 2
    assert "cannot read missing.jsonl" in capsys.readouterr().err
    assert _run("import", "in.csv", "--dry-run", "--firebase-signer-key", "not base64!") == 2
    assert "base64" in capsys.readouterr().err


def test_in_memory_storage_is_refused_for_writes_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.jsonl").write_text('{"email": "c@cli.test"}\n')
    assert _run("import", "in.jsonl") == 2
    assert _run("export", "out.jsonl") == 2
    assert "GOTRUE_DB_DRIVER=postgres" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()
