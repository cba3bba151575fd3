"""`sigap export status FILE.xlsx` on the sample roster."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGAP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    assert main(["db", "upgrade"]) == 0
    assert main(["import", "roster", "--apply"]) == 0
    return tmp_path


def test_export_status_writes_the_workbook(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["export", "status", "laporan/status.xlsx"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Status 52 unit per ") and "diekspor ke laporan/status.xlsx" in out  # as /rekap counts
    book = load_workbook(env / "laporan" / "status.xlsx")
    assert book.sheetnames[0] == "Ringkasan" and book.sheetnames[-1] == "Riwayat"
    assert book["e-Katalog lokal"].max_row == 53  # the header and the 52 units katalog applies to
    assert main(["export", "status", "status.csv"]) == 2
    assert "harus berakhiran .xlsx" in capsys.readouterr().err
