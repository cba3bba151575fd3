"""Files people send as evidence (bukti dukung), good and bad, made in memory for the tests."""

from __future__ import annotations

import io
import zipfile

from docx import Document
from openpyxl import Workbook
from PIL import Image
from reportlab.pdfgen import canvas

DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def pdf(text: str = "Bukti dukung", pages: int = 1) -> bytes:
    """A small, sound PDF with `pages` pages."""
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer, invariant=True)  # the same bytes every time
    for page in range(pages):
        drawing.drawString(72, 720, f"{text} — halaman {page + 1}")
        drawing.showPage()
    drawing.save()
    return buffer.getvalue()


def truncated_pdf() -> bytes:
    """A PDF cut off halfway, as an interrupted upload leaves it."""
    whole = pdf(pages=3)
    return whole[: len(whole) // 2]


def picture(kind: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A small PNG or JPEG picture."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=kind)
    return buffer.getvalue()


def docx() -> bytes:
    """A small Word document."""
    document = Document()
    document.add_paragraph("Berita acara")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx() -> bytes:
    """A small Excel workbook."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "Produk tayang"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bomb(megabytes: int = 60) -> bytes:
    """A 'DOCX' whose one part unpacks from a few kilobytes to `megabytes` of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", DOCX_TYPES)
        archive.writestr("word/document.xml", b"\0" * (megabytes * 1024 * 1024))
    return buffer.getvalue()


def pdf_with_zip() -> bytes:
    """A polyglot: a sound PDF with a zip archive appended (a PDF reader and an unzipper both take it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.txt", "x")
    return pdf() + buffer.getvalue()
