"""Render a :class:`~jobs.letters.content.LetterContent` as an editable A4 DOCX with python-docx.

Pure: text in, bytes out, no I/O except reading the optional logo file. The same content gives
byte-identical output (fixed core properties and zip timestamps derived from the letter date).
"""

from __future__ import annotations

import datetime
import io
import zipfile
from collections.abc import Iterable
from typing import Any

from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.image.image import Image as DocxImage
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from jobs.letters.content import LetterContent
from jobs.letters.layout import (
    BODY_INDENT_CM,
    BODY_PT,
    DASAR_HEADING,
    DOCX_FONT,
    DRAFT_HEADER,
    FIRST_LINE_CM,
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

__all__ = ["render_docx"]

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
    run.font.name = DOCX_FONT
    run.font.size = Pt(size)
    run.bold = bold or None
    run.underline = underline or None


def _docx_para(
    container: Any,
    text: str = "",
    *,
    size: float = BODY_PT,
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
        _docx_set_font(para.add_run("\n".join(lines(text))), size, bold, underline)
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


def _docx_logo(path: str | None) -> bytes | None:
    """Return the logo's bytes when Word can show them, or None when the file is missing or not a usable image."""
    data = read_logo(path)
    if data is None:
        return None
    try:
        image = DocxImage.from_blob(data)
    except Exception:  # python-docx raises several kinds of errors for an unknown or broken image
        return None
    return data if image.px_width > 0 and image.px_height > 0 else None


def _docx_kop(doc: Any, content: LetterContent) -> None:
    """Write the letterhead with its optional logo and the double rule."""
    head = content.letterhead
    logo = _docx_logo(head.logo_path)
    has_logo = logo is not None
    target: Any = doc
    if logo is not None:
        mid = TEXT_W_CM - 2 * LOGO_COL_CM
        table = doc.add_table(rows=1, cols=3)
        _docx_no_borders(table)
        _docx_widths(table, [LOGO_COL_CM, mid, LOGO_COL_CM])
        logo_cell, target, _blank = table.rows[0].cells
        logo_para = logo_cell.paragraphs[0]
        logo_para.add_run().add_picture(io.BytesIO(logo), height=Cm(LOGO_H_CM))
        for cell in (logo_cell, target):
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    centre = WD_ALIGN_PARAGRAPH.CENTER
    add = _docx_first_para if has_logo else _docx_para
    add(target, head.pemda_name.upper(), size=KOP_PEMDA_PT, align=centre)
    _docx_para(target, head.office_name.upper(), size=KOP_OFFICE_PT, bold=True, align=centre)
    last = _docx_para(target, head.address, size=KOP_SMALL_PT, align=centre)
    if head.contact_line.strip():
        last = _docx_para(target, head.contact_line, size=KOP_SMALL_PT, align=centre)
    if has_logo:
        last = _docx_para(doc, "", size=4)
    _docx_double_rule(last)
    _docx_para(doc, "", after_pt=6)


def _docx_header(doc: Any, content: LetterContent) -> None:
    """Write the Nomor block (left) and place, date and addressee (right) as a borderless table."""
    left_w = TEXT_W_CM - RIGHT_COL_CM
    table = doc.add_table(rows=1, cols=2)
    _docx_no_borders(table)
    _docx_widths(table, [left_w, RIGHT_COL_CM])
    left, right = table.rows[0].cells
    for i, (label, value) in enumerate(header_rows(content)):
        add = _docx_first_para if i == 0 else _docx_para
        # hanging indent: wrapped values line up after the colon
        add(
            left,
            f"{label}\t:\t{value}",
            left_cm=BODY_INDENT_CM,
            first_cm=-BODY_INDENT_CM,
            tabs_cm=(LABEL_CM, BODY_INDENT_CM),
        )
    _docx_first_para(right, place_date(content))
    _docx_para(right, "")
    _docx_para(right, "Kepada")
    _docx_para(right, f"Yth. {content.addressee_title}", left_cm=0.85, first_cm=-0.85)
    place_lines = [line.lstrip(" ") for line in lines(content.addressee_place)]
    for raw, line in zip(lines(content.addressee_place), place_lines, strict=True):
        _docx_para(right, line, left_cm=0.5 * (len(raw) - len(line)))
    _docx_para(doc, "", after_pt=6)


def _docx_list(doc: Any, entries: list[ListEntry]) -> Any:
    """Write a numbered list: "1.", "2.", ... with their points "a.", "b.", ... one step further in (hanging).

    Returns the last paragraph written (None for an empty list).
    """
    last = None
    for n, entry in enumerate(entries):
        text_left = BODY_INDENT_CM + FIRST_LINE_CM + (entry.level + 1) * ITEM_NUM_CM
        has_points = n + 1 < len(entries) and entries[n + 1].level > entry.level
        last = _docx_para(
            doc,
            f"{entry.label}\t{entry.text}",
            align=WD_ALIGN_PARAGRAPH.JUSTIFY,
            left_cm=text_left,
            first_cm=-ITEM_NUM_CM,
            tabs_cm=(text_left,),
            after_pt=2 if entry.level else 3,
            keep_next=has_points,
        )
    return last


def _docx_body(doc: Any, content: LetterContent) -> None:
    """Write the Dasar block, the opening, the numbered missing items, the required action, consequence, closing."""
    justify = WD_ALIGN_PARAGRAPH.JUSTIFY
    dasar = dasar_entries(content)
    if dasar:
        _docx_para(doc, DASAR_HEADING, left_cm=BODY_INDENT_CM, after_pt=3, keep_next=True)
        _docx_list(doc, dasar).paragraph_format.space_after = Pt(9)  # a little air before the opening
    for text in body_before_list(content):
        _docx_para(doc, text, align=justify, left_cm=BODY_INDENT_CM, first_cm=FIRST_LINE_CM, after_pt=6)
    last_item = _docx_list(doc, missing_entries(content))
    if last_item is not None:
        last_item.paragraph_format.space_after = Pt(6)
    after = body_after_list(content)
    for n, text in enumerate(after):
        _docx_para(
            doc,
            text,
            align=justify,
            left_cm=BODY_INDENT_CM,
            first_cm=FIRST_LINE_CM,
            after_pt=6,
            keep_next=n == len(after) - 1,
        )


def _docx_signature(doc: Any, content: LetterContent) -> None:
    """Write the signature block centred in the right-hand column."""
    sig = content.signatory
    left = TEXT_W_CM - RIGHT_COL_CM
    centre = WD_ALIGN_PARAGRAPH.CENTER
    # one paragraph whose lines never split (w:keepLines), kept with the closing paragraph before it: Word and
    # LibreOffice both honour that, while a chain of keep-with-next paragraphs may still break across pages
    para = _docx_para(doc, align=centre, left_cm=left)
    fmt = para.paragraph_format
    fmt.space_before = Pt(BODY_PT)
    fmt.keep_together = True
    _docx_set_font(para.add_run("\n".join(lines(sig.title)) + "\n" * 5), BODY_PT)  # room for the signature
    _docx_set_font(para.add_run("\n".join(lines(sig.name))), BODY_PT, bold=True, underline=True)
    rest = [sig.rank] if sig.rank.strip() else []
    if sig.nip.strip():  # a head of region (Bupati, Wali Kota) has no NIP: no empty 'NIP.' line
        rest.append(f"NIP. {sig.nip}")
    if rest:
        _docx_set_font(para.add_run("\n" + "\n".join(lines("\n".join(rest)))), BODY_PT)


def _docx_tembusan(doc: Any, content: LetterContent) -> None:
    """Write the numbered list of copies (tembusan)."""
    if not content.tembusan:
        return
    _docx_para(doc, "", keep_next=True)
    _docx_para(doc, "Tembusan:", size=TEMBUSAN_PT, keep_next=True)
    last = len(content.tembusan)
    for i, entry in enumerate(content.tembusan, start=1):
        _docx_para(
            doc,
            f"{i}.\t{entry}",
            size=TEMBUSAN_PT,
            left_cm=0.6,
            first_cm=-0.6,
            tabs_cm=(0.6,),
            keep_next=i < last,
        )


def _docx_draft_header(doc: Any, content: LetterContent) -> None:
    """Mark a draft in the page header of every page: not yet approved, no agenda number."""
    if not content.draft:
        return
    section = doc.sections[0]
    section.header_distance = Cm(0.6)  # inside the 1.5 cm top margin, so the letter does not move down
    header = section.header
    header.is_linked_to_previous = False
    para = header.paragraphs[0]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = para.add_run(DRAFT_HEADER)
    _docx_set_font(run, TEMBUSAN_PT, bold=True)
    run.font.color.rgb = RGBColor(0x59, 0x59, 0x59)


def _docx_metadata(doc: Any, content: LetterContent) -> None:
    """Set core properties to values derived from the content so the output is reproducible."""
    stamp = datetime.datetime.combine(content.date, datetime.time(0, 0), tzinfo=datetime.UTC)
    props = doc.core_properties
    props.title = title(content)
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
    section.page_width = Cm(PAGE_W_CM)
    section.page_height = Cm(PAGE_H_CM)
    section.left_margin = Cm(MARGIN_LEFT_CM)
    section.right_margin = Cm(MARGIN_RIGHT_CM)
    section.top_margin = Cm(MARGIN_TOP_CM)
    section.bottom_margin = Cm(MARGIN_BOTTOM_CM)
    normal = doc.styles["Normal"]
    normal.font.name = DOCX_FONT
    normal.font.size = Pt(BODY_PT)
    _docx_draft_header(doc, content)
    _docx_kop(doc, content)
    _docx_header(doc, content)
    _docx_body(doc, content)
    _docx_signature(doc, content)
    _docx_tembusan(doc, content)
    _docx_metadata(doc, content)
    buf = io.BytesIO()
    doc.save(buf)
    return _normalise_zip(buf.getvalue(), content.date)
