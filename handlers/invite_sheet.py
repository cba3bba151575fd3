"""Invite codes on paper: an A4 PDF with one block per unit (code, deep links and a QR code per link) and an XLSX
with the same data, for handing out at a coordination meeting (`sigap invite --all`, `/undangan perbarui`).

Pure: entries in, bytes out. QR codes come from segno (pure Python) and are drawn as vector squares, so they print
sharp at any size; the text is set in the letters' embedded Liberation Sans.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import segno
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from handlers.registration import invite_links
from jobs.letters.layout import FONT, FONT_BOLD, FONT_DIR, FONT_FILES
from models.app import Deps
from models.fmt import waktu
from models.onboarding import role_label
from models.sheets import header, put
from models.tables import Invite, Role, Unit

PAGE_W, PAGE_H = A4
MARGIN = 15 * mm
HEADER_H = 22 * mm
FOOTER_H = 10 * mm
BLOCKS_PER_PAGE = 3
QR_SIDE = 40 * mm
QR_GAP = 6 * mm
PAD = 5 * mm
GREY = colors.Color(0.45, 0.45, 0.45)
QR_ERROR = "m"
"""Error correction level M: about 15 % of a printed code may be smudged and it still scans."""
COLUMNS: tuple[tuple[str, float], ...] = (
    ("Kode unit", 14),
    ("Unit", 40),
    ("Jenis unit", 12),
    ("Peran", 14),
    ("Kode undangan", 15),
    ("Berlaku sampai", 30),
    ("Perintah", 18),
    ("Tautan Telegram", 44),
    ("Tautan WhatsApp", 52),
)


@dataclass(frozen=True)
class SheetEntry:
    """One unit's invite as printed: who it is for, the code, until when, and its deep links."""

    unit_code: str
    unit_name: str
    unit_kind: str
    role: str
    code: str
    expires: str
    links: tuple[tuple[str, str], ...] = ()

    def link(self, channel: str) -> str:
        """The deep link of `channel` ('Telegram', 'WhatsApp'), or ''."""
        return next((url for label, url in self.links if label == channel), "")


def links_of(code: str, deps: Deps) -> tuple[tuple[str, str], ...]:
    """(channel, deep link) pairs of a code, e.g. ('Telegram', 'https://t.me/sigap_bot?start=ABCD2345')."""
    pairs = []
    for line in invite_links(code, deps.telegram_username, deps.whatsapp_number):
        label, _, url = line.partition(": ")
        pairs.append((label, url))
    return tuple(pairs)


def entries_for(invites: Iterable[tuple[Unit, Invite]], deps: Deps, expires_at: datetime) -> list[SheetEntry]:
    """The sheet entries of `invites` (unit, invite), all stated with the batch's expiry."""
    until = waktu(expires_at, deps.calendar.zone)
    return [
        SheetEntry(
            unit.code,
            unit.name,
            unit.kind,
            role_label(Role(invite.role), unit),
            invite.code,
            until,
            links_of(invite.code, deps),
        )
        for unit, invite in invites
    ]


def qr_payload_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code of `text` as rows of dark (True) modules, with the 4-module quiet zone."""
    qr = segno.make(text, error=QR_ERROR, boost_error=False)
    return tuple(tuple(bool(m) for m in row) for row in qr.matrix_iter(scale=1, border=4))


def _register_fonts() -> None:
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, filename in FONT_FILES.items():
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / filename)))


def render_pdf(entries: Sequence[SheetEntry], pemda_name: str) -> bytes:
    """The printable A4 sheet: three units per page, each with its code, expiry, instructions and QR codes."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(f"Kode undangan Sigap - {pemda_name}")
    canvas.setAuthor("Sigap")
    pages = max(1, -(-len(entries) // BLOCKS_PER_PAGE))
    block_h = (PAGE_H - 2 * MARGIN - HEADER_H - FOOTER_H) / BLOCKS_PER_PAGE
    for page in range(pages):
        chunk = entries[page * BLOCKS_PER_PAGE : (page + 1) * BLOCKS_PER_PAGE]
        _header(canvas, pemda_name, chunk, page + 1, pages)
        top = PAGE_H - MARGIN - HEADER_H
        for index, entry in enumerate(chunk):
            _block(canvas, entry, top - (index + 1) * block_h, block_h)
        if not chunk:
            canvas.setFont(FONT, 11)
            canvas.drawString(MARGIN, top - 10 * mm, "Tidak ada kode undangan pada lembar ini.")
        _footer(canvas)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _header(canvas: Canvas, pemda_name: str, chunk: Sequence[SheetEntry], page: int, pages: int) -> None:
    y = PAGE_H - MARGIN - 5 * mm
    canvas.setFillColor(colors.black)
    canvas.setFont(FONT_BOLD, 13)
    canvas.drawString(MARGIN, y, _fit(pemda_name, FONT_BOLD, 13, PAGE_W - 2 * MARGIN - 30 * mm))
    canvas.setFont(FONT, 9)
    canvas.setFillColor(GREY)
    canvas.drawRightString(PAGE_W - MARGIN, y, f"Halaman {page} dari {pages}")
    canvas.setFillColor(colors.black)
    canvas.setFont(FONT, 10.5)
    roles = ", ".join(dict.fromkeys(e.role for e in chunk)) or "undangan"
    canvas.drawString(
        MARGIN, y - 6 * mm, f"Kode undangan Sigap untuk {roles}: satu kode untuk satu orang, sekali pakai."
    )
    canvas.setStrokeColor(colors.black)
    canvas.setLineWidth(0.8)
    canvas.line(MARGIN, y - 10 * mm, PAGE_W - MARGIN, y - 10 * mm)


def _footer(canvas: Canvas) -> None:
    canvas.setFont(FONT, 8)
    canvas.setFillColor(GREY)
    canvas.drawString(
        MARGIN,
        MARGIN,
        "Serahkan tiap blok hanya kepada pejabat unit dan peran yang tertera. Kode hilang/kedaluwarsa: minta baru ke "
        "admin Sigap.",
    )
    canvas.setFillColor(colors.black)


def _block(canvas: Canvas, entry: SheetEntry, bottom: float, height: float) -> None:
    """One unit's block between `bottom` and `bottom + height`, with a dashed cutting line below it."""
    left, right = MARGIN, PAGE_W - MARGIN
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.5)
    canvas.setDash(4, 3)
    canvas.line(left, bottom, right, bottom)
    canvas.setDash()
    qr_links = [(label, url) for label, url in entry.links if url]
    qr_width = len(qr_links) * QR_SIDE + max(0, len(qr_links) - 1) * QR_GAP
    text_w = right - left - qr_width - (PAD if qr_links else 0)
    x, y = left, bottom + height - PAD - 3 * mm
    canvas.setFillColor(GREY)
    canvas.setFont(FONT, 8)
    canvas.drawString(x, y, "KODE UNDANGAN SIGAP")
    canvas.setFillColor(colors.black)
    y -= 6 * mm
    for line in simpleSplit(entry.unit_name, FONT_BOLD, 13, text_w)[:3]:
        canvas.setFont(FONT_BOLD, 13)
        canvas.drawString(x, y, line)
        y -= 5.5 * mm
    canvas.setFont(FONT, 10)
    canvas.drawString(x, y, _fit(f"Kode unit: {entry.unit_code}   Peran: {entry.role}", FONT, 10, text_w))
    y -= 12 * mm
    text = canvas.beginText(x, y)
    text.setFont(FONT_BOLD, 26)
    text.setCharSpace(3)
    text.textOut(entry.code)
    text.setCharSpace(0)  # the spacing would otherwise stay on for every later line of the page
    canvas.drawText(text)
    y -= 7 * mm
    canvas.setFont(FONT, 9.5)
    for line in simpleSplit(f"Berlaku sekali, sampai {entry.expires}.", FONT, 9.5, text_w):
        canvas.drawString(x, y, line)
        y -= 4.5 * mm
    y -= 2 * mm
    apps = " atau ".join(label for label, _url in qr_links)
    steps = (
        [
            f"Cara mendaftar: pindai {'salah satu kode' if len(qr_links) > 1 else 'kode'} QR dengan kamera HP, "
            f"lalu tekan Kirim di {apps}.",
            f"Atau buka bot Sigap dan kirim: /start {entry.code}",
        ]
        if qr_links
        else [f"Cara mendaftar: buka bot Sigap di Telegram atau WhatsApp dan kirim: /start {entry.code}"]
    )
    for step in steps:
        for line in simpleSplit(step, FONT, 9.5, text_w):
            canvas.drawString(x, y, line)
            y -= 4.5 * mm
    qx = right - qr_width
    qy = bottom + height - PAD - QR_SIDE
    for label, url in qr_links:
        _qr(canvas, url, qx, qy, QR_SIDE)
        canvas.setFont(FONT_BOLD, 9.5)
        canvas.drawCentredString(qx + QR_SIDE / 2, qy - 4 * mm, label)
        canvas.setFont(FONT, 6.5)
        canvas.setFillColor(GREY)
        ly = qy - 7.5 * mm
        for line in _split_url(url, FONT, 6.5, QR_SIDE)[:3]:
            canvas.drawCentredString(qx + QR_SIDE / 2, ly, line)
            ly -= 3 * mm
        canvas.setFillColor(colors.black)
        qx += QR_SIDE + QR_GAP


def _qr(canvas: Canvas, text: str, x: float, y: float, side: float) -> None:
    """The QR code of `text` as black squares in a `side` x `side` square at (x, y), quiet zone included."""
    matrix = qr_payload_matrix(text)
    size = side / len(matrix)
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, side, side, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    for r, row in enumerate(matrix):
        top = y + side - (r + 1) * size
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            # a hair wider than the module so that neighbouring squares never show a seam when printed
            canvas.rect(x + start * size, top, (c - start) * size + 0.01, size + 0.01, stroke=0, fill=1)


def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text` cut with an ellipsis to fit `width`."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _split_url(url: str, font: str, size: float, width: float) -> list[str]:
    """A long URL broken into lines of `width` anywhere (it has no spaces)."""
    lines, current = [], ""
    for char in url:
        if pdfmetrics.stringWidth(current + char, font, size) > width:
            lines.append(current)
            current = ""
        current += char
    return [*lines, current] if current else lines


def render_xlsx(entries: Sequence[SheetEntry]) -> bytes:
    """The same entries as a workbook: one row per unit, text always literal (never a formula)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Kode undangan"
    header(sheet, COLUMNS)
    for row, entry in enumerate(entries, start=2):
        values = (
            entry.unit_code,
            entry.unit_name,
            entry.unit_kind,
            entry.role,
            entry.code,
            entry.expires,
            f"/start {entry.code}",
            entry.link("Telegram"),
            entry.link("WhatsApp"),
        )
        for column, value in enumerate(values, start=1):
            put(sheet.cell(row=row, column=column), value)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(entries) + 1}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
