"""Page geometry, fonts and channel-neutral letter text shared by the PDF and DOCX renderers."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image as PILImage  # Pillow comes with reportlab

from jobs.letters.content import LetterContent, format_date_id

__all__ = [
    "BODY_INDENT_CM",
    "BODY_PT",
    "COLON_CM",
    "DASAR_HEADING",
    "DOCX_FONT",
    "DRAFT_HEADER",
    "DRAFT_WATERMARK",
    "FIRST_LINE_CM",
    "FONT",
    "FONT_BOLD",
    "FONT_DIR",
    "FONT_FILES",
    "ITEM_NUM_CM",
    "KOP_OFFICE_PT",
    "KOP_PEMDA_PT",
    "KOP_SMALL_PT",
    "LABEL_CM",
    "LOGO_COL_CM",
    "LOGO_H_CM",
    "MARGIN_BOTTOM_CM",
    "MARGIN_LEFT_CM",
    "MARGIN_RIGHT_CM",
    "MARGIN_TOP_CM",
    "PAGE_H_CM",
    "PAGE_W_CM",
    "RIGHT_COL_CM",
    "SIGN_SPACE_CM",
    "TEMBUSAN_PT",
    "TEXT_W_CM",
    "ListEntry",
    "body_after_list",
    "body_before_list",
    "dasar_entries",
    "header_rows",
    "lines",
    "missing_entries",
    "place_date",
    "point_label",
    "read_logo",
    "title",
]

# Page geometry shared by both renderers (A4, margins in cm).
PAGE_W_CM = 21.0
PAGE_H_CM = 29.7
MARGIN_LEFT_CM = 2.5
MARGIN_RIGHT_CM = 2.0
MARGIN_TOP_CM = 1.5
MARGIN_BOTTOM_CM = 1.5
TEXT_W_CM = PAGE_W_CM - MARGIN_LEFT_CM - MARGIN_RIGHT_CM
# "Nomor" label + ":" column; the body is indented to line up with the values after the colon.
LABEL_CM = 2.1
COLON_CM = 0.4
BODY_INDENT_CM = LABEL_CM + COLON_CM
FIRST_LINE_CM = 1.0
ITEM_NUM_CM = 0.7
RIGHT_COL_CM = 7.0  # place/date + addressee column, and the signature column
SIGN_SPACE_CM = 2.0  # room for the wet or electronic (SRIKANDI) signature
LOGO_H_CM = 2.3
LOGO_COL_CM = 2.8

# The PDF embeds Liberation Sans (SIL OFL 1.1, see fonts/LICENSE): metrically compatible with Arial, the DOCX font,
# so both files break lines alike; no base-14 font is used, so every PDF viewer shows the same letter.
FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "LiberationSans"
FONT_BOLD = "LiberationSans-Bold"
FONT_FILES = {FONT: "LiberationSans-Regular.ttf", FONT_BOLD: "LiberationSans-Bold.ttf"}
DOCX_FONT = "Arial"
BODY_PT = 12
KOP_PEMDA_PT = 14
KOP_OFFICE_PT = 16
KOP_SMALL_PT = 10
TEMBUSAN_PT = 11

DASAR_HEADING = "Dasar:"
DRAFT_WATERMARK = "RANCANGAN"
"""Printed diagonally across every page of a draft PDF."""
DRAFT_HEADER = "RANCANGAN – belum bernomor"
"""The header line of a draft DOCX."""


# --------------------------------------------------------------------------- shared text


# C0 control characters other than tab and newline are not valid XML (python-docx rejects them)
_CONTROL_CHARS = dict.fromkeys(c for c in range(32) if c not in (9, 10))


def lines(text: str) -> list[str]:
    """Split user text on newlines (CRLF too), dropping control characters and trailing blank lines."""
    clean = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL_CHARS)
    return clean.rstrip("\n").split("\n")


def place_date(content: LetterContent) -> str:
    """Return the "Place, 23 November 2026" line."""
    return f"{content.place}, {format_date_id(content.date)}"


def header_rows(content: LetterContent) -> list[tuple[str, str]]:
    """Return the Nomor/Sifat/Lampiran/Perihal label-value pairs."""
    return [
        ("Nomor", content.number),
        ("Sifat", content.sifat),
        ("Lampiran", content.lampiran),
        ("Perihal", content.perihal),
    ]


def body_before_list(content: LetterContent) -> list[str]:
    """Return the body paragraphs printed before the numbered list of missing items."""
    return [content.opening] if content.opening.strip() else []


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One line of a numbered list: `level` 0 is "1.", "2.", ...; level 1 is "a.", "b.", ... under it."""

    level: int
    label: str
    text: str


def point_label(index: int) -> str:
    """Return the letter label of the `index`-th point (0-based): "a.", ..., "z.", "aa.", "ab.", ..."""
    letters = ""
    n = index + 1
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return f"{letters}."


def dasar_entries(content: LetterContent) -> list[ListEntry]:
    """Return the numbered legal-basis lines (blank ones dropped); empty when the letter has no "Dasar" block."""
    texts = [text for text in content.dasar if text.strip()]
    return [ListEntry(0, f"{i}.", text) for i, text in enumerate(texts, start=1)]


def missing_entries(content: LetterContent) -> list[ListEntry]:
    """Return the programs the unit is behind on, numbered 1., 2., ..., each followed by its points a., b., ..."""
    entries: list[ListEntry] = []
    for i, section in enumerate(content.missing_items, start=1):
        entries.append(ListEntry(0, f"{i}.", section.heading))
        points = [point for point in section.points if point.strip()]
        entries += [ListEntry(1, point_label(j), point) for j, point in enumerate(points)]
    return entries


def read_logo(path: str | None) -> bytes | None:
    """Return the bytes of the letterhead logo, or None when there is none or it is not a whole, readable image.

    A broken logo must not stop a letter: the renderers then print the kop without it.
    """
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
        with PILImage.open(io.BytesIO(data)) as image:
            image.load()  # decode every pixel: a truncated file fails here, not halfway through rendering
            width, height = image.size
    except Exception:  # Pillow's decoders raise many kinds: OSError, SyntaxError, EOFError, struct.error, ...
        # missing, a directory, no permission, not an image, truncated, a NUL in the path, absurdly large
        return None
    return data if width > 0 and height > 0 else None


def body_after_list(content: LetterContent) -> list[str]:
    """Return the body paragraphs printed after the numbered list of missing items."""
    paragraphs = [content.action_text(), content.consequence, content.closing]
    return [p for p in paragraphs if p.strip()]


def title(content: LetterContent) -> str:
    """Return the document title stored in PDF/DOCX metadata."""
    return f"{content.stage_label}: {content.perihal}"
