"""`sigap export evidence DIR`: the evidence files (bukti dukung) and a manifest, ready for the MCP upload.

Files go to `DIR/<program>/<unit code>/<id>-<indicator>-<name>` (every part sanitised), each checked against its
SHA-256 first; `manifest.csv` and `manifest.xlsx` list unit, program, indicator, what it supports, status, verifier,
dates, reason, path, size and SHA-256. Text from people is written as inert text (never a formula, in both files).
Everything is written to a temporary folder beside DIR and moved into place at the end, so a failed export leaves
nothing half-written; DIR must not exist yet or be empty.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from models.calendar import WorkingCalendar
from models.evidence import STATUS_WORDS, WITHDRAWN, describe, status_word
from models.pemda import PemdaConfig
from models.sheets import FORMULA_STARTS, Cell, put
from models.tables import Contact, Evidence, Report, StoredFile, Unit

COLUMNS: tuple[tuple[str, float], ...] = (
    ("No", 6),
    ("ID bukti", 9),
    ("Kode unit", 14),
    ("Unit", 40),
    ("Program", 10),
    ("Indikator", 10),
    ("Uraian", 50),
    ("Status", 20),
    ("Pengirim", 24),
    ("Diunggah", 17),
    ("Verifikator", 24),
    ("Diverifikasi", 17),
    ("Alasan", 40),
    ("Berkas", 50),
    ("Ukuran (byte)", 14),
    ("SHA-256", 68),
)
STATUSES = (*STATUS_WORDS.values(), WITHDRAWN)
_PART = re.compile(r"[^A-Za-z0-9._-]+")


class ExportError(Exception):
    """The export cannot be written as asked; the message (Indonesian) says why."""


def _part(text: str) -> str:
    return _PART.sub("_", text).strip("._")[:60] or "_"


def export_evidence(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    directory: Path,
    *,
    program: str | None = None,
    status: str | None = None,
) -> int:
    """Write the evidence files (of `program`, with `status` when given) and the manifest into `directory`; how many."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ExportError(f"Folder {directory} sudah ada dan tidak kosong. Pilih folder baru atau folder kosong.")
    stmt = (
        select(Evidence, Report)
        .join(Report, col(Report.id) == col(Evidence.report_id))
        .order_by(col(Evidence.program_key), col(Evidence.unit_id), col(Evidence.item_code), col(Evidence.id))
    )
    if program is not None:
        stmt = stmt.where(Evidence.program_key == program)
    rows = [(e, r) for e, r in session.exec(stmt).all() if status is None or status_word(e, r) == status]
    units = {u.id: u for u in session.exec(select(Unit)).all()}
    names = {c.id: c.name for c in session.exec(select(Contact)).all()}
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        table: list[list[Cell]] = []
        for number, (evidence, report) in enumerate(rows, start=1):
            unit = units.get(evidence.unit_id)
            code = unit.code if unit is not None else str(evidence.unit_id)
            relative = Path(_part(evidence.program_key), _part(code), _file_name(evidence))
            _write_file(session, evidence, staging / relative)
            table.append(
                [
                    number,
                    evidence.id,
                    code,
                    unit.name if unit is not None else "",
                    evidence.program_key,
                    evidence.item_code or "",
                    describe(session, pemda, evidence, report),
                    status_word(evidence, report),
                    names.get(evidence.uploaded_by_id, ""),
                    _local(calendar, evidence.uploaded_at),
                    names.get(evidence.verifier_id, ""),
                    _local(calendar, evidence.verified_at),
                    evidence.reason,
                    relative.as_posix(),
                    evidence.size,
                    evidence.sha256,
                ]
            )
        _write_csv(staging / "manifest.csv", table)
        _write_xlsx(staging / "manifest.xlsx", table)
        if directory.exists():
            directory.rmdir()
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(rows)


def _file_name(evidence: Evidence) -> str:
    item = f"-{_part(evidence.item_code)}" if evidence.item_code else ""
    return f"{evidence.id:05d}{item}-{_part(evidence.filename)}"


def _write_file(session: Session, evidence: Evidence, path: Path) -> None:
    stored = session.get(StoredFile, evidence.file_id)
    if stored is None or hashlib.sha256(stored.content).hexdigest() != evidence.sha256:
        raise ExportError(f"Berkas bukti #{evidence.id} tidak ada atau isinya tidak cocok dengan SHA-256-nya.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(stored.content)


def _local(calendar: WorkingCalendar, at: datetime | None) -> datetime | None:
    return None if at is None else at.astimezone(calendar.zone).replace(tzinfo=None)


def _inert(value: Cell) -> str:
    """A CSV cell: text that cannot be read as a formula (a leading ' before = + - @), dates as DD/MM/YYYY HH:MM."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%d/%m/%Y %H:%M}"
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_STARTS) else text


def _write_csv(path: Path, table: Sequence[Sequence[Cell]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:  # the BOM: Excel reads it as UTF-8
        writer = csv.writer(handle)
        writer.writerow([name for name, _width in COLUMNS])
        writer.writerows([_inert(value) for value in row] for row in table)


def _write_xlsx(path: Path, table: Sequence[Sequence[Cell]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Bukti dukung"
    for column, (name, width) in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=column, value=name)
        cell.font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = width
    for row_index, row in enumerate(table, start=2):
        for column, value in enumerate(row, start=1):
            put(sheet.cell(row=row_index, column=column), value)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(table) + 1}"
    book.save(path)
