"""/libur tambah refuses a day that is already off and never overwrites an admin's reason silently; /libur ubah
changes a reason saying what it was; the listing does not contradict itself."""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import col, select

from models.app import Deps
from models.tables import AuditLog, DayOff
from tests.conftest import ADMIN, console_person

SATURDAY = date(2026, 12, 26)
WEDNESDAY = date(2026, 12, 30)


def day_offs(deps: Deps) -> dict[date, str]:
    with deps.db.uow() as uow:
        return {row.day: row.reason for row in uow.session.exec(select(DayOff)).all()}


def audits(deps: Deps, action: str) -> list[dict[str, str]]:
    with deps.db.uow() as uow:
        rows = uow.session.exec(select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))).all()
        return [json.loads(row.detail) | {"target": row.target} for row in rows]


async def test_a_weekend_day_is_already_off_and_not_stored(deps: Deps) -> None:
    reply = await console_person(deps, ADMIN).text("/libur tambah 2026-12-26 Sabtu")
    assert reply == "Sabtu, 26 Desember 2026 sudah hari libur (Sabtu); tidak perlu ditambahkan."
    assert day_offs(deps) == {} and audits(deps, "libur.tambah") == []
    assert deps.calendar.extra_days_off.get(SATURDAY) is None


async def test_a_national_holiday_or_a_pemda_file_day_is_already_off(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    national = await admin.text("/libur tambah 25 Desember 2026 Natal")
    assert national == "Jumat, 25 Desember 2026 sudah libur nasional (Hari Raya Natal); tidak perlu ditambahkan."
    from_file = await admin.text("/libur tambah 2026-12-24 Libur Natal")
    assert from_file.startswith(
        "Kamis, 24 Desember 2026 sudah hari libur menurut berkas Pemda (Cuti bersama Hari Raya Natal); "
        "tidak perlu ditambahkan."
    )
    assert "berkas Pemda" in from_file.split("ditambahkan.")[1]  # says where such a day is changed
    assert day_offs(deps) == {}
    # the Pemda file's reason still stands
    assert deps.calendar.extra_days_off[date(2026, 12, 24)] == "Cuti bersama Hari Raya Natal"


async def test_adding_a_day_twice_keeps_the_first_reason_and_says_how_to_change_it(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "dicatat sebagai hari libur: Cuti bersama" in await admin.text("/libur tambah 2026-12-30 Cuti bersama")
    replies = await admin.say("/libur tambah 2026-12-30 Libur daerah")
    assert len(replies) == 1
    text = replies[0].text
    assert text.startswith(
        "Rabu, 30 Desember 2026 sudah tercatat sebagai hari libur: “Cuti bersama” (ditambahkan Rina Marlina, "
        "23 Nov 2026). Alasannya tidak diubah."
    )
    assert text.endswith("/libur ubah 2026-12-30 Libur daerah")
    assert [(b.label, b.payload) for b in replies[0].buttons] == [
        ("Ubah alasannya", "/libur ubah 2026-12-30 Libur daerah")
    ]
    assert day_offs(deps) == {WEDNESDAY: "Cuti bersama"}
    assert deps.calendar.is_day_off(WEDNESDAY) == "Cuti bersama"
    assert len(audits(deps, "libur.tambah")) == 1
    # the same reason again (any case) changes nothing either, and says so
    same = await admin.text("/libur tambah 30/12/2026 cuti  BERSAMA")
    assert same.endswith("Tidak ada yang diubah.") and "“Cuti bersama”" in same
    # tapping the button changes it, saying what it was and what it is now, and it is audited
    changed = await admin.text(replies[0].buttons[0].payload)
    assert changed == "✅ Alasan hari libur Rabu, 30 Desember 2026 diubah dari “Cuti bersama” menjadi “Libur daerah”."
    assert day_offs(deps) == {WEDNESDAY: "Libur daerah"}
    assert deps.calendar.is_day_off(WEDNESDAY) == "Libur daerah"
    assert audits(deps, "libur.ubah") == [
        {"target": "2026-12-30", "reason": "Libur daerah", "previous": "Cuti bersama"}
    ]
    assert "Rabu, 30 Desember 2026 — Libur daerah (ditambahkan admin)" in await admin.text("/libur")


async def test_a_long_new_reason_is_written_out_instead_of_a_button(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    await admin.text("/libur tambah 2026-12-30 Cuti bersama")
    long_reason = "Cuti bersama pengganti Hari Raya Natal sesuai surat edaran Sekda"
    replies = await admin.say(f"/libur tambah 2026-12-30 {long_reason}")
    assert replies[0].buttons == ()  # a Telegram button carries at most 64 bytes
    assert replies[0].text.endswith(f"kirim:\n/libur ubah 2026-12-30 {long_reason}")
    assert day_offs(deps) == {WEDNESDAY: "Cuti bersama"}


async def test_libur_ubah_explains_what_it_cannot_change(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "ubah di berkas tersebut" in await admin.text("/libur ubah 2026-12-24 Libur Natal")
    assert "libur nasional (Hari Raya Natal) dan tidak dapat diubah" in await admin.text("/libur ubah 2026-12-25 Natal")
    missing = await admin.text("/libur ubah 2026-12-30 Libur daerah")
    assert "tidak ada dalam daftar hari libur tambahan" in missing and "/libur tambah 2026-12-30" in missing
    await admin.text("/libur tambah 2026-12-30 Cuti bersama")
    assert "Mohon tulis alasannya" in await admin.text("/libur ubah 2026-12-30")
    assert "Tidak ada yang diubah" in await admin.text("/libur ubah 2026-12-30 Cuti Bersama")
    assert audits(deps, "libur.ubah") == [] and day_offs(deps) == {WEDNESDAY: "Cuti bersama"}


async def test_the_listing_names_the_weekly_days_off_and_flags_an_entry_that_is_not_needed(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    # a Saturday stored before such days were refused
    with deps.db.uow() as uow:
        uow.session.add(DayOff(day=SATURDAY, reason="Sabtu", created_at=deps.clock.now()))
        uow.commit()
    deps.calendar.add_day_off(SATURDAY, "Sabtu")
    listing = await admin.text("/libur")
    assert listing.splitlines()[0] == "Hari libur 60 hari ke depan (Sabtu dan Minggu selalu libur):"
    assert "selain Sabtu dan Minggu" not in listing
    assert (
        "• Sabtu, 26 Desember 2026 — Sabtu (ditambahkan admin) — tidak diperlukan: hari itu sudah hari libur (Sabtu); "
        "hapus dengan /libur hapus 2026-12-26"
    ) in listing.splitlines()
    assert "Tetap tidak bekerja (Sabtu)".lower() in (await admin.text("/libur hapus 2026-12-26")).lower()
    assert day_offs(deps) == {}


async def test_a_day_more_than_two_years_ahead_is_refused(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)  # today is Monday 23 November 2026
    assert await admin.text("/libur tambah 9999-12-31 x") == (
        "Jumat, 31 Desember 9999 terlalu jauh ke depan. Hari libur dapat ditambahkan paling jauh dua tahun dari hari "
        "ini, sampai Kamis, 23 November 2028. Mohon periksa tanggalnya."
    )
    assert "terlalu jauh ke depan" in await admin.text("/libur tambah 24/11/2028 Cuti bersama")
    assert day_offs(deps) == {} and audits(deps, "libur.tambah") == []
    assert (await admin.text("/libur tambah 2028-11-23 Cuti bersama")).startswith("✅ Kamis, 23 November 2028 dicatat")
