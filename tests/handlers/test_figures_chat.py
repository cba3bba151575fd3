"""Figures from LKPP by chat: an admin sends an export with the caption "impor", maps the satkers the bot does not
know, taps Terapkan; everyone else is told who may import; /status shows admins both figures.

The upload is handed to `handlers.figures_upload` the way the core's router does once it is wired there (a file
without a command whose caption starts with "impor"); the /angka commands and buttons go through the core.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from handlers import figures_upload
from handlers.base import Ctx
from handlers.core import identify
from models.app import Deps, UserError
from models.messages import Button, Channel, Incoming, Reply
from models.pemda import FiguresConfig
from models.standing import load_standings
from models.tables import AuditLog, ChatState, FigureImport, Report
from tests.conftest import ADMIN, KEPALA_DINKES, console_person, contact_named, unit_coded
from tests.fakes.inaproc import EXPECTED, KLPD, epurchasing_rows, export_csv
from tests.handlers.test_roster_chat import FakeFiles
from tests.models.test_figure_import import figures


@pytest.fixture
def kdeps(sdeps: Deps) -> Deps:
    """The sample kabupaten with its (invented) LKPP code in the Pemda file."""
    sdeps.pemda = sdeps.pemda.model_copy(update={"figures": FiguresConfig(kode_klpd=KLPD)})
    return sdeps


async def send_export(deps: Deps, name: str, content: bytes, caption: str, filename: str = "ekspor.csv") -> list[Reply]:
    """`name` sends a file with `caption` on the console; the router's claim, then the upload, in one unit of work."""
    store = deps.files.setdefault(Channel.CONSOLE, FakeFiles())
    assert isinstance(store, FakeFiles)
    ref = f"ekspor-{len(store.files) + 1}"
    store.files[ref] = content
    incoming = Incoming(
        Channel.CONSOLE, str(contact_named(deps, name).id), text=caption, document_name=filename, document_ref=ref
    )
    with deps.db.uow() as uow:
        ctx = Ctx(deps, uow, incoming, identify(uow.session, incoming), deps.clock.now())
        assert figures_upload.claims(ctx)
        try:
            replies = await figures_upload.upload(ctx)
        except UserError as exc:
            uow.rollback()
            replies = [Reply(str(exc))]
        uow.commit()
    return replies


async def tap(deps: Deps, button: Button) -> str:
    return await console_person(deps, ADMIN).text(button.payload)


def count(deps: Deps, table: type[Report] | type[FigureImport]) -> int:
    with deps.db.uow() as uow:
        return len(uow.session.exec(select(table)).all())


async def test_an_admin_previews_maps_and_applies_an_export(kdeps: Deps) -> None:
    admin = console_person(kdeps, ADMIN)
    [preview] = await send_export(kdeps, ADMIN, export_csv(epurchasing_rows()), "impor ekatalog")
    assert preview.text.startswith("Pratinjau impor angka ekspor.csv (belum ada yang disimpan):\n")
    assert "Satker belum dikenali (3 satker, 120 baris belum diimpor)." in preview.text
    assert "/angka petakan rsud RSUD SUKAMAKMUR" in preview.text
    assert [b.label for b in preview.buttons] == ["Terapkan", "Batal"]
    assert count(kdeps, Report) == 0

    mapped = await admin.say("/angka petakan disdik DINAS PENDIDIKAN DAN KEBUDAYAAN")
    assert mapped[0].text == (
        "Satker “DINAS PENDIDIKAN DAN KEBUDAYAAN” dipetakan ke DISDIK (Dinas Pendidikan); impor berikutnya memakainya."
    )
    assert "- DISDIK Dinas Pendidikan: katalog – → 40 (baru memenuhi) · p3dn – → 42,86 % (baru memenuhi)" in (
        mapped[1].text
    )
    stale = preview.buttons[0]
    [ignored, fresh] = await admin.say("/angka abaikan DPRD KABUPATEN SUKAMAKMUR")
    assert "ditandai bukan unit Pemda" in ignored.text
    assert "Diabaikan (bukan unit Pemda): 10 baris dari 1 satker." in fresh.text

    assert (await tap(kdeps, stale)).startswith("Pratinjau itu sudah tidak berlaku")  # the plan shown has changed
    assert count(kdeps, Report) == 0
    done = await tap(kdeps, fresh.buttons[0])
    assert done.startswith("Angka “ekatalog” per 23 Nov 2026 diterapkan (impor #1): 10 angka dicatat.\nStatus berubah:")
    assert "Baru memenuhi target: BPKAD (katalog), DINKES (katalog, p3dn), DISDIK (katalog, p3dn)," in done
    assert "“RSUD SUKAMAKMUR” (kode 10006, 20 baris)" in done
    assert figures(kdeps) == EXPECTED
    with kdeps.db.uow() as uow:
        assert uow.session.get(ChatState, contact_named(kdeps, ADMIN).id) is None
        actions = uow.session.exec(select(AuditLog.action).where(AuditLog.action.startswith("angka."))).all()  # type: ignore[attr-defined]
        assert sorted(actions) == ["angka.petakan", "angka.petakan", "angka.terapkan"]
        reports = uow.session.exec(select(Report)).all()
        assert {r.reporter_id for r in reports} == {contact_named(kdeps, ADMIN).id}

    [again] = await send_export(kdeps, ADMIN, export_csv(epurchasing_rows()), "impor ekatalog")
    assert "Tidak ada perubahan: semua angka dari ekspor ini sudah tercatat." in again.text
    assert again.buttons == ()
    assert count(kdeps, FigureImport) == 1


async def test_the_caption_dates_the_export_and_batal_drops_it(kdeps: Deps) -> None:
    admin = console_person(kdeps, ADMIN)
    [preview] = await send_export(kdeps, ADMIN, export_csv(epurchasing_rows()), "IMPOR sirup 2026-11-20")
    assert preview.text.splitlines()[1].startswith("Impor angka “sirup” per 20 Nov 2026: 291 baris")
    assert await admin.text("/angka batal") == "Baik, impor angka dibatalkan. Tidak ada yang berubah."
    assert await admin.text("/angka terapkan 123") == (
        "Tidak ada impor angka yang menunggu untuk diterapkan. Kirim berkas ekspor LKPP dengan keterangan “impor” "
        "untuk melihat pratinjaunya."
    )
    [future] = await send_export(kdeps, ADMIN, b"x", "impor 2027-01-05")
    assert future.text.startswith("Tanggal 2027-01-05 belum tiba.")
    assert (await admin.text("/angka")).startswith("Untuk mengimpor angka katalog dan P3DN, kirim berkas ekspor LKPP")


async def test_a_broken_export_is_explained_and_nothing_waits(kdeps: Deps) -> None:
    rows = epurchasing_rows()
    rows[0]["total_harga"] = "dua juta"
    [reply] = await send_export(kdeps, ADMIN, export_csv(rows), "impor")
    assert reply.text == (
        "Ekspor ekspor.csv belum dapat dipakai; tidak ada yang disimpan. Mohon perbaiki dulu:\n"
        "- baris 2, kolom total_harga: “dua juta” bukan angka\n"
        "Setelah diperbaiki, kirim lagi berkasnya dengan keterangan “impor”."
    )
    [pdf] = await send_export(kdeps, ADMIN, b"%PDF", "impor", filename="ekspor.pdf")
    assert pdf.text == "Berkas ekspor harus .xlsx, .csv atau .json. Silakan unduh ulang dari LKPP, lalu kirim lagi."
    with kdeps.db.uow() as uow:
        assert uow.session.get(ChatState, contact_named(kdeps, ADMIN).id) is None


async def test_only_admins_import_and_only_files_captioned_impor_are_claimed(kdeps: Deps) -> None:
    [reply] = await send_export(kdeps, KEPALA_DINKES, export_csv(epurchasing_rows()), "impor")
    assert reply.text == figures_upload.ONLY_ADMINS
    assert "/angka" not in await console_person(kdeps, KEPALA_DINKES).text("/bantuan")
    for caption, claimed in (("impor", True), ("Impor ekatalog", True), ("", False), ("nonaktifkan", False)):
        incoming = Incoming(Channel.CONSOLE, "1", text=caption, document_name="a.csv", document_ref="x")
        with kdeps.db.uow() as uow:
            ctx = Ctx(kdeps, uow, incoming, contact_named(kdeps, ADMIN), kdeps.clock.now())
            assert figures_upload.claims(ctx) == claimed


async def test_admins_see_both_figures_in_status(kdeps: Deps) -> None:
    [preview] = await send_export(kdeps, ADMIN, export_csv(epurchasing_rows()), "impor ekatalog 2026-11-20")
    await tap(kdeps, preview.buttons[0])
    assert "Tercatat" in await console_person(kdeps, KEPALA_DINKES).text("/lapor katalog 30")
    dinkes = unit_coded(kdeps, "DINKES")
    with kdeps.db.uow() as uow:
        standings = load_standings(uow.session, kdeps.pemda, [dinkes], kdeps.calendar.local_date(kdeps.clock.now()))
        notes = {}
        for who in (ADMIN, KEPALA_DINKES):
            incoming = Incoming(Channel.CONSOLE, "1", text="/status dinkes")
            ctx = Ctx(kdeps, uow, incoming, contact_named(kdeps, who), kdeps.clock.now())
            notes[who] = [figures_upload.sources_note(ctx, s) for s in standings.values()]
    assert "    Sumber: impor 20 Nov: 25 · laporan unit 23 Nov: 30" in notes[ADMIN]
    assert set(notes[KEPALA_DINKES]) == {None}


async def test_the_usage_example_names_this_pemda_not_the_sample(deps: Deps) -> None:
    info = deps.pemda.pemda.model_copy(update={"short_name": "Kota Bitung"})
    pemda = deps.pemda.model_copy(update={"pemda": info})
    bitung = Deps(db=deps.db, pemda=pemda, clock=deps.clock, calendar=deps.calendar)
    reply = await console_person(bitung, ADMIN).text("/angka abaikan")
    assert reply == "Cara pakai: /angka abaikan <nama satker>, mis. /angka abaikan DPRD KOTA BITUNG"
