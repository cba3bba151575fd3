"""Tests for the Surat Teguran renderers (PDF via reportlab, DOCX via python-docx)."""

from __future__ import annotations

import dataclasses
import datetime
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from pypdf import PdfReader

from jobs.letters.content import (
    LetterContent,
    Letterhead,
    LetterSection,
    Signatory,
    format_date_id,
    letter_number,
)
from jobs.letters.docx import render_docx
from jobs.letters.pdf import render_pdf

MISSING_ITEMS = (
    LetterSection(
        "e-Katalog lokal: 0 dari target 10 produk tayang", ("Batas waktu 15 Desember 2026; terlambat 7 hari",)
    ),
    LetterSection(
        "Rencana Aksi Inovasi Daerah tahun 2026: belum ada inovasi yang diajukan",
        ("Batas waktu 30 September 2026; terlambat 83 hari",),
    ),
    LetterSection("P3DN/UMKK: realisasi belanja produk usaha mikro dan kecil 18,5 % dari ambang 40 %"),
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
        *(section.heading for section in content.missing_items),
        *(point for section in content.missing_items for point in section.points),
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
            LetterSection(
                "MCP area Perencanaan & Penganggaran: 2 dari 5 bukti dukung <belum> lengkap",
                ("Indikator 1.2 <RKPD> & KUA-PPAS: belum diunggah",),
            ),
        ),
    )
    text = pdf_text(render_pdf(content))
    assert f"Yth. Kepala {unit}" in text
    assert "DINAS KOMINFO & STATISTIK" in text
    assert "4. MCP area Perencanaan & Penganggaran: 2 dari 5 bukti dukung <belum> lengkap" in text
    assert "a. Indikator 1.2 <RKPD> & KUA-PPAS: belum diunggah" in text
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
    content = make_content(missing_items=(LetterSection("MCP KPK: 0 dari 30 indikator selesai", items),))
    reader = PdfReader(io.BytesIO(render_pdf(content)))
    assert len(reader.pages) >= 2
    text = pdf_text(render_pdf(content))
    assert "ad. " + items[-1] in text  # the 30th point: a., ..., z., aa., ab., ac., ad.
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


# --------------------------------------------------------------------------- Dasar, sections, drafts, fonts

DASAR = (
    "Peraturan Menteri Dalam Negeri Nomor 1 Tahun 2023 tentang Pedoman Umum Tata Naskah Dinas di Lingkungan "
    "Pemerintah Daerah;",
    "Instruksi Presiden Nomor 2 Tahun 2022 tentang Percepatan Peningkatan Penggunaan Produk Dalam Negeri dan "
    "Produk Usaha Mikro, Usaha Kecil, dan Koperasi.",
)
MCP = LetterSection(
    "Monitoring Center for Prevention (MCP) KPK: 3 dari 5 indikator selesai",
    (
        "Indikator 2.1 Pengadaan Barang dan Jasa: bukti dukung rencana umum pengadaan belum diunggah",
        "Indikator 4.3 Manajemen ASN: bukti dukung ditolak verifikator",
        "Batas waktu 15 Desember 2026; terlambat 7 hari",
    ),
)
KATALOG = LetterSection("e-Katalog lokal: 0 dari target 10 produk tayang", ("Batas waktu 15 Desember 2026",))
BASE14 = {
    "Courier",
    "Courier-Bold",
    "Courier-BoldOblique",
    "Courier-Oblique",
    "Helvetica",
    "Helvetica-Bold",
    "Helvetica-BoldOblique",
    "Helvetica-Oblique",
    "Symbol",
    "Times-Bold",
    "Times-BoldItalic",
    "Times-Italic",
    "Times-Roman",
    "ZapfDingbats",
}


def test_pdf_prints_the_dasar_block_numbered_before_the_opening() -> None:
    content = make_content(dasar=DASAR)
    text = pdf_text(render_pdf(content))
    block = f"Dasar: 1. {_norm(DASAR[0])} 2. {_norm(DASAR[1])} Berdasarkan hasil pemantauan"
    assert block in text
    assert text.index(content.perihal) < text.index("Dasar:")
    assert "Dasar:" not in pdf_text(render_pdf(make_content()))


def test_pdf_numbers_programs_and_letters_their_points() -> None:
    content = make_content(missing_items=(MCP, KATALOG))
    text = pdf_text(render_pdf(content))
    expected = (
        f"1. {MCP.heading} a. {MCP.points[0]} b. {MCP.points[1]} c. {MCP.points[2]} "
        f"2. {KATALOG.heading} a. {KATALOG.points[0]} Sehubungan dengan hal tersebut"
    )
    assert expected in text
    # the MCP indicators are points of one program, not demands of their own
    assert "3. Indikator" not in text and "4. " + KATALOG.heading not in text


def test_pdf_draft_has_the_watermark_on_every_page_and_a_final_letter_none() -> None:
    long_section = LetterSection(
        "MCP KPK: 0 dari 30 indikator selesai",
        tuple(f"Indikator MCP nomor {i}: bukti dukung belum diunggah" for i in range(1, 31)),
    )
    draft = make_content(missing_items=(long_section,), draft=True, number="rancangan #12")
    reader = PdfReader(io.BytesIO(render_pdf(draft)))
    assert len(reader.pages) >= 2
    for page in reader.pages:
        assert "RANCANGAN" in page.extract_text()
    assert "Nomor : rancangan #12" in pdf_text(render_pdf(draft))
    final = PdfReader(io.BytesIO(render_pdf(make_content(missing_items=(long_section,)))))
    assert all("RANCANGAN" not in page.extract_text() for page in final.pages)


def _pdf_fonts(data: bytes) -> dict[str, Any]:
    """Every font object used on any page, by its BaseFont name (subset prefix included)."""
    fonts: dict[str, Any] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            fonts[str(font["/BaseFont"])] = font
    return fonts


def test_pdf_embeds_every_font_and_uses_no_base14_font(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    logo = tmp_path / "logo.png"
    PILImage.new("RGB", (80, 100), (20, 110, 60)).save(logo)
    content = make_content(
        dasar=DASAR,
        missing_items=(MCP, KATALOG),
        draft=True,
        letterhead=dataclasses.replace(make_content().letterhead, logo_path=str(logo)),
    )
    fonts = _pdf_fonts(render_pdf(content))
    assert len(fonts) >= 2  # regular and bold
    for name, font in fonts.items():
        assert name.split("+")[-1].lstrip("/") not in BASE14, name
        descriptor = (font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font)[
            "/FontDescriptor"
        ].get_object()
        assert "/FontFile2" in descriptor, f"{name} is not embedded"


def test_docx_has_the_dasar_block_and_lettered_points() -> None:
    content = make_content(dasar=DASAR, missing_items=(MCP, KATALOG))
    doc = Document(io.BytesIO(render_docx(content)))
    paras = [p for p in doc.paragraphs if p.text]
    texts = [p.text for p in paras]
    start = texts.index("Dasar:")
    assert texts[start + 1 : start + 3] == [f"1.\t{DASAR[0]}", f"2.\t{DASAR[1]}"]
    assert texts[start + 3].startswith("Berdasarkan hasil pemantauan")
    first = texts.index(f"1.\t{MCP.heading}")
    assert texts[first : first + 6] == [
        f"1.\t{MCP.heading}",
        f"a.\t{MCP.points[0]}",
        f"b.\t{MCP.points[1]}",
        f"c.\t{MCP.points[2]}",
        f"2.\t{KATALOG.heading}",
        f"a.\t{KATALOG.points[0]}",
    ]
    heading, point = paras[first].paragraph_format, paras[first + 1].paragraph_format
    assert heading.left_indent is not None and point.left_indent is not None
    assert point.left_indent > heading.left_indent  # the points hang under their program
    assert heading.first_line_indent is not None and heading.first_line_indent < 0  # hanging number
    assert "Dasar:" not in docx_text(render_docx(make_content()))


def test_docx_marks_a_draft_in_the_header_only() -> None:
    draft = Document(io.BytesIO(render_docx(make_content(draft=True, number="rancangan #12"))))
    assert [p.text for p in draft.sections[0].header.paragraphs] == ["RANCANGAN – belum bernomor"]
    assert "Nomor\t:\trancangan #12" in [p.text for t in draft.tables for c in t.rows[0].cells for p in c.paragraphs]
    final = Document(io.BytesIO(render_docx(make_content())))
    header_text = " ".join(p.text for p in final.sections[0].header.paragraphs)
    assert "RANCANGAN" not in header_text + docx_text(render_docx(make_content()))


def test_unreadable_logo_is_left_out(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    whole = tmp_path / "whole.png"
    PILImage.new("RGB", (80, 100), (20, 110, 60)).save(whole)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(whole.read_bytes()[:60])
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"<html>bukan gambar</html>")
    no_logo_pdf, no_logo_docx = render_pdf(make_content()), render_docx(make_content())
    for path in (truncated, garbage, tmp_path, tmp_path / "absent.png"):
        content = make_content(letterhead=dataclasses.replace(make_content().letterhead, logo_path=str(path)))
        assert render_pdf(content) == no_logo_pdf, path
        docx = render_docx(content)
        with zipfile.ZipFile(io.BytesIO(docx)) as zf:
            assert not any(name.startswith("word/media/") for name in zf.namelist()), path
        assert docx == no_logo_docx, path


def test_pdf_with_logo_is_deterministic(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    logo = tmp_path / "logo.png"
    PILImage.new("RGB", (80, 100), (20, 110, 60)).save(logo)
    content = make_content(letterhead=dataclasses.replace(make_content().letterhead, logo_path=str(logo)))
    assert render_pdf(content) == render_pdf(content)
