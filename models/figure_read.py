"""Reading an LKPP export (CSV, XLSX or JSON; a file or the INAPROC API's rows) into figures per satker.

Two kinds of export are understood, told apart by their columns: e-purchasing packages (realised spend,
`total_harga`, with `penyedia_ukm` and the products bought) and RUP packages (planned spend, `pagu`, with
`status_ukm`). Column names differ between dataset versions, so every meaning has a list of names: the Pemda file's
`[figures] fields` first, then the built-in `DEFAULT_FIELDS`. Per satker the reader keeps the rows, the distinct
products (`kd_produk`) or the sum of `jml_jenis_produk` over distinct packages, the spend with small businesses
(UKM) and the whole spend. Cancelled packages, rows of another Pemda (`kd_klpd`) and rows seen twice (same package
and product) are skipped and counted. CSV and XLSX are read by `models.roster_read` (encodings, delimiters, Excel
cells, damaged files); a file with any unreadable value raises `ExportError` listing where, and nothing is used.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from models.roster_read import EMPTY, NOT_READABLE, NOTES, RosterError, RowProblem, shown_name
from models.roster_read import _records as spreadsheet_records

Kind = Literal["epurchasing", "rup"]
Counting = Literal["produk", "jumlah", ""]
"""How katalog is counted: distinct products (kd_produk), the sum of jml_jenis_produk, or not at all."""
Record = tuple[int, dict[str, object]]
"""(line, fields by lower-case column name): the header is line 1 of a spreadsheet; JSON items count from 1."""

DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "satker": ("nama_satker", "satker", "nama_satuan_kerja", "satuan_kerja_nama"),
    "kode_satker": ("satker_id", "kd_satker", "kode_satker", "kd_satker_str"),
    "klpd": ("kd_klpd", "kode_klpd"),
    "paket": ("kd_paket", "no_paket", "kode_paket"),
    "kode_rup": ("kd_rup", "kode_rup", "id_rup"),
    "produk": ("kd_produk", "id_produk", "kode_produk"),
    "jumlah_produk": ("jml_jenis_produk", "jumlah_jenis_produk"),
    "status_paket": ("status_paket", "paket_status_str"),
    "belanja": ("total_harga", "nilai_transaksi"),
    "penyedia_ukm": ("penyedia_ukm", "is_ukm"),
    "pagu": ("pagu", "pagu_rup"),
    "status_ukm": ("status_ukm",),
}
"""Column names per meaning, as LKPP's datasets name them; the Pemda file's names are tried first."""
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".json")
MAX_PROBLEMS = 50
CANCELLED = ("batal", "cancel", "ditolak", "reject", "gagal", "dihapus", "delete")
"""Words in `status_paket` of a package that did not happen: it counts for nothing."""
_YES = frozenset(
    {"y", "ya", "yes", "true", "1", "ukm", "umk", "umkk", "mikro", "kecil", "usaha kecil", "usaha mikro", "koperasi"}
)
_NO = frozenset(
    {"n", "t", "tidak", "bukan", "no", "false", "0", "non", "non ukm", "nonukm", "bukan ukm", "non umk", "non umkk"}
    | {"menengah", "besar"}
)
"""'T' is Tidak in Indonesian exports (Y/T), as 'N' is in English ones."""
_ID = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?")
_EN = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_DOT = re.compile(r"[0-9]+\.[0-9]+")
_COMMA = re.compile(r"[0-9]+,[0-9]+")
_SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+")
_PUNCT = re.compile(r"[^\w ]+")

NOT_READABLE_EXPORT = (
    "Berkas ini bukan CSV, XLSX atau JSON yang dapat dibaca. "
    "Unduh ulang ekspornya dari LKPP (atau simpan dari Excel sebagai .xlsx atau CSV UTF-8), lalu coba lagi."
)
EMPTY_EXPORT = "Berkas ekspor kosong. Baris pertama harus berisi judul kolom (nama_satker, total_harga, …)."


class ExportError(Exception):
    """The export cannot be used; `problems` say where and what (line 0: the file as a whole), `more` how many
    further problems were not listed. Nothing was written."""

    def __init__(self, problems: tuple[RowProblem, ...], more: int = 0) -> None:
        super().__init__("; ".join(str(p) for p in problems[:3]))
        self.problems = problems
        self.more = more


def _fail(reason: str) -> ExportError:
    return ExportError((RowProblem(0, "", reason),))


@dataclass
class SatkerFigures:
    """What one satker (work unit in LKPP's data) bought or planned in the export."""

    key: str
    """Its code, or its name lower-cased with spaces collapsed: the `SatkerMap.satker_key`."""
    code: str
    name: str
    rows: int = 0
    products: set[str] = field(default_factory=set)
    product_counts: dict[str, int] = field(default_factory=dict)
    """jml_jenis_produk per package (the first row of each package)."""
    ukm: Decimal = Decimal(0)
    total: Decimal = Decimal(0)

    @property
    def label(self) -> str:
        """The name as the export writes it, else the code."""
        return self.name or self.code

    @property
    def product_sum(self) -> int:
        """The sum of jml_jenis_produk over the satker's packages."""
        return sum(self.product_counts.values())


@dataclass
class Export:
    """An export read and summed per satker."""

    kind: Kind
    rows: int
    satkers: dict[str, SatkerFigures]
    counting: Counting
    cancelled: int = 0
    other_klpd: int = 0
    duplicates: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    """The column used for each meaning."""
    notes: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        """A fingerprint of the data (not of its file format or row order): the same data gives the same hash."""
        data = self.to_data()
        shape = {key: data[key] for key in ("kind", "counting", "satkers")}
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()

    def to_data(self) -> dict[str, Any]:
        """Plain JSON data (a chat keeps an upload this way until Terapkan)."""
        return {
            "kind": self.kind,
            "rows": self.rows,
            "counting": self.counting,
            "cancelled": self.cancelled,
            "other_klpd": self.other_klpd,
            "duplicates": self.duplicates,
            "columns": self.columns,
            "notes": self.notes,
            "satkers": [
                [s.key, s.code, s.name, s.rows, sorted(s.products), s.product_counts, str(s.ukm), str(s.total)]
                for s in sorted(self.satkers.values(), key=lambda s: s.key)
            ],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Export:
        """The export `to_data` wrote; ValueError (or KeyError, TypeError) when it is not one."""
        satkers: dict[str, SatkerFigures] = {}
        for key, code, name, rows, products, counts, ukm, total in data["satkers"]:
            satkers[str(key)] = SatkerFigures(
                str(key),
                str(code),
                str(name),
                int(rows),
                {str(p) for p in products},
                {str(k): int(v) for k, v in dict(counts).items()},
                Decimal(str(ukm)),
                Decimal(str(total)),
            )
        kind = str(data["kind"])
        counting = str(data["counting"])
        if kind not in ("epurchasing", "rup") or counting not in ("produk", "jumlah", ""):
            raise ValueError("not an export")
        return cls(
            kind="epurchasing" if kind == "epurchasing" else "rup",
            rows=int(data["rows"]),
            satkers=satkers,
            counting="produk" if counting == "produk" else "jumlah" if counting == "jumlah" else "",
            cancelled=int(data["cancelled"]),
            other_klpd=int(data["other_klpd"]),
            duplicates=int(data["duplicates"]),
            columns={str(k): str(v) for k, v in dict(data["columns"]).items()},
            notes=[str(n) for n in data["notes"]],
        )


# ------------------------------------------------------------------------------------------------ names


def name_key(text: str) -> str:
    """A satker name as `SatkerMap` keys it: lower-case, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def satker_key(text: str) -> str:
    """The `SatkerMap` key of what an admin typed: a code (digits) as it is, a name by `name_key`."""
    cleaned = text.strip().strip("\"'“”").strip()
    return cleaned if cleaned.isdigit() else name_key(cleaned)


def plain_name(text: str, drop: Iterable[str] = ()) -> str:
    """A name for comparing: `name_key` without punctuation, 'kab.' as 'kabupaten', and without a trailing
    'kabupaten sukamakmur' (each of `drop`: the Pemda's own name, which every satker of an export carries)."""
    words = _PUNCT.sub(" ", name_key(text).replace("kab.", "kabupaten ").replace("pemkab", "kabupaten")).split()
    text = " ".join(words)
    for tail in drop:
        tail = " ".join(_PUNCT.sub(" ", name_key(tail)).split())
        if tail and text.endswith(" " + tail):
            text = text[: -len(tail) - 1]
    return text


# ---------------------------------------------------------------------------------------------- values


def amount(value: object) -> Decimal:
    """A money cell: a number, or text the Indonesian ('1.500.000,50') or English ('1,500,000.50') way, 'Rp' allowed;
    empty is 0. ValueError (in Indonesian) for anything else, a negative amount, or one in scientific notation."""
    if value is None or isinstance(value, bool):
        if value is None:
            return Decimal(0)
        raise ValueError("bukan angka")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("bukan angka")
        number = Decimal(repr(value))
    else:
        number = _amount_text(str(value))
    if number < 0:
        raise ValueError(f"“{_shown(value)}” negatif")
    return number


def _amount_text(raw: str) -> Decimal:
    text = unicodedata.normalize("NFKC", raw).strip()
    cleaned = re.sub(r"(?i)^(rp\.?|idr)", "", text).replace(" ", "").replace("\u00a0", "")
    negative = cleaned.startswith("-")
    body = cleaned.lstrip("-")
    if not body:
        return Decimal(0)
    if _SCIENTIFIC.fullmatch(body):
        raise ValueError(
            f"“{_shown(raw)}” tertulis sebagai angka ilmiah (angka di belakangnya hilang); "
            "format kolomnya sebagai Angka tanpa desimal di Excel, lalu simpan lagi"
        )
    if body.isdigit():
        number = Decimal(body)
    elif _ID.fullmatch(body):
        number = Decimal(body.replace(".", "").replace(",", "."))
    elif _EN.fullmatch(body):
        number = Decimal(body.replace(",", ""))
    elif _DOT.fullmatch(body):
        number = Decimal(body)
    elif _COMMA.fullmatch(body):
        number = Decimal(body.replace(",", "."))
    else:
        raise ValueError(f"“{_shown(raw)}” bukan angka")
    return -number if negative else number


def is_ukm(value: object) -> bool | None:
    """Whether a flag cell says small business ('Y', 'UKM', true, 1) or not ('N', 'Non UKM', false, 0); None when
    empty. ValueError for any other text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return value == 1
        raise ValueError(f"“{_shown(value)}” bukan ya/tidak")
    text = " ".join(unicodedata.normalize("NFKC", str(value)).lower().replace("_", " ").replace("-", " ").split())
    if not text:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(f"“{_shown(value)}” tidak dikenali sebagai UKM atau bukan (mis. Y/T, Y/N, UKM/Non UKM)")


def _text(value: object) -> str:
    """A code or name cell as text; a whole number Excel stored as 12345.0 as '12345'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return " ".join(str(value).split())


def _shown(value: object) -> str:
    return shown_name(str(value), 40)


# ------------------------------------------------------------------------------------------------ files


def read_records(name: str, content: bytes) -> Iterator[Record]:
    """The records of an export file: a JSON list (or a `{success, data, meta}` envelope), else CSV or XLSX."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        shown = shown_name(suffix, 20) if suffix else "(tanpa akhiran)"
        raise _fail(f"Jenis berkas {shown} tidak didukung; pakai .xlsx, .csv atau .json.")
    if content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
        return iter(json_records(content))
    return _spreadsheet(content)


def json_records(content: bytes | list[Any] | dict[str, Any]) -> list[Record]:
    """The records of a JSON export: a list of objects, or an envelope whose `data` is that list."""
    data: Any = content
    if isinstance(content, bytes):
        try:
            data = json.loads(content.decode("utf-8-sig"))
        except (ValueError, RecursionError):
            raise _fail("Berkas JSON ini rusak atau bukan JSON. Unduh ulang ekspornya, lalu coba lagi.") from None
    if isinstance(data, dict):
        data = data.get("data")
    if not isinstance(data, list):
        raise _fail('Berkas JSON harus berisi daftar paket (atau {"data": [...]}), tetapi isinya lain.')
    records: list[Record] = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise ExportError((RowProblem(index, "", "bukan objek JSON berisi kolom paket"),))
        records.append((index, {str(k).strip().lower(): v for k, v in item.items()}))
    return records


def _spreadsheet(content: bytes) -> Iterator[Record]:
    try:
        records, notes = spreadsheet_records(io.BytesIO(content))
        _header_line, raw_header = next(records)
    except StopIteration:
        raise _fail(EMPTY_EXPORT) from None
    except RosterError as exc:
        raise _from_roster(exc) from None
    header = [_text(cell).lower() for cell in raw_header]
    try:
        for line, values in records:
            row = {column: value for column, value in zip(header, values, strict=False) if column}
            if any(_text(v) for v in row.values()):
                if notes:  # what the preview should say of the file as a whole rides on its first row
                    row[NOTES], notes = "\n".join(notes), []
                yield line, row
    except RosterError as exc:
        raise _from_roster(exc) from None
    finally:
        records.close()


def _from_roster(error: RosterError) -> ExportError:
    """The spreadsheet reader's problems, worded for an export instead of a roster."""
    words = {NOT_READABLE: NOT_READABLE_EXPORT, EMPTY: EMPTY_EXPORT}
    return ExportError(tuple(RowProblem(p.line, p.column, words.get(p.reason, p.reason)) for p in error.problems))


# ------------------------------------------------------------------------------------------------- rows


def field_names(configured: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """Column names per meaning: the Pemda file's first, then the built-in ones; an unknown meaning is an error."""
    unknown = sorted(set(configured) - set(DEFAULT_FIELDS))
    if unknown:
        raise _fail(
            f"Berkas Pemda [figures] fields: arti kolom {', '.join(unknown)} tidak dikenal; "
            f"yang dikenal: {', '.join(DEFAULT_FIELDS)}."
        )
    return {
        meaning: tuple(dict.fromkeys([*(n.strip().lower() for n in configured.get(meaning, [])), *names]))
        for meaning, names in DEFAULT_FIELDS.items()
    }


def _columns(present: Iterable[str], names: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    have = set(present)
    return {meaning: next(n for n in options if n in have) for meaning, options in names.items() if have & set(options)}


def read_export(
    records: Iterable[Record], configured: Mapping[str, list[str]] | None = None, kode_klpd: str = ""
) -> Export:
    """Sum an export's records per satker; `ExportError` lists every unreadable value (the first 50)."""
    names = field_names(configured or {})
    rows = list(records)
    file_notes = [note for _line, row in rows if NOTES in row for note in str(row.pop(NOTES)).splitlines()]
    if not rows:
        raise _fail("Ekspor ini tidak berisi satu paket pun. Periksa tahun dan Pemda yang dipilih saat mengekspor.")
    present: dict[str, None] = {}
    for _line, row in rows:
        present.update(dict.fromkeys(row))
    columns = _columns(present, names)
    kind: Kind
    if "belanja" in columns:
        kind = "epurchasing"
    elif "pagu" in columns:
        kind = "rup"
    else:
        seen = shown_name(", ".join(list(present)[:12]) or "(kosong)", 160)
        raise _fail(
            f"Kolom nilai tidak ditemukan: butuh {' / '.join(names['belanja'][:1])} (paket e-purchasing) atau "
            f"{' / '.join(names['pagu'][:1])} (paket RUP). Terbaca: {seen}. Bila namanya lain, tambahkan di "
            "berkas Pemda, bagian [figures] fields."
        )
    if "satker" not in columns and "kode_satker" not in columns:
        raise _fail(f"Kolom satuan kerja tidak ditemukan: butuh {names['satker'][0]} atau {names['kode_satker'][0]}.")
    counting: Counting = "" if kind == "rup" else "produk" if "produk" in columns else "jumlah"
    if counting == "jumlah" and "jumlah_produk" not in columns:
        counting = ""
    export = Export(kind, 0, {}, counting, columns=columns)
    export.notes += file_notes
    if counting == "" and kind == "epurchasing":
        export.notes.append(
            f"Kolom {names['produk'][0]} dan {names['jumlah_produk'][0]} tidak ada: angka katalog tidak dihitung."
        )
    _sum_rows(export, rows, kode_klpd.strip().lower())
    return export


def _sum_rows(export: Export, rows: list[Record], klpd: str) -> None:
    columns = export.columns
    money = "belanja" if export.kind == "epurchasing" else "pagu"
    flag = "penyedia_ukm" if export.kind == "epurchasing" else "status_ukm"
    seen: set[tuple[str, ...]] = set()
    problems: list[RowProblem] = []
    unflagged = 0

    def cell(row: dict[str, object], meaning: str) -> object:
        column = columns.get(meaning)
        return row.get(column) if column is not None else None

    for line, row in rows:
        if klpd and "klpd" in columns and _text(cell(row, "klpd")).lower() not in ("", klpd):
            export.other_klpd += 1
            continue
        if any(word in _text(cell(row, "status_paket")).lower() for word in CANCELLED):
            export.cancelled += 1
            continue
        code, name = _text(cell(row, "kode_satker")), _text(cell(row, "satker"))
        if not code and not name:
            problems.append(RowProblem(line, columns.get("satker", columns.get("kode_satker", "")), "satker kosong"))
            continue
        package = _text(cell(row, "paket" if export.kind == "epurchasing" else "kode_rup"))
        product = _text(cell(row, "produk"))
        if package:
            identity = (code or name_key(name), package, product)
            if identity in seen:
                export.duplicates += 1
                continue
            seen.add(identity)
        try:
            spend = amount(cell(row, money))
        except ValueError as exc:
            problems.append(RowProblem(line, columns[money], str(exc)))
            continue
        try:
            ukm = is_ukm(cell(row, flag))
        except ValueError as exc:
            problems.append(RowProblem(line, columns.get(flag, flag), str(exc)))
            continue
        products = 0
        if export.counting == "jumlah":
            try:
                products_value = amount(cell(row, "jumlah_produk"))
                if products_value != products_value.to_integral_value():
                    raise ValueError(f"“{_shown(cell(row, 'jumlah_produk'))}” bukan bilangan bulat")
                products = int(products_value)
            except (ValueError, InvalidOperation) as exc:
                problems.append(RowProblem(line, columns["jumlah_produk"], str(exc)))
                continue
        unflagged += ukm is None
        key = code or name_key(name)
        satker = export.satkers.get(key)
        if satker is None:
            satker = export.satkers[key] = SatkerFigures(key, code, name)
        elif not satker.name and name:
            satker.name = name
        satker.rows += 1
        satker.total += spend
        if ukm:
            satker.ukm += spend
        if export.counting == "produk" and product:
            satker.products.add(product)
        elif export.counting == "jumlah":
            satker.product_counts.setdefault(package or f"baris {line}", products)
    if problems:
        raise ExportError(tuple(problems[:MAX_PROBLEMS]), max(len(problems) - MAX_PROBLEMS, 0))
    export.rows = len(rows)
    if unflagged:
        column = columns.get(flag, flag)
        export.notes.append(f"{unflagged} baris tanpa isi {column} dihitung bukan UKM.")
