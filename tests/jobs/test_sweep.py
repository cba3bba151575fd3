"""The sweep: the right stage, on the right working day, to the right people, once."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy import update
from sqlmodel import Session, col, select

from jobs.sweep import plan, sweep
from models.app import Deps
from models.calendar import WorkingCalendar
from models.clock import FakeClock
from models.db import Database
from models.ladder import PlannedNotice, stage_days
from models.messages import Button, Channel
from models.outbound import Template
from models.outbox import OUTBOX_COLUMNS, OutMessage, outbox_fixed, outbox_row, outbox_values
from models.pemda import PemdaConfig, Stage
from models.standing import Standing, current_period
from models.tables import Checkin, Contact, Notice, Outbox, Report, Unit
from tests.conftest import (
    ADMIN,
    KEPALA_DINKES,
    OPERATOR_DINKES,
    PIMPINAN,
    Person,
    console_person,
    contact_named,
    unit_coded,
)


def local(deps: Deps, day: date, hour: int = 8, minute: int = 0) -> datetime:
    """A Pemda-local wall time as an aware UTC instant."""
    return deps.calendar.at_local(day, time(hour, minute))


def outbox_rows(deps: Deps) -> list[Outbox]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Outbox).order_by(col(Outbox.id))).all())


def mark_sent(deps: Deps) -> None:
    """What the dispatcher does: every queued message accepted by the platform."""
    with deps.db.uow() as uow:
        uow.session.execute(update(Outbox).values(status="sent"))
        uow.commit()


def notices(deps: Deps) -> list[Notice]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Notice)).all())


def planned_at(deps: Deps, at: datetime, pemda: PemdaConfig | None = None) -> list[PlannedNotice]:
    with deps.db.uow() as uow:
        return plan(uow.session, pemda or deps.pemda, deps.calendar, at)


def for_unit(items: list[PlannedNotice], code: str, program: str | None = None) -> list[PlannedNotice]:
    return [p for p in items if p.unit.code == code and (program is None or p.program.key == program)]


def with_deadline(pemda: PemdaConfig, deadline: str) -> PemdaConfig:
    """The Pemda file with every program's deadline moved to 'MM-DD'."""
    return pemda.model_copy(update={"programs": [p.model_copy(update={"deadline": deadline}) for p in pemda.programs]})


# -- timing ---------------------------------------------------------------------------------------


def test_stage_days_skip_weekends_holidays_and_cuti_bersama(sdeps: Deps) -> None:
    katalog = sdeps.pemda.program("katalog")
    assert katalog is not None
    days = {f"{s.key} {s.kind}": d for s, d in stage_days(sdeps.pemda, katalog, sdeps.calendar, "2026")}
    # Deadline Tuesday 15 December 2026.
    assert days["H-14 pengingat"] == date(2026, 12, 1)
    assert days["H-7 pengingat"] == date(2026, 12, 8)
    assert days["H-3 pengingat"] == date(2026, 12, 14)  # Saturday 12th -> Monday 14th
    assert days["H-1 pengingat"] == date(2026, 12, 14)
    assert days["H+1 peringatan"] == date(2026, 12, 16)
    assert days["H+7 teguran1"] == date(2026, 12, 22)
    assert days["H+14 teguran2"] == date(2026, 12, 29)
    # Deadline 17 December: H+7 is Thursday 24th (cuti bersama, Pemda file), then Natal, then the weekend.
    moved = with_deadline(sdeps.pemda, "12-17").program("katalog")
    assert moved is not None
    later = {s.kind: d for s, d in stage_days(sdeps.pemda, moved, sdeps.calendar, "2026")}
    assert later["teguran1"] == date(2026, 12, 28)


def test_extra_cuti_bersama_moves_a_stage(sdeps: Deps) -> None:
    at = local(sdeps, date(2026, 12, 8), 9)
    assert for_unit(planned_at(sdeps, at), "DINKES", "katalog")
    sdeps.calendar.add_day_off(date(2026, 12, 8), "Cuti bersama tambahan")
    assert planned_at(sdeps, at) == []
    wednesday = planned_at(sdeps, local(sdeps, date(2026, 12, 9), 8))
    assert {p.label for p in for_unit(wednesday, "DINKES")} == {"H-7 pengingat"}


def test_nothing_on_days_off_or_outside_office_hours(sdeps: Deps) -> None:
    tuesday = date(2026, 12, 8)
    assert planned_at(sdeps, local(sdeps, tuesday, 7, 59)) == []
    assert planned_at(sdeps, local(sdeps, tuesday, 16, 0)) == []
    assert planned_at(sdeps, local(sdeps, date(2026, 12, 12), 10)) == []  # Saturday
    assert planned_at(sdeps, local(sdeps, date(2026, 12, 25), 10)) == []  # Natal
    assert planned_at(sdeps, local(sdeps, tuesday, 8, 0))
    assert planned_at(sdeps, local(sdeps, tuesday, 15, 59))


def test_time_zones_wib_and_wit(sdeps: Deps) -> None:
    info = sdeps.pemda.pemda.model_copy(update={"timezone": "Asia/Jayapura"})
    papua = sdeps.pemda.model_copy(update={"pemda": info})
    wit = WorkingCalendar("Asia/Jayapura", extra_days_off={h.date: h.reason for h in papua.holidays})
    # 23:30 UTC on Monday 7 December = Tuesday 08:30 WIT, but Monday 06:30 WIB.
    at = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert planned_at(sdeps, at) == []
    with sdeps.db.uow() as uow:
        in_papua = plan(uow.session, papua, wit, at)
    assert {p.label for p in in_papua} == {"H-7 pengingat"}
    # WITA: 07:30 WITA is still before office hours there.
    wita = WorkingCalendar("Asia/Makassar")
    with sdeps.db.uow() as uow:
        assert plan(uow.session, sdeps.pemda, wita, at) == []


def test_catch_up_sends_only_the_latest_stage(sdeps: Deps) -> None:
    result = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 17), 10))
    labels = {p.label for p in result.planned}
    assert labels == {"H+1 peringatan"}
    again = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 18), 10))  # Friday
    assert again.queued == 0 and again.already == len(again.planned) > 0
    # The ladder climbs in order: while the peringatan has not gone out, Teguran I waits and says why.
    held = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 22), 8), dry_run=True)
    assert held.waiting and {w.reason for w in held.waiting} == {"menunggu peringatan H+1 terkirim"}
    mark_sent(sdeps)
    teguran = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 22), 8))
    assert {p.label for p in teguran.planned} == {"H+7 Surat Teguran I"}
    assert teguran.queued > 0 and not teguran.waiting


# -- who gets what --------------------------------------------------------------------------------


async def test_compliant_units_get_nothing(sdeps: Deps) -> None:
    kepala = console_person(sdeps, KEPALA_DINKES)
    await kepala.text("/lapor katalog 12")
    await kepala.text("/lapor p3dn 41")
    items = for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 8))), "DINKES")
    assert {p.program.key for p in items} == {"inovasi"}
    assert {p.contact.name for p in items} == {KEPALA_DINKES, OPERATOR_DINKES}


async def test_proses_pauses_reminders_but_not_warnings(sdeps: Deps) -> None:
    kepala = console_person(sdeps, KEPALA_DINKES)
    assert "sedang diproses sampai" in await kepala.text("/proses katalog 10/12/2026")
    assert not for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 8))), "DINKES", "katalog")
    assert for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 8))), "DINKES", "p3dn")
    # The pause ends on its date; H-3 on Monday 14th goes out again, and the H+1 warning is never paused.
    assert for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 14))), "DINKES", "katalog")
    warning = for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 16))), "DINKES", "katalog")
    assert {p.label for p in warning} == {"H+1 peringatan"}


async def test_dispensasi_suppresses_every_stage_until_revoked(sdeps: Deps) -> None:
    admin = console_person(sdeps, ADMIN)
    assert "Dispensasi" in await admin.text("/dispensasi dinkes katalog Unit sedang direstrukturisasi")
    for day in (date(2026, 12, 8), date(2026, 12, 16), date(2026, 12, 22)):
        assert not for_unit(planned_at(sdeps, local(sdeps, day)), "DINKES", "katalog")
    assert for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 16))), "DINKES", "p3dn")
    assert "dicabut" in await admin.text("/dispensasi cabut dinkes katalog")
    assert for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 16))), "DINKES", "katalog")


async def test_one_message_per_person_with_buttons_and_template(deps: Deps) -> None:
    await console_person(deps, KEPALA_DINKES).text("/lapor p3dn 45")
    await console_person(deps, KEPALA_DINKES).text("/lapor inovasi Layanan Antar Obat Lansia")
    result = sweep(deps.db, deps.pemda, deps.calendar, local(deps, date(2026, 12, 16)))
    rows = outbox_rows(deps)
    assert len(rows) == result.queued == len({p.contact.id for p in result.planned})
    assert len({r.contact_id for r in rows}) == len(rows)
    kepala = contact_named(deps, KEPALA_DINKES)
    mine = next(r for r in rows if r.contact_id == kepala.id)
    assert "Peringatan" in mine.text and "Dinas Kesehatan" in mine.text and "e-Katalog lokal" in mine.text
    assert "P3DN" not in mine.text
    assert json.loads(mine.buttons) == [["Lapor sekarang", "/lapor katalog"]]
    assert mine.channel == Channel.WHATSAPP.value and mine.template_name == "sigap_peringatan"
    assert json.loads(mine.template_params)[0] == KEPALA_DINKES
    admin = contact_named(deps, ADMIN)
    summary = [r for r in rows if r.contact_id == admin.id]
    assert len(summary) == 1
    assert "unit terlambat e-Katalog lokal (H+1 peringatan)" in summary[0].text
    assert "unit lainnya" in summary[0].text  # long lists are cut short
    assert json.loads(summary[0].buttons) == [["Lihat rekap", "/rekap"]]
    # Pimpinan are not on the H+1 rung.
    assert not [r for r in rows if r.contact_id == contact_named(deps, PIMPINAN).id]


def test_unreachable_contacts_are_reported_not_queued(sdeps: Deps) -> None:
    with sdeps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.name == KEPALA_DINKES)).one()
        contact.wa_number = None
        uow.session.add(contact)
        uow.commit()
    result = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 8)))
    assert {p.contact.name for p in result.unreachable} == {KEPALA_DINKES}
    assert not [r for r in outbox_rows(sdeps) if r.contact_id == contact.id]
    assert not [n for n in notices(sdeps) if n.contact_id == contact.id]


def test_dry_run_enqueues_nothing(deps: Deps) -> None:
    result = sweep(deps.db, deps.pemda, deps.calendar, local(deps, date(2026, 12, 8)), dry_run=True)
    assert result.planned and result.queued == 0
    assert outbox_rows(deps) == [] and notices(deps) == []


# -- idempotency ----------------------------------------------------------------------------------


def test_sweeping_twice_queues_each_stage_once(deps: Deps) -> None:
    at = local(deps, date(2026, 12, 8))
    first = sweep(deps.db, deps.pemda, deps.calendar, at)
    assert first.queued > 0 and first.notices == len(first.planned)
    second = sweep(deps.db, deps.pemda, deps.calendar, at.replace(hour=6))  # 13:00 WIB, after a "restart"
    assert second.queued == 0 and second.notices == 0 and second.already == first.notices
    assert len(outbox_rows(deps)) == first.queued
    keys = [(n.program_key, n.unit_id, n.period, n.stage, n.contact_id) for n in notices(deps)]
    assert len(keys) == len(set(keys)) == first.notices


def test_concurrent_sweeps_queue_each_stage_once(deps: Deps) -> None:
    at = local(deps, date(2026, 12, 16))
    expected = len(planned_at(deps, at))
    other = Database(deps.db.engine.url.render_as_string(hide_password=False))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    results: list[int] = []

    def run(db: Database) -> None:
        try:
            barrier.wait()
            results.append(sweep(db, deps.pemda, deps.calendar, at).notices)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in (deps.db, other, deps.db, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert errors == []
    assert sorted(results) == [0, 0, 0, expected]
    assert len(notices(deps)) == expected
    rows = outbox_rows(deps)
    assert len(rows) == len({r.idem_key for r in rows}) == len({r.contact_id for r in rows})


# -- teguran hand-off -----------------------------------------------------------------------------


def test_teguran_goes_to_the_letter_hook_once_per_unit(sdeps: Deps) -> None:
    calls: list[tuple[str, tuple[str, ...], str]] = []

    def hook(session: Session, unit: Unit, standings: Sequence[Standing], stage: Stage, at: datetime) -> bool:
        calls.append((unit.code, tuple(sorted(s.program.key for s in standings)), stage.kind))
        return unit.code == "DINKES"

    sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 16)), letter_hook=hook)  # H+1
    mark_sent(sdeps)
    at = local(sdeps, date(2026, 12, 22))
    first = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, at, letter_hook=hook)
    # one call per unit and stage, with every program the unit is behind on
    assert ("DINKES", ("inovasi", "katalog", "p3dn"), "teguran1") in calls
    assert len([c for c in calls if c[0] == "DINKES"]) == 1
    assert first.letters == 1
    kepala = contact_named(sdeps, KEPALA_DINKES)
    rows = [r for r in outbox_rows(sdeps) if r.status == "pending"]
    assert not [r for r in rows if r.contact_id == kepala.id]
    letter_notices = [
        n for n in notices(sdeps) if n.unit_id == unit_coded(sdeps, "DINKES").id and n.stage.endswith("teguran1")
    ]
    assert letter_notices and {n.channel for n in letter_notices} == {"surat"}
    disdik = next(r for r in rows if r.contact_id == contact_named(sdeps, "Yuni Pratama").id)
    assert "Surat Teguran I" in disdik.text and "tahap surat teguran" in disdik.text
    calls.clear()
    again = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, at.replace(hour=6), letter_hook=hook)
    assert calls == [] and again.queued == 0


def test_late_adoption_starts_with_the_peringatan_never_a_letter(sdeps: Deps) -> None:
    """Installed after the deadline: at H+14 the first thing a unit hears is the peringatan."""
    first = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 29)))
    assert {p.label for p in first.planned} == {"H+1 peringatan"}
    kepala = contact_named(sdeps, KEPALA_DINKES)
    row = next(r for r in outbox_rows(sdeps) if r.contact_id == kepala.id)
    assert "Peringatan" in row.text and "Teguran" not in row.text.split("\n")[1]


def test_teguran_without_hook_is_a_warning_message(sdeps: Deps) -> None:
    sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 16)))
    mark_sent(sdeps)
    sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 12, 22)))
    kepala = contact_named(sdeps, KEPALA_DINKES)
    row = [r for r in outbox_rows(sdeps) if r.contact_id == kepala.id][-1]
    # the letter template takes (stage, number, unit); a plain warning goes as the warning template
    assert "Surat Teguran I" in row.text and row.template_name == "sigap_peringatan"
    pimpinan = contact_named(sdeps, PIMPINAN)
    assert [r for r in outbox_rows(sdeps) if r.contact_id == pimpinan.id]


# -- check-ins ------------------------------------------------------------------------------------


async def test_checkin_prompt_one_followup_and_rekap(sdeps: Deps, clock: FakeClock) -> None:
    monday = date(2026, 11, 23)
    kepala = console_person(sdeps, KEPALA_DINKES)
    clock.set(local(sdeps, date(2026, 11, 20), 10))
    await console_person(sdeps, "Yuni Pratama").text("/lapor katalog 3")  # DISDIK: 3 days old, not stale
    assert sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, monday, 8, 59)).checkins == 0
    asked = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, monday, 9))
    assert asked.checkins > 0 and asked.followups == 0
    kinds = {(p.unit.code, p.program.key) for p in asked.planned if p.kind == "checkin"}
    assert ("DINKES", "katalog") in kinds and ("DINKES", "p3dn") in kinds
    assert ("DISDIK", "katalog") not in kinds and ("DISDIK", "p3dn") in kinds
    row = next(r for r in outbox_rows(sdeps) if r.contact_id == contact_named(sdeps, KEPALA_DINKES).id)
    assert "angka terbaru" in row.text and row.template_name == "sigap_minta_data"
    assert ["Lapor katalog", "/lapor katalog"] in json.loads(row.buttons)
    # The button opens the guided report.
    clock.set(local(sdeps, monday, 10))
    assert "Berapa jumlah produk" in "\n".join(r.text for r in await kepala.say("", payload="/lapor katalog"))
    await kepala.text("12")
    late_morning = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, monday, 11))
    assert late_morning.checkins == 0 and late_morning.answered == 1  # the report answered DINKES katalog
    follow = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, monday, 13))
    followed = {(p.unit.code, p.program.key) for p in follow.planned if p.kind == "followup" and not p.already}
    assert ("DINKES", "p3dn") in followed and ("DINKES", "katalog") not in followed
    assert sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, monday, 14)).followups == 0
    with sdeps.db.uow() as uow:
        rows = uow.session.exec(select(Checkin).where(Checkin.unit_id == unit_coded(sdeps, "DINKES").id)).all()
    state = {r.program_key: r for r in rows}
    assert state["katalog"].answered_at is not None and state["katalog"].followup_at is None
    assert state["p3dn"].answered_at is None and state["p3dn"].followup_at is not None
    clock.set(local(sdeps, monday, 15))
    rekap = await console_person(sdeps, ADMIN).text("/rekap")
    line = next(x for x in rekap.splitlines() if x.startswith("Belum menjawab permintaan data minggu ini:"))
    assert "DINKES (p3dn)" in line and "DINKES (katalog)" not in line


def test_checkin_moves_to_the_next_working_day_when_monday_is_off(sdeps: Deps) -> None:
    monday = date(2026, 11, 23)
    sdeps.calendar.add_day_off(monday, "Libur daerah")
    assert sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, monday, 9)).checkins == 0
    assert sweep(sdeps.db, sdeps.pemda, sdeps.calendar, local(sdeps, date(2026, 11, 24), 9)).checkins > 0


# -- the period before ----------------------------------------------------------------------------


def monthly_katalog(pemda: PemdaConfig) -> PemdaConfig:
    """The Pemda file with e-Katalog reported monthly, due 10 days after each month ends."""
    return pemda.model_copy(
        update={
            "programs": [
                p.model_copy(update={"period": "month", "deadline": "+10"}) if p.key == "katalog" else p
                for p in pemda.programs
            ]
        }
    )


def test_previous_period_is_swept_while_its_ladder_runs(deps: Deps) -> None:
    monthly = monthly_katalog(deps.pemda)
    katalog = monthly.program("katalog")
    assert katalog is not None
    # November's deadline is Thursday 10 December: its H-7 (3 December) falls in December's period.
    days = {s.key: d for s, d in stage_days(monthly, katalog, deps.calendar, "2026-11")}
    assert days["H-7"] == date(2026, 12, 3) and days["H+14"] == date(2026, 12, 28)  # 24th cuti bersama, Natal
    thursday = local(deps, date(2026, 12, 3))
    items = for_unit(planned_at(deps, thursday, monthly), "DINKES", "katalog")
    assert {(p.period, p.label) for p in items} == {("2026-11", "H-7 pengingat")}
    assert {p.contact.name for p in items} == {KEPALA_DINKES, OPERATOR_DINKES}

    first = sweep(deps.db, monthly, deps.calendar, thursday)
    kepala = contact_named(deps, KEPALA_DINKES)
    row = next(r for r in outbox_rows(deps) if r.contact_id == kepala.id)
    assert "e-Katalog lokal bulan November 2026 (H-7 pengingat)" in row.text
    assert "batas 10 Des 2026, 7 hari lagi" in row.text
    again = sweep(deps.db, monthly, deps.calendar, thursday.replace(hour=6))  # 13:00 WIB
    assert again.queued == 0 and again.notices == 0 and again.already == first.notices
    stages = {(n.period, n.stage) for n in notices(deps) if n.program_key == "katalog" and n.contact_id == kepala.id}
    assert stages == {("2026-11", "H-7:pengingat")}

    # The warning after November's deadline reaches the unit and the admins, naming the period.
    friday = sweep(deps.db, monthly, deps.calendar, local(deps, date(2026, 12, 11)))
    late = [p for p in friday.planned if p.program.key == "katalog" and not p.already]
    assert {(p.period, p.label) for p in late} == {("2026-11", "H+1 peringatan")}
    admin = contact_named(deps, ADMIN)
    summary = next(r for r in outbox_rows(deps) if r.contact_id == admin.id)
    assert "unit terlambat e-Katalog lokal bulan November 2026 (H+1 peringatan)" in summary.text


def test_previous_period_stops_after_its_last_rung_and_counts_its_own_reports(sdeps: Deps) -> None:
    monthly = monthly_katalog(sdeps.pemda)
    # 29 December: November's last rung (H+14, moved to Monday 28th) is over; December's H-14 is due.
    items = for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 29)), monthly), "DINKES", "katalog")
    assert {(p.period, p.label) for p in items} == {("2026-12", "H-14 pengingat")}
    # A unit that reached November's target gets nothing for November.
    dinkes = unit_coded(sdeps, "DINKES")
    with sdeps.db.uow() as uow:
        uow.session.add(
            Report(
                unit_id=dinkes.id,
                program_key="katalog",
                period="2026-11",
                value=12,
                channel="telegram",
                created_at=local(sdeps, date(2026, 11, 30), 10),
            )
        )
        uow.commit()
    december = planned_at(sdeps, local(sdeps, date(2026, 12, 3)), monthly)
    assert not for_unit(december, "DINKES", "katalog")
    assert for_unit(december, "DISDIK", "katalog")
    # The yearly programs never look at the year before in December: 2025's ladder ended a year ago.
    assert {p.period for p in december if p.program.key != "katalog"} == {"2026"}


# -- rows as the outbox writes them ---------------------------------------------------------------


def test_sweep_outbox_values_match_outbox_row() -> None:
    at = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    message = OutMessage(
        text='Yth. Bapak/Ibu Sri "Ani",\n🔔 Pengingat — Dinas: é\\',
        kind="pengingat",
        buttons=(Button("Lapor sekarang", "/lapor katalog"),),
        template=Template(name="sigap_pengingat", params=('Sri "Ani"', "Pengingat — Dinas: e-Katalog")),
    )
    contact = Contact(id=7, name="Sri", role="kepala")
    expected = outbox_row("sweep|7|telegram|x" * 20, contact, message, at, channel=Channel.TELEGRAM)
    values = outbox_values("sweep|7|telegram|x" * 20, 7, Channel.TELEGRAM, message)
    assert dict(zip(OUTBOX_COLUMNS, values, strict=True)) | outbox_fixed(at) == expected
    bare = OutMessage(text="x", kind="checkin")
    assert dict(zip(OUTBOX_COLUMNS, outbox_values("k", 7, Channel.WHATSAPP, bare), strict=True)) | outbox_fixed(
        at
    ) == outbox_row("k", contact, bare, at, channel=Channel.WHATSAPP)


async def test_pause_and_exemption_cover_the_period_whose_ladder_runs(sdeps: Deps, clock: FakeClock) -> None:
    """Early December a monthly program still chases November (deadline 10 December): /proses pauses those
    reminders, and /dispensasi exempts the unit from November's warnings as well as December's ladder."""
    monthly = monthly_katalog(sdeps.pemda)
    deps = Deps(db=sdeps.db, pemda=monthly, clock=clock, calendar=sdeps.calendar)
    clock.set(local(sdeps, date(2026, 12, 3), 9))
    kepala = Person(deps, Channel.CONSOLE, console_person(sdeps, KEPALA_DINKES).address)
    reply = await kepala.text("/proses katalog 9/12/2026")
    assert "bulan November 2026" in reply and "sampai Rabu, 9 Desember 2026" in reply
    assert not for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 7)), monthly), "DINKES", "katalog")
    # the H+1 warning of November is never paused
    late = for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 11)), monthly), "DINKES", "katalog")
    assert {(p.period, p.label) for p in late} == {("2026-11", "H+1 peringatan")}

    admin = Person(deps, Channel.CONSOLE, console_person(sdeps, ADMIN).address)
    clock.set(local(sdeps, date(2026, 12, 11), 9))
    assert "Dispensasi" in await admin.text("/dispensasi dinkes katalog Unit sedang direstrukturisasi")
    for day in (date(2026, 12, 11), date(2026, 12, 21), date(2027, 1, 4), date(2027, 1, 11)):
        assert not for_unit(planned_at(sdeps, local(sdeps, day), monthly), "DINKES", "katalog"), day
    assert "dicabut" in await admin.text("/dispensasi cabut dinkes katalog")
    assert for_unit(planned_at(sdeps, local(sdeps, date(2026, 12, 21)), monthly), "DINKES", "katalog")


def test_a_reminder_suggests_proses_with_its_own_program_and_deadline(deps: Deps) -> None:
    """The /proses example in a reminder names a program of the message and its deadline, never a fixed date
    that may already be past."""
    sweep(deps.db, deps.pemda, deps.calendar, local(deps, date(2026, 12, 8)))
    kepala = contact_named(deps, KEPALA_DINKES)
    (mine,) = [r for r in outbox_rows(deps) if r.contact_id == kepala.id]
    example = re.search(r"misalnya /proses (\w+) (\d\d)/(\d\d)/(\d{4})\.", mine.text)
    assert example is not None, mine.text
    program = deps.pemda.program(example.group(1))
    assert program is not None and program.label in mine.text
    day = date(int(example.group(4)), int(example.group(3)), int(example.group(2)))
    assert day >= date(2026, 12, 8)
    assert day == program.deadline_of(current_period(program, date(2026, 12, 8)))
