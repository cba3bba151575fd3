"""The letter register as an XLSX workbook (openpyxl), times in the Pemda's zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from jobs.letters.register import STAGE_LABELS
from models.calendar import WorkingCalendar
from models.pemda import PemdaConfig
from models.tables import Contact, Letter, Unit

HEADER = (
    "Nomor",
    "Tanggal",
    "Kode unit",
    "Unit",
    "Program",
    "Periode",
    "Tahap",
    "Status",
    "Disetujui oleh",
    "Disetujui pada",
    "Dikirim pada",
    "Diterima oleh",
    "Diterima pada",
    "Eskalasi tanda terima",
    "SHA-256 PDF",
)
WIDTHS = (26, 12, 14, 40, 24, 10, 12, 12, 22, 18, 18, 22, 18, 18, 66)


def _local(calendar: WorkingCalendar, at: datetime | None) -> datetime | None:
    """A naive local datetime for Excel (which has no time zones)."""
    return at.astimezone(calendar.zone).replace(tzinfo=None, microsecond=0) if at is not None else None


def export_register(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, path: Path) -> int:
    """Write every letter of the register to `path` (XLSX), oldest first; returns the number of rows."""
    letters = session.exec(select(Letter).order_by(col(Letter.year), col(Letter.seq))).all()
    units = {u.id: u for u in session.exec(select(Unit)).all()}
    people = {c.id: c.name for c in session.exec(select(Contact)).all()}
    book = Workbook()
    sheet = book.active
    sheet.title = "Register surat teguran"
    sheet.append(list(HEADER))
    for letter in letters:
        unit = units.get(letter.unit_id)
        program = pemda.program(letter.program_key)
        sheet.append(
            [
                letter.number,
                calendar.local_date(letter.created_at),
                unit.code if unit else "",
                unit.name if unit else "",
                program.label if program else letter.program_key,
                letter.period,
                STAGE_LABELS.get(letter.stage, letter.stage),
                letter.status,
                people.get(letter.approved_by_id, "") if letter.approved_by_id else "",
                _local(calendar, letter.approved_at),
                _local(calendar, letter.sent_at),
                people.get(letter.received_by_id, "") if letter.received_by_id else "",
                _local(calendar, letter.received_at),
                _local(calendar, letter.receipt_escalated_at),
                letter.sha256,
            ]
        )
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for row in sheet.iter_rows(min_row=2, min_col=2, max_col=2):
        for cell in row:
            cell.number_format = "DD/MM/YYYY"
    for row in sheet.iter_rows(min_row=2, min_col=10, max_col=14):
        for cell in row:
            cell.number_format = "DD/MM/YYYY HH:MM"
    sheet.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return len(letters)
