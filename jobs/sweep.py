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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, cast

from sqlalchemy import func, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from handlers.fmt import nilai, sisa_hari, tanggal, tanggal_pendek
from jobs import templates
from jobs.outbox import OutMessage, choose_channel, outbox_row
from models.calendar import WorkingCalendar
from models.checkins import answered, iso_week
from models.clock import ensure_utc
from models.db import Database
from models.messages import Button, Channel
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
    """Drafts the warning letter of a teguran stage; True when it handled the stage (no message needed).

    A hook may also have `after_sweep(session, at)`, called once after every teguran stage of a sweep was handed
    over (in the same transaction), e.g. to ask for approval of all the new drafts in one message.
    """

    def __call__(self, session: Session, unit: Unit, standing: Standing, stage: Stage, at: datetime) -> bool:
        """Handle the teguran stage of `unit` on `standing.program`."""
        ...


@dataclass(frozen=True, slots=True)
class UnitRef:
    """The columns of a unit the sweep needs (plain rows: loading 30,000 ORM objects is too slow)."""

    id: int
    code: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class ContactRef:
    """The columns of a contact the sweep needs: who they are and how to reach them."""

    id: int
    name: str
    role: str
    unit_id: int | None
    telegram_user_id: str | None
    wa_number: str | None
    preferred_channel: str | None
    unreachable_telegram: bool
    unreachable_whatsapp: bool


@dataclass(frozen=True, slots=True)
class PlannedNotice:
    """One thing due for one person: a ladder stage, a check-in prompt or its follow-up."""

    kind: NoticeKind
    program: ProgramConfig
    unit: UnitRef
    period: str
    stage: Stage | None
    contact: ContactRef
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
    units: dict[int, UnitRef]
    by_unit: dict[int, list[ContactRef]]
    admins: list[ContactRef]
    pimpinan: list[ContactRef]
    channels: dict[int, Channel | None]
    _groups: dict[tuple[int, tuple[str, ...]], list[ContactRef]] = field(default_factory=dict)

    def recipients(self, unit_id: int, audiences: tuple[str, ...]) -> list[ContactRef]:
        """The people a stage with `audiences` reaches for one unit (each once)."""
        if audiences == ("unit",):
            return self.by_unit.get(unit_id, [])
        key = (unit_id if "unit" in audiences else 0, audiences)
        cached = self._groups.get(key)
        if cached is not None:
            return cached
        seen: dict[int, ContactRef] = {}
        for audience in audiences:
            group = (
                self.by_unit.get(unit_id, [])
                if audience == "unit"
                else self.admins
                if audience == "admin"
                else self.pimpinan
            )
            for contact in group:
                seen.setdefault(contact.id, contact)
        found = list(seen.values())
        self._groups[key] = found
        return found


def _roster(session: Session) -> _Roster:
    unit_rows = session.execute(
        sa_select(col(Unit.id), col(Unit.code), col(Unit.name), col(Unit.kind)).where(col(Unit.active).is_(True))
    ).all()
    units = {uid: UnitRef(uid, code, name, kind) for uid, code, name, kind in unit_rows}
    by_unit: dict[int, list[ContactRef]] = defaultdict(list)
    admins: list[ContactRef] = []
    pimpinan: list[ContactRef] = []
    channels: dict[int, Channel | None] = {}
    contact_rows = session.execute(
        sa_select(
            col(Contact.id),
            col(Contact.name),
            col(Contact.role),
            col(Contact.unit_id),
            col(Contact.telegram_user_id),
            col(Contact.wa_number),
            col(Contact.preferred_channel),
            col(Contact.unreachable_telegram),
            col(Contact.unreachable_whatsapp),
        )
        .where(col(Contact.active).is_(True))
        .order_by(col(Contact.id))
    ).all()
    for row in contact_rows:
        contact = ContactRef(*row)
        channels[contact.id] = choose_channel(cast(Contact, contact))  # reads only the reachability columns
        if contact.role == Role.ADMIN.value:
            admins.append(contact)
        elif contact.role == Role.PIMPINAN.value:
            pimpinan.append(contact)
        elif contact.role in UNIT_ROLES and contact.unit_id is not None:
            by_unit[contact.unit_id].append(contact)
    return _Roster(units, by_unit, admins, pimpinan, channels)


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
    # load_standings reads only `id` and `kind` of each unit
    standings = load_standings(session, pemda, cast(list[Unit], list(roster.units.values())), today, wanted)
    periods = {p.key: current_period(p, today) for p in wanted}
    paused = _pauses(session, periods, today)
    ledger = _ledger(session, periods, {f"{s.key}:{s.kind}" for s in due.values()})
    planned: list[PlannedNotice] = []
    stage_keys = {key: (f"{s.key}:{s.kind}", tuple(s.recipients)) for key, s in due.items()}
    for (unit_id, key), standing in standings.items():
        stage = due.get(key)
        if stage is None or standing.compliant:
            continue
        pause = paused.get((unit_id, key))
        if pause == PAUSE_DISPENSASI or (pause == PAUSE_PROSES and stage.kind == "pengingat"):
            continue
        unit = roster.units[unit_id]
        stage_key, audiences = stage_keys[key]
        for contact in roster.recipients(unit_id, audiences):
            planned.append(
                PlannedNotice(
                    kind="stage",
                    program=standing.program,
                    unit=unit,
                    period=standing.period,
                    stage=stage,
                    contact=contact,
                    channel=roster.channels[contact.id],
                    standing=standing,
                    already=(key, unit_id, standing.period, stage_key, contact.id) in ledger,
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
                    channel=roster.channels[contact.id],
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
        rows.append(outbox_row(key, cast(Contact, items[0].contact), message, at, channel=channel))  # uses .id
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
        bulk_insert(session, Notice.__table__, ledger)  # type: ignore[attr-defined]
        result.notices = len(ledger)


def bulk_insert(session: Session, table: Any, rows: Sequence[dict[str, Any]], conflict: str = "") -> None:
    """INSERT ... ON CONFLICT DO NOTHING through the driver's executemany (no per-row SQLAlchemy overhead).

    Values go through each column's own bind processing (UTC datetimes, booleans) exactly as the ORM would.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    # the dialect-level processors SQLAlchemy itself applies (e.g. SQLite's datetime text format)
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))}) "
        f"ON CONFLICT {conflict} DO NOTHING"
    )
    params = [
        tuple(proc(row[name]) if proc is not None else row[name] for name, proc in zip(names, processors, strict=True))
        for row in rows
    ]
    for start in range(0, len(params), 10_000):
        connection.exec_driver_sql(sql, params[start : start + 10_000])


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
    """Insert outbox rows (skipping keys already there); idem_key -> id of the rows written.

    Runs under the sweep lock: every row this sweep writes gets an id above the highest one seen before.
    """
    if not rows:
        return {}
    wanted = {row["idem_key"] for row in rows}
    before = session.execute(sa_select(func.max(col(Outbox.id)))).scalar() or 0
    bulk_insert(session, Outbox.__table__, rows, "(idem_key)")  # type: ignore[attr-defined]
    written = session.execute(sa_select(col(Outbox.id), col(Outbox.idem_key)).where(col(Outbox.id) > before))
    return {key: row_id for row_id, key in written if key in wanted}


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
        unit = session.get(Unit, first.unit.id)
        if unit is None:
            continue
        try:
            with session.begin_nested():
                done = hook(session, unit, first.standing, first.stage, at)
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
    after_sweep = getattr(hook, "after_sweep", None)
    if after_sweep is not None and handled:
        after_sweep(session, at)
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
    contact: ContactRef,
    channel: Channel,
    items: Sequence[PlannedNotice],
) -> OutMessage:
    """One message for one person listing everything due for them."""
    top = max(items, key=lambda n: SEVERITY[n.severity]).severity
    if contact.role in UNIT_ROLES:
        text, summary, buttons = _unit_message(contact, items, top, today)
    else:
        text, summary, buttons = _oversight_message(contact, items, today)
    build = {"checkin": templates.checkin, "followup": templates.checkin, "pengingat": templates.reminder}.get(
        top, templates.warning
    )
    # set on every channel: a Telegram row that falls back to WhatsApp may land outside the 24-hour window
    template = build(pemda, contact.name[:60], summary[:200])
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
    contact: ContactRef, items: Sequence[PlannedNotice], top: str, today: date
) -> tuple[str, str, tuple[Button, ...]]:
    unit = items[0].unit
    lines = [f"Yth. Bapak/Ibu {contact.name},", f"{HEADLINES[top]} — {unit.name}:"]
    programs: dict[str, ProgramConfig] = {}
    for notice in sorted(items, key=lambda n: (-SEVERITY[n.severity], n.program.key)):
        programs.setdefault(notice.program.key, notice.program)
        lines.append(_item_line(notice, today))
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
        buttons: tuple[Button, ...] = (Button("Lapor sekarang", f"/lapor {next(iter(programs))}"),)
    elif len(programs) <= MAX_BUTTONS:
        buttons = tuple(Button(f"Lapor {key}", f"/lapor {key}") for key in programs)
    else:
        buttons = ()
    summary = f"{HEADLINES[top].split(' ', 1)[1]} — {unit.name}: {', '.join(p.label for p in programs.values())}"
    return "\n".join(lines), summary, buttons


_LINES: dict[tuple[Any, ...], str] = {}


def _item_line(notice: PlannedNotice, today: date) -> str:
    """One bullet of a unit's message; memoised, since thousands of units share the same figures."""
    standing = notice.standing
    last = standing.last_report_at.date() if standing.last_report_at is not None else None
    key = (
        notice.kind,
        notice.program.key,
        notice.stage_key,
        standing.value,
        standing.target,
        standing.deadline,
        standing.open_items,
        last,
        today,
    )
    cached = _LINES.get(key)
    if cached is not None:
        return cached
    if notice.kind == "checkin":
        when = f"laporan terakhir {tanggal_pendek(last)}" if last else "belum pernah melapor"
        line = f"• {notice.program.label}: mohon kirim angka terbaru ({when}; {nilai(standing)})."
    elif notice.kind == "followup":
        line = f"• {notice.program.label}: permintaan angka terbaru hari ini belum dijawab."
    else:
        deadline = f"batas {tanggal_pendek(standing.deadline)}, {sisa_hari(standing.deadline, today)}"
        line = f"• {notice.program.label} ({notice.label}): {nilai(standing)}; {deadline}."
    if len(_LINES) > 20_000:
        _LINES.clear()
    _LINES[key] = line
    return line


def _oversight_message(
    contact: ContactRef, items: Sequence[PlannedNotice], today: date
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
