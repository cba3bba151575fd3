"""Render a :class:`~jobs.letters.content.LetterContent` as an A4 PDF with reportlab.

Pure: text in, bytes out, no I/O except reading the optional logo file and the bundled fonts. The same content
gives byte-identical output (reportlab ``invariant=1``). Every text is set in an embedded TrueType font
(Liberation Sans, see :mod:`jobs.letters.layout`), never a base-14 font, so the letter looks the same everywhere.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    HRFlowable,
    Image,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from jobs.letters.content import LetterContent
from jobs.letters.layout import (
    BODY_INDENT_CM,
    BODY_PT,
    COLON_CM,
    DASAR_HEADING,
    DRAFT_WATERMARK,
    FIRST_LINE_CM,
    FONT,
    FONT_BOLD,
    FONT_DIR,
    FONT_FILES,
    ITEM_NUM_CM,
    KOP_OFFICE_PT,
    KOP_PEMDA_PT,
    KOP_SMALL_PT,
    LABEL_CM,
    LOGO_COL_CM,
    LOGO_H_CM,
    MARGIN_BOTTOM_CM,
    MARGIN_LEFT_CM,
    MARGIN_RIGHT_CM,
    MARGIN_TOP_CM,
    PAGE_H_CM,
    PAGE_W_CM,
    RIGHT_COL_CM,
    SIGN_SPACE_CM,
    TEMBUSAN_PT,
    TEXT_W_CM,
    ListEntry,
    body_after_list,
    body_before_list,
    dasar_entries,
    header_rows,
    lines,
    missing_entries,
    place_date,
    read_logo,
    title,
)

__all__ = ["render_pdf"]

_FONT_LOCK = threading.Lock()
_fonts_registered = False
WATERMARK_GREY = colors.Color(0.86, 0.86, 0.86)
"""Light enough that the letter text printed over the watermark stays easy to read."""


def _register_fonts() -> None:
    """Register the bundled TrueType fonts with reportlab once per process (safe from several threads)."""
    global _fonts_registered
    if _fonts_registered:
        return
    with _FONT_LOCK:
        if _fonts_registered:
            return
        for name, filename in FONT_FILES.items():
            pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / filename)))
        # <b> in paragraph markup picks the bold face; the letters use no italics, so italic maps to upright
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
        _fonts_registered = True


def _esc(text: str) -> str:
    """Escape user text for reportlab paragraph markup; newlines become line breaks."""
    out: list[str] = []
    for line in lines(text):
        stripped = line.lstrip(" ")
        indent = "&nbsp;" * (3 * (len(line) - len(stripped)))  # keep "di -\n   Tempat" style indents
        out.append(indent + escape(stripped))
    return "<br/>".join(out)


def _pdf_styles() -> dict[str, ParagraphStyle]:
    """Build the paragraph styles of the PDF letter."""
    leading = BODY_PT * 1.15
    base = ParagraphStyle("base", fontName=FONT, fontSize=BODY_PT, leading=leading, alignment=TA_LEFT)
    return {
        "base": base,
        "kop_pemda": ParagraphStyle(
            "kop_pemda", parent=base, fontSize=KOP_PEMDA_PT, leading=KOP_PEMDA_PT * 1.2, alignment=TA_CENTER
        ),
        "kop_office": ParagraphStyle(
            "kop_office",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=KOP_OFFICE_PT,
            leading=KOP_OFFICE_PT * 1.2,
            alignment=TA_CENTER,
        ),
        "kop_small": ParagraphStyle(
            "kop_small",
            parent=base,
            fontSize=KOP_SMALL_PT,
            leading=KOP_SMALL_PT * 1.25,
            alignment=TA_CENTER,
        ),
        "body": ParagraphStyle(
            "body",
            parent=base,
            alignment=TA_JUSTIFY,
            leftIndent=BODY_INDENT_CM * cm,
            firstLineIndent=FIRST_LINE_CM * cm,
            spaceAfter=6,
        ),
        "item": ParagraphStyle(
            "item",
            parent=base,
            alignment=TA_JUSTIFY,
            leftIndent=(BODY_INDENT_CM + FIRST_LINE_CM + ITEM_NUM_CM) * cm,
            bulletIndent=(BODY_INDENT_CM + FIRST_LINE_CM) * cm,
            bulletFontName=FONT,
            bulletFontSize=BODY_PT,
            spaceAfter=3,
        ),
        "point": ParagraphStyle(
            "point",
            parent=base,
            alignment=TA_JUSTIFY,
            leftIndent=(BODY_INDENT_CM + FIRST_LINE_CM + 2 * ITEM_NUM_CM) * cm,
            bulletIndent=(BODY_INDENT_CM + FIRST_LINE_CM + ITEM_NUM_CM) * cm,
            bulletFontName=FONT,
            bulletFontSize=BODY_PT,
            spaceAfter=2,
        ),
        "list_head": ParagraphStyle("list_head", parent=base, leftIndent=BODY_INDENT_CM * cm, spaceAfter=3),
        "sign": ParagraphStyle("sign", parent=base, alignment=TA_CENTER),
        "tembusan_head": ParagraphStyle(
            "tembusan_head", parent=base, fontSize=TEMBUSAN_PT, leading=TEMBUSAN_PT * 1.15
        ),
        "tembusan": ParagraphStyle(
            "tembusan",
            parent=base,
            fontSize=TEMBUSAN_PT,
            leading=TEMBUSAN_PT * 1.15,
            leftIndent=0.6 * cm,
            bulletIndent=0,
            bulletFontName=FONT,
            bulletFontSize=TEMBUSAN_PT,
        ),
    }


def _pdf_logo(path: str | None) -> Image | None:
    """Load the letterhead logo scaled to the kop height, or None when the file is missing or not a whole image."""
    data = read_logo(path)
    if data is None:
        return None
    img_w, img_h = ImageReader(io.BytesIO(data)).getSize()
    height = LOGO_H_CM * cm
    width = min(height * img_w / img_h, (LOGO_COL_CM - 0.2) * cm)
    height = width * img_h / img_w
    return Image(io.BytesIO(data), width=width, height=height)


def _pdf_kop(content: LetterContent, st: dict[str, ParagraphStyle]) -> list[Any]:
    """Build the letterhead: Pemda and office names, address, optional logo, double rule."""
    head = content.letterhead
    kop_lines: list[Any] = [
        Paragraph(_esc(head.pemda_name.upper()), st["kop_pemda"]),
        Paragraph(_esc(head.office_name.upper()), st["kop_office"]),
        Paragraph(_esc(head.address), st["kop_small"]),
    ]
    if head.contact_line.strip():
        kop_lines.append(Paragraph(_esc(head.contact_line), st["kop_small"]))
    logo = _pdf_logo(head.logo_path)
    flow: list[Any]
    if logo is None:
        flow = kop_lines
    else:
        # an empty column of the logo's width on the right keeps the kop text centred on the page
        mid = (TEXT_W_CM - 2 * LOGO_COL_CM) * cm
        table = Table([[logo, kop_lines, ""]], colWidths=[LOGO_COL_CM * cm, mid, LOGO_COL_CM * cm])
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("ALIGN", (0, 0), (0, 0), "LEFT"),
                    ("FONTNAME", (0, 0), (-1, -1), FONT),  # empty text cells would otherwise set Helvetica
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                    ("TOPPADDING", (0, 0), (-1, -1), 0),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                ]
            )
        )
        flow = [table]
    flow.append(HRFlowable(width="100%", thickness=2.2, color=colors.black, spaceBefore=5, spaceAfter=1.6))
    flow.append(HRFlowable(width="100%", thickness=0.7, color=colors.black, spaceBefore=0, spaceAfter=14))
    return flow


def _pdf_header(content: LetterContent, st: dict[str, ParagraphStyle]) -> Table:
    """Build the Nomor/Sifat/Lampiran/Perihal block (left) and place, date and addressee (right)."""
    base = st["base"]
    left_w = (TEXT_W_CM - RIGHT_COL_CM) * cm
    value_w = left_w - BODY_INDENT_CM * cm - 0.4 * cm
    rows = [
        [Paragraph(label, base), Paragraph(":", base), Paragraph(_esc(value), _unbroken(value, base, value_w))]
        for label, value in header_rows(content)
    ]
    ident = Table(rows, colWidths=[LABEL_CM * cm, COLON_CM * cm, value_w])
    ident.setStyle(_tight_table_style())
    right: list[Any] = [
        Paragraph(_esc(place_date(content)), base),
        Spacer(1, base.leading),
        Paragraph("Kepada", base),
        Paragraph(
            "Yth. " + _esc(content.addressee_title),
            ParagraphStyle("yth", parent=base, leftIndent=0.85 * cm, firstLineIndent=-0.85 * cm),
        ),
        Paragraph(_esc(content.addressee_place), base),
    ]
    table = Table([[ident, right]], colWidths=[left_w, RIGHT_COL_CM * cm])
    table.setStyle(_tight_table_style())
    return table


def _unbroken(value: str, style: ParagraphStyle, width: float) -> ParagraphStyle:
    """`style`, a little smaller when `value` is one word too wide for `width` (a long letter number would break in
    the middle: '…/12/20' and '26' on the next line); at most down to 8 pt, then it wraps."""
    if " " in value.strip():
        return style
    needed = pdfmetrics.stringWidth(value, style.fontName, style.fontSize)
    if needed <= width:
        return style
    size = max(8.0, style.fontSize * width / needed * 0.98)
    return ParagraphStyle(f"{style.name}-fit", parent=style, fontSize=size, leading=style.leading)


def _tight_table_style() -> TableStyle:
    """Return a borderless, padding-free, top-aligned table style."""
    return TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTNAME", (0, 0), (-1, -1), FONT),  # empty text cells would otherwise set Helvetica
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ]
    )


def _pdf_signature(content: LetterContent, st: dict[str, ParagraphStyle]) -> Table:
    """Build the right-hand signature block: title, signing space, name, rank and NIP."""
    sig = content.signatory
    sign = st["sign"]
    cell: list[Any] = [
        Paragraph(_esc(sig.title), sign),
        Spacer(1, SIGN_SPACE_CM * cm),
        Paragraph(f"<b><u>{_esc(sig.name)}</u></b>", sign),
    ]
    if sig.rank.strip():
        cell.append(Paragraph(_esc(sig.rank), sign))
    if sig.nip.strip():  # a head of region (Bupati, Wali Kota) has no NIP: no empty 'NIP.' line
        cell.append(Paragraph("NIP. " + _esc(sig.nip), sign))
    table = Table([["", cell]], colWidths=[(TEXT_W_CM - RIGHT_COL_CM) * cm, RIGHT_COL_CM * cm])
    table.setStyle(_tight_table_style())
    return table


def _pdf_list(entries: list[ListEntry], st: dict[str, ParagraphStyle]) -> list[Any]:
    """Build a numbered list: level-0 entries "1.", "2.", ... and level-1 points "a.", "b.", ... beneath them."""
    flow: list[Any] = []
    for n, entry in enumerate(entries):
        has_points = n + 1 < len(entries) and entries[n + 1].level > entry.level
        style = st["point"] if entry.level else st["item"]
        para = Paragraph(_esc(entry.text), style, bulletText=entry.label)
        para.keepWithNext = has_points  # a program's heading never ends a page without its first point
        flow.append(para)
    return flow


def _pdf_dasar(content: LetterContent, st: dict[str, ParagraphStyle]) -> list[Any]:
    """Build the numbered "Dasar:" block (legal basis), or nothing when the letter names none."""
    entries = dasar_entries(content)
    if not entries:
        return []
    head = Paragraph(DASAR_HEADING, st["list_head"])
    head.keepWithNext = True
    return [head, *_pdf_list(entries, st), Spacer(1, 6)]


def _draw_watermark(canvas: Any) -> None:
    """Draw the light-grey diagonal "RANCANGAN" across the page, under the letter text."""
    page_w, page_h = PAGE_W_CM * cm, PAGE_H_CM * cm
    diagonal = math.hypot(page_w, page_h)
    size = 0.7 * diagonal * 1000 / pdfmetrics.stringWidth(DRAFT_WATERMARK, FONT_BOLD, 1000)
    canvas.saveState()
    canvas.setFillColor(WATERMARK_GREY)
    canvas.setFont(FONT_BOLD, size)
    canvas.translate(page_w / 2, page_h / 2)
    canvas.rotate(math.degrees(math.atan2(page_h, page_w)))
    canvas.drawCentredString(0, -0.35 * size, DRAFT_WATERMARK)  # cap height is about 0.7 em: centre it
    canvas.restoreState()


def _page_decorator(draft: bool) -> Callable[[Any, Any], None]:
    """Return the per-page callback: the draft watermark, and "- 2 -" at the top of continuation pages."""

    def on_page(canvas: Any, doc: Any) -> None:
        if draft:
            _draw_watermark(canvas)
        if doc.page < 2:
            return
        canvas.saveState()
        canvas.setFont(FONT, TEMBUSAN_PT)
        canvas.drawCentredString(PAGE_W_CM * cm / 2, (PAGE_H_CM - 1.0) * cm, f"- {doc.page} -")
        canvas.restoreState()

    return on_page


def render_pdf(content: LetterContent) -> bytes:
    """Render the warning letter as an A4 PDF; identical content gives identical bytes."""
    _register_fonts()
    st = _pdf_styles()
    story: list[Any] = [*_pdf_kop(content, st), _pdf_header(content, st), Spacer(1, 14)]
    story += _pdf_dasar(content, st)
    story += [Paragraph(_esc(text), st["body"]) for text in body_before_list(content)]
    missing = missing_entries(content)
    story += _pdf_list(missing, st)
    if missing:
        story.append(Spacer(1, 3))
    after = [Paragraph(_esc(text), st["body"]) for text in body_after_list(content)]
    # keep the last body paragraph on the same page as the signature
    story += after[:-1]
    story.append(KeepTogether([*after[-1:], Spacer(1, 12), _pdf_signature(content, st)]))
    if content.tembusan:
        tembusan: list[Any] = [Spacer(1, 10), Paragraph("Tembusan:", st["tembusan_head"])]
        tembusan += [
            Paragraph(_esc(entry), st["tembusan"], bulletText=f"{i}.")
            for i, entry in enumerate(content.tembusan, start=1)
        ]
        story.append(KeepTogether(tembusan))

    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_LEFT_CM * cm,
        rightMargin=MARGIN_RIGHT_CM * cm,
        topMargin=MARGIN_TOP_CM * cm,
        bottomMargin=MARGIN_BOTTOM_CM * cm,
        title=title(content),
        subject=content.perihal,
        author=content.letterhead.office_name,
        creator="Sigap",
        keywords=f"{content.stage_label}; {content.number}",
        invariant=1,
        # the canvas otherwise starts in Helvetica and lists it (a base-14 font, not embedded) in every page
        initialFontName=FONT,
        initialFontSize=BODY_PT,
        initialLeading=BODY_PT * 1.15,
    )
    # zero frame padding so the kop rule, the tables and the body share the page margins exactly
    frame = Frame(
        doc.leftMargin,
        doc.bottomMargin,
        doc.width,
        doc.height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="letter",
    )
    doc.addPageTemplates([PageTemplate(id="letter", frames=[frame], onPage=_page_decorator(content.draft))])
    doc.build(story)
    return buf.getvalue()
