"""What an evidence file is, by its content: sound files pass, everything else gets one Indonesian sentence."""

from __future__ import annotations

import io
import zipfile

import pytest

from models.filecheck import BadFile, check_file, safe_name
from tests.fakes import evidence_files as files

LIMIT = 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "content", "kind", "summary"),
    [
        ("laporan.pdf", files.pdf(pages=3), "pdf", "PDF, 3 halaman"),
        ("foto.jpg", files.picture("JPEG"), "jpg", "gambar JPG, 64×48 piksel"),
        ("foto.JPEG", files.picture("JPEG"), "jpg", "gambar JPG"),
        ("layar.png", files.picture("PNG"), "png", "gambar PNG, 64×48 piksel"),
        ("berita acara.docx", files.docx(), "docx", "dokumen Word (DOCX)"),
        ("produk.xlsx", files.xlsx(), "xlsx", "lembar kerja Excel (XLSX)"),
        ("", files.pdf(), "pdf", "PDF, 1 halaman"),  # a WhatsApp picture or document without a name
    ],
)
def test_sound_files_pass(name: str, content: bytes, kind: str, summary: str) -> None:
    checked = check_file(name, content, LIMIT)
    assert checked.kind == kind
    assert checked.summary.startswith(summary)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("kosong.pdf", b"", "kosong"),
        ("laporan.pdf", files.truncated_pdf(), "PDF itu rusak atau tidak lengkap"),
        ("laporan.pdf", b"%PDF-1.4\n%%EOF\n", "PDF itu rusak atau tidak lengkap"),
        ("laporan.pdf", files.picture("PNG"), "berakhiran .pdf, tetapi isinya gambar PNG"),
        ("catatan.txt", b"hanya teks biasa", "Jenis berkas .txt itu tidak diterima"),
        ("program.exe", b"MZ\x90\x00\x03", "Jenis berkas .exe itu tidak diterima"),
        ("lama.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "Office lama"),
        ("bom.docx", files.zip_bomb(), "membesar berlipat-lipat"),
        ("dua.pdf", files.pdf_with_zip(), "sekaligus berupa dua jenis berkas"),
        ("foto.jpg", files.picture("JPEG")[:200], "gambar JPG itu rusak atau terpotong"),
        ("layar.png", files.picture("PNG")[:60], "gambar PNG itu rusak atau terpotong"),
        ("arsip.docx", b"PK\x03\x04" + b"\0" * 40, "rusak atau tidak lengkap"),
    ],
)
def test_bad_files_are_refused_with_a_reason(name: str, content: bytes, says: str) -> None:
    with pytest.raises(BadFile) as refused:
        check_file(name, content, LIMIT)
    assert says.lower() in str(refused.value).lower()


def test_size_limit_and_other_zips() -> None:
    with pytest.raises(BadFile, match="terlalu besar"):
        check_file("besar.pdf", files.pdf(), 100)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("isi.txt", "bukan dokumen office")
    with pytest.raises(BadFile, match="bukan dokumen Word atau Excel"):
        check_file("arsip.zip", buffer.getvalue(), LIMIT)
    macro = io.BytesIO()
    with zipfile.ZipFile(macro, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            files.DOCX_TYPES.replace("document.main+xml", "document.macroEnabled.main+xml"),
        )
    with pytest.raises(BadFile, match="makro"):
        check_file("makro.docx", macro.getvalue(), LIMIT)


def test_names_are_made_safe() -> None:
    assert safe_name("../../etc/passwd", "pdf") == "passwd.pdf"
    assert safe_name("C:\\Users\\budi\\Laporan MCP 2.1 (final).PDF", "pdf") == "Laporan MCP 2.1 (final).pdf"
    assert safe_name("bukti\u202egpj.exe", "jpg") == "buktigpj.jpg"  # the right-to-left mark goes
    assert safe_name("Surat Kepala Dinas – ttd (é).docx", "docx") == "Surat Kepala Dinas ttd (e).docx"
    assert safe_name("", "png", "bukti-mcp-2.1") == "bukti-mcp-2.1.png"
    assert safe_name("...", "pdf") == "bukti.pdf"
    assert len(safe_name("a" * 500 + ".pdf", "pdf")) <= 100
