"""Content model of a formal warning letter (Surat Teguran) and its text helpers.

The dataclasses hold plain text only; :mod:`jobs.letters.pdf` and :mod:`jobs.letters.docx` turn them into PDF and DOCX.
Layout follows the regional-government letter format (tata naskah dinas, Permendagri 1/2023):
letterhead, number, place and date, sifat, lampiran, perihal, addressee, body, signature, tembusan.
"""

from __future__ import annotations

import datetime
import string
from dataclasses import dataclass

from babel.dates import format_date

__all__ = [
    "DEFAULT_CLOSING",
    "LetterContent",
    "LetterSection",
    "Letterhead",
    "Signatory",
    "format_date_id",
    "letter_number",
]

DEFAULT_CLOSING = "Demikian untuk menjadi perhatian dan dilaksanakan."


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Kop surat: the Pemda and the issuing office."""

    pemda_name: str
    office_name: str
    address: str
    contact_line: str = ""
    logo_path: str | None = None


@dataclass(frozen=True, slots=True)
class Signatory:
    """The official who signs the letter; ``title`` may span lines ("a.n. Bupati X\\nSekretaris Daerah,")."""

    title: str
    name: str
    nip: str
    rank: str = ""


@dataclass(frozen=True, slots=True)
class LetterSection:
    """One program the unit is behind on: the shortfall line, and its open sub-items (MCP indicators, deadline)."""

    heading: str
    points: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LetterContent:
    """Everything printed on one warning letter, already worded in Indonesian."""

    letterhead: Letterhead
    number: str
    place: str
    date: datetime.date
    sifat: str
    lampiran: str
    perihal: str
    addressee_title: str
    addressee_place: str
    opening: str
    missing_items: tuple[LetterSection, ...]
    """Numbered 1., 2., ... in the letter; each section's points are lettered a., b., c. under it."""
    required_action: str
    new_deadline: datetime.date
    consequence: str
    signatory: Signatory
    tembusan: tuple[str, ...]
    stage_label: str
    closing: str = DEFAULT_CLOSING
    dasar: tuple[str, ...] = ()
    """The legal basis, printed as a numbered "Dasar:" block before the opening paragraph."""
    draft: bool = False
    """A draft not yet approved or numbered: the PDF carries a "RANCANGAN" watermark, the DOCX a header line."""

    def action_text(self) -> str:
        """Return the required action followed by the new deadline written in Indonesian."""
        action = self.required_action.strip().rstrip(".").rstrip()
        return f"{action} paling lambat tanggal {format_date_id(self.new_deadline)}."


def format_date_id(d: datetime.date) -> str:
    """Format a date the Indonesian way, e.g. ``23 November 2026``."""
    return str(format_date(d, format="d MMMM y", locale="id"))


def letter_number(fmt: str, **fields: object) -> str:
    """Fill a pattern like ``{klasifikasi}/{nomor}/{kode_unit}/{tahun}``; ValueError names a missing field."""
    needed: list[str] = []
    for _literal, field_name, _spec, _conversion in string.Formatter().parse(fmt):
        if field_name is None:
            continue
        if field_name == "" or field_name.isdigit():
            raise ValueError(f"letter number format {fmt!r} must use named fields, not positional ones")
        # "{a.b}" or "{a[0]}" look up attribute/item of field "a"
        base = field_name.split(".", 1)[0].split("[", 1)[0]
        needed.append(base)
    missing = [name for name in dict.fromkeys(needed) if _is_blank(fields.get(name))]
    if missing:
        raise ValueError(f"letter number field(s) missing: {', '.join(missing)} (format {fmt!r})")
    try:
        return fmt.format(**fields)
    except (KeyError, IndexError, AttributeError) as exc:  # e.g. a nested "{nomor:{width}}" spec
        raise ValueError(f"letter number format {fmt!r} cannot be filled: missing {exc}") from exc


def _is_blank(value: object) -> bool:
    """Tell whether a numbering field is absent in practice (None or an empty string)."""
    return value is None or (isinstance(value, str) and not value.strip())
