"""Reading a roster file (CSV or XLSX) into rows, one at a time, with a plain answer for every file problem.

`stream_rows(path)` yields the rows of a file on disk without holding the file in memory (a CSV through the `csv`
module, an XLSX through openpyxl's read-only mode); `read_rows`/`read_bytes` return them as a list (the chat keeps
an upload's rows). What the file is comes from its content: an XLSX is a zip, an encrypted workbook or an old .xls
is an OLE2 file, anything else must be text. A CSV is UTF-8 (with or without BOM), UTF-16 with its BOM, or else
Windows-1252 (what Excel on Windows writes), which the preview then mentions; its delimiter is the one of `,` `;`
tab that makes the header a row of known column names. A file that cannot be read raises `RosterError` with one
message saying what is wrong and what to do; spreadsheet cells are read as they were typed (`_cell`).
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import math
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

__all__ = [
    "COLUMNS",
    "EXCEL_DIGITS",
    "MAX_LINE",
    "NOTES",
    "NUMBER_CELLS",
    "REQUIRED",
    "Progress",
    "RosterError",
    "Row",
    "RowProblem",
    "Rows",
    "read_bytes",
    "read_rows",
    "shown_name",
    "stream_rows",
]

COLUMNS = (
    "unit_code",
    "unit_name",
    "unit_kind",
    "parent_code",
    "aliases",
    "contact_name",
    "role",
    "phone",
    "telegram_id",
    "nip",
    "jabatan",
)
REQUIRED = ("unit_code", "unit_name", "unit_kind")
NUMBER_CELLS = "_angka"
"""Row key listing the phone/nip/telegram_id cells a spreadsheet held as numbers (comma-separated column names)."""
NOTES = "_catatan"
"""Row key (on the first row) of what the preview should say about the file as a whole (its encoding)."""
EXCEL_DIGITS = 15
"""Significant digits a spreadsheet number keeps (Excel turns 198001012005011234 into 198001012005011000)."""
MAX_LINE = 10_000
"""Characters one row may have in all (a stray quote otherwise swallows the rest of the file into one cell)."""
PROGRESS_EVERY = 10_000
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
_DIGIT_COLUMNS = ("phone", "telegram_id", "nip")
_DELIMITERS = ((",", "koma (,)"), (";", "titik koma (;)"), ("\t", "tab"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_CHUNK = 1 << 20
_READ = MAX_LINE + 3
"""Characters asked of one readline: a line at the limit with its CR LF, and one more to see it is longer."""
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")

Row = tuple[int, dict[str, str]]
"""(line number, row): the header is line 1."""
Rows = list[Row]
Records = Generator[tuple[int, list[object]], None, None]
"""(line, cells) of a file, the header first."""
Progress = Callable[[int], None]
"""Told the number of rows read so far, every `PROGRESS_EVERY` rows."""

NOT_READABLE = (
    "Berkas ini bukan berkas CSV atau XLSX yang dapat dibaca. "
    "Simpan roster dari Excel sebagai .xlsx atau CSV UTF-8, lalu coba lagi."
)
EMPTY = "Berkas roster kosong. Baris pertama harus berisi judul kolom (unit_code, unit_name, unit_kind, …)."
BROKEN_XLSX = (
    "Berkas XLSX rusak atau tidak lengkap (mungkin terpotong saat disalin atau dikirim). "
    "Buka di Excel, simpan ulang sebagai .xlsx, lalu coba lagi."
)
ENCRYPTED_XLSX = (
    "Berkas XLSX ini dilindungi kata sandi, jadi tidak dapat dibaca. "
    "Simpan salinannya tanpa kata sandi, lalu coba lagi."
)
OLD_XLS = "Berkas ini berformat Excel lama (.xls). Simpan sebagai .xlsx atau CSV UTF-8, lalu coba lagi."
UNKNOWN_ENCODING = (
    "Huruf di berkas ini tidak terbaca sebagai UTF-8 maupun Windows-1252. "
    "Di Excel pilih Simpan sebagai → “CSV UTF-8 (dipisah koma)”, lalu coba lagi."
)
TOO_LONG = (
    f"terlalu panjang (lebih dari {MAX_LINE:,} karakter). ".replace(",", ".")
    + 'Periksa tanda kutip (") yang tidak ditutup, atau pendekkan isinya.'
)
CP1252_NOTE = (
    "Berkas dibaca sebagai Windows-1252 (bukan UTF-8): periksa huruf seperti é atau ä di pratinjau. "
    "Lebih aman: di Excel pilih Simpan sebagai → “CSV UTF-8 (dipisah koma)”."
)


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong in the file, where a person can find it (line 0: the file as a whole)."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        if self.line <= 0:
            return self.reason
        if self.column in ("", "-"):
            return f"baris {self.line}: {self.reason}"
        return f"baris {self.line}, kolom {self.column}: {self.reason}"


class RosterError(Exception):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} masalah di berkas roster")
        self.problems = problems


def _fail(reason: str, line: int = 0, column: str = "") -> RosterError:
    return RosterError([RowProblem(line, column, reason)])


# --------------------------------------------------------------------------------------------- entry points


def stream_rows(path: Path, progress: Progress | None = None) -> Iterator[Row]:
    """The rows of a CSV or XLSX file on disk, read as they are needed; `progress` hears every 10,000 rows."""
    try:
        file = path.open("rb")
    except (OSError, ValueError) as exc:
        raise _open_problem(exc) from None
    with file:
        _suffix(path.name)
        records, notes = _records(file)
        try:
            yield from _rows(records, notes, progress)
        finally:
            records.close()  # before the file: a CSV's text reader lets go of it


def read_rows(path: Path) -> Rows:
    """The rows of a CSV or XLSX file on disk, all at once."""
    return list(stream_rows(path))


def read_bytes(name: str, content: bytes) -> Rows:
    """The rows of a CSV or XLSX file's content; `name` (its file name) must end in .csv, .txt, .xlsx or .xlsm."""
    _suffix(name)
    records, notes = _records(io.BytesIO(content))
    try:
        return list(_rows(records, notes, None))
    finally:
        records.close()


def shown_name(path: Path | str, limit: int = 80) -> str:
    """A file name safe to print: bytes that are not UTF-8 and control characters as �, a long name shortened."""
    text = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = _CONTROL.sub("\ufffd", text.replace("\n", "\ufffd").replace("\r", "\ufffd").replace("\t", "\ufffd"))
    if len(text) > limit:
        text = f"{text[: limit // 2]}…{text[-(limit // 2 - 1) :]}"
    return text


def _suffix(name: str) -> None:
    """Refuse a name that is not a spreadsheet's (.csv, .txt, .xlsx, .xlsm)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        shown = shown_name(suffix, 20) if suffix else "(tanpa akhiran)"
        raise _fail(f"Jenis berkas {shown} tidak didukung; pakai .xlsx atau .csv.")


def _open_problem(exc: OSError | ValueError) -> RosterError:
    if isinstance(exc, ValueError):  # a NUL character in the name
        return _fail("Nama berkas berisi karakter yang tidak sah. Ganti namanya (mis. roster.csv), lalu coba lagi.")
    if isinstance(exc, IsADirectoryError):
        return _fail("Ini sebuah folder, bukan berkas. Sebutkan berkas .csv atau .xlsx di dalamnya.")
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return _fail("Berkas tidak ditemukan. Periksa nama dan foldernya.")
    if exc.errno == errno.ENAMETOOLONG:
        return _fail(
            "Nama berkas (atau foldernya) terlalu panjang untuk dibuka. "
            "Ganti dengan nama yang lebih pendek (mis. roster.csv), lalu coba lagi."
        )
    if isinstance(exc, PermissionError):
        return _fail("Berkas tidak boleh dibaca (izin ditolak). Periksa hak akses berkasnya.")
    code = errno.errorcode.get(exc.errno or 0, "tidak dikenal")
    return _fail(f"Berkas tidak dapat dibuka (galat sistem {code}). Periksa berkasnya, lalu coba lagi.")


# ------------------------------------------------------------------------------------------- rows of a file


def _rows(records: Records, notes: list[str], progress: Progress | None) -> Iterator[Row]:
    """Rows keyed by the header's known columns; blank rows are skipped, `notes` ride on the first row."""
    try:
        header_line, raw_header = next(records)
    except StopIteration:
        raise _fail(EMPTY) from None
    header = [_text(cell).lower() for cell in raw_header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        shown = shown_name(", ".join(h for h in header if h) or "(kosong)", 120)
        raise _fail(
            f"Baris judul (baris {header_line}) tidak memuat kolom wajib {', '.join(missing)}; terbaca: “{shown}”. "
            f"Judul kolom yang dikenal: {', '.join(COLUMNS)}."
        )
    unknown = [h for h in dict.fromkeys(header) if h and h not in COLUMNS]
    if unknown:
        notes = [*notes, f"Kolom {shown_name(', '.join(unknown), 120)} tidak dikenal, jadi isinya diabaikan."]
    read = 0
    for line, values in records:
        read += 1
        if progress is not None and read % PROGRESS_EVERY == 0:
            progress(read)
        row: dict[str, str] = {}
        numbers: list[str] = []
        for column, value in zip(header, values, strict=False):
            if column not in COLUMNS or column in row:
                continue
            row[column] = _cell(column, value)
            if column in _DIGIT_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
                numbers.append(column)
        if not any(row.values()):
            continue
        if numbers:
            row[NUMBER_CELLS] = ",".join(numbers)
        if notes:
            row[NOTES], notes = "\n".join(notes), []
        yield line, row


def _records(file: IO[bytes]) -> tuple[Records, list[str]]:
    """(line, cells) of the file, the header first, and notes on the file. The content decides, not the name:
    a zip is an XLSX, an OLE2 file is refused (an encrypted workbook or an old .xls), anything else is text."""
    start = file.read(len(_OLE2))
    file.seek(0)
    if start.startswith(_ZIP):
        return _xlsx_records(file)
    if start == _OLE2:
        raise _fail(ENCRYPTED_XLSX if _contains(file, _ENCRYPTED) else OLD_XLS)
    encoding, note = _encoding(file)
    return _csv_records(file, encoding), [note] if note else []


def _contains(file: IO[bytes], *needles: bytes) -> bool:
    """Whether `file`, read from where it stands a chunk at a time, holds any of `needles` (also across chunks)."""
    keep = max(len(needle) for needle in needles)
    tail = b""
    while chunk := file.read(_CHUNK):
        window = tail + chunk
        if any(needle in window for needle in needles):
            return True
        tail = window[-keep:]
    return False


# -------------------------------------------------------------------------------------------------------- xlsx


def _xlsx_records(file: IO[bytes]) -> tuple[Records, list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
        sheet = workbook.worksheets[0] if workbook.worksheets else None
    except Exception:  # a damaged or disguised file: openpyxl and zipfile raise many kinds
        raise _fail(BROKEN_XLSX) from None
    notes = []
    if sheet is not None and (cells := uncomputed_cells(workbook, sheet)):
        shown = ", ".join(cells[:UNCOMPUTED_SHOWN]) + (" dan lainnya" if len(cells) > UNCOMPUTED_SHOWN else "")
        notes.append(UNCOMPUTED.format(count=f"{len(cells):,}".replace(",", "."), cells=shown))
    return _xlsx_rows(workbook, sheet), notes


UNCOMPUTED = (
    "⚠️ {count} sel berisi rumus yang nilainya belum pernah dihitung ({cells}), jadi terbaca kosong. Berkas ini "
    "dibuat oleh program lain, bukan disimpan dari Excel. Bila sel itu penting, buka berkasnya di Excel atau "
    "LibreOffice, simpan, lalu kirim lagi."
)
UNCOMPUTED_SHOWN = 5
"""Cells named in the note at most (the count says how many there are)."""
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def uncomputed_cells(workbook: Any, sheet: Any) -> list[str]:
    """The cells of `sheet` (openpyxl read-only) that hold a formula saved without its value, such as a program
    writes them (Excel and LibreOffice save each formula's value with it): openpyxl reads them as empty.

    The sheet's XML is scanned for a formula first; only a sheet that has one is parsed cell by cell. A formula
    whose text result is empty (`t="str"` with an empty value) was computed, and is not counted."""
    from openpyxl.xml.functions import iterparse  # the parser openpyxl reads the sheet with

    archive, path = getattr(workbook, "_archive", None), getattr(sheet, "_worksheet_path", None)
    if archive is None or path is None:
        return []
    try:
        with archive.open(path) as xml:
            if not _contains(xml, b"<f>", b"<f "):
                return []
        cells: list[str] = []
        with archive.open(path) as xml:
            for _event, element in iterparse(xml):
                if element.tag != f"{_SHEET_NS}c":
                    if element.tag == f"{_SHEET_NS}row":
                        element.clear()  # the cells of a row read: let them go
                    continue
                if element.find(f"{_SHEET_NS}f") is not None:
                    value = element.find(f"{_SHEET_NS}v")
                    empty = value is None or not value.text
                    if empty and (value is None or element.get("t") not in ("str", "inlineStr")):
                        cells.append(element.get("r") or "?")
        return cells
    except Exception:  # a sheet too damaged to scan: its rows' own reading says so
        return []


def _xlsx_rows(workbook: Any, sheet: Any) -> Records:
    try:
        if sheet is None:
            raise _fail(EMPTY)
        sheet.reset_dimensions()  # trust the cells, not the size another program wrote down
        cells = sheet.iter_rows(values_only=True)
        width = 0
        line = 0
        while True:
            try:
                values = next(cells)
            except StopIteration:
                return
            except Exception:  # a sheet cut short or damaged inside the zip
                raise _fail(BROKEN_XLSX) from None
            line += 1
            row = list(values[:width] if width else values)
            if sum(len(_text(v)) for v in row) > MAX_LINE:
                raise _fail(TOO_LONG, line)
            if not width:
                if not any(_text(v) for v in row):
                    continue  # blank rows above the header
                width = len(row)
            yield line, row
    finally:
        workbook.close()


# --------------------------------------------------------------------------------------------------------- csv


def _encoding(file: IO[bytes]) -> tuple[str, str]:
    """The encoding the text file is in, and a note for the preview when it is neither UTF-8 nor UTF-16."""
    head = file.read(4)
    file.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", ""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", ""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = is_cp1252 = True
    size = controls = 0
    while chunk := file.read(_CHUNK):
        size += len(chunk)
        controls += len(chunk) - len(chunk.translate(None, _CONTROL_BYTES))
        if b"\x00" in chunk:
            raise _fail(NOT_READABLE)
        if is_utf8:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                is_utf8 = False
        if is_cp1252:
            try:
                chunk.decode("cp1252")
            except UnicodeDecodeError:
                is_cp1252 = False
    file.seek(0)
    try:
        utf8.decode(b"", final=True)
    except UnicodeDecodeError:
        is_utf8 = False
    if controls * 100 > size:
        raise _fail(NOT_READABLE)
    if is_utf8:
        return "utf-8-sig", ""
    if is_cp1252:
        return "cp1252", CP1252_NOTE
    raise _fail(UNKNOWN_ENCODING)


class _Lines:
    """The text's lines for `csv.reader`; a row being read may take at most `MAX_LINE` characters."""

    def __init__(self, text: IO[str], first: str) -> None:
        self.text = text
        self.used = 0
        self.first: str | None = first

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.first is not None:
            line, self.first = self.first, None
        else:
            line = self.text.readline(_READ)
        if not line:
            raise StopIteration
        self.used += len(line.rstrip("\r\n"))
        if self.used > MAX_LINE:
            raise _LineTooLong
        return line


class _LineTooLong(Exception):
    """A row longer than `MAX_LINE`."""


def _csv_records(file: IO[bytes], encoding: str) -> Records:
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        yield from _csv_text(text)
    except UnicodeError:  # UTF-16 cut short or with a broken pair; UTF-8 and Windows-1252 were checked whole
        raise _fail(NOT_READABLE) from None
    finally:
        text.detach()  # the caller closes the file


def _csv_text(text: IO[str]) -> Records:
    line = 0
    while True:  # blank lines above the header (Excel writes an empty row as ",,,,")
        first = text.readline(_READ)
        line += 1
        if not first:
            raise _fail(EMPTY)
        if len(first.rstrip("\r\n")) > MAX_LINE:
            raise _fail(TOO_LONG, line)
        if first.strip(" \t\r\n,;"):
            break
    lines = _Lines(text, first)
    reader = csv.reader(lines, delimiter=_delimiter(first), quotechar='"', doublequote=True, strict=True)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except _LineTooLong:
            raise _fail(TOO_LONG, line) from None
        except csv.Error:
            raise _fail('tidak dapat dibaca sebagai CSV; periksa tanda kutip (") di baris ini.', line) from None
        lines.used = 0
        yield line, list(values)
        line += 1


def _delimiter(header: str) -> str:
    """The delimiter that makes `header` the most known column names; refused when none splits it."""
    found: list[tuple[int, int, str]] = []
    for delimiter, _ in _DELIMITERS:
        cells = next(csv.reader([header], delimiter=delimiter), [])
        found.append((sum(cell.strip().lower() in COLUMNS for cell in cells), len(cells), delimiter))
    known, width, delimiter = max(found, key=lambda f: (f[0], f[1]))
    if width <= 1 and known == 0:
        tried = ", ".join(label for _, label in _DELIMITERS[:-1]) + f" dan {_DELIMITERS[-1][1]}"
        raise _fail(
            f"Pemisah kolom tidak ditemukan: sudah dicoba {tried}, tetapi baris judul tetap terbaca sebagai satu "
            f"kolom: “{shown_name(header.strip(), 60)}”. Pisahkan kolom dengan koma (di Excel: Simpan sebagai → "
            "“CSV UTF-8 (dipisah koma)”), lalu coba lagi."
        )
    return delimiter


# ------------------------------------------------------------------------------------------------------- cells


def _text(value: object) -> str:
    if value is None:
        return ""
    return _CONTROL.sub(" ", str(value)).strip()


def _cell(column: str, value: object) -> str:
    """A cell as its text; numbers in phone/NIP/Telegram columns as their digits (Excel drops a phone's 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, datetime | date | time):
            return value.isoformat()
        return _text(value)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return repr(value)
        shortest = Decimal(repr(value))
        if len(shortest.normalize().as_tuple().digits) > EXCEL_DIGITS:
            return repr(value)  # more digits than a spreadsheet number holds: some of them are wrong
        digits = format(shortest, "f")  # 1.98001012005011e+17 -> '198001012005011000', as Excel shows it
    else:
        digits = str(value)
    if column == "phone" and digits.startswith("8"):
        digits = "0" + digits
    return digits
