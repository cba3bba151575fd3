"""/libur, /proses and /dispensasi as admins and unit heads use them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from handlers.libur import parse_tanggal
from models.app import Deps, UserError
from models.clock import FakeClock
from models.tables import AuditLog, DayOff, Pause
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, console_person


def audit_actions(deps: Deps) -> list[str]:
    with deps.db.uow() as uow:
        return [a.action for a in uow.session.exec(select(AuditLog)).all()]


def pauses(deps: Deps) -> list[Pause]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Pause)).all())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", date(2026, 12, 1)),
        ("1/12/2026", date(2026, 12, 1)),
        ("01-12-2026", date(2026, 12, 1)),
        ("1 Desember 2026", date(2026, 12, 1)),
        ("1 des 2026", date(2026, 12, 1)),
        ("24 Agustus 2027", date(2027, 8, 24)),
    ],
)
def test_dates_in_indonesian_forms(text: str, expected: date) -> None:
    assert parse_tanggal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("besok", date(2026, 11, 24)),
        ("Lusa", date(2026, 11, 25)),
        ("hari ini", date(2026, 11, 23)),
        ("5 Desember", date(2026, 12, 5)),
        ("5/12", date(2026, 12, 5)),
        ("23 November", date(2026, 11, 23)),
        ("2 Januari", date(2027, 1, 2)),  # the next 2 January, not the one past
        ("20 nov", date(2027, 11, 20)),
    ],
)
def test_dates_without_a_year_or_said_in_words_count_from_today(text: str, expected: date) -> None:
    assert parse_tanggal(text, date(2026, 11, 23)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("31/02/2026", "tidak ada di kalender"), ("31 Februari", "tidak ada di kalender"), ("kemarin", "tidak dikenali")],
)
def test_bad_dates_say_which_forms_work(text: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_tanggal(text, date(2026, 11, 23))
    assert message in str(caught.value) and "24 Desember 2026" in str(caught.value) and "besok" in str(caught.value)


async def test_libur_lists_adds_and_removes_days_off(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    listing = await admin.text("/libur")
    assert "Kamis, 24 Desember 2026 — Cuti bersama Hari Raya Natal (berkas Pemda)" in listing
    assert "Jumat, 25 Desember 2026 — Hari Raya Natal (libur nasional)" in listing
    assert "Tahun Baru" in listing
    reply = await admin.text("/libur tambah 2026-12-31 Cuti bersama Tahun Baru")
    assert "Kamis, 31 Desember 2026 dicatat sebagai hari libur" in reply
    assert not deps.calendar.is_working_day(date(2026, 12, 31))
    with deps.db.uow() as uow:
        assert uow.session.get(DayOff, date(2026, 12, 31)) is not None
    assert "Cuti bersama Tahun Baru (ditambahkan admin)" in await admin.text("/libur")
    assert "dihapus dari daftar hari libur" in await admin.text("/libur hapus 31/12/2026")
    assert deps.calendar.is_working_day(date(2026, 12, 31))
    assert audit_actions(deps).count("libur.tambah") == 1 and "libur.hapus" in audit_actions(deps)


async def test_libur_explains_bad_input(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "berasal dari berkas Pemda" in await admin.text("/libur hapus 2026-12-24")
    assert "libur nasional (Hari Raya Natal)" in await admin.text("/libur hapus 25 Desember 2026")
    assert "tidak ada dalam daftar" in await admin.text("/libur hapus 2026-12-30")
    assert "Mohon tulis alasannya" in await admin.text("/libur tambah 2026-12-30")
    assert "sudah lewat" in await admin.text("/libur tambah 2026-01-02 Cuti")
    assert "tidak dikenali" in await admin.text("/libur tambah kemarin Cuti")
    assert "Cara pakai" in await admin.text("/libur geser 2026-12-30")
    assert "tidak tersedia untuk peran" in await console_person(deps, KEPALA_DINKES).text("/libur")
    with deps.db.uow() as uow:
        assert uow.session.exec(select(DayOff)).all() == []


async def test_proses_pauses_until_a_date_capped_at_the_deadline(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    reply = await kepala.text("/proses katalog 1 Desember 2026")
    assert "sedang diproses sampai Selasa, 1 Desember 2026" in reply and "tetap berjalan" in reply
    capped = await kepala.text("/proses katalog 2026-12-31")
    assert "dibatasi sampai batas waktu program, Selasa, 15 Desember 2026" in capped
    rows = pauses(deps)
    assert len(rows) == 1 and rows[0].until == date(2026, 12, 15) and rows[0].kind == "proses"
    assert audit_actions(deps).count("pause.proses") == 2
    assert "sedang diproses sampai Rabu, 2 Desember 2026" in await kepala.text("/proses katalog 2 Desember")
    assert "sedang diproses sampai Selasa, 24 November 2026" in await kepala.text("/proses katalog besok")


async def test_proses_is_refused_politely_once_the_target_is_met(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor katalog 12")  # target 10
    assert await kepala.text("/proses katalog 1/12/2026") == (
        "e-Katalog lokal Dinas Kesehatan sudah memenuhi target; pengingat tidak dikirim lagi, tidak perlu ditunda. "
        "Ketik /status untuk melihat capaian."
    )
    assert pauses(deps) == [] and "pause.proses" not in audit_actions(deps)


async def test_libur_takes_a_day_and_month_without_the_year_before_the_reason(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    reply = await admin.text("/libur tambah 31 Desember Cuti bersama Tahun Baru")
    assert "Kamis, 31 Desember 2026 dicatat sebagai hari libur" in reply
    with deps.db.uow() as uow:
        day_off = uow.session.get(DayOff, date(2026, 12, 31))
    assert day_off is not None and day_off.reason == "Cuti bersama Tahun Baru"


async def test_proses_explains_bad_input(deps: Deps, clock: FakeClock) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    assert "Program dan tanggalnya belum diisi" in await kepala.text("/proses")
    assert "Sampai tanggal berapa" in await kepala.text("/proses katalog")
    assert "Program “planet” tidak dikenal" in await kepala.text("/proses planet 1/12/2026")
    assert "sudah lewat" in await kepala.text("/proses katalog 1/11/2026")
    assert "tidak dikenali" in await kepala.text("/proses katalog segera")
    assert "tidak ditugaskan" in await console_person(deps, "Yuni Handayani").text("/proses katalog 1/12/2026")
    assert "tidak tersedia untuk peran" in await console_person(deps, ADMIN).text("/proses katalog 1/12/2026")
    clock.set(deps.calendar.at_local(date(2026, 12, 16), deps.pemda.pemda.work_start))
    assert "sudah lewat, jadi pengingat tidak dapat ditunda" in await kepala.text("/proses katalog 20/12/2026")
    assert pauses(deps) == []


async def test_camat_can_pause_own_kecamatan(deps: Deps) -> None:
    assert "Kecamatan Sukamakmur" in await console_person(deps, CAMAT_SUKAMAKMUR).text("/proses p3dn 4/12/2026")


async def test_dispensasi_grant_list_revoke(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    granted = await admin.text("/dispensasi dinkes katalog Unit sedang direstrukturisasi")
    assert "Dispensasi e-Katalog lokal periode 2026 untuk Dinas Kesehatan dicatat" in granted
    assert "sudah mendapat dispensasi" in await admin.text("/dispensasi dinkes katalog Alasan lain lagi")
    assert "DINKES Dinas Kesehatan — katalog 2026: Unit sedang direstrukturisasi" in await admin.text("/dispensasi")
    assert "dicabut" in await admin.text("/dispensasi cabut dinkes katalog")
    assert "tidak sedang mendapat dispensasi" in await admin.text("/dispensasi cabut dinkes katalog")
    rows = pauses(deps)
    assert len(rows) == 1 and rows[0].revoked_at is not None and rows[0].reason == "Unit sedang direstrukturisasi"
    assert {"pause.dispensasi", "pause.dispensasi_cabut"} <= set(audit_actions(deps))


async def test_dispensasi_explains_bad_input(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "Unit, program dan alasannya harus diisi" in await admin.text("/dispensasi dinkes katalog")
    assert "terlalu singkat" in await admin.text("/dispensasi dinkes katalog ok")
    assert "Unit “planet” tidak ditemukan" in await admin.text("/dispensasi planet katalog Alasan panjang")
    assert "Sebutkan unit dan programnya" in await admin.text("/dispensasi cabut dinkes")
    assert "tidak tersedia untuk peran" in await console_person(deps, KEPALA_DINKES).text("/dispensasi")
    assert pauses(deps) == []
