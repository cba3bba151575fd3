"""Evidence and the bot's own work: the sweep holds back a unit whose evidence waits (and follows each verdict), the
verifiers' daily reminder, letters that quote the verifier's reason, and the export for the MCP upload."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.cli import main
from bot.console import LocalFiles
from jobs.evidence_export import ExportError, export_evidence
from jobs.evidence_reminders import remind_verifiers
from jobs.sweep import plan, sweep
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.tables import Evidence, Outbox
from tests.conftest import ADMIN, console_person, contact_named
from tests.fakes import evidence_files as files
from tests.handlers.test_evidence import INDAH, PUTRI, reachable, write
from tests.jobs.test_letter_register import draft, file_bytes, pdf_text


@pytest.fixture
def folder(deps: Deps, tmp_path: Path) -> Path:
    deps.files[Channel.CONSOLE] = LocalFiles()
    return tmp_path


def at_local(deps: Deps, day: date, hour: int, minute: int = 0) -> datetime:
    return deps.calendar.at_local(day, time(hour, minute))


def mcp_stages(deps: Deps, code: str, when: datetime) -> list[str]:
    """The MCP stages the sweep would send the unit `code` at `when` (one per recipient)."""
    with deps.db.uow() as uow:
        planned = plan(uow.session, deps.pemda, deps.calendar, when)
    return [p.stage_key for p in planned if p.unit.code == code and p.program.key == "mcp"]


def texts_to(deps: Deps, name: str) -> list[str]:
    contact = contact_named(deps, name)
    with deps.db.uow() as uow:
        return [r.text for r in uow.session.exec(select(Outbox).where(Outbox.contact_id == contact.id)).all()]


def reminders_to(deps: Deps, name: str) -> list[str]:
    contact = contact_named(deps, name)
    with deps.db.uow() as uow:
        rows = uow.session.exec(select(Outbox).where(Outbox.contact_id == contact.id).order_by(col(Outbox.id))).all()
        return [r.text for r in rows if r.kind == "evidence"]


async def test_the_sweep_follows_each_verdict_and_holds_back_a_unit_whose_evidence_waits(
    deps: Deps, folder: Path, clock: FakeClock
) -> None:
    reachable(deps, PUTRI, "7101")
    indah, putri = console_person(deps, INDAH), console_person(deps, PUTRI)
    warning_day = at_local(deps, date(2026, 12, 16), 8)  # H+1 of the 15 December deadline: the peringatan
    chased = ["H+1:peringatan"] * 4  # the unit's kepala and operator, and the two admins
    assert mcp_stages(deps, "BAG-PBJ", warning_day) == chased
    await indah.text(f"/bukti mcp 2.1 {write(folder, 'sirup.pdf', files.pdf('2.1'))}")
    assert mcp_stages(deps, "BAG-PBJ", warning_day) == chased  # 2.2 is still missing
    await indah.text(f"/bukti mcp 2.2 {write(folder, 'katalog.pdf', files.pdf('2.2'))}")
    assert mcp_stages(deps, "BAG-PBJ", warning_day) == []  # everything sent before the deadline waits: no warning
    assert mcp_stages(deps, "BAPPEDA", warning_day) == chased  # the others are chased as before
    waiting = "🔎 MCP KPK: 0 dari 2 indikator selesai (diunggah, menunggu verifikasi: 2.1, 2.2)"
    assert waiting in await indah.text("/status")

    # the verifier is reminded instead, once a day
    with deps.db.uow() as uow:
        assert remind_verifiers(uow.session, deps.pemda, deps.calendar, at_local(deps, date(2026, 11, 24), 9)) == 0
        reminded = remind_verifiers(uow.session, deps.pemda, deps.calendar, at_local(deps, date(2026, 12, 16), 9, 30))
        again = remind_verifiers(uow.session, deps.pemda, deps.calendar, at_local(deps, date(2026, 12, 16), 9, 45))
        uow.commit()
    assert (reminded, again) == (1, 1)
    [reminder] = reminders_to(deps, PUTRI)
    assert "• MCP KPK: 2 bukti, terlama dikirim 23 Nov 2026." in reminder
    assert "unitnya ditahan dari peringatan dan surat teguran sampai Bapak/Ibu memutuskan" in reminder

    await putri.text("/verifikasi tolak 1 Pengumuman RUP belum tayang di SiRUP.")
    assert mcp_stages(deps, "BAG-PBJ", warning_day) == chased  # rejected: chased again
    with deps.db.uow() as uow:
        [line] = [
            p
            for p in plan(uow.session, deps.pemda, deps.calendar, warning_day)
            if p.unit.code == "BAG-PBJ" and p.contact.name == INDAH and p.program.key == "mcp"
        ]
    assert line.standing.rejected_items == ("2.1",) and line.standing.waiting_items == ("2.2",)
    rekap = await console_person(deps, ADMIN).text("/rekap")
    assert "• MCP KPK: 0/7 unit memenuhi (1 menunggu verifikasi)" in rekap
    assert "mcp 0/2 menunggu verifikasi" in rekap
    reachable(deps, INDAH, "7102")
    sweep(deps.db, deps.pemda, deps.calendar, warning_day)
    [warning] = [t for t in texts_to(deps, INDAH) if "Peringatan: batas waktu sudah lewat" in t]
    assert "MCP KPK (H+1 peringatan): 0 dari 2 indikator selesai (diunggah, menunggu verifikasi: 2.2; " in warning
    assert "ditolak: 2.1); batas 15 Des 2026, terlambat 1 hari." in warning
    await indah.text(f"/bukti mcp 2.1 {write(folder, 'sirup-tayang.pdf', files.pdf('2.1 tayang'))}")
    assert mcp_stages(deps, "BAG-PBJ", warning_day) == []
    for evidence_id in (2, 3):
        assert "dinyatakan sah" in await putri.text(f"/verifikasi sah {evidence_id}")
    assert mcp_stages(deps, "BAG-PBJ", warning_day) == []
    assert "✅ MCP KPK: 2 dari 2 indikator selesai" in await indah.text("/status")


async def test_a_letter_quotes_the_verifiers_reason(deps: Deps, folder: Path) -> None:
    await console_person(deps, INDAH).text(f"/bukti mcp 2.1 {write(folder, 'sirup.pdf', files.pdf())}")
    await console_person(deps, PUTRI).text("/verifikasi tolak 1 Dokumen tidak memuat tanda tangan PPK.")
    letter = draft(deps, "BAG-PBJ", "mcp")
    text = " ".join(pdf_text(file_bytes(deps, letter.pdf_id)).split())
    assert "Indikator 2.1 Rencana umum pengadaan diumumkan di SiRUP (Pengadaan Barang dan Jasa); bukti dukung" in text
    assert "ditolak verifikator dengan alasan: Dokumen tidak memuat tanda tangan PPK." in text
    assert "Indikator 2.2" in text


async def test_export_writes_the_files_and_an_inert_manifest(deps: Deps, folder: Path, tmp_path: Path) -> None:
    indah = console_person(deps, INDAH)
    await indah.text(f"/bukti mcp 2.1 {write(folder, 'sirup.pdf', files.pdf('a'))}")
    await indah.text(f"/bukti mcp 2.2 {write(folder, 'layar.png', files.picture())}")
    await console_person(deps, PUTRI).text('/verifikasi tolak 2 =HYPERLINK("http://contoh";"klik")')
    await console_person(deps, PUTRI).text("/verifikasi sah 1")
    check_export(deps, tmp_path)


def check_export(deps: Deps, tmp_path: Path) -> None:
    target = tmp_path / "ekspor" / "mcp-2026"
    with deps.db.uow() as uow:
        assert export_evidence(uow.session, deps.pemda, deps.calendar, target) == 2
        with pytest.raises(ExportError, match="tidak kosong"):
            export_evidence(uow.session, deps.pemda, deps.calendar, target)
        evidence = uow.session.exec(select(Evidence).order_by(col(Evidence.id))).all()
    with (target / "manifest.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["Kode unit"], r["Indikator"], r["Status"]) for r in rows] == [
        ("BAG-PBJ", "2.1", "sah"),
        ("BAG-PBJ", "2.2", "ditolak"),
    ]
    assert rows[0]["Verifikator"] == PUTRI and rows[0]["Pengirim"] == INDAH
    assert rows[1]["Alasan"].startswith("'=HYPERLINK")  # inert: a spreadsheet shows it as text
    for row, item in zip(rows, evidence, strict=True):
        content = (target / row["Berkas"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == row["SHA-256"] == item.sha256
    assert rows[0]["Berkas"] == "mcp/BAG-PBJ/00001-2.1-sirup.pdf"
    sheet = load_workbook(target / "manifest.xlsx").active
    assert sheet is not None
    reason = sheet.cell(row=3, column=13)
    assert reason.data_type == "s" and str(reason.value).startswith("=HYPERLINK")
    assert not list(tmp_path.glob("ekspor/.mcp-2026-*"))  # the staging folder is gone


def test_export_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGAP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    assert main(["db", "upgrade"]) == 0
    assert main(["export", "evidence", str(tmp_path / "kosong")]) == 0
    assert "Bukti dukung: 0 berkas diekspor ke" in capsys.readouterr().out
    assert (tmp_path / "kosong" / "manifest.xlsx").exists()
    assert main(["export", "evidence", str(tmp_path / "lain"), "--status", "lupa"]) == 2
    assert (
        "Status “lupa” tidak dikenal. Pilihan: menunggu verifikasi, sah, ditolak, ditarik." in capsys.readouterr().err
    )
    assert main(["export", "evidence", str(tmp_path / "kosong")]) == 2
    assert "sudah ada dan tidak kosong" in capsys.readouterr().err
