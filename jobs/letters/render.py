"""Render a :class:`~jobs.letters.content.LetterContent` as PDF (reportlab) or editable DOCX (python-docx).

Both renderers are pure: text in, bytes out, no I/O except reading the optional logo file.
The same content gives byte-identical output (reportlab ``invariant=1``; the DOCX gets fixed core
properties and zip timestamps derived from the letter date).
"""

from __future__ import annotations

import datetime
import io
import os
import zipfile
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
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

from jobs.letters.content import LetterContent, format_date_id

__all__ = ["render_docx", "render_pdf"]

# Page geometry shared by both renderers (A4, margins in cm).
_PAGE_W_CM = 21.0
_PAGE_H_CM = 29.7
_MARGIN_LEFT_CM = 2.5
_MARGIN_RIGHT_CM = 2.0
_MARGIN_TOP_CM = 1.5
_MARGIN_BOTTOM_CM = 1.5
_TEXT_W_CM = _PAGE_W_CM - _MARGIN_LEFT_CM - _MARGIN_RIGHT_CM
# "Nomor" label + ":" column; the body is indented to line up with the values after the colon.
_LABEL_CM = 2.1
_COLON_CM = 0.4
_BODY_INDENT_CM = _LABEL_CM + _COLON_CM
_FIRST_LINE_CM = 1.0
_ITEM_NUM_CM = 0.7
_RIGHT_COL_CM = 7.0  # place/date + addressee column, and the signature column
_SIGN_SPACE_CM = 2.0  # room for the wet or electronic (SRIKANDI) signature
_LOGO_H_CM = 2.3
_LOGO_COL_CM = 2.8

_FONT = "Helvetica"
_FONT_BOLD = "Helvetica-Bold"
_DOCX_FONT = "Arial"  # the Word-side equivalent of Helvetica
_BODY_PT = 12
_KOP_PEMDA_PT = 14
_KOP_OFFICE_PT = 16
_KOP_SMALL_PT = 10
_TEMBUSAN_PT = 11


# --------------------------------------------------------------------------- shared text


# C0 control characters other than tab and newline are not valid XML (python-docx rejects them)
_CONTROL_CHARS = dict.fromkeys(c for c in range(32) if c not in (9, 10))


def _lines(text: str) -> list[str]:
    """Split user text on newlines (CRLF too), dropping control characters and trailing blank lines."""
    clean = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL_CHARS)
    return clean.rstrip("\n").split("\n")


def _place_date(content: LetterContent) -> str:
    """Return the "Place, 23 November 2026" line."""
    return f"{content.place}, {format_date_id(content.date)}"


def _header_rows(content: LetterContent) -> list[tuple[str, str]]:
    """Return the Nomor/Sifat/Lampiran/Perihal label-value pairs."""
    return [
        ("Nomor", content.number),
        ("Sifat", content.sifat),
        ("Lampiran", content.lampiran),
        ("Perihal", content.perihal),
    ]


def _body_before_list(content: LetterContent) -> list[str]:
    """Return the body paragraphs printed before the numbered list of missing items."""
    return [content.opening] if content.opening.strip() else []


def _body_after_list(content: LetterContent) -> list[str]:
    """Return the body paragraphs printed after the numbered list of missing items."""
    paragraphs = [content.action_text(), content.consequence, content.closing]
    return [p for p in paragraphs if p.strip()]


def _title(content: LetterContent) -> str:
    """Return the document title stored in PDF/DOCX metadata."""
    return f"{content.stage_label}: {content.perihal}"


# --------------------------------------------------------------------------- PDF


def _esc(text: str) -> str:
    """Escape user text for reportlab paragraph markup; newlines become line breaks."""
    out: list[str] = []
    for line in _lines(text):
        stripped = line.lstrip(" ")
        indent = "&nbsp;" * (3 * (len(line) - len(stripped)))  # keep "di -\n   Tempat" style indents
        out.append(indent + escape(stripped))
    return "<br/>".join(out)


def _pdf_styles() -> dict[str, ParagraphStyle]:
    """Build the paragraph styles of the PDF letter."""
    leading = _BODY_PT * 1.15
    base = ParagraphStyle("base", fontName=_FONT, fontSize=_BODY_PT, leading=leading, alignment=TA_LEFT)
    return {
        "base": base,
        "kop_pemda": ParagraphStyle(
            "kop_pemda", parent=base, fontSize=_KOP_PEMDA_PT, leading=_KOP_PEMDA_PT * 1.2, alignment=TA_CENTER
        ),
        "kop_office": ParagraphStyle(
            "kop_office",
            parent=base,
            fontName=_FONT_BOLD,
            fontSize=_KOP_OFFICE_PT,
            leading=_KOP_OFFICE_PT * 1.2,
            alignment=TA_CENTER,
        ),
        "kop_small": ParagraphStyle(
            "kop_small",
            parent=base,
            fontSize=_KOP_SMALL_PT,
            leading=_KOP_SMALL_PT * 1.25,
            alignment=TA_CENTER,
        ),
        "body": ParagraphStyle(
            "body",
            parent=base,
            alignment=TA_JUSTIFY,
            leftIndent=_BODY_INDENT_CM * cm,
            firstLineIndent=_FIRST_LINE_CM * cm,
            spaceAfter=6,
        ),
        "item": ParagraphStyle(
            "item",
            parent=base,
            alignment=TA_JUSTIFY,
            leftIndent=(_BODY_INDENT_CM + _FIRST_LINE_CM + _ITEM_NUM_CM) * cm,
            bulletIndent=(_BODY_INDENT_CM + _FIRST_LINE_CM) * cm,
            bulletFontName=_FONT,
            bulletFontSize=_BODY_PT,
            spaceAfter=3,
        ),
        "sign": ParagraphStyle("sign", parent=base, alignment=TA_CENTER),
        "tembusan_head": ParagraphStyle(
            "tembusan_head", parent=base, fontSize=_TEMBUSAN_PT, leading=_TEMBUSAN_PT * 1.15
        ),
        "tembusan": ParagraphStyle(
            "tembusan",
            parent=base,
            fontSize=_TEMBUSAN_PT,
            leading=_TEMBUSAN_PT * 1.15,
            leftIndent=0.6 * cm,
            bulletIndent=0,
            bulletFontName=_FONT,
            bulletFontSize=_TEMBUSAN_PT,
        ),
    }


def _pdf_logo(path: str | None) -> Image | None:
    """Load the letterhead logo scaled to the kop height, or None when there is no logo file."""
    if not path or not os.path.isfile(path):
        return None
    img_w, img_h = ImageReader(path).getSize()
    height = _LOGO_H_CM * cm
    width = min(height * img_w / img_h, (_LOGO_COL_CM - 0.2) * cm)
    height = width * img_h / img_w
    return Image(path, width=width, height=height)


def _pdf_kop(content: LetterContent, st: dict[str, ParagraphStyle]) -> list[Any]:
    """Build the letterhead: Pemda and office names, address, optional logo, double rule."""
    head = content.letterhead
    lines: list[Any] = [
        Paragraph(_esc(head.pemda_name.upper()), st["kop_pemda"]),
        Paragraph(_esc(head.office_name.upper()), st["kop_office"]),
        Paragraph(_esc(head.address), st["kop_small"]),
    ]
    if head.contact_line.strip():
        lines.append(Paragraph(_esc(head.contact_line), st["kop_small"]))
    logo = _pdf_logo(head.logo_path)
    flow: list[Any]
    if logo is None:
        flow = lines
    else:
        # an empty column of the logo's width on the right keeps the kop text centred on the page
        mid = (_TEXT_W_CM - 2 * _LOGO_COL_CM) * cm
        table = Table([[logo, lines, ""]], colWidths=[_LOGO_COL_CM * cm, mid, _LOGO_COL_CM * cm])
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("ALIGN", (0, 0), (0, 0), "LEFT"),
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
    left_w = (_TEXT_W_CM - _RIGHT_COL_CM) * cm
    value_w = left_w - _BODY_INDENT_CM * cm - 0.4 * cm
    rows = [
        [Paragraph(label, base), Paragraph(":", base), Paragraph(_esc(value), base)]
        for label, value in _header_rows(content)
    ]
    ident = Table(rows, colWidths=[_LABEL_CM * cm, _COLON_CM * cm, value_w])
    ident.setStyle(_tight_table_style())
    right: list[Any] = [
        Paragraph(_esc(_place_date(content)), base),
        Spacer(1, base.leading),
        Paragraph("Kepada", base),
        Paragraph(
            "Yth. " + _esc(content.addressee_title),
            ParagraphStyle("yth", parent=base, leftIndent=0.85 * cm, firstLineIndent=-0.85 * cm),
        ),
        Paragraph(_esc(content.addressee_place), base),
    ]
    table = Table([[ident, right]], colWidths=[left_w, _RIGHT_COL_CM * cm])
    table.setStyle(_tight_table_style())
    return table


def _tight_table_style() -> TableStyle:
    """Return a borderless, padding-free, top-aligned table style."""
    return TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
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
        Spacer(1, _SIGN_SPACE_CM * cm),
        Paragraph(f"<b><u>{_esc(sig.name)}</u></b>", sign),
    ]
    if sig.rank.strip():
        cell.append(Paragraph(_esc(sig.rank), sign))
    cell.append(Paragraph("NIP. " + _esc(sig.nip), sign))
    table = Table([["", cell]], colWidths=[(_TEXT_W_CM - _RIGHT_COL_CM) * cm, _RIGHT_COL_CM * cm])
    table.setStyle(_tight_table_style())
    return table


def _pdf_on_page(canvas: Any, doc: Any) -> None:
    """Print the page number as "- 2 -" at the top of continuation pages."""
    if doc.page < 2:
        return
    canvas.saveState()
    canvas.setFont(_FONT, _TEMBUSAN_PT)
    canvas.drawCentredString(_PAGE_W_CM * cm / 2, (_PAGE_H_CM - 1.0) * cm, f"- {doc.page} -")
    canvas.restoreState()


def render_pdf(content: LetterContent) -> bytes:
    """Render the warning letter as an A4 PDF; identical content gives identical bytes."""
    st = _pdf_styles()
    story: list[Any] = [*_pdf_kop(content, st), _pdf_header(content, st), Spacer(1, 14)]
    story += [Paragraph(_esc(text), st["body"]) for text in _body_before_list(content)]
    story += [
        Paragraph(_esc(item), st["item"], bulletText=f"{i}.")
        for i, item in enumerate(content.missing_items, start=1)
    ]
    if content.missing_items:
        story.append(Spacer(1, 3))
    after = [Paragraph(_esc(text), st["body"]) for text in _body_after_list(content)]
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
        leftMargin=_MARGIN_LEFT_CM * cm,
        rightMargin=_MARGIN_RIGHT_CM * cm,
        topMargin=_MARGIN_TOP_CM * cm,
        bottomMargin=_MARGIN_BOTTOM_CM * cm,
        title=_title(content),
        subject=content.perihal,
        author=content.letterhead.office_name,
        creator="Sigap",
        keywords=f"{content.stage_label}; {content.number}",
        invariant=1,
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
    doc.addPageTemplates([PageTemplate(id="letter", frames=[frame], onPage=_pdf_on_page)])
    doc.build(story)
    return buf.getvalue()


# --------------------------------------------------------------------------- DOCX

_ZIP_MIN_DATE = datetime.date(1980, 1, 1)
# children of w:pPr that the schema places after w:pBdr
_PPR_AFTER_PBDR = (
    "w:shd",
    "w:tabs",
    "w:suppressAutoHyphens",
    "w:kinsoku",
    "w:wordWrap",
    "w:overflowPunct",
    "w:topLinePunct",
    "w:autoSpaceDE",
    "w:autoSpaceDN",
    "w:bidi",
    "w:adjustRightInd",
    "w:snapToGrid",
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
)


def _docx_set_font(run: Any, size: float, bold: bool = False, underline: bool = False) -> None:
    """Apply font, size and emphasis to a python-docx run."""
    run.font.name = _DOCX_FONT
    run.font.size = Pt(size)
    run.bold = bold or None
    run.underline = underline or None


def _docx_para(
    container: Any,
    text: str = "",
    *,
    size: float = _BODY_PT,
    bold: bool = False,
    underline: bool = False,
    align: Any = None,
    left_cm: float = 0.0,
    first_cm: float = 0.0,
    after_pt: float = 0.0,
    tabs_cm: Iterable[float] = (),
    keep_next: bool = False,
) -> Any:
    """Add one paragraph (newlines become line breaks) to a document or table cell and return it."""
    para = container.add_paragraph()
    fmt = para.paragraph_format
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(after_pt)
    fmt.line_spacing = 1.0
    if align is not None:
        para.alignment = align
    if left_cm:
        fmt.left_indent = Cm(left_cm)
    if first_cm:
        fmt.first_line_indent = Cm(first_cm)
    for pos in tabs_cm:
        fmt.tab_stops.add_tab_stop(Cm(pos))
    if keep_next:
        fmt.keep_with_next = True
    if text:
        # python-docx turns "\n" into a line break and "\t" into a tab
        _docx_set_font(para.add_run("\n".join(_lines(text))), size, bold, underline)
    return para


def _docx_first_para(cell: Any, text: str, **kwargs: Any) -> Any:
    """Fill the empty paragraph a new table cell starts with, instead of adding a second one."""
    para = _docx_para(cell, text, **kwargs)
    first = cell.paragraphs[0]
    if first is not para and not first.text:
        first._element.getparent().remove(first._element)
    return para


def _docx_no_borders(table: Any) -> None:
    """Turn off every border of a python-docx table."""
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    # OOXML fixes the child order of w:tblPr; Word rejects a document with tblBorders out of place
    tbl_pr.insert_element_before(
        borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription"
    )


def _docx_widths(table: Any, widths_cm: list[float]) -> None:
    """Fix the column widths of a python-docx table (Word reads the per-cell widths)."""
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)
    for col, width in zip(table.columns, widths_cm, strict=True):
        col.width = Cm(width)


def _docx_double_rule(para: Any) -> None:
    """Draw the kop's thick-over-thin double rule as the paragraph's bottom border."""
    p_pr = para._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    bottom.set(qn("w:val"), "thickThinSmallGap")
    bottom.set(qn("w:sz"), "24")
    bottom.set(qn("w:space"), "1")
    bottom.set(qn("w:color"), "auto")
    border.append(bottom)
    p_pr.insert_element_before(border, *_PPR_AFTER_PBDR)


def _docx_kop(doc: Any, content: LetterContent) -> None:
    """Write the letterhead with its optional logo and the double rule."""
    head = content.letterhead
    has_logo = bool(head.logo_path) and os.path.isfile(head.logo_path or "")
    target: Any = doc
    if has_logo:
        mid = _TEXT_W_CM - 2 * _LOGO_COL_CM
        table = doc.add_table(rows=1, cols=3)
        _docx_no_borders(table)
        _docx_widths(table, [_LOGO_COL_CM, mid, _LOGO_COL_CM])
        logo_cell, target, _blank = table.rows[0].cells
        logo_para = logo_cell.paragraphs[0]
        logo_para.add_run().add_picture(head.logo_path, height=Cm(_LOGO_H_CM))
        for cell in (logo_cell, target):
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    centre = WD_ALIGN_PARAGRAPH.CENTER
    add = _docx_first_para if has_logo else _docx_para
    add(target, head.pemda_name.upper(), size=_KOP_PEMDA_PT, align=centre)
    _docx_para(target, head.office_name.upper(), size=_KOP_OFFICE_PT, bold=True, align=centre)
    last = _docx_para(target, head.address, size=_KOP_SMALL_PT, align=centre)
    if head.contact_line.strip():
        last = _docx_para(target, head.contact_line, size=_KOP_SMALL_PT, align=centre)
    if has_logo:
        last = _docx_para(doc, "", size=4)
    _docx_double_rule(last)
    _docx_para(doc, "", after_pt=6)


def _docx_header(doc: Any, content: LetterContent) -> None:
    """Write the Nomor block (left) and place, date and addressee (right) as a borderless table."""
    left_w = _TEXT_W_CM - _RIGHT_COL_CM
    table = doc.add_table(rows=1, cols=2)
    _docx_no_borders(table)
    _docx_widths(table, [left_w, _RIGHT_COL_CM])
    left, right = table.rows[0].cells
    for i, (label, value) in enumerate(_header_rows(content)):
        add = _docx_first_para if i == 0 else _docx_para
        # hanging indent: wrapped values line up after the colon
        add(
            left,
            f"{label}\t:\t{value}",
            left_cm=_BODY_INDENT_CM,
            first_cm=-_BODY_INDENT_CM,
            tabs_cm=(_LABEL_CM, _BODY_INDENT_CM),
        )
    _docx_first_para(right, _place_date(content))
    _docx_para(right, "")
    _docx_para(right, "Kepada")
    _docx_para(right, f"Yth. {content.addressee_title}", left_cm=0.85, first_cm=-0.85)
    place_lines = [line.lstrip(" ") for line in _lines(content.addressee_place)]
    for raw, line in zip(_lines(content.addressee_place), place_lines, strict=True):
        _docx_para(right, line, left_cm=0.5 * (len(raw) - len(line)))
    _docx_para(doc, "", after_pt=6)


def _docx_body(doc: Any, content: LetterContent) -> None:
    """Write the opening, the numbered missing items, the required action, consequence and closing."""
    justify = WD_ALIGN_PARAGRAPH.JUSTIFY
    for text in _body_before_list(content):
        _docx_para(doc, text, align=justify, left_cm=_BODY_INDENT_CM, first_cm=_FIRST_LINE_CM, after_pt=6)
    item_left = _BODY_INDENT_CM + _FIRST_LINE_CM + _ITEM_NUM_CM
    for i, item in enumerate(content.missing_items, start=1):
        _docx_para(
            doc,
            f"{i}.\t{item}",
            align=justify,
            left_cm=item_left,
            first_cm=-_ITEM_NUM_CM,
            tabs_cm=(item_left,),
            after_pt=3,
        )
    after = _body_after_list(content)
    for n, text in enumerate(after):
        _docx_para(
            doc,
            text,
            align=justify,
            left_cm=_BODY_INDENT_CM,
            first_cm=_FIRST_LINE_CM,
            after_pt=6,
            keep_next=n == len(after) - 1,
        )


def _docx_signature(doc: Any, content: LetterContent) -> None:
    """Write the signature block centred in the right-hand column."""
    sig = content.signatory
    left = _TEXT_W_CM - _RIGHT_COL_CM
    centre = WD_ALIGN_PARAGRAPH.CENTER
    _docx_para(doc, "", keep_next=True)
    _docx_para(doc, sig.title, align=centre, left_cm=left, keep_next=True)
    for _ in range(4):  # signing space
        _docx_para(doc, "", align=centre, left_cm=left, keep_next=True)
    _docx_para(doc, sig.name, bold=True, underline=True, align=centre, left_cm=left, keep_next=True)
    if sig.rank.strip():
        _docx_para(doc, sig.rank, align=centre, left_cm=left, keep_next=True)
    _docx_para(doc, f"NIP. {sig.nip}", align=centre, left_cm=left)


def _docx_tembusan(doc: Any, content: LetterContent) -> None:
    """Write the numbered list of copies (tembusan)."""
    if not content.tembusan:
        return
    _docx_para(doc, "", keep_next=True)
    _docx_para(doc, "Tembusan:", size=_TEMBUSAN_PT, keep_next=True)
    last = len(content.tembusan)
    for i, entry in enumerate(content.tembusan, start=1):
        _docx_para(
            doc,
            f"{i}.\t{entry}",
            size=_TEMBUSAN_PT,
            left_cm=0.6,
            first_cm=-0.6,
            tabs_cm=(0.6,),
            keep_next=i < last,
        )


def _docx_metadata(doc: Any, content: LetterContent) -> None:
    """Set core properties to values derived from the content so the output is reproducible."""
    stamp = datetime.datetime.combine(content.date, datetime.time(0, 0), tzinfo=datetime.UTC)
    props = doc.core_properties
    props.title = _title(content)
    props.subject = content.perihal
    props.keywords = f"{content.stage_label}; {content.number}"
    props.author = content.letterhead.office_name
    props.last_modified_by = "Sigap"
    props.comments = "Dibuat oleh Sigap"
    props.revision = 1
    props.created = stamp
    props.modified = stamp


def _normalise_zip(data: bytes, day: datetime.date) -> bytes:
    """Rewrite a zip with fixed entry timestamps (python-docx stamps entries with the current time)."""
    day = max(day, _ZIP_MIN_DATE)
    stamp = (day.year, day.month, day.day, 0, 0, 0)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def render_docx(content: LetterContent) -> bytes:
    """Render the warning letter as an editable A4 DOCX (for signing in SRIKANDI)."""
    doc = Document()
    section = doc.sections[0]
    section.page_width = Cm(_PAGE_W_CM)
    section.page_height = Cm(_PAGE_H_CM)
    section.left_margin = Cm(_MARGIN_LEFT_CM)
    section.right_margin = Cm(_MARGIN_RIGHT_CM)
    section.top_margin = Cm(_MARGIN_TOP_CM)
    section.bottom_margin = Cm(_MARGIN_BOTTOM_CM)
    normal = doc.styles["Normal"]
    normal.font.name = _DOCX_FONT
    normal.font.size = Pt(_BODY_PT)
    _docx_kop(doc, content)
    _docx_header(doc, content)
    _docx_body(doc, content)
    _docx_signature(doc, content)
    _docx_tembusan(doc, content)
    _docx_metadata(doc, content)
    buf = io.BytesIO()
    doc.save(buf)
    return _normalise_zip(buf.getvalue(), content.date)
