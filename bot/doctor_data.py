"""`sigap doctor` over the data: the roster (heads, channels, duplicates, what applies to whom), the programs
(next deadline, ladder order, checklist units) and the calendar (this year's and next year's holidays)."""

from __future__ import annotations

import csv
import itertools
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from bot.doctor_findings import Finding, fail, ok, warn
from bot.settings import SAMPLE_ROSTER, Settings
from bot.wiring import build_calendar
from models.calendar import WorkingCalendar
from models.clock import SystemClock
from models.db import Database
from models.fmt import tanggal
from models.messages import Channel
from models.onboarding import chased, connected, head_of
from models.pemda import PemdaConfig, ProgramConfig, Stage
from models.periods import period_bounds, period_key
from models.phone import PhoneError, normalize_phone
from models.reach import Unreachable, why_unreachable
from models.standing import current_period
from models.tables import UNIT_KINDS, Contact, Role, Unit

SHOWN = 10
CHANNEL_NAMES = {Channel.TELEGRAM: "Telegram", Channel.WHATSAPP: "WhatsApp"}
ORDER = {"pengingat": 0, "peringatan": 1, "teguran1": 2, "teguran2": 3}


def _listed(items: Sequence[str]) -> str:
    """'a, b, c' with at most SHOWN items and 'dan N lainnya'."""
    shown = ", ".join(items[:SHOWN])
    return shown + (f", dan {len(items) - SHOWN} lainnya" if len(items) > SHOWN else "")


def _active_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).where(col(Unit.active).is_(True)).order_by(col(Unit.code))).all())


def _active_people(session: Session) -> list[Contact]:
    return list(session.exec(select(Contact).where(col(Contact.active).is_(True)).order_by(col(Contact.id))).all())


# ------------------------------------------------------------------------------------------------------ roster


def sample_people() -> set[tuple[str, str]]:
    """(name, E.164 number) of the people in the bundled sample roster."""
    people = set()
    with SAMPLE_ROSTER.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                people.add((row["contact_name"], normalize_phone(row["phone"])))
            except (PhoneError, KeyError):
                continue
    return people


def sample_roster_finding(session: Session) -> Finding:
    """The fictional people of the sample roster are still in the database."""
    topic = "Roster"
    sample = sample_people()
    found = [c.name for c in _active_people(session) if (c.name, c.wa_number or "") in sample]
    if not _active_units(session):
        return fail(
            topic, "belum ada unit di basis data.", "Impor roster Pemda: sigap import roster roster.xlsx --apply"
        )
    if found:
        return fail(
            topic,
            f"masih berisi {len(found)} orang dari roster contoh (Kabupaten Sukamakmur fiktif), mis. {found[0]}.",
            "Impor roster Pemda Anda dan nonaktifkan yang lain: sigap import roster roster.xlsx --prune "
            "(periksa pratinjaunya), lalu ulangi dengan --apply.",
        )
    return ok(topic, f"{len(_active_units(session))} unit dan {len(_active_people(session))} orang aktif.")


def admin_finding(session: Session, settings: Settings) -> Finding:
    """Someone is admin, and at least one admin is connected on a chat channel configured here (`Settings.sends_on`,
    as `channels_finding` counts people); with no channel configured, nobody can be reached."""
    topic = "Admin"
    admins = session.exec(select(Contact).where(Contact.role == Role.ADMIN.value, col(Contact.active).is_(True))).all()
    if not admins:
        office = session.exec(
            select(Unit.code)
            .where(col(Unit.active).is_(True), col(Unit.kind).in_(("bagian", "sekretariat")))
            .order_by(col(Unit.kind), col(Unit.code))
        ).first()
        return fail(
            topic,
            "belum ada admin: tidak ada yang dapat mengundang, menyiarkan atau menyetujui surat.",
            f"Buat kode untuk admin pertama: sigap invite --unit {office or 'KODE-UNIT'} --role admin (pakai kode "
            "unit kantor koordinator), lalu kirim kodenya ke bot dari HP admin.",
        )
    unit = session.get(Unit, admins[0].unit_id) if admins[0].unit_id is not None else None
    invite = f"sigap invite --unit {unit.code if unit is not None else 'KODE-UNIT'} --role admin"
    on = settings.sends_on
    if not on:
        return warn(
            topic,
            f"{len(admins)} admin di roster, tetapi belum ada kanal obrolan yang diatur (Sigap hanya berjalan di "
            "konsol), jadi belum ada admin yang dapat dihubungi.",
            f"Atur Telegram atau WhatsApp di .env (lihat Kanal obrolan), lalu buat kode: {invite}, dan admin "
            "mengirim /start KODE ke bot.",
        )
    linked = session.exec(
        select(Contact.id).where(Contact.role == Role.ADMIN.value, col(Contact.active).is_(True), connected(on))
    ).first()
    if linked is None:
        names = " atau ".join(label for channel, label in CHANNEL_NAMES.items() if channel in on)
        return warn(
            topic,
            f"{len(admins)} admin di roster, tetapi belum ada yang terhubung lewat {names}.",
            f"Buat kode: {invite}, lalu admin mengirim /start KODE ke bot"
            + (" (di WhatsApp cukup menulis ke bot dari nomor yang ada di roster)." if Channel.WHATSAPP in on else "."),
        )
    return ok(topic, f"{len(admins)} admin, sudah ada yang terhubung.")


def heads_finding(session: Session, pemda: PemdaConfig) -> Finding:
    """Every unit a program chases has an active kepala (a kecamatan: a camat) in the roster."""
    topic = "Kepala dan camat"
    heads = {
        (unit_id, role)
        for unit_id, role in session.exec(
            select(Contact.unit_id, Contact.role).where(col(Contact.active).is_(True))
        ).all()
    }
    missing = [
        f"{u.code} ({head_of(u).value})"
        for u in _active_units(session)
        if chased(pemda, u) and (u.id, head_of(u).value) not in heads
    ]
    if missing:
        return fail(
            topic,
            f"{len(missing)} unit belum punya kepala/camat di roster: {_listed(missing)}.",
            "Isi kepala/camatnya di roster lalu impor ulang (sigap import roster FILE --apply), atau buat kode: "
            "sigap invite --all --role kepala (dan --role camat).",
        )
    return ok(topic, "setiap unit yang dikejar program punya kepala atau camat di roster.")


def channels_finding(session: Session, settings: Settings) -> Finding:
    """Everyone can be reached now on a channel that is configured (`models.reach`, as /siaran, /takterjangkau and
    the sweep count it): an address there that has not bounced."""
    topic = "Kanal tiap orang"
    people = _active_people(session)
    on = settings.sends_on
    by_reason: dict[Unreachable, list[str]] = defaultdict(list)
    for contact in people:
        why = why_unreachable(contact, on)
        if why is not None:
            by_reason[why].append(contact.name)
    if not by_reason:
        names = " dan ".join(label for channel, label in CHANNEL_NAMES.items() if channel in on)
        return ok(
            topic, f"{len(people)} orang aktif, semuanya dapat dijangkau" + (f" lewat {names}." if names else ".")
        )
    problems: list[str] = []
    for why in Unreachable:
        who = by_reason.get(why, [])
        if not who:
            continue
        if why is Unreachable.NO_ADDRESS:
            problems.append(f"{len(who)} orang tanpa nomor WhatsApp maupun Telegram: {_listed(who)}.")
        elif why is Unreachable.BLOCKED:
            problems.append(f"{len(who)} orang memblokir bot atau tidak dapat dikirimi: {_listed(who)}.")
        elif why is Unreachable.ONLY_WHATSAPP:
            problems.append(
                f"{len(who)} orang hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur: mereka belum "
                "terjangkau sampai WhatsApp diatur atau mereka mendaftar di Telegram dengan kode undangan."
            )
        elif why is Unreachable.ONLY_TELEGRAM:
            problems.append(
                f"{len(who)} orang hanya punya Telegram, tetapi Telegram belum diatur: mereka belum terjangkau "
                "sampai Telegram diatur atau nomor WhatsApp mereka diisi di roster."
            )
        else:
            problems.append(f"{len(who)} orang punya Telegram dan WhatsApp, tetapi keduanya belum diatur.")
    if len(problems) > 1:
        total = sum(len(who) for who in by_reason.values())
        problems.insert(0, f"{total} dari {len(people)} orang aktif tidak dapat dijangkau sekarang:")
    if Unreachable.ONLY_WHATSAPP in by_reason:
        fix = "Atur WhatsApp di .env, atau bagikan kode undangan Telegram"
    elif Unreachable.NO_CHANNEL in by_reason:
        fix = "Atur Telegram atau WhatsApp di .env (lihat README), lalu bagikan kode undangan"
    elif Unreachable.ONLY_TELEGRAM in by_reason:
        fix = "Atur Telegram di .env, atau isi nomor WhatsApp di roster lalu impor ulang, atau bagikan kode undangan"
    elif Unreachable.NO_ADDRESS in by_reason:
        fix = "Isi kolom phone (atau telegram_id) di roster lalu impor ulang, atau bagikan kode undangan"
    else:
        fix = "Hubungi mereka dan minta membuka blokir lalu mengirim pesan ke bot (/takterjangkau mendaftar mereka)"
        return warn(topic, "\n".join(problems), f"{fix}.")
    return warn(topic, "\n".join(problems), f"{fix}: sigap invite --all --role kepala (juga camat dan operator).")


def _normal(name: str) -> str:
    return re.sub(r"[^\w]+", " ", name.casefold()).strip()


def duplicates_finding(session: Session) -> Finding:
    """No two active people, and no two active units, share a name (hard to tell apart in commands and letters)."""
    topic = "Nama ganda"
    units = {u.id: u for u in _active_units(session)}
    people: dict[str, list[Contact]] = defaultdict(list)
    for contact in _active_people(session):
        people[_normal(contact.name)].append(contact)
    lines = []
    for group in people.values():
        if len(group) > 1:
            where = "; ".join(
                f"{units[c.unit_id].code if c.unit_id in units else '-'} {c.role}" for c in group if c is not None
            )
            lines.append(f"{group[0].name} ({where})")
    by_name: dict[str, list[Unit]] = defaultdict(list)
    for unit in units.values():
        by_name[_normal(unit.name)].append(unit)
    lines += [f"unit {g[0].name} ({', '.join(u.code for u in g)})" for g in by_name.values() if len(g) > 1]
    if lines:
        return warn(
            topic,
            f"{len(lines)} nama dipakai lebih dari sekali: {_listed(lines)}.",
            "Bila orang yang sama: hapus baris gandanya di roster lalu impor dengan --prune. Bila berbeda: bedakan "
            "namanya (mis. dengan gelar) agar tidak tertukar di perintah dan surat.",
        )
    return ok(topic, "tidak ada nama orang atau unit yang ganda.")


def coverage_finding(session: Session, pemda: PemdaConfig) -> Finding:
    """Each program's `applies_to` names real unit kinds, and every active unit is chased by some program."""
    topic = "Cakupan program"
    units = _active_units(session)
    kinds = {u.kind for u in units}
    problems: list[str] = []
    unknown = [f"{p.key}: {k}" for p in pemda.programs for k in p.applies_to if k not in UNIT_KINDS]
    if unknown:
        return fail(
            topic,
            f"applies_to menyebut jenis unit yang tidak dikenal ({_listed(unknown)}).",
            f"Perbaiki ejaannya di berkas Pemda; jenis yang dikenal: {', '.join(UNIT_KINDS)}.",
        )
    absent = [f"{p.key}: {k}" for p in pemda.programs for k in p.applies_to if k not in kinds]
    if absent:
        problems.append(f"tidak ada unit aktif berjenis {_listed(absent)}.")
    idle: dict[str, int] = defaultdict(int)
    for unit in units:
        if not chased(pemda, unit):
            idle[unit.kind] += 1
    if idle:
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(idle.items()))
        problems.append(f"unit yang tidak terkena program apa pun, jadi tidak pernah diingatkan: {counted}.")
    if problems:
        return warn(
            topic,
            "\n".join(problems),
            "Bila memang begitu, biarkan. Bila tidak, tambahkan jenis unitnya ke applies_to program di berkas Pemda.",
        )
    return ok(topic, "setiap unit aktif terkena minimal satu program.")


# ---------------------------------------------------------------------------------------------------- programs


def next_deadline(program: ProgramConfig, today: date) -> tuple[str, date]:
    """The period whose deadline is next (today's period, or the one after once its deadline passed)."""
    period = current_period(program, today)
    deadline = program.deadline_of(period)
    if deadline < today:
        period = period_key(program.period, period_bounds(period)[1] + timedelta(days=1))
        deadline = program.deadline_of(period)
    return period, deadline


def deadlines_finding(pemda: PemdaConfig, calendar: WorkingCalendar, today: date) -> Finding:
    """Each program's next deadline is known, falls in (or just after) its period, and on a working day."""
    topic = "Tenggat program"
    problems: list[str] = []
    known: list[str] = []
    for program in pemda.programs:
        period, deadline = next_deadline(program, today)
        first, last = period_bounds(period)
        if program.deadlines and period not in program.deadlines:
            problems.append(
                f"{program.key}: tenggat periode {period} belum ada di deadlines; dipakai aturan {program.deadline} "
                f"({tanggal(deadline)})."
            )
        if not first <= deadline <= last + timedelta(days=90):
            problems.append(
                f"{program.key}: tenggat {program.deadline} jatuh di luar periode {period} ({tanggal(deadline)})."
            )
        elif (why := calendar.is_day_off(deadline)) is not None:
            problems.append(f"{program.key}: tenggat {tanggal(deadline)} jatuh pada hari libur ({why}).")
        known.append(f"{program.key} {tanggal(deadline)}")
    if problems:
        return warn(
            topic,
            "\n".join(problems),
            'Isi tenggat per periode di [[programs]] deadlines (mis. deadlines = { "2027" = 2027-12-15 }), atau '
            'pakai deadline = "+10" (10 hari setelah akhir periode) untuk program bulanan/triwulan.',
        )
    return ok(topic, "berikutnya: " + "; ".join(known) + ".")


def ladder_problems(ladder: Sequence[Stage]) -> list[str]:
    """What is wrong with one escalation ladder (empty list: sane)."""
    if not ladder:
        return ["tangga kosong: tidak ada pengingat sama sekali"]
    problems: list[str] = []
    offsets = [s.offset_days for s in ladder]
    if len(offsets) != len(set(offsets)):
        problems.append("ada dua tahap pada hari yang sama")
    ordered = sorted(ladder, key=lambda s: s.offset_days)
    for before, after in itertools.pairwise(ordered):
        if ORDER[after.kind] < ORDER[before.kind]:
            problems.append(f"{after.kind} ({after.key}) datang setelah {before.kind} ({before.key})")
    kinds = [s.kind for s in ladder]
    if "teguran2" in kinds and "teguran1" not in kinds:
        problems.append("ada teguran2 tanpa teguran1")
    problems += [
        f"{s.kind} ({s.key}) sebelum tenggat" for s in ladder if s.kind.startswith("teguran") and s.offset_days <= 0
    ]
    if not any(s.kind == "pengingat" and s.offset_days < 0 for s in ladder):
        problems.append("tidak ada pengingat sebelum tenggat")
    return problems


def ladder_finding(pemda: PemdaConfig) -> Finding:
    """The Pemda's ladder and each program's own climb in a sane order."""
    topic = "Tangga eskalasi"
    lines = [f"[[ladder]]: {p}" for p in ladder_problems(pemda.ladder)]
    for program in pemda.programs:
        if program.ladder is not None:
            lines += [f"{program.key}: {p}" for p in ladder_problems(program.ladder)]
    if lines:
        return fail(
            topic,
            "\n".join(lines),
            "Urutkan tahapnya di berkas Pemda: pengingat (H-…) sebelum tenggat, lalu peringatan, teguran1, teguran2 "
            "setelah tenggat (H+…); contoh lengkap di sigap.example.toml.",
        )
    stages = ", ".join(s.key for s in sorted(pemda.ladder, key=lambda s: s.offset_days))
    return ok(topic, f"urut dan wajar ({stages}).")


def checklist_finding(session: Session, pemda: PemdaConfig) -> Finding:
    """Every checklist indicator names an active unit of the roster."""
    topic = "Indikator checklist"
    units = {u.code.lower(): u for u in session.exec(select(Unit)).all()}
    lines = []
    total = 0
    for program in pemda.programs:
        for entry in program.checklist:
            total += 1
            unit = units.get(entry.unit.lower())
            if unit is None:
                lines.append(f"{program.key} {entry.code}: unit {entry.unit} tidak ada di roster")
            elif not unit.active:
                lines.append(f"{program.key} {entry.code}: unit {entry.unit} sudah nonaktif")
    if lines:
        return fail(
            topic,
            f"{len(lines)} indikator menunjuk unit yang tidak ada: {_listed(lines)}.",
            "Perbaiki kode unit di [[programs.checklist]] berkas Pemda, atau tambahkan unitnya ke roster.",
        )
    if not total:
        return ok(topic, "tidak ada program checklist.")
    return ok(topic, f"{total} indikator, semuanya menunjuk unit aktif.")


# ---------------------------------------------------------------------------------------------------- calendar


def holidays_finding(calendar: WorkingCalendar, today: date) -> Finding:
    """National holidays of this year and next year are known; cuti bersama have been entered."""
    topic = "Kalender libur"
    years = (today.year, today.year + 1)
    national = {y: calendar.national_holidays(y) for y in years}
    unknown = [str(y) for y in years if not national[y]]
    if unknown:
        return fail(
            topic,
            f"libur nasional tahun {' dan '.join(unknown)} tidak dikenal: pengingat bisa terkirim pada hari libur.",
            "Perbarui paket kalender: .venv/bin/pip install -U holidays, lalu jalankan lagi sigap doctor.",
        )
    extra = {y: sum(1 for d in calendar.extra_days_off if d.year == y) for y in years}
    counts = f"libur nasional {years[0]}: {len(national[years[0]])} hari, {years[1]}: {len(national[years[1]])} hari"
    wanted = [y for y in years if not extra[y] and (y == today.year or today.month >= 10)]
    if wanted:
        return warn(
            topic,
            f"{counts}; cuti bersama tahun {' dan '.join(map(str, wanted))} belum dicatat.",
            "Tambahkan sesuai SKB cuti bersama: /libur tambah 2027-01-02 Cuti bersama (oleh admin di obrolan), atau "
            "[[holidays]] di berkas Pemda.",
        )
    return ok(
        topic, f"{counts}; cuti bersama/libur daerah {years[0]}: {extra[years[0]]}, {years[1]}: {extra[years[1]]}."
    )


def check_all(settings: Settings, pemda: PemdaConfig, db: Database, *, now: datetime | None = None) -> list[Finding]:
    """Every data check over a database whose schema is current."""
    calendar = build_calendar(pemda, db)
    today = calendar.local_date(now or SystemClock().now())
    with db.uow() as uow:
        session = uow.session
        return [
            sample_roster_finding(session),
            admin_finding(session, settings),
            heads_finding(session, pemda),
            channels_finding(session, settings),
            duplicates_finding(session),
            coverage_finding(session, pemda),
            deadlines_finding(pemda, calendar, today),
            ladder_finding(pemda),
            checklist_finding(session, pemda),
            holidays_finding(calendar, today),
        ]
