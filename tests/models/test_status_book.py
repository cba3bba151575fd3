"""The status workbook (`models.status_book`, /ekspor and `sigap export status`) agrees with /status and /rekap."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook

from models.app import Deps
from models.clock import FakeClock
from tests.conftest import ADMIN, KEPALA_DINKES, PIMPINAN, console_person


async def export(deps: Deps) -> Any:
    """The workbook /ekspor sends the pimpinan, opened."""
    (reply,) = await console_person(deps, PIMPINAN).say("/ekspor")
    assert reply.attachment is not None
    return load_workbook(io.BytesIO(reply.attachment.content))


def rows_by_code(sheet: Any) -> dict[str, dict[str, Any]]:
    """A program sheet's rows by unit code, each as {heading: value}."""
    header = [cell.value for cell in sheet[1]]
    return {row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}


def keterangan(status: str) -> dict[str, str]:
    """/status's 'Keterangan' line per program label."""
    found, label = {}, ""
    for line in status.splitlines():
        if match := re.match(r"\S+ (.+?): ", line):
            label = match.group(1)
        elif line.strip().startswith("Keterangan: "):
            found[label] = line.strip().removeprefix("Keterangan: ")
    return found


async def test_dispensations_and_pauses_show_in_the_workbook_as_in_the_chat(sdeps: Deps) -> None:
    admin = console_person(sdeps, ADMIN)
    assert "✅ Dispensasi" in await admin.text("/dispensasi setda p3dn Unit sedang direstrukturisasi")
    assert "✅ Dispensasi" in await admin.text("/dispensasi dlh katalog Belum punya pejabat pengadaan")
    assert "sedang diproses" in await console_person(sdeps, KEPALA_DINKES).text("/proses katalog 2026-12-05")
    await admin.text("/lapor dlh katalog 3")  # a figure below target: exempt all the same

    book = await export(sdeps)
    p3dn, katalog = rows_by_code(book["P3DN-UMKK"]), rows_by_code(book["e-Katalog lokal"])
    setda_chat = keterangan(await admin.text("/status setda"))
    assert setda_chat["P3DN/UMKK"] == "dispensasi (alasan: Unit sedang direstrukturisasi)"
    assert p3dn["SETDA"]["Status"] == "dispensasi"
    assert p3dn["SETDA"]["Keterangan"] == setda_chat["P3DN/UMKK"]
    assert katalog["DLH"]["Nilai"] == 3 and katalog["DLH"]["Status"] == "dispensasi"
    assert katalog["DLH"]["Keterangan"] == "dispensasi (alasan: Belum punya pejabat pengadaan)"
    dinkes_chat = keterangan(await admin.text("/status dinkes"))
    assert dinkes_chat["e-Katalog lokal"] == "sedang diproses s.d. 5 Des 2026"
    assert katalog["DINKES"]["Status"] == "belum lapor"  # a pause holds reminders back, it exempts nothing
    assert katalog["DINKES"]["Keterangan"] == dinkes_chat["e-Katalog lokal"]
    assert katalog["DISDIK"]["Status"] == "belum lapor" and katalog["DISDIK"]["Keterangan"] is None

    rekap = await admin.text("/rekap")
    assert "• e-Katalog lokal: 0/52 unit memenuhi (1 dengan dispensasi, 1 sedang diproses)" in rekap
    summary = book["Ringkasan"]
    header = [cell.value for cell in summary[3]]
    totals = {row[0]: dict(zip(header, row, strict=True)) for row in summary.iter_rows(min_row=4, values_only=True)}
    counted = ("Unit memenuhi", "Jumlah unit", "Dispensasi", "Sedang diproses", "Menunggu verifikasi")
    assert [totals["e-Katalog lokal"][h] for h in counted] == [0, 52, 1, 1, 0]
    assert [totals["P3DN/UMKK"][h] for h in counted] == [0, 52, 1, 0, 0]


async def test_past_the_deadline_a_dispensation_is_not_late_and_an_ended_pause_is_gone(sdeps: Deps) -> None:
    admin = console_person(sdeps, ADMIN)
    await admin.text("/dispensasi setda p3dn Unit sedang direstrukturisasi")
    await console_person(sdeps, KEPALA_DINKES).text("/proses p3dn 2026-12-05")
    assert isinstance(sdeps.clock, FakeClock)
    sdeps.clock.advance(timedelta(days=24))  # Thursday 17 December, after the 15 December deadline

    p3dn = rows_by_code((await export(sdeps))["P3DN-UMKK"])
    assert "➖ P3DN/UMKK" in await admin.text("/status setda")
    assert p3dn["SETDA"]["Status"] == "dispensasi"
    assert "❌ P3DN/UMKK" in await admin.text("/status dinkes")
    assert (p3dn["DINKES"]["Status"], p3dn["DINKES"]["Keterangan"]) == ("terlambat", None)
    assert (p3dn["DISDIK"]["Status"], p3dn["DISDIK"]["Keterangan"]) == ("terlambat", None)
