"""Writing spreadsheet cells safely (openpyxl): text from people never becomes a formula, dates read as dates.

Shared by every XLSX export (the letter register, the status export), so the rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell text starting with one of these could be read as a formula by a spreadsheet program."""
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"

Cell = str | int | float | date | datetime | None


def put(cell: Any, value: Cell, number_format: str | None = None) -> None:
    """Store one value: text always as literal text (never a formula), dates and times as DD/MM/YYYY [HH:MM]."""
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters would make the file unreadable
        cell.value = text
        if text.startswith(FORMULA_STARTS):
            # openpyxl stores "=..." as a formula: keep it a string, and quote-prefix it so that editing the cell
            # in Excel or LibreOffice does not turn it into one either
            cell.data_type = "s"
            cell.quotePrefix = True
        return
    cell.value = value
    if number_format is not None:
        cell.number_format = number_format
    elif isinstance(value, datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.number_format = DATE_FORMAT


def header(sheet: Any, columns: Sequence[tuple[str, float]]) -> None:
    """Write a bold, wrapped header row with the columns' widths (row 1); the data starts at row 2."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    for index, (heading, width) in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=heading)
        cell.font = bold
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = width
