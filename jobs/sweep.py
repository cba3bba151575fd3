"""The sweep: decide which stage of which program is due for whom, and queue it once.

`plan` is the pure decision at an instant (what is due, for which unit, which person, on which channel);
`sweep` takes the sweep lock, plans inside the same transaction, writes the ledger (`Notice`, `Checkin`)
and the grouped outbox rows, and commits. Running it twice, concurrently or after a restart never
queues a stage twice: the lock serialises sweeps and the ledger remembers what each person got.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import select as sa_select
from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from handlers.fmt import nilai, sisa_hari, tanggal, tanggal_pendek
from jobs.outbox import OutMessage, choose_channel, outbox_row
from models.calendar import WorkingCalendar
from models.checkins import answered, iso_week
from models.clock import ensure_utc
from models.db import Database
from models.messages import Button, Channel
from models.outbound import Template
from models.pemda import PemdaConfig, ProgramConfig, Stage
from models.standing import Standing, current_period, load_standings
from models.tables import Checkin, Contact, Notice, Outbox, Pause, Role, SweepLock, Unit

log = logging.getLogger(__name__)

ADVISORY_LOCK = 0x51_6A_50_53  # "SIGAP sweep": one sweeper at a time on PostgreSQL
UNIT_ROLES = (Role.KEPALA.value, Role.OPERATOR.value, Role.CAMAT.value)
LETTER_CHANNEL = "surat"
MAX_BUTTONS = 3
MAX_UNITS_LISTED = 10
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4}
STAGE_NAMES = {
    "pengingat": "pengingat",
    "peringatan": "peringatan",
    "teguran1": "Surat Teguran I",
    "teguran2": "Surat Teguran II",
}
SEVERITY = {"checkin": 0, "followup": 0, "pengingat": 1, "peringatan": 2, "teguran1": 3, "teguran2": 4}
PAUSE_PROSES = "proses"
PAUSE_DISPENSASI = "dispensasi"

NoticeKind = Literal["stage", "checkin", "followup"]


class LetterHook(Protocol):
    """Drafts the warning letter of a teguran stage; True when it handled the stage (no message needed)."""

    def __call__(self, session: Session, unit: Unit, standing: Standing, stage: Stage, at: datetime) -> bool:
        """Handle the teguran stage of `unit` on `standing.program`."""
        ...


@dataclass(frozen=True, slots=True)
class PlannedNotice:
    """One thing due for one person: a ladder stage, a check-in prompt or its follow-up."""

    kind: NoticeKind
    program: ProgramConfig
    unit: Unit
    period: str
    stage: Stage | None
    contact: Contact
    channel: Channel | None
    standing: Standing
    week: str = ""
    already: bool = False

    @property
    def stage_key(self) -> str:
        """The ledger's stage name: 'H-7:pengingat', 'checkin:2026-W48', 'followup:2026-W48'."""
        if self.stage is not None:
            return f"{self.stage.key}:{self.stage.kind}"
        return f"{self.kind}:{self.week}"

    @property
    def label(self) -> str:
        """'H-7 pengingat', 'H+7 Surat Teguran I', 'minta data', 'susulan minta data'."""
        if self.stage is not None:
            return stage_label(self.stage)
        return "minta data" if self.kind == "checkin" else "susulan minta data"

    @property
    def severity(self) -> str:
        """The stage kind, or 'checkin'/'followup'."""
        return self.stage.kind if self.stage is not None else self.kind

    @property
    def ledger_key(self) -> tuple[str, int, str, str, int]:
        """(program, unit, period, stage, contact): what the ledger keeps unique."""
        return (self.program.key, _id(self.unit.id), self.period, self.stage_key, _id(self.contact.id))


@dataclass
class SweepResult:
    """What one sweep decided and wrote."""

    at: datetime
    working: bool
    dry_run: bool
    planned: list[PlannedNotice] = field(default_factory=list)
    queued: int = 0
    notices: int = 0
    already: int = 0
    letters: int = 0
    checkins: int = 0
    followups: int = 0
    answered: int = 0

    @property
    def unreachable(self) -> list[PlannedNotice]:
        """Planned notices whose person has no reachable channel ('tidak terjangkau')."""
        return [p for p in self.planned if p.channel is None]

    @property
    def new(self) -> list[PlannedNotice]:
        """Planned notices not queued before, with a reachable person."""
        return [p for p in self.planned if not p.already and p.channel is not None]


def stage_label(stage: Stage) -> str:
    """'H-7 pengingat', 'H+1 peringatan', 'H+7 Surat Teguran I'."""
    return f"{stage.key} {STAGE_NAMES[stage.kind]}"


def _id(value: int | None) -> int:
    assert value is not None
    return value


def stage_days(
    pemda: PemdaConfig, program: ProgramConfig, calendar: WorkingCalendar, period: str
) -> list[tuple[Stage, date]]:
    """Each stage of the program's ladder with the working day it becomes due (on/after deadline + offset)."""
    deadline = program.deadline_of(period)
    ladder = sorted(pemda.ladder_of(program), key=lambda s: s.offset_days)
    return [
        (stage, calendar.next_working_day(deadline + timedelta(days=stage.offset_days), include_today=True))
        for stage in ladder
    ]


def due_stage(pemda: PemdaConfig, program: ProgramConfig, calendar: WorkingCalendar, today: date) -> Stage | None:
    """The latest stage due on `today` for the current period: it stays due until the next one is."""
    current: Stage | None = None
    for stage, day in stage_days(pemda, program, calendar, current_period(program, today)):
        if day <= today:
            current = stage
    return current


def checkin_day(pemda: PemdaConfig, calendar: WorkingCalendar, today: date) -> date | None:
    """This ISO week's check-in day: the configured weekday, or the next working day in the same week."""
    monday = today - timedelta(days=today.weekday())
    nominal = monday + timedelta(days=WEEKDAYS[pemda.checkin.weekday])
    day = nominal
    while day.isocalendar()[:2] == nominal.isocalendar()[:2]:
        if calendar.is_working_day(day):
            return day
        day += timedelta(days=1)
    return None


@dataclass
class _Roster:
    units: dict[int, Unit]
    by_unit: dict[int, list[Contact]]
    admins: list[Contact]
    pimpinan: list[Contact]


def _roster(session: Session) -> _Roster:
    units = {u.id: u for u in session.exec(select(Unit).where(col(Unit.active).is_(True))).all() if u.id is not None}
    by_unit: dict[int, list[Contact]] = defaultdict(list)
    admins: list[Contact] = []
    pimpinan: list[Contact] = []
    contacts = session.exec(select(Contact).where(col(Contact.active).is_(True)).order_by(col(Contact.id))).all()
    for contact in contacts:
        if contact.role == Role.ADMIN.value:
            admins.append(contact)
        elif contact.role == Role.PIMPINAN.value:
            pimpinan.append(contact)
        elif contact.role in UNIT_ROLES and contact.unit_id is not None:
            by_unit[contact.unit_id].append(contact)
    return _Roster(units, by_unit, admins, pimpinan)


def _recipients(roster: _Roster, unit_id: int, audiences: Iterable[str]) -> list[Contact]:
    seen: dict[int, Contact] = {}
    for audience in audiences:
        group = (
            roster.by_unit.get(unit_id, [])
            if audience == "unit"
            else roster.admins
            if audience == "admin"
            else roster.pimpinan
        )
        for contact in group:
            seen.setdefault(_id(contact.id), contact)
    return list(seen.values())


def plan(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, at: datetime) -> list[PlannedNotice]:
    """Everything due at instant `at`: one entry per (program, unit, stage, person), marked when already queued."""
    at = ensure_utc(at)
    if not calendar.is_working_time(at):
        return []
    today = calendar.local_date(at)
    due: dict[str, Stage] = {}
    for program in pemda.programs:
        stage = due_stage(pemda, program, calendar, today)
        if stage is not None:
            due[program.key] = stage
    checkin_programs = _checkin_programs(pemda, calendar, at, today)
    wanted = [p for p in pemda.programs if p.key in due or p.key in checkin_programs]
    if not wanted:
        return []
    roster = _roster(session)
    standings = load_standings(session, pemda, list(roster.units.values()), today, wanted)
    periods = {p.key: current_period(p, today) for p in wanted}
    paused = _pauses(session, periods, today)
    ledger = _ledger(session, periods, {f"{s.key}:{s.kind}" for s in due.values()})
    planned: list[PlannedNotice] = []
    for (unit_id, key), standing in standings.items():
        stage = due.get(key)
        if stage is None or standing.compliant:
            continue
        pause = paused.get((unit_id, key))
        if pause == PAUSE_DISPENSASI or (pause == PAUSE_PROSES and stage.kind == "pengingat"):
            continue
        unit = roster.units[unit_id]
        stage_key = f"{stage.key}:{stage.kind}"
        for contact in _recipients(roster, unit_id, stage.recipients):
            planned.append(
                PlannedNotice(
                    kind="stage",
                    program=standing.program,
                    unit=unit,
                    period=standing.period,
                    stage=stage,
                    contact=contact,
                    channel=choose_channel(contact),
                    standing=standing,
                    already=(key, unit_id, standing.period, stage_key, _id(contact.id)) in ledger,
                )
            )
    if checkin_programs:
        planned.extend(_plan_checkins(session, pemda, calendar, at, today, checkin_programs, roster, standings))
    return planned


def _checkin_programs(pemda: PemdaConfig, calendar: WorkingCalendar, at: datetime, today: date) -> dict[str, str]:
    """Check-in programs whose prompt or follow-up time has come today: key -> 'checkin' or 'followup'."""
    keys = [p.key for p in pemda.programs if p.checkin]
    if not keys or checkin_day(pemda, calendar, today) != today:
        return {}
    if at < calendar.at_local(today, pemda.checkin.at):
        return {}
    phase = "followup" if at >= calendar.at_local(today, pemda.checkin.followup_at) else "checkin"
    return dict.fromkeys(keys, phase)


def _plan_checkins(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    at: datetime,
    today: date,
    programs: dict[str, str],
    roster: _Roster,
    standings: dict[tuple[int, str], Standing],
) -> list[PlannedNotice]:
    week = iso_week(today)
    rows = {
        (r.unit_id, r.program_key): r
        for r in session.exec(select(Checkin).where(Checkin.week == week)).all()
        if r.program_key in programs
    }
    stale_before = at - timedelta(days=pemda.checkin.stale_days)
    followup_slot = calendar.at_local(today, pemda.checkin.followup_at)
    planned: list[PlannedNotice] = []
    for (unit_id, key), standing in standings.items():
        phase = programs.get(key)
        if phase is None:
            continue
        row = rows.get((unit_id, key))
        kind: NoticeKind
        if row is None:
            last = standing.last_report_at
            if last is not None and last >= stale_before:
                continue
            kind, already = "checkin", False
        elif phase == "followup" and row.asked_at < followup_slot and not answered(row, standing):
            kind, already = "followup", row.followup_at is not None
        elif phase == "checkin" or row.followup_at is None:
            kind, already = "checkin", True
            if answered(row, standing):
                continue
        else:
            continue
        unit = roster.units[unit_id]
        for contact in roster.by_unit.get(unit_id, []):
            planned.append(
                PlannedNotice(
                    kind=kind,
                    program=standing.program,
                    unit=unit,
                    period=standing.period,
                    stage=None,
                    contact=contact,
                    channel=choose_channel(contact),
                    standing=standing,
                    week=week,
                    already=already,
                )
            )
    return planned


def _pauses(session: Session, periods: dict[str, str], today: date) -> dict[tuple[int, str], str]:
    """Active pauses: (unit, program) -> 'dispensasi' (all stages) or 'proses' (reminders only)."""
    result: dict[tuple[int, str], str] = {}
    rows = session.execute(
        sa_select(
            col(Pause.unit_id), col(Pause.program_key), col(Pause.period), col(Pause.kind), col(Pause.until)
        ).where(col(Pause.revoked_at).is_(None), col(Pause.period).in_(set(periods.values())))
    ).all()
    for unit_id, key, period, kind, until in rows:
        if periods.get(key) != period:
            continue
        if kind == PAUSE_DISPENSASI:
            result[(unit_id, key)] = PAUSE_DISPENSASI
        elif kind == PAUSE_PROSES and until is not None and until >= today:
            result.setdefault((unit_id, key), PAUSE_PROSES)
    return result


def _ledger(session: Session, periods: dict[str, str], stages: set[str]) -> set[tuple[str, int, str, str, int]]:
    if not stages:
        return set()
    rows = session.execute(
        sa_select(
            col(Notice.program_key), col(Notice.unit_id), col(Notice.period), col(Notice.stage), col(Notice.contact_id)
        ).where(col(Notice.period).in_(set(periods.values())), col(Notice.stage).in_(stages))
    ).all()
    return {(k, u, p, s, c) for k, u, p, s, c in rows if periods.get(k) == p}


# -- writing ------------------------------------------------------------------------------------


def take_lock(session: Session, at: datetime) -> None:
    """Serialise sweeps: PostgreSQL advisory transaction lock; SQLite: write the SweepLock row first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    result = session.execute(update(SweepLock).where(col(SweepLock.id) == 1).values(last_run_at=at))
    if not getattr(result, "rowcount", 0):
        maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(maker(SweepLock).values(id=1, last_run_at=at).on_conflict_do_nothing(index_elements=["id"]))


def sweep(
    db: Database,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    at: datetime,
    *,
    dry_run: bool = False,
    letter_hook: LetterHook | None = None,
) -> SweepResult:
    """Plan at `at` and, unless `dry_run`, queue what is new in one transaction under the sweep lock."""
    at = ensure_utc(at)
    result = SweepResult(at=at, working=calendar.is_working_time(at), dry_run=dry_run)
    with db.uow() as uow:
        session = uow.session
        if dry_run:
            result.planned = plan(session, pemda, calendar, at)
            result.already = sum(1 for p in result.planned if p.already)
            return result
        take_lock(session, at)
        result.planned = plan(session, pemda, calendar, at)
        result.already = sum(1 for p in result.planned if p.already)
        if result.working:
            _mark_answered(session, pemda, calendar.local_date(at), result)
        _write(session, pemda, calendar, at, result, letter_hook)
        uow.commit()
    if result.queued or result.letters:
        log.info(
            "sweep queued %d messages (%d notices, %d letters); %d were queued before",
            result.queued,
            result.notices,
            result.letters,
            result.already,
        )
    return result


def _mark_answered(session: Session, pemda: PemdaConfig, today: date, result: SweepResult) -> None:
    """Stamp this week's check-ins answered when a report arrived after they were asked."""
    rows = session.exec(
        select(Checkin).where(Checkin.week == iso_week(today), col(Checkin.answered_at).is_(None))
    ).all()
    if not rows:
        return
    keys = {r.program_key for r in rows}
    programs = [p for p in pemda.programs if p.key in keys]
    units = session.exec(select(Unit).where(col(Unit.id).in_({r.unit_id for r in rows}))).all()
    standings = load_standings(session, pemda, units, today, programs)
    for row in rows:
        standing = standings.get((row.unit_id, row.program_key))
        if standing is not None and standing.last_report_at is not None and answered(row, standing):
            row.answered_at = standing.last_report_at
            session.add(row)
            result.answered += 1


def _write(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    at: datetime,
    result: SweepResult,
    letter_hook: LetterHook | None,
) -> None:
    fresh = [p for p in result.planned if not p.already]
    if not fresh:
        return
    today = calendar.local_date(at)
    ledger: list[dict[str, Any]] = []
    handled = _letters(session, at, fresh, letter_hook, ledger, result) if letter_hook is not None else set()
    to_send = [p for p in fresh if p.channel is not None and id(p) not in handled]
    _checkin_rows(session, at, to_send, result)
    per_person: dict[tuple[int, Channel], list[PlannedNotice]] = defaultdict(list)
    for notice in to_send:
        assert notice.channel is not None
        per_person[(_id(notice.contact.id), notice.channel)].append(notice)
    rows: list[dict[str, Any]] = []
    keys_of: dict[str, list[PlannedNotice]] = {}
    for (contact_id, channel), items in per_person.items():
        key = _idem_key(contact_id, channel, items)
        message = compose(pemda, calendar, today, items[0].contact, channel, items)
        rows.append(outbox_row(key, items[0].contact, message, at, channel=channel))
        keys_of[key[:200]] = items
    outbox_ids = _insert_outbox(session, rows)
    result.queued = len(outbox_ids)
    for key, items in keys_of.items():
        for notice in items:
            if notice.kind == "stage":
                ledger.append(
                    _ledger_row(notice, notice.channel.value if notice.channel else "", outbox_ids.get(key), at)
                )
    if ledger:
        table = Notice.__table__  # type: ignore[attr-defined]
        maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for start in range(0, len(ledger), 5000):
            session.execute(maker(table).on_conflict_do_nothing(), ledger[start : start + 5000])
        result.notices = len(ledger)


def _ledger_row(notice: PlannedNotice, channel: str, outbox_id: int | None, at: datetime) -> dict[str, Any]:
    program_key, unit_id, period, stage, contact_id = notice.ledger_key
    return {
        "program_key": program_key,
        "unit_id": unit_id,
        "period": period,
        "stage": stage,
        "contact_id": contact_id,
        "channel": channel,
        "outbox_id": outbox_id,
        "created_at": at,
    }


def _idem_key(contact_id: int, channel: Channel, items: Sequence[PlannedNotice]) -> str:
    if len(items) == 1:
        n = items[0]
        return f"sweep|{n.program.key}|{n.unit.id}|{n.period}|{n.stage_key}|{contact_id}|{channel.value}"
    keys = sorted(f"{n.program.key}|{n.unit.id}|{n.period}|{n.stage_key}" for n in items)
    digest = hashlib.sha1("\n".join(keys).encode(), usedforsecurity=False).hexdigest()
    return f"sweep|{contact_id}|{channel.value}|{digest}"


def _insert_outbox(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert outbox rows (skipping keys already there); idem_key -> id of the rows written."""
    if not rows:
        return {}
    table = Outbox.__table__  # type: ignore[attr-defined]
    maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = maker(table).on_conflict_do_nothing(index_elements=["idem_key"]).returning(table.c.id, table.c.idem_key)
    ids: dict[str, int] = {}
    for start in range(0, len(rows), 2000):
        for row_id, key in session.execute(stmt, list(rows[start : start + 2000])):
            ids[key] = row_id
    return ids


def _letters(
    session: Session,
    at: datetime,
    fresh: Sequence[PlannedNotice],
    hook: LetterHook,
    ledger: list[dict[str, Any]],
    result: SweepResult,
) -> set[int]:
    """Hand each new teguran stage to the letters feature; the notices it handled (by object id)."""
    groups: dict[tuple[int, str, str], list[PlannedNotice]] = defaultdict(list)
    for notice in fresh:
        if notice.stage is not None and notice.stage.kind in ("teguran1", "teguran2"):
            groups[(_id(notice.unit.id), notice.program.key, notice.stage_key)].append(notice)
    handled: set[int] = set()
    for items in groups.values():
        first = items[0]
        assert first.stage is not None
        try:
            with session.begin_nested():
                done = hook(session, first.unit, first.standing, first.stage, at)
        except Exception:
            log.exception(
                "letter hook failed for unit %s program %s; sending a warning instead",
                first.unit.code,
                first.program.key,
            )
            done = False
        if not done:
            continue
        result.letters += 1
        for notice in items:
            handled.add(id(notice))
            ledger.append(_ledger_row(notice, LETTER_CHANNEL, None, at))
    return handled


def _checkin_rows(session: Session, at: datetime, to_send: Sequence[PlannedNotice], result: SweepResult) -> None:
    """Record the check-ins asked and the follow-ups sent (one per unit, program and week)."""
    asked = {(_id(n.unit.id), n.program.key, n.week) for n in to_send if n.kind == "checkin"}
    followed = {(_id(n.unit.id), n.program.key, n.week) for n in to_send if n.kind == "followup"}
    if asked:
        maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        table = Checkin.__table__  # type: ignore[attr-defined]
        rows = [{"unit_id": u, "program_key": k, "week": w, "asked_at": at} for u, k, w in sorted(asked)]
        for start in range(0, len(rows), 5000):
            session.execute(maker(table).on_conflict_do_nothing(), rows[start : start + 5000])
        result.checkins = len(asked)
    for unit_id, key, week in sorted(followed):
        session.execute(
            update(Checkin)
            .where(col(Checkin.unit_id) == unit_id, col(Checkin.program_key) == key, col(Checkin.week) == week)
            .where(col(Checkin.followup_at).is_(None))
            .values(followup_at=at)
        )
    result.followups = len(followed)


# -- messages -------------------------------------------------------------------------------------


def compose(
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    today: date,
    contact: Contact,
    channel: Channel,
    items: Sequence[PlannedNotice],
) -> OutMessage:
    """One message for one person listing everything due for them."""
    top = max(items, key=lambda n: SEVERITY[n.severity]).severity
    if contact.role in UNIT_ROLES:
        text, summary, buttons = _unit_message(contact, items, top, today)
    else:
        text, summary, buttons = _oversight_message(contact, items, today)
    templates = pemda.whatsapp_templates
    name = {
        "checkin": templates.checkin,
        "followup": templates.checkin,
        "pengingat": templates.reminder,
        "peringatan": templates.warning,
    }.get(top, templates.letter)
    template = Template(name, (contact.name[:60], summary[:200])) if channel is Channel.WHATSAPP else None
    kind = "checkin" if top in ("checkin", "followup") else top
    return OutMessage(text=text, kind=kind, buttons=buttons, template=template)


HEADLINES = {
    "checkin": "📝 Permintaan angka terbaru",
    "followup": "📝 Permintaan angka terbaru (susulan)",
    "pengingat": "🔔 Pengingat batas waktu",
    "peringatan": "⚠️ Peringatan: batas waktu sudah lewat",
    "teguran1": "⛔ Peringatan keras: tahap Surat Teguran I",
    "teguran2": "⛔ Peringatan keras: tahap Surat Teguran II",
}


def _unit_message(
    contact: Contact, items: Sequence[PlannedNotice], top: str, today: date
) -> tuple[str, str, tuple[Button, ...]]:
    unit = items[0].unit
    lines = [f"Yth. Bapak/Ibu {contact.name},", f"{HEADLINES[top]} — {unit.name}:"]
    programs: list[ProgramConfig] = []
    for notice in sorted(items, key=lambda n: (-SEVERITY[n.severity], n.program.key)):
        standing = notice.standing
        if notice.program not in programs:
            programs.append(notice.program)
        if notice.kind == "checkin":
            last = standing.last_report_at
            when = f"laporan terakhir {tanggal_pendek(last.date())}" if last else "belum pernah melapor"
            lines.append(f"• {notice.program.label}: mohon kirim angka terbaru ({when}; {nilai(standing)}).")
        elif notice.kind == "followup":
            lines.append(f"• {notice.program.label}: permintaan angka terbaru hari ini belum dijawab.")
        else:
            assert notice.stage is not None
            deadline = f"batas {tanggal_pendek(standing.deadline)}, {sisa_hari(standing.deadline, today)}"
            lines.append(f"• {notice.program.label} ({notice.label}): {nilai(standing)}; {deadline}.")
    kinds = {n.severity for n in items}
    if kinds & {"teguran1", "teguran2"}:
        lines.append(
            "Keterlambatan ini sudah sampai tahap surat teguran dan tercatat. "
            "Mohon laporan dilengkapi hari ini juga melalui /lapor."
        )
    elif "peringatan" in kinds:
        lines.append("Mohon segera lengkapi dan laporkan melalui /lapor agar tidak berlanjut ke surat teguran.")
    elif "pengingat" in kinds:
        lines.append("Mohon lengkapi dan laporkan melalui /lapor sebelum batas waktu.")
        lines.append("Bila sedang diproses, kirim /proses <program> <tanggal>, misalnya /proses katalog 10/12/2026.")
    else:
        lines.append("Ketuk tombol di bawah untuk melapor, atau kirim /lapor.")
    if len(programs) == 1:
        buttons: tuple[Button, ...] = (Button("Lapor sekarang", f"/lapor {programs[0].key}"),)
    elif len(programs) <= MAX_BUTTONS:
        buttons = tuple(Button(f"Lapor {p.key}", f"/lapor {p.key}") for p in programs)
    else:
        buttons = ()
    summary = f"{HEADLINES[top].split(' ', 1)[1]} — {unit.name}: {', '.join(p.label for p in programs)}"
    return "\n".join(lines), summary, buttons


def _oversight_message(
    contact: Contact, items: Sequence[PlannedNotice], today: date
) -> tuple[str, str, tuple[Button, ...]]:
    groups: dict[tuple[str, str], list[PlannedNotice]] = defaultdict(list)
    for notice in items:
        groups[(notice.program.key, notice.stage_key)].append(notice)
    lines = [f"Yth. Bapak/Ibu {contact.name},", f"Rekap tindak lanjut Sigap, {tanggal(today)}:"]
    summary: list[str] = []
    ordered = sorted(groups.values(), key=lambda g: (-SEVERITY[g[0].severity], g[0].program.key))
    for group in ordered:
        first = group[0]
        codes = sorted(n.unit.code for n in group)
        late = first.standing.deadline < today
        head = f"{len(codes)} unit {'terlambat' if late else 'belum memenuhi'} {first.program.label}"
        shown = ", ".join(codes[:MAX_UNITS_LISTED])
        if len(codes) > MAX_UNITS_LISTED:
            shown += f" dan {len(codes) - MAX_UNITS_LISTED} unit lainnya"
        lines.append(f"• {head} ({first.label}): {shown}.")
        summary.append(head)
    lines.append("Rincian setiap unit: /rekap.")
    return "\n".join(lines), "; ".join(summary), (Button("Lihat rekap", "/rekap"),)
