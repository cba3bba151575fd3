"""The weekly digest on a Monday over a seeded history, and each unit's own pace in its reminder."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, date, datetime, time, timedelta

from PIL import Image
from sqlmodel import col, select

from jobs.digest import build_digest, run_digest, send_weekly_digest
from jobs.sweep import sweep
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.outbox import store_file
from models.tables import Contact, Evidence, Letter, Outbox, Role, StoredFile
from tests.conftest import ADMIN, KEPALA_DINKES, PIMPINAN, console_person, contact_named, unit_coded
from tests.seed_history import MONDAY, report


def at(day: int, hour: int = 10) -> datetime:
    """10:00 WIB on a day of November 2026."""
    return datetime(2026, 11, day, hour - 7, tzinfo=UTC)


def seed(deps: Deps) -> None:
    """A small history: katalog and P3DN by three units, an innovation, an MCP item, a letter, evidence waiting."""
    ids = {code: unit_coded(deps, code).id or 0 for code in ("DINKES", "DISDIK", "BAPPEDA")}
    with deps.db.uow() as uow:
        session = uow.session
        rows = [
            report(ids["DINKES"], "katalog", at(16), value=2),  # counts last week (end of Monday 16th)
            report(ids["DINKES"], "katalog", at(20), value=5),
            report(ids["DISDIK"], "katalog", at(10), value=4),
            report(ids["BAPPEDA"], "katalog", at(22), value=10),
            report(ids["DINKES"], "p3dn", at(1), value=30),
            report(ids["DINKES"], "p3dn", at(20), value=40),
            report(ids["DISDIK"], "p3dn", at(20), value=50),
            report(ids["DINKES"], "inovasi", at(18), title="Layanan Antar Obat Lansia"),
            report(ids["BAPPEDA"], "mcp", at(19), item_code="1.1", item_status="selesai", verification="verified"),
        ]
        session.add_all(rows)
        session.flush()
        session.add(
            Letter(
                unit_id=ids["DISDIK"], program_key="katalog", period="2026", stage="teguran1", status="sent",
                number="000.8.3.3/1/ORG/2026", year=2026, seq=1, created_at=at(19), letter_date=date(2026, 11, 20),
                sent_at=at(20),
            )
        )  # fmt: skip
        file_id = store_file(session, "bukti.pdf", "application/pdf", b"%PDF-1.4 bukti", at(20))
        session.add(
            Evidence(
                report_id=rows[-1].id or 0, unit_id=ids["BAPPEDA"], program_key="mcp", period="2026",
                item_code="1.1", file_id=file_id, filename="bukti.pdf", mime="application/pdf", size=14,
                sha256="0" * 64, uploaded_at=at(20),
            )
        )  # fmt: skip
        uow.commit()


def digest_rows(deps: Deps) -> list[Outbox]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Outbox).where(Outbox.kind == "digest").order_by(col(Outbox.id))).all())


def test_monday_digest_has_the_totals_and_the_weekly_changes(deps: Deps) -> None:
    seed(deps)
    assert send_weekly_digest(deps.db, deps.pemda, deps.calendar, MONDAY) > 0
    rows = digest_rows(deps)
    pimpinan = next(r for r in rows if r.contact_id == contact_named(deps, PIMPINAN).id)
    text = pimpinan.text
    assert text.startswith(f"Yth. Bapak/Ibu {PIMPINAN},\n📊 Ringkasan mingguan Sigap — Kabupaten Sukamakmur")
    assert "Senin, 23 November 2026" in text
    # katalog: 2 + 4 a week ago; 5 + 4 + 10 now
    assert "• e-Katalog lokal: 19 dari 500 produk, +13 minggu ini." in text
    # P3DN: the mean of the units that reported: 30 a week ago (DINKES alone), (40 + 50) / 2 now
    assert "• P3DN/UMKK: 45 % (rata-rata 2 unit yang melapor; minimal 40 %), +15 poin minggu ini." in text
    first = "laporan pertama masuk minggu ini"
    assert f"• Inovasi daerah: 1 dari 52 unit memenuhi target (1 inovasi diajukan), {first}." in text
    assert "• MCP KPK: 1 dari 9 indikator selesai (11 %), 1 terverifikasi, laporan pertama masuk minggu ini." in text
    # the pace from the first report (DISDIK's 4 on 10 November), not from weeks with no report: 15 more in 13 days
    # = 8,08 a week; 22 days to 15 December: 19 + 8.08 x 22 / 7 = 44.4
    assert "⚠️ Dengan laju sekarang: 44 dari 500 produk pada 15 Desember (kini 8,1 produk/minggu; perlu" in text
    assert "Naik terbanyak: BAPPEDA +10, Dinas Kesehatan +3." in text
    katalog_block = text.split("• e-Katalog lokal")[1].split("• P3DN")[0]
    behind = katalog_block.split("Paling tertinggal: ")[1].split("\n")[0]
    assert behind.count(" 0/10") == 5 and "Dinas Kesehatan" not in behind  # five units with nothing yet
    assert "Surat teguran: 1 terbit minggu ini; 1 belum ada tanda terima." in text
    assert "Bukti dukung menunggu verifikasi: 1 berkas, yang terlama 3 hari." in text
    assert "/peringkat" in text and "/ekspor" in text
    # one message with the picture, to every pimpinan and admin on their channel
    with deps.db.uow() as uow:
        leaders = uow.session.exec(
            select(Contact).where(col(Contact.role).in_((Role.PIMPINAN.value, Role.ADMIN.value)))
        ).all()
        reachable = [c for c in leaders if c.telegram_user_id or c.wa_number]
        picture = uow.session.get(StoredFile, pimpinan.attachment_id)
    assert len(rows) == len(reachable) and {r.contact_id for r in rows} == {c.id for c in reachable}
    assert {r.attachment_id for r in rows} == {pimpinan.attachment_id}
    assert picture is not None and picture.mime == "image/png"
    with Image.open(io.BytesIO(picture.content)) as png:
        assert png.format == "PNG" and png.size[0] == 1080
    assert json.loads(pimpinan.buttons) == [["Lihat peringkat", "/peringkat"], ["Rekap", "/rekap"]]
    assert pimpinan.template_name == "sigap_pengumuman"
    assert "e-Katalog lokal 19/500 (+13)" in json.loads(pimpinan.template_params)[0]
    admin = next(r for r in rows if r.contact_id == contact_named(deps, ADMIN).id)
    assert admin.text.split("\n", 1)[1] == text.split("\n", 1)[1]


def test_the_digest_goes_once_a_week(deps: Deps) -> None:
    seed(deps)
    first = send_weekly_digest(deps.db, deps.pemda, deps.calendar, MONDAY)
    assert first > 0
    assert send_weekly_digest(deps.db, deps.pemda, deps.calendar, MONDAY + timedelta(hours=3)) == 0
    assert len(digest_rows(deps)) == first
    clock = FakeClock(MONDAY + timedelta(weeks=1))
    later = Deps(db=deps.db, pemda=deps.pemda, clock=clock, calendar=deps.calendar)
    assert run_digest(later) == first  # next Monday: a new one
    off = later.pemda.model_copy(update={"digest": later.pemda.digest.model_copy(update={"enabled": False})})
    two_weeks = FakeClock(MONDAY + timedelta(weeks=2))
    assert run_digest(Deps(db=deps.db, pemda=off, clock=two_weeks, calendar=deps.calendar)) == 0


def test_the_digest_goes_only_to_people_reachable_on_the_channels_set_up(deps: Deps) -> None:
    """A Telegram-only deployment: the pimpinan has only a WhatsApp number, so no WhatsApp row is queued for him (it
    would wait forever); an admin registered on Telegram gets it there."""
    seed(deps)
    with deps.db.uow() as uow:
        admin = contact_named(deps, ADMIN)
        admin.telegram_user_id = "5001"
        uow.session.add(admin)
        uow.commit()
    deps.sends_on = frozenset({Channel.TELEGRAM})
    assert run_digest(deps) == 1
    rows = digest_rows(deps)
    assert {(r.contact_id, r.channel) for r in rows} == {(admin.id, "telegram")}  # its chunks, with the picture
    assert contact_named(deps, PIMPINAN).id not in {r.contact_id for r in rows}


def test_a_reminder_says_the_units_own_pace(sdeps: Deps) -> None:
    dinkes = unit_coded(sdeps, "DINKES").id or 0
    with sdeps.db.uow() as uow:
        uow.session.add_all(
            [
                report(dinkes, "katalog", datetime(2026, 11, 9, 3, tzinfo=UTC), value=2),  # before 10 Nov: the base
                report(dinkes, "katalog", datetime(2026, 12, 7, 3, tzinfo=UTC), value=4),
                report(dinkes, "p3dn", datetime(2026, 12, 7, 3, tzinfo=UTC), value=20),
            ]
        )
        uow.commit()
    # Tuesday 8 December 08:00 WIB: H-7 of 15 December. Four weeks back is 10 November: 2 then, 4 now.
    sweep(sdeps.db, sdeps.pemda, sdeps.calendar, sdeps.calendar.at_local(date(2026, 12, 8), time(8, 0)))
    with sdeps.db.uow() as uow:
        kepala = contact_named(sdeps, KEPALA_DINKES)
        (row,) = uow.session.exec(select(Outbox).where(Outbox.contact_id == kepala.id)).all()
    katalog = next(line for line in row.text.splitlines() if "e-Katalog" in line)
    # 0,5 a week; 6 more products in the one week left
    assert katalog.endswith("; laju Anda 0,5 produk/minggu; perlu 6 produk/minggu.")
    p3dn = next(line for line in row.text.splitlines() if "P3DN" in line)
    assert "laju" not in p3dn  # only count programs


async def test_the_scheduler_runs_the_digest_on_monday_at_half_past_seven(sdeps: Deps) -> None:
    from bot.scheduler import start_scheduler

    scheduler = start_scheduler(sdeps)
    try:
        job = scheduler.get_job("weekly-digest")
        assert job is not None and job.coalesce and job.max_instances == 1
        trigger = str(job.trigger)
        assert "day_of_week='mon'" in trigger and "hour='7'" in trigger and "minute='30'" in trigger
        assert str(job.trigger.timezone) == "Asia/Jakarta"
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)


async def test_a_unit_with_a_dispensation_is_not_listed_as_behind(sdeps: Deps) -> None:
    def behind() -> str:
        with sdeps.db.uow() as uow:
            body = build_digest(uow.session, sdeps.pemda, sdeps.calendar, MONDAY).body
        return body.split("• e-Katalog lokal")[1].split("Paling tertinggal: ")[1].split("\n")[0]

    assert behind().startswith("Sekretariat Daerah 0/10")
    await console_person(sdeps, ADMIN).text("/dispensasi setda katalog Sedang audit BPK")
    assert "Sekretariat Daerah" not in behind() and behind().count("0/10") == 5
