"""`sigap import roster FILE` previews and writes nothing; `--apply` writes, `--prune` deactivates; the console
sends a roster file with `/berkas PATH`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.cli import main
from bot.console import run_console
from bot.settings import SAMPLE_ROSTER
from handlers.jejak import said
from models.app import Deps
from models.tables import AuditLog, Contact, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, contact_named

MOVED = SAMPLE_ROSTER.read_text(encoding="utf-8").replace(
    'DINKES,Dinas Kesehatan,dinas,,"dinkes,kesehatan",Slamet Santoso,kepala',
    'DISDIK,Dinas Pendidikan,dinas,,"disdik,pendidikan",Slamet Santoso,operator',
)


def unit_of(deps: Deps, name: str) -> str:
    contact = contact_named(deps, name)
    with deps.db.uow() as uow:
        unit = uow.session.get(Unit, contact.unit_id)
    assert unit is not None
    return unit.code


def test_the_command_line_previews_and_writes_only_with_apply(
    sdeps: Deps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGAP_DATABASE_URL", sdeps.db.url)
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join(line for line in MOVED.splitlines() if "BAG-ADPEM" not in line), encoding="utf-8")

    assert main(["import", "roster", str(roster)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Pratinjau roster roster.csv (belum ada yang ditulis):\nKontak dipindah (1):\n")
    assert "→ Slamet Santoso: kepala Dinas Kesehatan (DINKES) → operator Dinas Pendidikan (DISDIK)" in out
    assert "Tidak ada di berkas: 1 unit dan 1 kontak; tetap aktif (dengan --prune mereka dinonaktifkan" in out
    assert out.endswith(f"Untuk menerapkan: sigap import roster {roster} --apply\n")
    assert unit_of(sdeps, KEPALA_DINKES) == "DINKES"

    assert main(["import", "roster", str(roster), "--apply"]) == 0
    assert capsys.readouterr().out.endswith(
        "Roster roster.csv diterapkan. Unit: 0 baru, 0 diperbarui. Kontak: 0 baru, 0 diperbarui, 1 dipindah.\n"
    )
    assert unit_of(sdeps, KEPALA_DINKES) == "DISDIK"

    assert main(["import", "roster", str(roster), "--prune"]) == 0
    assert "Unit dinonaktifkan (1):\n  - BAG-ADPEM" in capsys.readouterr().out
    assert main(["import", "roster", str(roster), "--prune", "--apply"]) == 0
    assert "1 dinonaktifkan" in capsys.readouterr().out
    with sdeps.db.uow() as uow:
        inactive = uow.session.exec(select(Unit.code).where(col(Unit.active).is_(False))).all()
        contacts = uow.session.exec(select(Contact.name).where(col(Contact.active).is_(False))).all()
    assert (list(inactive), list(contacts)) == (["BAG-ADPEM"], ["Rina Gunadi"])

    assert main(["import", "roster", str(roster), "--prune", "--apply"]) == 0
    assert capsys.readouterr().out.startswith("Roster roster.csv: Tidak ada perubahan")
    with sdeps.db.uow() as uow:  # each import that wrote something is in the audit log, as one sent in chat
        trail = [
            (a.channel, said(a.action, a.target, a.detail), json.loads(a.detail)["kontak_dipindah"])
            for a in uow.session.exec(select(AuditLog).order_by(col(AuditLog.id))).all()
        ]
    assert trail == [("cli", "roster roster.csv diterapkan", 1), ("cli", "roster roster.csv diterapkan", 0)]


async def test_the_console_sends_a_roster_file_with_berkas(sdeps: Deps, tmp_path: Path) -> None:
    roster = tmp_path / "roster baru.csv"
    roster.write_text(MOVED, encoding="utf-8")
    script: Iterator[str] = iter([f"/berkas {roster}", "1", "/berkas", f"/berkas {tmp_path / 'hilang.csv'}"])
    out: list[str] = []

    async def ask(_prompt: str) -> str | None:
        return next(script, None)

    await run_console(sdeps, contact_named(sdeps, ADMIN), ask=ask, say=out.append, files_dir=tmp_path)
    text = "\n".join(out)
    assert "/berkas <path> untuk mengirim berkas" in out[0]
    assert "Pratinjau roster roster baru.csv (belum ada yang disimpan):" in text
    assert "  [1] Terapkan\n  [2] Batal" in text
    assert "Roster roster baru.csv sudah diterapkan." in text
    assert "Tulis path berkasnya, misalnya: /berkas roster.xlsx" in text
    assert "Mohon maaf, berkas tidak dapat diunduh. Silakan kirim ulang berkasnya." in text
    assert unit_of(sdeps, KEPALA_DINKES) == "DISDIK"


def test_apply_never_writes_a_nip_excel_cut_short(
    sdeps: Deps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from openpyxl import Workbook

    from models.roster import COLUMNS

    monkeypatch.setenv("SIGAP_DATABASE_URL", sdeps.db.url)
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    stored = contact_named(sdeps, KEPALA_DINKES).nip
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    unit = ["DINKES", "Dinas Kesehatan", "dinas", None, "dinkes,kesehatan"]
    sheet.append([*unit, KEPALA_DINKES, "kepala", "0812-9000-1098", None, float(stored[:15] + "000"), "Kepala Dinkes"])
    roster = tmp_path / "roster.xlsx"
    workbook.save(roster)

    assert main(["import", "roster", str(roster)]) == 0
    preview = capsys.readouterr().out
    assert f"! NIP di baris 2 ({KEPALA_DINKES}) tersimpan sebagai angka sehingga terpotong" in preview
    assert f"NIP yang tersimpan ({stored}) tidak diubah." in preview
    assert main(["import", "roster", str(roster), "--apply"]) == 0
    capsys.readouterr()
    kepala = contact_named(sdeps, KEPALA_DINKES)
    assert (kepala.nip, kepala.title) == (stored, "Kepala Dinkes")
