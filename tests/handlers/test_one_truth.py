"""One truth: /status and /rekap show the same dispensation and /proses pause of a unit, in the same words."""

from __future__ import annotations

from datetime import date

from models.app import Deps
from models.clock import FakeClock
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, PIMPINAN, console_person


def line_of(text: str, marker: str) -> str:
    return next(line for line in text.splitlines() if marker in line)


async def test_a_dispensation_reads_the_same_in_status_and_rekap(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    await admin.text("/dispensasi dinkes katalog Sedang audit BPK")
    phrase = "dispensasi (alasan: Sedang audit BPK)"

    status = await console_person(deps, KEPALA_DINKES).text("/status")
    assert "➖ e-Katalog lokal: belum ada laporan (target 10 produk)" in status  # not counted as behind
    assert f"    Keterangan: {phrase}" in status
    assert f"Keterangan: {phrase}" in await console_person(deps, PIMPINAN).text("/status dinkes")

    rekap = await admin.text("/rekap")
    dinkes = line_of(rekap, " DINKES ")
    assert f"katalog {phrase}" in dinkes
    assert "(1 dengan dispensasi)" in rekap

    await admin.text("/dispensasi cabut dinkes katalog")
    assert "dispensasi" not in await console_person(deps, KEPALA_DINKES).text("/status")
    assert "dispensasi" not in line_of(await admin.text("/rekap"), " DINKES ")


async def test_a_proses_pause_reads_the_same_in_status_and_rekap_until_its_date(deps: Deps, clock: FakeClock) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/proses katalog 5 Desember 2026 menunggu verifikasi LKPP")
    phrase = "sedang diproses s.d. 5 Des 2026 (alasan: menunggu verifikasi LKPP)"

    status = await kepala.text("/status")
    assert "⏳ e-Katalog lokal" in status  # a pause does not excuse the unit
    assert f"Keterangan: {phrase}" in status
    rekap = await console_person(deps, ADMIN).text("/rekap")
    dinkes = line_of(rekap, " DINKES ")
    assert dinkes.startswith("⏳") and f"katalog 0/10 {phrase}" in dinkes  # behind, its deadline still ahead
    assert "(1 sedang diproses)" in rekap

    clock.set(deps.calendar.at_local(date(2026, 12, 7), deps.pemda.pemda.work_start))
    assert "sedang diproses" not in await kepala.text("/status")
    assert "sedang diproses" not in await console_person(deps, ADMIN).text("/rekap")


async def test_the_camat_sees_the_same_mark_in_status_and_rekap(deps: Deps) -> None:
    await console_person(deps, ADMIN).text("/dispensasi kecsukamakmur p3dn Kantor kecamatan direnovasi")
    camat = console_person(deps, CAMAT_SUKAMAKMUR)
    phrase = "dispensasi (alasan: Kantor kecamatan direnovasi)"
    assert f"Keterangan: {phrase}" in await camat.text("/status")
    assert f"p3dn {phrase}" in line_of(await camat.text("/rekap"), " KEC-SUKAMAKM ")


async def test_a_pause_of_the_month_before_is_named_the_same_in_both(deps: Deps, clock: FakeClock) -> None:
    """A monthly figure due on the 10th: in early December the bot still chases November, and both say so."""
    programs = [
        p.model_copy(update={"period": "month", "deadline": "+10"}) if p.key == "katalog" else p
        for p in deps.pemda.programs
    ]
    monthly = Deps(
        db=deps.db, pemda=deps.pemda.model_copy(update={"programs": programs}), clock=clock, calendar=deps.calendar
    )
    clock.set(deps.calendar.at_local(date(2026, 12, 3), deps.pemda.pemda.work_start))
    kepala = console_person(monthly, KEPALA_DINKES)
    assert "November 2026" in await kepala.text("/proses katalog 8/12/2026")
    phrase = "sedang diproses bulan November 2026 s.d. 8 Des 2026"
    assert f"Keterangan: {phrase}" in await kepala.text("/status")
    assert f"katalog 0/10 {phrase}" in line_of(await console_person(monthly, ADMIN).text("/rekap"), " DINKES ")

    admin = console_person(monthly, ADMIN)
    assert "2026-11 dan 2026-12" in await admin.text("/dispensasi dinkes katalog Unit baru digabung")
    both = "dispensasi (alasan: Unit baru digabung)"  # December's, the month shown, wins over November's pause
    assert f"Keterangan: {both}" in await kepala.text("/status")
    assert f"katalog {both}" in line_of(await admin.text("/rekap"), " DINKES ")
