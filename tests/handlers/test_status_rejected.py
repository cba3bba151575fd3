"""/status says when the unit's latest report was rejected by the verifier, instead of reading as if it never
reported or as if an older figure were its last word."""

from __future__ import annotations

from pathlib import Path

from models.app import Deps
from tests.conftest import KEPALA_DINKES, console_person
from tests.fakes import evidence_files as files
from tests.handlers.test_evidence import ASEP, folder, write

__all__ = ["folder"]  # the fixture, used by name


async def test_a_rejected_innovation_is_said_with_the_reason_and_what_to_do(deps: Deps, folder: Path) -> None:
    slamet = console_person(deps, KEPALA_DINKES)
    await slamet.text(f"/bukti inovasi Posyandu Digital Terpadu {write(folder, 'rai.docx', files.docx())}")
    await console_person(deps, ASEP).text("/verifikasi tolak 1 Rencana aksi belum memuat jadwal.")
    status = await slamet.text("/status")
    assert "Inovasi daerah: 0 dari target 1 inovasi" in status
    assert (
        "    Laporan terakhir (“Posyandu Digital Terpadu”, 23 Nov 2026) ditolak verifikator: Rencana aksi belum "
        "memuat jadwal. Kirim ulang dengan bukti dukung yang benar: /bukti inovasi."
    ) in status


async def test_a_report_that_stands_is_not_told_as_rejected(deps: Deps, folder: Path) -> None:
    slamet = console_person(deps, KEPALA_DINKES)
    await slamet.text(f"/bukti inovasi Posyandu Digital Terpadu {write(folder, 'rai.docx', files.docx())}")
    await console_person(deps, ASEP).text("/verifikasi tolak 1 Rencana aksi belum memuat jadwal.")
    await slamet.text(f"/bukti inovasi Posyandu Digital Terpadu {write(folder, 'rai2.pdf', files.pdf())}")
    assert "ditolak verifikator" not in await slamet.text("/status")  # the new one waits for the verifier


async def test_a_figure_backed_by_a_file_that_is_rejected_no_longer_counts_unchecked(deps: Deps, folder: Path) -> None:
    slamet = console_person(deps, KEPALA_DINKES)
    await slamet.text("/lapor katalog 12")
    assert "12 dari target 10 produk" in await slamet.text("/status")
    await slamet.text(f"/bukti katalog 12 {write(folder, 'daftar.pdf', files.pdf())}")  # the same figure, backed
    riwayat = await slamet.text("/riwayat katalog")
    assert "ditarik: diganti laporan #2 dengan bukti dukung" in riwayat  # one report of 12, not two
    await console_person(deps, "Dodi Kusnadi").text("/verifikasi tolak 1 Daftar produk tidak terbaca.")
    status = await slamet.text("/status")
    assert "⏳ e-Katalog lokal: belum ada laporan (target 10 produk)" in status  # the plain 12 does not outlive it
    assert "Laporan terakhir (12 produk, 23 Nov 2026) ditolak verifikator: Daftar produk tidak terbaca" in status


async def test_a_file_for_another_figure_leaves_the_plain_report_as_it_is(deps: Deps, folder: Path) -> None:
    slamet = console_person(deps, KEPALA_DINKES)
    await slamet.text("/lapor katalog 12")
    await slamet.text(f"/bukti katalog 14 {write(folder, 'daftar.pdf', files.pdf())}")
    assert "diganti laporan" not in await slamet.text("/riwayat katalog")
