"""The register export (XLSX): what the admin's office sees when it opens the file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from jobs.letters.export import export_register
from models.app import Deps
from models.tables import Letter, LetterItem, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, contact_named, unit_coded

HEADER = (
    "ID",
    "Nomor",
    "Tanggal surat",
    "Kode unit",
    "Unit",
    "Program",
    "Periode",
    "Tahap",
    "Status",
    "Cara penyampaian",
    "Tenggat baru",
    "Disetujui oleh",
    "Disetujui pada",
    "Dikirim pada",
    "Diterima oleh",
    "Diterima pada",
    "Eskalasi tanda terima pada",
    "Alasan pembatalan",
    "SHA-256 PDF",
)
# 09:00 WIB on 24 November 2026, and later that week
APPROVED = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
CREATED = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 01:00 WIB on 24 November
FORMULA_UNIT = '=HYPERLINK("http://contoh.invalid","klik")'
FORMULA_REASON = "-5 hari: data sudah dilengkapi"


def _letter(unit_id: int, **fields: Any) -> Letter:
    values: dict[str, Any] = {
        "unit_id": unit_id,
        "program_key": "katalog",
        "period": "2026",
        "stage": "teguran1",
        "created_at": CREATED,
    }
    values.update(fields)
    return Letter(**values)


def seed_register(deps: Deps) -> dict[str, int]:
    """Five letters in every status, one covering three programs, one to a unit whose name looks like a formula."""
    dinkes = unit_coded(deps, "DINKES").id
    admin = contact_named(deps, ADMIN).id
    kepala = contact_named(deps, KEPALA_DINKES).id
    assert dinkes is not None
    with deps.db.uow() as uow:
        session = uow.session
        odd = Unit(code="+ODD", name=FORMULA_UNIT, kind="dinas")
        session.add(odd)
        session.flush()
        assert odd.id is not None
        received = _letter(
            dinkes,
            year=2026,
            seq=1,
            number="000.8.3.3/1/ORG/2026",
            status="received",
            letter_date=date(2026, 11, 24),
            new_deadline=date(2026, 12, 3),
            approved_by_id=admin,
            approved_at=APPROVED,
            sent_at=APPROVED,
            delivery="chat",
            received_by_id=kepala,
            received_at=RECEIVED,
            sha256="a" * 64,
        )
        draft = _letter(dinkes, stage="teguran2", program_key="mcp")
        cancelled = _letter(
            odd.id,
            year=2026,
            seq=2,
            number="000.8.3.3/2/ORG/2026",
            status="cancelled",
            letter_date=date(2026, 11, 24),
            cancel_reason=FORMULA_REASON,
        )
        by_hand = _letter(
            dinkes,
            year=2026,
            seq=3,
            number="000.8.3.3/3/ORG/2026",
            status="sent",
            letter_date=date(2026, 11, 24),
            delivery="tangan",
            sent_at=APPROVED,
        )
        approved = _letter(dinkes, year=2026, seq=4, number="000.8.3.3/4/ORG/2026", status="approved")
        letters = {"received": received, "draft": draft, "cancelled": cancelled, "by_hand": by_hand}
        letters["approved"] = approved
        for letter in letters.values():
            session.add(letter)
        session.flush()
        assert draft.id is not None
        for key in ("mcp", "katalog", "p3dn"):
            session.add(
                LetterItem(letter_id=draft.id, unit_id=dinkes, program_key=key, period="2026", stage="teguran2")
            )
        ids = {name: letter.id for name, letter in letters.items()}
        uow.commit()
    assert all(isinstance(value, int) for value in ids.values())
    return {name: value for name, value in ids.items() if value is not None}


def export(deps: Deps, tmp_path: Path) -> Path:
    target = tmp_path / "laporan" / "register.xlsx"
    with deps.db.uow() as uow:
        count = export_register(uow.session, deps.pemda, deps.calendar, target)
    assert count == 5
    return target


def rows_by_id(path: Path) -> dict[int, dict[str, Any]]:
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADER
    return {row[0]: dict(zip(HEADER, row, strict=True)) for row in rows[1:]}


def test_register_is_in_indonesian_ordered_by_id(deps: Deps, tmp_path: Path) -> None:
    ids = seed_register(deps)
    path = export(deps, tmp_path)
    rows = rows_by_id(path)
    assert list(rows) == sorted(ids.values())
    statuses = {name: rows[letter_id]["Status"] for name, letter_id in ids.items()}
    assert statuses == {
        "received": "sudah diterima",
        "draft": "rancangan, menunggu persetujuan",
        "cancelled": "dibatalkan",
        "by_hand": "terkirim, menunggu tanda terima",
        "approved": "disetujui, belum terkirim",
    }
    received = rows[ids["received"]]
    assert received["Nomor"] == "000.8.3.3/1/ORG/2026"
    assert received["Tanggal surat"] == datetime(2026, 11, 24)
    assert (received["Kode unit"], received["Unit"]) == ("DINKES", "Dinas Kesehatan")
    assert (received["Program"], received["Periode"], received["Tahap"]) == ("e-Katalog lokal", "2026", "Teguran I")
    assert received["Cara penyampaian"] == "lewat Sigap"
    assert received["Tenggat baru"] == datetime(2026, 12, 3)
    assert received["Disetujui oleh"] == ADMIN and received["Disetujui pada"] == datetime(2026, 11, 24, 9, 0)
    assert received["Diterima oleh"] == KEPALA_DINKES and received["Diterima pada"] == datetime(2026, 11, 25, 10, 30)
    assert received["Alasan pembatalan"] is None and received["SHA-256 PDF"] == "a" * 64
    assert rows[ids["by_hand"]]["Cara penyampaian"] == "diantar langsung"
    assert rows[ids["approved"]]["Cara penyampaian"] is None  # not delivered yet: an empty cell


def test_draft_has_no_number_and_lists_all_its_programs(deps: Deps, tmp_path: Path) -> None:
    ids = seed_register(deps)
    draft = rows_by_id(export(deps, tmp_path))[ids["draft"]]
    assert draft["Nomor"] is None
    assert draft["Program"] == "MCP KPK; e-Katalog lokal; P3DN/UMKK"
    assert draft["Tahap"] == "Teguran II"
    assert draft["Tanggal surat"] == datetime(2026, 11, 24)  # local date of creation (01:00 WIB)
    assert draft["Disetujui oleh"] is None and draft["Disetujui pada"] is None


def test_cancellation_reason_and_formula_looking_text_stay_text(deps: Deps, tmp_path: Path) -> None:
    ids = seed_register(deps)
    path = export(deps, tmp_path)
    cancelled = rows_by_id(path)[ids["cancelled"]]
    assert cancelled["Alasan pembatalan"] == FORMULA_REASON
    assert (cancelled["Kode unit"], cancelled["Unit"]) == ("+ODD", FORMULA_UNIT)
    sheet = load_workbook(path).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    unit_cell = next(cell for cell in cells if cell.value == FORMULA_UNIT)
    assert unit_cell.data_type == "s" and unit_cell.quotePrefix


def test_header_is_bold_frozen_and_filtered_with_local_date_formats(deps: Deps, tmp_path: Path) -> None:
    seed_register(deps)
    sheet = load_workbook(export(deps, tmp_path)).active
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:S6"
    assert sheet["C2"].number_format == "DD/MM/YYYY"
    assert sheet["K2"].number_format == "DD/MM/YYYY"
    assert sheet["M2"].number_format == "DD/MM/YYYY HH:MM"
    assert sheet.column_dimensions["E"].width >= 30  # unit names are long
    assert sheet.column_dimensions["S"].width >= 64  # a whole SHA-256


def test_empty_register_still_has_its_header(deps: Deps, tmp_path: Path) -> None:
    target = tmp_path / "kosong.xlsx"
    with deps.db.uow() as uow:
        assert export_register(uow.session, deps.pemda, deps.calendar, target) == 0
    sheet = load_workbook(target).active
    assert [cell.value for cell in sheet[1]] == list(HEADER)
    assert sheet.max_row == 1
