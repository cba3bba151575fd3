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
