"""The letter register as an XLSX workbook (openpyxl) for the admin's office: Indonesian throughout, times local."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from jobs.letters.flow import STATUS_WORDS
from jobs.letters.register import STAGE_LABELS
from models.calendar import WorkingCalendar
from models.pemda import PemdaConfig
from models.sheets import header, put
from models.tables import Contact, Letter, LetterDelivery, LetterItem, Unit

__all__ = ["COLUMNS", "DELIVERY_WORDS", "STATUS_WORDS", "export_register"]

SHEET_TITLE = "Register surat teguran"

COLUMNS: tuple[tuple[str, float], ...] = (
    ("ID", 7),
    ("Nomor", 26),
    ("Tanggal surat", 14),
    ("Kode unit", 13),
    ("Unit", 38),
    ("Program", 38),
    ("Periode", 10),
    ("Tahap", 11),
    ("Status", 31),
    ("Cara penyampaian", 18),
    ("Tenggat baru", 14),
    ("Disetujui oleh", 26),
    ("Disetujui pada", 17),
    ("Dikirim pada", 17),
    ("Diterima oleh", 26),
    ("Diterima pada", 17),
    ("Eskalasi tanda terima pada", 17),
    ("Alasan pembatalan", 40),
    ("SHA-256 PDF", 68),
)
"""Column headings and widths (in characters), in sheet order."""



DELIVERY_WORDS = {
    LetterDelivery.NONE.value: "",
    LetterDelivery.CHAT.value: "lewat Sigap",
    LetterDelivery.HAND.value: "diantar langsung",
}
"""How the letter reached its unit, as the register shows it."""

Cell = str | int | date | datetime | None


def _local(calendar: WorkingCalendar, at: datetime | None) -> datetime | None:
    """A naive local datetime for Excel (which has no time zones)."""
    return at.astimezone(calendar.zone).replace(tzinfo=None, microsecond=0) if at is not None else None


def _joined(values: Iterable[str]) -> str:
    """The distinct non-empty values in their first order, joined with "; "."""
    return "; ".join(dict.fromkeys(v for v in values if v))


def _items_by_letter(session: Session) -> dict[int, list[LetterItem]]:
    """Every letter's items (the programs it covers), in the order they were added."""
    items: dict[int, list[LetterItem]] = {}
    for item in session.exec(select(LetterItem).order_by(col(LetterItem.letter_id), col(LetterItem.id))).all():
        items.setdefault(item.letter_id, []).append(item)
    return items


def export_register(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, path: Path) -> int:
    """Write every letter of the register to `path` (XLSX), ordered by id; returns the number of letters."""
    letters = session.exec(select(Letter).order_by(col(Letter.id))).all()
    units = {u.id: u for u in session.exec(select(Unit)).all()}
    people = {c.id: c.name for c in session.exec(select(Contact)).all()}
    items = _items_by_letter(session)

    def label(key: str) -> str:
        program = pemda.program(key)
        return program.label if program else key

    def person(contact_id: int | None) -> str:
        return people.get(contact_id, "") if contact_id is not None else ""

    rows: list[list[Cell]] = []
    for letter in letters:
        unit = units.get(letter.unit_id)
        covered = items.get(letter.id or 0, [])
        rows.append(
            [
                letter.id,
                letter.number or "",
                letter.letter_date or calendar.local_date(letter.created_at),
                unit.code if unit else "",
                unit.name if unit else "",
                _joined(label(i.program_key) for i in covered) if covered else label(letter.program_key),
                _joined(i.period for i in covered) if covered else letter.period,
                STAGE_LABELS.get(letter.stage, letter.stage),
                STATUS_WORDS.get(letter.status, letter.status),
                DELIVERY_WORDS.get(letter.delivery, letter.delivery),
                letter.new_deadline,
                person(letter.approved_by_id),
                _local(calendar, letter.approved_at),
                _local(calendar, letter.sent_at),
                person(letter.received_by_id),
                _local(calendar, letter.received_at),
                _local(calendar, letter.receipt_escalated_at),
                letter.cancel_reason,
                letter.sha256,
            ]
        )
    _write(rows, path)
    return len(letters)


def _write(rows: list[list[Cell]], path: Path) -> None:
    """Save the register sheet: bold frozen header, a filter over the table, dates as DD/MM/YYYY."""
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_TITLE
    header(sheet, COLUMNS)
    for row_index, row in enumerate(rows, start=2):
        for column, value in enumerate(row, start=1):
            put(sheet.cell(row=row_index, column=column), value)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
