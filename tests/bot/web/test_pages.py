"""What the dashboard's pages show: the chat's own numbers and words (/rekap, /peringkat, /status), filters that
filter, a unit's history with its evidence, and the verification queue with the same Sah / Tolak as the chat."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.app import Deps
from models.tables import AuditLog, Outbox, Unit
from tests.bot.web.conftest import PUBLIC_URL, csrf_of, signed_in
from tests.bot.web.page_seed import DODI, EKO, INDAH, PUTRI, evidence_status, send_evidence
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, console_person, contact_named
from tests.seed_history import seed_sample_history

ROW = re.compile(r'<td class="num">(\d+|–)</td>\s*<td><a href="/dasbor/unit/([^"]+)">[^<]*</a>.*?</td>\s*'
                 r'<td class="num">([^<]*)</td>\s*<td>([^<]*)</td>', re.S)  # fmt: skip


def browser_of(app: Starlette, deps: Deps, name: str) -> TestClient:
    """A signed-in browser for `name`."""
    return signed_in(TestClient(app, base_url=PUBLIC_URL, follow_redirects=False), contact_named(deps, name))


def text_of(page: str) -> str:
    """The page's text without tags, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def card(page: str, key: str) -> str:
    """The text of one program's card on the overview."""
    found = re.search(rf'id="program-{key}">(.*?)</section>', page, re.S)
    assert found is not None, key
    return text_of(found.group(1))


@pytest.fixture
async def busy(deps: Deps, tmp_path: Path) -> Deps:
    """Ten weeks of reports, a dispensation, a /proses pause and evidence waiting for MCP's verifier."""
    seed_sample_history(deps)
    admin = console_person(deps, ADMIN)
    assert "dispensasi" in await admin.text("/dispensasi disdik katalog Unit sedang direstrukturisasi")
    assert "diproses" in await console_person(deps, EKO).text("/proses p3dn 2026-12-10")
    await send_evidence(deps, tmp_path, INDAH, "mcp 2.1")
    return deps


async def test_the_overview_counts_are_rekaps_and_the_table_is_peringkats(busy: Deps, client: TestClient) -> None:
    rekap = await console_person(busy, ADMIN).text("/rekap")
    page = signed_in(client, contact_named(busy, ADMIN)).get("/dasbor/").text
    complete = re.search(r"(\d+) dari (\d+) unit memenuhi semua program", rekap)
    assert complete is not None and complete.group(0) in text_of(page)
    for program in busy.pemda.programs:
        line = re.search(rf"• {re.escape(program.label)}: (\d+)/(\d+) unit memenuhi(?: \((.*?)\))?(?:;|$)", rekap, re.M)
        assert line is not None, program.key
        shown = card(page, program.key)
        notes = dict((word, int(n)) for n, word in re.findall(r"(\d+) (dengan dispensasi|menunggu verifikasi)",
                                                               line.group(3) or ""))  # fmt: skip
        assert f"{line.group(1)} memenuhi" in shown
        for word, said in (("dispensasi", "dengan dispensasi"), ("menunggu verifikasi", "menunggu verifikasi")):
            count = notes.get(said, 0)
            assert f"{count} {word}" in shown if count else word not in shown
    assert "1 dispensasi" in card(page, "katalog") and "1 menunggu verifikasi" in card(page, "mcp")
    assert "320 dari 500 produk" in card(page, "katalog") and "+30 minggu ini" in card(page, "katalog")
    assert "Dengan laju sekarang: 414 dari 500 produk pada 15 Desember" in card(page, "katalog")
    peringkat = await console_person(busy, ADMIN).text("/peringkat katalog")
    expected = re.findall(r"^(\d+)\. .*? \(([A-Z0-9-]+)\) — (.+)$", peringkat, re.M)
    table = client.get("/dasbor/program/katalog").text
    shown = [(place, code, f"{score} ({value})") for place, code, value, score in ROW.findall(table)]
    assert shown[: len(expected)] == expected and len(expected) == 50
    assert "Kabupaten Sukamakmur" in text_of(table) and "dispensasi tidak diperingkat" in text_of(table)


async def test_filters_filter_and_the_counts_lead_to_them(busy: Deps, client: TestClient) -> None:
    page = signed_in(client, contact_named(busy, ADMIN)).get("/dasbor/").text
    behind = re.search(r"(\d+) tertinggal", card(page, "katalog"))
    assert behind is not None and 'href="/dasbor/program/katalog?status=tertinggal"' in page
    lagging = client.get("/dasbor/program/katalog?status=tertinggal").text
    assert f"{behind.group(1)} unit cocok dengan filter" in text_of(lagging)
    assert '">memenuhi</span>' not in lagging and "/dasbor/unit/DISDIK" not in lagging
    exempted = client.get("/dasbor/program/katalog?status=dispensasi").text
    assert [code for _rank, code, _value, _score in ROW.findall(exempted)] == ["DISDIK"]
    assert "tidak diperingkat" in exempted and "dispensasi (alasan: Unit sedang direstrukturisasi)" in exempted
    kecamatan = ROW.findall(client.get("/dasbor/program/p3dn?jenis=kecamatan").text)
    assert len(kecamatan) == 10 and all(code.startswith("KEC-") for _r, code, _v, _s in kecamatan)
    one = ROW.findall(client.get("/dasbor/program/p3dn?kecamatan=KEC-CIBEUREU&jenis=dinas").text)
    assert one == []
    assert [c for _r, c, _v, _s in ROW.findall(client.get("/dasbor/program/p3dn?kecamatan=KEC-CIBEUREU").text)] == [
        "KEC-CIBEUREU"
    ]
    waiting = ROW.findall(client.get("/dasbor/program/mcp?status=menunggu+verifikasi").text)
    assert [code for _rank, code, _value, _score in waiting] == ["BAG-PBJ"]
    ignored = client.get("/dasbor/program/katalog?status=%3Cscript%3E&jenis=bogus&halaman=999").text
    assert "cocok dengan filter" not in ignored and len(ROW.findall(ignored)) == 52


async def test_pages_of_a_big_table_come_a_hundred_at_a_time(deps: Deps, client: TestClient) -> None:
    with deps.db.uow() as uow:
        uow.session.add_all(Unit(code=f"UJI-{n:03d}", name=f"Dinas Uji {n}", kind="dinas") for n in range(120))
        uow.commit()
    first = signed_in(client, contact_named(deps, ADMIN)).get("/dasbor/program/katalog").text
    assert "Halaman 1 dari 2" in first and len(ROW.findall(first)) == 100
    second = client.get("/dasbor/program/katalog?halaman=2").text
    assert len(ROW.findall(second)) == 172 - 100 and "◀ Sebelumnya" in second


async def test_a_unit_page_says_what_status_says_with_history_files_and_people(busy: Deps, web_app: Starlette) -> None:
    status = await console_person(busy, ADMIN).text("/status bag-pbj")
    admin = browser_of(web_app, busy, ADMIN)
    page = text_of(admin.get("/dasbor/unit/BAG-PBJ").text)
    for line in re.findall(r"^[✅🔎➖❌⏳] (.+?): (.+)$", status, re.M):
        assert f"{line[0]} {line[1]}" in page
    assert "MCP KPK indikator 2.1" in page and "menunggu verifikasi" in page
    assert "bukti.pdf" in page and "Dodi Kusnadi Admin" in page and "+6281290000002" in page
    dinkes = text_of(admin.get("/dasbor/unit/DINKES").text)
    assert "Sedang diproses P3DN/UMKK tahun 2026 10 Des 2026" in dinkes
    camat = browser_of(web_app, busy, CAMAT_SUKAMAKMUR)
    kecamatan = camat.get("/dasbor/unit/KEC-SUKAMAKM").text
    assert "+62812****1350" in kecamatan and "+6281290001350" not in kecamatan
    assert 'href="/dasbor/unit/KEL-SUKAMA1"' in kecamatan


async def test_a_verifier_decides_on_the_web_and_the_sender_hears_it(
    deps: Deps, web_app: Starlette, tmp_path: Path
) -> None:
    first = await send_evidence(deps, tmp_path, EKO, "katalog 12")
    second = await send_evidence(deps, tmp_path, EKO, "p3dn 42,5", "p3dn.pdf")
    dodi = browser_of(web_app, deps, DODI)
    queue = dodi.get("/dasbor/verifikasi").text
    assert "Menunggu keputusan Bapak/Ibu: 2 bukti" in text_of(queue) and f"Bukti #{first}" in queue
    done = dodi.post(f"/dasbor/verifikasi/{first}", data={"csrf": csrf_of(dodi), "keputusan": "sah"})
    assert done.status_code == 303 and done.headers["location"] == f"/dasbor/verifikasi?putusan={first}"
    after = text_of(dodi.get(done.headers["location"]).text)
    assert (
        f"Bukti #{first} dinyatakan sah: Dinas Kesehatan – e-Katalog lokal: 12 produk. "
        "Eko Hidayat diberi tahu lewat Sigap."
    ) in after
    assert "Menunggu keputusan Bapak/Ibu: 1 bukti" in after and evidence_status(deps, first) == "sah"
    unexplained = dodi.post(f"/dasbor/verifikasi/{second}", data={"csrf": csrf_of(dodi), "keputusan": "tolak"})
    assert unexplained.status_code == 400 and "Mohon tulis alasan penolakan" in unexplained.text
    assert evidence_status(deps, second) == "menunggu"
    reason = "Belum ada tanda tangan kepala dinas"
    dodi.post(f"/dasbor/verifikasi/{second}", data={"csrf": csrf_of(dodi), "keputusan": "tolak", "alasan": reason})
    assert evidence_status(deps, second) == "ditolak"
    assert "Tidak ada bukti dukung yang menunggu verifikasi Bapak/Ibu" in dodi.get("/dasbor/verifikasi").text
    again = dodi.post(
        f"/dasbor/verifikasi/{first}", data={"csrf": csrf_of(dodi), "keputusan": "tolak", "alasan": reason}
    )
    assert again.status_code == 409 and "sudah dinyatakan sah oleh Dodi Kusnadi" in again.text
    chat = await console_person(deps, DODI).text(f"/verifikasi sah {second}")
    assert f"Bukti #{second} sudah dinyatakan ditolak oleh Dodi Kusnadi" in chat
    eko = contact_named(deps, EKO)
    with deps.db.uow() as uow:
        told = uow.session.exec(
            select(Outbox.text).where(Outbox.contact_id == eko.id, Outbox.kind == "evidence").order_by(col(Outbox.id))
        ).all()
        logged = uow.session.exec(select(AuditLog.action, AuditLog.channel).where(AuditLog.channel == "web")).all()
    assert told[0].startswith("✅ Bukti dukung dinyatakan sah: Dinas Kesehatan – e-Katalog lokal: 12 produk.")
    assert told[1].startswith("❌ Bukti dukung ditolak") and f"Alasan: {reason}" in told[1]
    assert ("evidence.accepted", "web") in logged and ("evidence.rejected", "web") in logged


async def test_charts_are_pngs_of_the_persons_scope(busy: Deps, web_app: Starlette) -> None:
    admin = browser_of(web_app, busy, ADMIN)
    chart = admin.get("/dasbor/grafik/katalog.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG") and admin.get("/dasbor/grafik/katalog.png").content == chart.content
    assert admin.get("/dasbor/grafik/tidakada.png").status_code == 404
    camat = browser_of(web_app, busy, CAMAT_SUKAMAKMUR)
    assert camat.get("/dasbor/grafik/katalog.png").content != chart.content
    assert camat.get("/dasbor/grafik/mcp.png").status_code == 404  # no MCP indicator in the kecamatan


async def test_the_menu_names_the_persons_own_place_as_they_call_it(deps: Deps, web_app: Starlette) -> None:
    assert ">Unit saya<" in browser_of(web_app, deps, PUTRI).get("/dasbor/").text  # a kepala who verifies
    assert ">Kecamatan saya<" in browser_of(web_app, deps, CAMAT_SUKAMAKMUR).get("/dasbor/").text
    with deps.db.uow() as uow:  # a Pemda in Papua: the kecamatan is a distrik
        unit = uow.session.exec(select(Unit).where(Unit.code == "KEC-SUKAMAKM")).one()
        unit.name = "Distrik Sukamakmur"
        uow.session.add(unit)
        uow.commit()
    menu = browser_of(web_app, deps, CAMAT_SUKAMAKMUR).get("/dasbor/").text
    assert ">Distrik saya<" in menu and "Kecamatan saya" not in menu
