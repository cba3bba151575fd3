"""/grafik, /peringkat and /ekspor as the Bupati, the admin and a camat use them."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from PIL import Image
from sqlmodel import select

from models.app import Deps
from models.status_book import XLSX_MIME
from models.tables import Contact, Unit
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, OPERATOR_DINKES, PIMPINAN, console_person


async def report_some(deps: Deps) -> None:
    """DINKES 12 products (120 %), DISDIK and BAPPEDA 5 each (a tie), P3DN and an innovation from DINKES."""
    await console_person(deps, KEPALA_DINKES).text("/lapor katalog 12")
    await console_person(deps, KEPALA_DINKES).text("/lapor p3dn 41,5")
    await console_person(deps, KEPALA_DINKES).text("/lapor inovasi Layanan Antar Obat Lansia")
    admin = console_person(deps, ADMIN)
    await admin.text("/lapor disdik katalog 5")
    await admin.text("/lapor bappeda katalog 5")


async def test_grafik_sends_a_picture_for_the_pimpinan(deps: Deps) -> None:
    await report_some(deps)
    pimpinan = console_person(deps, PIMPINAN)
    (reply,) = await pimpinan.say("/grafik")
    assert reply.attachment is not None
    assert (reply.attachment.kind, reply.attachment.mime) == ("photo", "image/png")
    with Image.open(io.BytesIO(reply.attachment.content)) as png:
        assert png.format == "PNG" and png.size[0] == 1080
    assert reply.text.startswith("Capaian Kabupaten Sukamakmur per 23 Nov 2026:")
    assert "• e-Katalog lokal: 22 dari 500 produk" in reply.text and len(reply.text) <= 1024
    (one,) = await pimpinan.say("/grafik ekatalog")
    assert one.attachment is not None and one.attachment.filename == "grafik-katalog-2026-11-23.png"
    # every report came today: no "+22 this week", no pace from the weeks before anyone reported
    assert one.text.startswith(
        "e-Katalog lokal, Kabupaten Sukamakmur: 22 dari 500 produk, laporan pertama masuk minggu ini.\n"
        "Laju belum dapat dihitung: laporan baru masuk sejak 23 November.\n"
        "Garis merah: target. Batang: unit terbaik dan tertinggal."
    )
    assert "Dengan laju sekarang" not in one.text and "/peringkat katalog" in one.text
    assert "Program “kapal” tidak dikenal" in await pimpinan.text("/grafik kapal")
    assert "tidak tersedia untuk peran" in await console_person(deps, KEPALA_DINKES).text("/grafik")
    assert "Grafik satu program: /grafik inovasi (atau katalog, p3dn, mcp)." in reply.text


async def test_grafik_names_only_the_programs_of_this_pemda(deps: Deps) -> None:
    """A Pemda chasing two programs is not told to try /grafik inovasi or mcp."""
    pemda = deps.pemda.model_copy(update={"programs": [p for p in deps.pemda.programs if p.key in ("katalog", "p3dn")]})
    two = Deps(db=deps.db, pemda=pemda, clock=deps.clock, calendar=deps.calendar)
    (reply,) = await console_person(two, PIMPINAN).say("/grafik")
    assert "Grafik satu program: /grafik katalog (atau p3dn)." in reply.text
    assert "inovasi" not in reply.text and "mcp" not in reply.text


async def test_peringkat_states_its_rule_and_shares_ranks_on_ties(deps: Deps) -> None:
    await report_some(deps)
    text = await console_person(deps, ADMIN).text("/peringkat katalog")
    lines = text.splitlines()
    assert lines[0] == "🏆 Peringkat e-Katalog lokal — Kabupaten Sukamakmur, 23 Nov 2026"
    assert "Skor sama berbagi peringkat" in lines[1]
    assert "1. Dinas Kesehatan (DINKES) — 120 % (12/10)" in lines
    assert "2. Badan Perencanaan Pembangunan, Riset dan Inovasi Daerah (BAPPEDA) — 50 % (5/10)" in lines
    assert "2. Dinas Pendidikan (DISDIK) — 50 % (5/10)" in lines
    assert any(line.startswith("4. ") and "0 % (0/10)" in line for line in lines)
    assert "Halaman 1 dari 2." in text
    (page,) = await console_person(deps, ADMIN).say("", payload="/peringkat katalog 2")
    assert "Halaman 2 dari 2." in page.text and [b.payload for b in page.buttons] == ["/peringkat katalog 1"]
    overall = await console_person(deps, PIMPINAN).text("/peringkat")
    assert "rata-rata capaian semua program" in overall
    assert overall.splitlines()[3].startswith("1. Dinas Kesehatan (DINKES) — 100 %")  # three programs met of three


async def test_a_camat_ranks_the_kecamatan_and_a_dispensation_is_not_ranked(deps: Deps) -> None:
    await report_some(deps)
    camat = await console_person(deps, CAMAT_SUKAMAKMUR).text("/peringkat katalog")
    assert "Kecamatan Sukamakmur" in camat and "Dinas" not in camat
    assert "tidak tersedia untuk peran" in await console_person(deps, OPERATOR_DINKES).text("/peringkat")
    admin = console_person(deps, ADMIN)
    await admin.text("/dispensasi disdik katalog Sedang audit BPK")
    text = await admin.text("/peringkat katalog")
    assert "DISDIK" not in text and "1 unit dengan dispensasi tidak diperingkat." in text
    assert "2. Badan Perencanaan" in text and "3. " in text  # no shared rank left


def _rekap_numbers(rekap: str) -> dict[str, tuple[int, int, str]]:
    """Per program label: (units meeting, units, the rest of the line) from /rekap's summary lines."""
    found = {}
    for line in rekap.splitlines():
        match = re.match(r"• (.+?): (\d+)/(\d+) unit memenuhi(.*)", line)
        if match:
            found[match.group(1)] = (int(match.group(2)), int(match.group(3)), match.group(4))
    return found


async def test_ekspor_is_a_workbook_whose_numbers_match_rekap(deps: Deps) -> None:
    await report_some(deps)
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "DISHUB")).one()
        unit.name = '=HYPERLINK("http://contoh.invalid","klik")'
        operator = uow.session.exec(select(Contact).where(Contact.name == OPERATOR_DINKES)).one()
        operator.name = "+62 Eko; -- Hidayat"
        uow.session.add_all([unit, operator])
        uow.commit()
    await console_person(deps, "+62 Eko; -- Hidayat").text("/lapor katalog 13")
    admin = console_person(deps, ADMIN)
    rekap = _rekap_numbers(await admin.text("/rekap"))
    (reply,) = await console_person(deps, PIMPINAN).say("/ekspor")
    assert reply.attachment is not None and reply.attachment.mime == XLSX_MIME
    assert reply.attachment.filename == "status-sigap-2026-11-23.xlsx"
    assert "ringkasan dengan grafik" in reply.text
    book = load_workbook(io.BytesIO(reply.attachment.content))
    assert book.sheetnames == ["Ringkasan", "Inovasi daerah", "e-Katalog lokal", "P3DN-UMKK", "MCP KPK", "Riwayat"]
    summary = book["Ringkasan"]
    header = [c.value for c in summary[3]]
    assert header[:6] == ["Program", "Capaian", "Target", "Perubahan minggu ini", "Unit memenuhi", "Jumlah unit"]
    rows = {row[0]: row for row in summary.iter_rows(min_row=4, max_row=7, values_only=True)}
    assert len(rekap) == 4
    for label, (met, units, _rest) in rekap.items():
        assert rows[label][4:6] == (met, units)
    assert rows["e-Katalog lokal"][1:3] == (23, 500)
    assert "total 23 dari 500 produk" in rekap["e-Katalog lokal"][2]
    assert rows["P3DN/UMKK"][1] == 41.5
    # every report came this week: said in words, not the whole figure as the week's change; MCP has none
    assert rows["e-Katalog lokal"][3] == "laporan pertama masuk minggu ini"
    assert rows["MCP KPK"][3] == "belum ada laporan"
    assert len(summary._images) == 1  # the picture
    katalog = book["e-Katalog lokal"]
    assert [c.value for c in katalog[1]][:8] == [
        "Kode unit", "Unit", "Nilai", "Target", "Status", "Laporan terakhir", "Pelapor", "Bukti dukung",
    ]  # fmt: skip
    by_code = {row[0]: row for row in katalog.iter_rows(min_row=2, values_only=True)}
    assert by_code["DINKES"][2:5] == (13, 10, "memenuhi")
    assert by_code["DINKES"][6] == "+62 Eko; -- Hidayat"
    assert by_code["DISDIK"][2:5] == (5, 10, "belum memenuhi")
    assert by_code["DISKOMINFO"][2:5] == (None, 10, "belum lapor")
    assert sum(row[2] or 0 for row in by_code.values()) == 23
    dishub = next(row for row in katalog.iter_rows(min_row=2) if row[0].value == "DISHUB")
    assert dishub[1].data_type == "s" and dishub[1].value.startswith("=HYPERLINK")  # text, never a formula
    reporter = next(row for row in katalog.iter_rows(min_row=2) if row[0].value == "DINKES")[6]
    assert reporter.data_type == "s" and reporter.quotePrefix
    history = list(book["Riwayat"].iter_rows(values_only=True))
    assert history[0][0] == "Tanggal" and history[-1][2] == 23
    assert "tidak tersedia untuk peran" in await console_person(deps, CAMAT_SUKAMAKMUR).text("/ekspor")


async def test_a_program_nobody_reported_has_no_pace_and_says_so(deps: Deps) -> None:
    (reply,) = await console_person(deps, PIMPINAN).say("/grafik mcp")
    assert reply.text.startswith(
        "MCP KPK, Kabupaten Sukamakmur: 0 dari 9 indikator selesai (0 %), 0 terverifikasi, belum ada laporan."
    )
    assert "Dengan laju sekarang" not in reply.text and "Titik-titik" not in reply.text
