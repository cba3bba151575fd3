"""Tests for the Surat Teguran renderers (PDF via reportlab, DOCX via python-docx)."""

from __future__ import annotations

import dataclasses
import datetime
import io
import zipfile
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

from jobs.letters.content import (
    LetterContent,
    Letterhead,
    Signatory,
    format_date_id,
    letter_number,
)
from jobs.letters.docx import render_docx
from jobs.letters.pdf import render_pdf

MISSING_ITEMS = (
    "e-Katalog lokal: 0 dari target 10 produk tayang, batas waktu 15 Desember 2026, terlambat 7 hari",
    "Rencana Aksi Inovasi Daerah tahun 2026: belum ada inovasi yang diajukan, batas waktu 30 September 2026",
    "P3DN/UMKK: realisasi belanja produk usaha mikro dan kecil 18,5 % dari ambang 40 %",
)
TEMBUSAN = (
    "Yth. Bupati Lembah Hijau (sebagai laporan);",
    "Yth. Inspektur Kabupaten Lembah Hijau;",
    "Yth. Kepala Bagian Organisasi Setda Kabupaten Lembah Hijau;",
    "Arsip.",
)
NIP = "19700315 199503 1 002"


def make_content(**overrides: object) -> LetterContent:
    """Build a realistic first warning letter to a fictional regency health office."""
    content = LetterContent(
        letterhead=Letterhead(
            pemda_name="Pemerintah Kabupaten Lembah Hijau",
            office_name="Sekretariat Daerah",
            address="Jalan Jenderal Sudirman Nomor 1, Lembah Hijau 45111",
            contact_line=(
                "Telepon (0231) 123456, Laman setda.lembahhijaukab.go.id, Pos-el setda@lembahhijaukab.go.id"
            ),
        ),
        number=letter_number(
            "{klasifikasi}/{nomor}/{kode_unit}/{tahun}",
            klasifikasi="000.8.3.3",
            nomor=15,
            kode_unit="ORG",
            tahun=2026,
        ),
        place="Lembah Hijau",
        date=datetime.date(2026, 12, 22),
        sifat="Penting",
        lampiran="-",
        perihal="Teguran I atas Keterlambatan Pemenuhan Kewajiban Program Prioritas Daerah",
        addressee_title="Kepala Dinas Kesehatan Kabupaten Lembah Hijau",
        addressee_place="di -\n Tempat",
        opening=(
            "Berdasarkan hasil pemantauan pelaksanaan program prioritas daerah melalui aplikasi Sigap "
            "sampai dengan tanggal 22 Desember 2026, Dinas Kesehatan Kabupaten Lembah Hijau belum "
            "memenuhi kewajiban sebagai berikut:"
        ),
        missing_items=MISSING_ITEMS,
        required_action=(
            "Sehubungan dengan hal tersebut, Saudara diminta untuk segera melengkapi kekurangan di atas "
            "dan melaporkan pemenuhannya melalui aplikasi Sigap"
        ),
        new_deadline=datetime.date(2027, 1, 5),
        consequence=(
            "Apabila sampai dengan batas waktu tersebut kewajiban belum dipenuhi, akan diterbitkan "
            "Teguran II dan hal ini menjadi bahan evaluasi kinerja perangkat daerah oleh Inspektorat."
        ),
        signatory=Signatory(
            title="a.n. Bupati Lembah Hijau\nSekretaris Daerah,",
            name="Dr. H. Ahmad Fauzi, S.Sos., M.Si.",
            nip=NIP,
            rank="Pembina Utama Madya (IV/d)",
        ),
        tembusan=TEMBUSAN,
        stage_label="Teguran I",
    )
    return dataclasses.replace(content, **overrides)  # type: ignore[arg-type]


def _norm(text: str) -> str:
    """Collapse whitespace so wrapped lines compare as one string."""
    return " ".join(text.split())


def pdf_text(data: bytes) -> str:
    """Extract the text of every page of a PDF, whitespace collapsed."""
    reader = PdfReader(io.BytesIO(data))
    return _norm(" ".join(page.extract_text() for page in reader.pages))


def docx_text(data: bytes) -> str:
    """Extract the paragraph and table text of a DOCX, whitespace collapsed."""
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                parts.extend(p.text for p in cell.paragraphs)
    return _norm("\n".join(parts))


def key_texts(content: LetterContent) -> list[str]:
    """Return the strings every rendering of the letter must contain."""
    return [
        "PEMERINTAH KABUPATEN LEMBAH HIJAU",
        "SEKRETARIAT DAERAH",
        content.number,
        "000.8.3.3/15/ORG/2026",
        "Lembah Hijau, 22 Desember 2026",
        "Yth. " + content.addressee_title,
        content.perihal,
        *content.missing_items,
        "paling lambat tanggal 5 Januari 2027",
        content.signatory.name,
        "NIP. " + NIP,
        "Pembina Utama Madya (IV/d)",
        "Tembusan:",
        *content.tembusan,
    ]


def test_format_date_id() -> None:
    assert format_date_id(datetime.date(2026, 11, 23)) == "23 November 2026"
    assert format_date_id(datetime.date(2026, 8, 1)) == "1 Agustus 2026"


def test_letter_number_fills_fields() -> None:
    number = letter_number(
        "{klasifikasi}/{nomor}/{kode_unit}/{tahun}",
        klasifikasi="000.8.3.3",
        nomor=15,
        kode_unit="ORG",
        tahun=2026,
    )
    assert number == "000.8.3.3/15/ORG/2026"


def test_letter_number_missing_field_names_it() -> None:
    with pytest.raises(ValueError, match="kode_unit"):
        letter_number(
            "{klasifikasi}/{nomor}/{kode_unit}/{tahun}", klasifikasi="000.8.3.3", nomor=15, tahun=2026
        )
    with pytest.raises(ValueError, match="tahun"):
        letter_number("{klasifikasi}/{nomor}/{tahun}", klasifikasi="000", nomor=1, tahun="")


def test_letter_number_rejects_positional_fields() -> None:
    with pytest.raises(ValueError, match="named fields"):
        letter_number("{}/{nomor}", nomor=1)


def test_pdf_contains_key_texts() -> None:
    content = make_content()
    data = render_pdf(content)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in key_texts(content):
        assert _norm(expected) in text, expected
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(float(width)), round(float(height))) == (595, 842)  # A4 in points
    assert reader.metadata is not None
    assert reader.metadata.title == "Teguran I: " + content.perihal


def test_pdf_is_deterministic() -> None:
    content = make_content()
    assert render_pdf(content) == render_pdf(make_content())
    assert render_pdf(content) != render_pdf(make_content(number="000.8.3.3/16/ORG/2026"))


def test_ampersand_and_markup_in_user_text_render() -> None:
    unit = "Dinas Pemberdayaan Perempuan & Perlindungan Anak <P3A>"
    content = make_content(
        addressee_title=f"Kepala {unit}",
        letterhead=dataclasses.replace(make_content().letterhead, office_name="Dinas Kominfo & Statistik"),
        missing_items=(
            *MISSING_ITEMS,
            "MCP area Perencanaan & Penganggaran: 2 dari 5 bukti dukung <belum> lengkap",
        ),
    )
    text = pdf_text(render_pdf(content))
    assert f"Yth. Kepala {unit}" in text
    assert "DINAS KOMINFO & STATISTIK" in text
    assert "MCP area Perencanaan & Penganggaran: 2 dari 5 bukti dukung <belum> lengkap" in text
    dtext = docx_text(render_docx(content))
    assert f"Yth. Kepala {unit}" in dtext
    assert "DINAS KOMINFO & STATISTIK" in dtext


def test_docx_contains_key_texts() -> None:
    content = make_content()
    data = render_docx(content)
    text = docx_text(data)
    for expected in key_texts(content):
        assert _norm(expected) in text, expected
    doc = Document(io.BytesIO(data))
    section = doc.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    name_runs = [r for p in doc.paragraphs for r in p.runs if r.text == content.signatory.name]
    assert name_runs and name_runs[0].bold and name_runs[0].underline
    props = doc.core_properties
    assert props.created == datetime.datetime(2026, 12, 22, 0, 0, tzinfo=datetime.UTC)
    assert props.modified == datetime.datetime(2026, 12, 22, 0, 0, tzinfo=datetime.UTC)
    assert props.title == "Teguran I: " + content.perihal


def test_docx_is_deterministic() -> None:
    content = make_content()
    data = render_docx(content)
    assert data == render_docx(make_content())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert {info.date_time for info in zf.infolist()} == {(2026, 12, 22, 0, 0, 0)}


def test_logo_is_used_when_present(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    logo = tmp_path / "logo.png"
    PILImage.new("RGB", (80, 100), (20, 110, 60)).save(logo)
    with_logo = make_content(letterhead=dataclasses.replace(make_content().letterhead, logo_path=str(logo)))
    missing_logo = make_content(
        letterhead=dataclasses.replace(make_content().letterhead, logo_path=str(tmp_path / "absent.png"))
    )

    pdf = render_pdf(with_logo)
    assert b"/Subtype /Image" in pdf
    assert "SEKRETARIAT DAERAH" in pdf_text(pdf)
    assert b"/Subtype /Image" not in render_pdf(missing_logo)
    assert render_pdf(missing_logo) == render_pdf(make_content())

    docx = render_docx(with_logo)
    with zipfile.ZipFile(io.BytesIO(docx)) as zf:
        assert any(name.startswith("word/media/") for name in zf.namelist())
    assert "SEKRETARIAT DAERAH" in docx_text(docx)
    assert render_docx(with_logo) == docx


def test_long_letter_flows_to_second_page() -> None:
    items = tuple(
        f"Indikator MCP nomor {i}: bukti dukung belum diunggah, terlambat {i} hari" for i in range(1, 31)
    )
    content = make_content(missing_items=items)
    reader = PdfReader(io.BytesIO(render_pdf(content)))
    assert len(reader.pages) >= 2
    text = pdf_text(render_pdf(content))
    assert items[-1] in text
    assert "NIP. " + NIP in text
    assert "- 2 -" in text


def test_control_characters_and_crlf_do_not_break_rendering() -> None:
    content = make_content(
        addressee_title="Kepala Dinas\x0bKesehatan",
        addressee_place="di -\r\n Tempat",
        opening="Berdasarkan hasil pemantauan\x00 aplikasi Sigap:",
    )
    for text in (pdf_text(render_pdf(content)), docx_text(render_docx(content))):
        assert "Yth. Kepala DinasKesehatan" in text
        assert "Berdasarkan hasil pemantauan aplikasi Sigap:" in text
        assert "Tempat" in text
