"""/riwayat, /tarik and /inovasi: history with who, when and channel; a wrong report can be withdrawn, never deleted."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from models.app import Deps
from models.clock import FakeClock
from models.tables import AuditLog, Report
from tests.conftest import ADMIN, KEPALA_DINKES, OPERATOR_DINKES, PIMPINAN, console_person


def _report_ids(deps: Deps, program: str) -> list[int]:
    with deps.db.uow() as uow:
        return [r.id or 0 for r in uow.session.exec(select(Report).where(Report.program_key == program)).all()]


async def test_history_names_who_when_and_channel(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor katalog 12")
    await console_person(deps, OPERATOR_DINKES).text("/lapor katalog 15")
    history = await kepala.text("/riwayat katalog")
    assert history.startswith("Riwayat laporan Dinas Kesehatan, e-Katalog lokal (terbaru di atas):")
    lines = history.splitlines()
    assert "e-Katalog lokal: 15 produk · Eko Hidayat, 23 Nov 2026 09.00, konsol" in lines[1]
    assert "e-Katalog lokal: 12 produk · Slamet Santoso" in lines[2]
    # others see only what they may see
    assert "hanya dapat melihat riwayat unit Anda sendiri" in await console_person(deps, "Yuni Pratama").text(
        "/riwayat dinkes"
    )
    assert "Sebutkan unitnya" in await console_person(deps, PIMPINAN).text("/riwayat")
    assert await console_person(deps, ADMIN).text("/riwayat inovasi") == (
        "Sebutkan unitnya: admin dan pimpinan perlu menulis unit yang riwayatnya ingin dilihat, contoh "
        "/riwayat dinkes inovasi"
    )
    assert "Slamet Santoso" in await console_person(deps, PIMPINAN).text("/riwayat dinkes")
    # a mistyped program after the unit is named as such, not as an unknown unit "dinkes katalgo"
    typo = await console_person(deps, PIMPINAN).text("/riwayat dinkes katalgo")
    assert "Program “katalgo” tidak dikenal. Maksud Anda: katalog?" in typo and "Unit" not in typo
    assert "tidak ditemukan" in await console_person(deps, PIMPINAN).text("/riwayat planet mars")


async def test_own_report_is_withdrawn_after_asking_and_stops_counting(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor katalog 10")
    await kepala.text("/lapor katalog 90")
    wrong = _report_ids(deps, "katalog")[-1]
    (question,) = await kepala.say(f"/tarik {wrong} salah ketik")
    assert question.text.startswith(f"Tarik laporan #{wrong} e-Katalog lokal: 90 produk (Dinas Kesehatan")
    assert [b.label for b in question.buttons] == ["Ya, tarik", "Batal"]
    assert "90 dari target" in await kepala.text("/status")  # nothing changed yet
    assert "tidak ditarik" in await kepala.text(question.buttons[1].payload)
    done = await kepala.text(question.buttons[0].payload)
    assert done == (
        f"Laporan #{wrong} e-Katalog lokal: 90 produk ditarik dan tidak dihitung lagi. Bila perlu, laporkan angka yang "
        "benar dengan /lapor katalog <angka>."
    )
    status = await kepala.text("/status")
    assert "10 dari target 10 produk" in status  # the earlier report counts again
    history = await kepala.text("/riwayat katalog")
    assert f"#{wrong} e-Katalog lokal: 90 produk" in history and "ditarik: salah ketik" in history
    with deps.db.uow() as uow:
        row = uow.session.get(Report, wrong)
        assert row is not None and row.withdrawn_at is not None  # still there
        audit = uow.session.exec(select(AuditLog).where(AuditLog.action == "report.withdrawn")).one()
    assert audit.target == str(wrong) and "salah ketik" in audit.detail
    assert "sudah ditarik" in await kepala.text(f"/tarik {wrong} ya")


async def test_withdrawing_is_limited_by_role_and_time(deps: Deps, clock: FakeClock) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor katalog 7")
    (report,) = _report_ids(deps, "katalog")
    assert "bukan laporan Bapak/Ibu" in await console_person(deps, OPERATOR_DINKES).text(f"/tarik {report}")
    clock.advance(timedelta(days=1, minutes=1))
    assert "lebih dari sehari" in await kepala.text(f"/tarik {report} ya")
    admin = console_person(deps, ADMIN)
    assert (await admin.text(f"/tarik {report} ya dobel")).endswith("dengan /lapor dinkes katalog <angka>.")
    assert "Tercatat untuk Dinas Kesehatan" in await admin.text("/lapor dinkes katalog 8")  # the command said works
    for text, expected in {
        "/tarik": "Cara pakai: /tarik <id laporan>",
        "/tarik abc": "“abc” bukan id laporan",
        "/tarik 99999999999999999999": "bukan id laporan",
        "/tarik 4242": "Laporan #4242 tidak ada",
    }.items():
        assert expected in await kepala.text(text), text


async def test_innovation_entries_are_listed_and_a_wrong_one_withdrawn(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    assert "belum mengajukan inovasi" in await kepala.text("/inovasi")
    await kepala.text("/lapor inovasi Posyandu Digital Terpadu")
    await kepala.text("/lapor inovasi Uji coba jangan dihitung")
    listing = await kepala.text("/inovasi")
    assert listing.startswith("Inovasi Dinas Kesehatan: 2 tercatat.")
    assert "“Posyandu Digital Terpadu”" in listing and "/tarik <id>" in listing
    test_entry = _report_ids(deps, "inovasi")[-1]
    withdrawn = await kepala.text(f"/tarik {test_entry} ya entri uji coba")
    assert withdrawn == (
        f"Laporan #{test_entry} Inovasi daerah: “Uji coba jangan dihitung” ditarik dan tidak dihitung lagi. Bila "
        "perlu, laporkan judul yang benar dengan /lapor inovasi <judul>."
    )  # a title, not a figure
    listing = await kepala.text("/inovasi")
    assert listing.startswith("Inovasi Dinas Kesehatan: 1 tercatat.") and "ditarik: entri uji coba" in listing


async def test_a_withdrawn_indicator_is_reported_again_by_its_status(deps: Deps) -> None:
    indah = console_person(deps, "Indah Maulana")  # operator, Bagian Pengadaan Barang dan Jasa (MCP 2.1 and 2.2)
    await indah.text("/lapor mcp 2.1 selesai")
    (report,) = _report_ids(deps, "mcp")
    withdrawn = await indah.text(f"/tarik {report} ya")
    assert withdrawn.endswith(
        "ditarik dan tidak dihitung lagi. Bila perlu, laporkan status indikator 2.1 yang benar (selesai, proses atau "
        "belum) dengan /lapor mcp 2.1 <status>."
    )
