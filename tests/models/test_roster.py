"""Roster import: every bad row reported; nothing written on error; re-import changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import func, select

from bot.settings import SAMPLE_ROSTER
from models.db import Database
from models.roster import COLUMNS, RosterError, import_roster
from models.tables import Contact, Unit


def _count(db: Database, table: type[Unit] | type[Contact]) -> int:
    with db.uow() as uow:
        return int(uow.session.exec(select(func.count()).select_from(table)).one())


def test_sample_roster_is_a_whole_kabupaten(db: Database) -> None:
    with db.uow() as uow:
        result = import_roster(uow.session, SAMPLE_ROSTER)
        uow.commit()
    assert result.units_created >= 50
    with db.uow() as uow:
        units = uow.session.exec(select(Unit)).all()
        kinds = [u.kind for u in units]
        assert kinds.count("kecamatan") >= 10
        assert sum(k not in ("kecamatan", "kelurahan", "desa") for k in kinds) >= 40
        contact = uow.session.exec(select(Contact).where(Contact.name == "Slamet Santoso")).one()
        assert contact.wa_number == "+6281290001098"


def test_reimport_changes_nothing(db: Database) -> None:
    for _ in range(2):
        with db.uow() as uow:
            result = import_roster(uow.session, SAMPLE_ROSTER)
            uow.commit()
    assert not result.changed
    assert "Tidak ada perubahan" in result.summary()


def _write(tmp_path: Path, rows: list[list[str]]) -> Path:
    path = tmp_path / "roster.csv"
    lines = [",".join(COLUMNS)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_every_bad_row_is_reported_and_nothing_is_written(db: Database, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            ["DINKES", "Dinas Kesehatan", "dinas", "", "dinkes", "Budi", "kepala", "0812-1111-2222", "", "", ""],
            ["DISDIK", "Dinas Pendidikan", "dinaz", "", "", "Ani", "kepala", "0812-1111-3333", "", "", ""],
            ["KEL-A", "Kelurahan A", "kelurahan", "", "", "", "", "", "", "", ""],
            ["DINSOS", "Dinas Sosial", "dinas", "", "", "Cici", "bos", "08xx", "", "", ""],
            ["DLH", "Dinas LH", "dinas", "", "", "Dedi", "kepala", "0812 1111 2222", "", "", ""],
        ],
    )
    with db.uow() as uow, pytest.raises(RosterError) as info:
        import_roster(uow.session, path)
    problems = [str(p) for p in info.value.problems]
    assert problems == [
        "baris 3, kolom unit_kind: “dinaz” tidak dikenal; pilihan: sekretariat, inspektorat, dinas, badan, bagian, "
        "satpol, rsud, kecamatan, kelurahan, desa",
        "baris 4, kolom parent_code: kelurahan wajib punya kecamatan induk",
        "baris 5, kolom role: “bos” tidak dikenal; pilihan: admin, pimpinan, kepala, operator, camat",
        "baris 5, kolom phone: “08xx”: nomor hanya boleh berisi angka, spasi, tanda -, dan + di depan",
        "baris 6, kolom phone: nomor sama dengan baris 2",
    ]
    assert _count(db, Unit) == 0 and _count(db, Contact) == 0


def test_xlsx_roster(db: Database, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append(["KEC-X", "Kecamatan X", "kecamatan", "", "kecx", "Camat X", "camat", "081299998888", "", "", "Camat"])
    sheet.append(["KEL-X1", "Kelurahan X Satu", "kelurahan", "KEC-X", "", "", "", "", "", "", ""])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    with db.uow() as uow:
        result = import_roster(uow.session, path)
        uow.commit()
    assert (result.units_created, result.contacts_created) == (2, 1)
    with db.uow() as uow:
        kel = uow.session.exec(select(Unit).where(Unit.code == "KEL-X1")).one()
        kec = uow.session.exec(select(Unit).where(Unit.code == "KEC-X")).one()
        assert kel.parent_id == kec.id


def test_unsupported_file_type(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "roster.pdf"
    path.write_bytes(b"%PDF")
    with db.uow() as uow, pytest.raises(RosterError, match="1 masalah"):
        import_roster(uow.session, path)
