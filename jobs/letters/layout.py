"""Page geometry, fonts and channel-neutral letter text shared by the PDF and DOCX renderers."""

from __future__ import annotations

from jobs.letters.content import LetterContent, format_date_id

__all__ = [
    "BODY_INDENT_CM",
    "BODY_PT",
    "COLON_CM",
    "DOCX_FONT",
    "FIRST_LINE_CM",
    "FONT",
    "FONT_BOLD",
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
    "body_after_list",
    "body_before_list",
    "header_rows",
    "lines",
    "place_date",
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

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
DOCX_FONT = "Arial"  # the Word-side equivalent of Helvetica
BODY_PT = 12
KOP_PEMDA_PT = 14
KOP_OFFICE_PT = 16
KOP_SMALL_PT = 10
TEMBUSAN_PT = 11


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


def body_after_list(content: LetterContent) -> list[str]:
    """Return the body paragraphs printed after the numbered list of missing items."""
    paragraphs = [content.action_text(), content.consequence, content.closing]
    return [p for p in paragraphs if p.strip()]


def title(content: LetterContent) -> str:
    """Return the document title stored in PDF/DOCX metadata."""
    return f"{content.stage_label}: {content.perihal}"
