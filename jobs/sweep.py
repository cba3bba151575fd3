"""The sweep: decide which stage of which program is due for whom, and queue it once.

`plan` is the pure decision at an instant (what is due, for which unit, which person, on which channel);
`sweep` takes the sweep lock, plans inside the same transaction, writes the ledger (`Notice`, `Checkin`)
and the grouped outbox rows, and commits. Running it twice, concurrently or after a restart never
queues a stage twice: the lock serialises sweeps and the ledger remembers what each person got.

Each program is swept for its current period and, while that period's ladder is still running, for the
period before: a deadline '+N' days after the period's end (monthly, quarterly programs) puts the late
rungs of a period's ladder in the next period.

Speed (30,000 units x 4 programs in well under 3 s on 2 cores, see bench/sweep_bench.py): the roster is
read as plain driver rows, the plan is made of slotted objects sharing their unit, contact and standing,
message texts are put together from fragments computed once per sweep (per program, stage and figure),
and the outbox and ledger rows are written as tuples through the driver's executemany, with the values
every row shares (times, status) converted once. The ledger keeps one row per (program, unit, period,
stage, person), as before.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, NamedTuple, Protocol, cast

from sqlalchemy import select as sa_select
from sqlalchemy import text, update
from sqlmodel import Session, col, select

from jobs import templates
from jobs.outbox import OutMessage, choose_channel
from models.calendar import WorkingCalendar
from models.checkins import answered, iso_week
from models.clock import ensure_utc
from models.db import Database, insert_skipping_duplicates
from models.fmt import nilai, periode, sisa_hari, tanggal, tanggal_pendek
from models.messages import Button, Channel
from models.pemda import PemdaConfig, ProgramConfig, Stage
from models.periods import previous_period
from models.standing import Standing, current_period, load_standings
from models.tables import Checkin, Contact, Notice, Outbox, OutboxStatus, Pause, Role, SweepLock, Unit

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


class UnitRef(NamedTuple):
    """The columns of a unit the sweep needs (plain rows: loading 30,000 ORM objects is too slow)."""

    id: int
    code: str
    name: str
    kind: str


class ContactRef(NamedTuple):
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


@dataclass(slots=True)
class PlannedNotice:
    """One thing due for one person: a ladder stage, a check-in prompt or its follow-up.

    Not frozen: a sweep makes tens of thousands of these, and a frozen dataclass is several times slower to build.
    """

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
    stage_key: str = ""
    """The ledger's stage name: 'H-7:pengingat', 'checkin:2026-W48', 'followup:2026-W48' (derived when not given)."""

    def __post_init__(self) -> None:
        if not self.stage_key:
            self.stage_key = _stage_key(self.kind, self.stage, self.week)

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
        return (self.program.key, self.unit.id, self.period, self.stage_key, self.contact.id)


def _stage_key(kind: str, stage: Stage | None, week: str) -> str:
    if stage is not None:
        return f"{stage.key}:{stage.kind}"
    return f"{kind}:{week}"


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
    return _latest(stage_days(pemda, program, calendar, current_period(program, today)), today)


def due_stages(pemda: PemdaConfig, calendar: WorkingCalendar, today: date) -> list[tuple[ProgramConfig, str, Stage]]:
    """Every (program, period, stage) due on `today`.

    For the current period, the latest stage due (it stays due until the next one is). For the period
    before, the same while its ladder is still running, that is up to the working day of its last rung:
    a deadline '+10' after a month puts the H-7 ... H+14 rungs of November in December.
    """
    found: list[tuple[ProgramConfig, str, Stage]] = []
    for program in pemda.programs:
        period = current_period(program, today)
        earlier = previous_period(period)
        days = stage_days(pemda, program, calendar, earlier)
        if days and max(day for _stage, day in days) >= today:
            stage = _latest(days, today)
            if stage is not None:
                found.append((program, earlier, stage))
        stage = _latest(stage_days(pemda, program, calendar, period), today)
        if stage is not None:
            found.append((program, period, stage))
    return found


def _latest(days: Sequence[tuple[Stage, date]], today: date) -> Stage | None:
    current: Stage | None = None
    for stage, day in days:
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


@dataclass(slots=True)
class _Due:
    """A stage due today for one period of one program, and the (unit, person) pairs the ledger says got it."""

    program: ProgramConfig
    period: str
    stage: Stage
    stage_key: str
    audiences: tuple[str, ...]
    done: set[tuple[int, int]] = field(default_factory=set)


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


def _plain_rows(session: Session, stmt: Any) -> list[Any]:
    """Rows of a statement without parameters, as the driver returns them (no per-value result processing).

    For integer and text columns only, plus booleans (0/1 on SQLite): about three times faster than a Result.
    """
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    if compiled.params:
        raise ValueError("_plain_rows takes a statement without parameters")
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(str(compiled))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _roster(session: Session) -> _Roster:
    unit_rows = _plain_rows(
        session,
        sa_select(col(Unit.id), col(Unit.code), col(Unit.name), col(Unit.kind)).where(col(Unit.active).is_(True)),
    )
    units = {row[0]: UnitRef._make(row) for row in unit_rows}
    by_unit: dict[int, list[ContactRef]] = defaultdict(list)
    admins: list[ContactRef] = []
    pimpinan: list[ContactRef] = []
    channels: dict[int, Channel | None] = {}
    contact_rows = _plain_rows(
        session,
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
        .order_by(col(Contact.id)),
    )
    admin, leader = Role.ADMIN.value, Role.PIMPINAN.value
    for cid, name, role, unit_id, telegram, wa, preferred, off_telegram, off_whatsapp in contact_rows:
        contact = ContactRef(cid, name, role, unit_id, telegram, wa, preferred, bool(off_telegram), bool(off_whatsapp))
        channels[cid] = choose_channel(cast(Contact, contact))  # reads only the reachability columns
        if role == admin:
            admins.append(contact)
        elif role == leader:
            pimpinan.append(contact)
        elif role in UNIT_ROLES and unit_id is not None:
            by_unit[unit_id].append(contact)
    return _Roster(units, by_unit, admins, pimpinan, channels)


def plan(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, at: datetime) -> list[PlannedNotice]:
    """Everything due at instant `at`: one entry per (program, unit, period, stage, person), marked if queued before."""
    at = ensure_utc(at)
    if not calendar.is_working_time(at):
        return []
    today = calendar.local_date(at)
    dues = [
        _Due(program, period, stage, _stage_key("stage", stage, ""), tuple(stage.recipients))
        for program, period, stage in due_stages(pemda, calendar, today)
    ]
    checkin_programs = _checkin_programs(pemda, calendar, at, today)
    if not dues and not checkin_programs:
        return []
    current: dict[str, _Due] = {}
    earlier: dict[str, _Due] = {}
    for due in dues:
        (current if due.period == current_period(due.program, today) else earlier)[due.program.key] = due
    roster = _roster(session)
    units = cast(list[Unit], list(roster.units.values()))  # load_standings reads only `id` and `kind`
    paused = _pauses(session, {(d.program.key, d.period) for d in dues}, today)
    _ledger(session, dues)
    planned: list[PlannedNotice] = []
    if earlier:
        before = load_standings(
            session,
            pemda,
            units,
            today,
            [d.program for d in earlier.values()],
            {key: d.period for key, d in earlier.items()},
        )
        _plan_stages(planned, before, earlier, roster, paused)
    wanted = [p for p in pemda.programs if p.key in current or p.key in checkin_programs]
    standings = load_standings(session, pemda, units, today, wanted) if wanted else {}
    _plan_stages(planned, standings, current, roster, paused)
    if checkin_programs:
        planned.extend(_plan_checkins(session, pemda, calendar, at, today, checkin_programs, roster, standings))
    return planned


def _plan_stages(
    planned: list[PlannedNotice],
    standings: Mapping[tuple[int, str], Standing],
    dues: Mapping[str, _Due],
    roster: _Roster,
    paused: Mapping[tuple[int, str, str], str],
) -> None:
    """Append the ladder stage due for each unit not compliant (and not paused) to each of its recipients."""
    units, channels, append = roster.units, roster.channels, planned.append
    for (unit_id, key), standing in standings.items():
        due = dues.get(key)
        if due is None or standing.compliant:
            continue
        if paused:
            pause = paused.get((unit_id, key, due.period))
            if pause == PAUSE_DISPENSASI or (pause == PAUSE_PROSES and due.stage.kind == "pengingat"):
                continue
        unit = units[unit_id]
        done = due.done
        for contact in roster.recipients(unit_id, due.audiences):
            append(
                PlannedNotice(
                    "stage",
                    due.program,
                    unit,
                    due.period,
                    due.stage,
                    contact,
                    channels[contact.id],
                    standing,
                    "",
                    (unit_id, contact.id) in done if done else False,
                    due.stage_key,
                )
            )


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


def _pauses(session: Session, wanted: set[tuple[str, str]], today: date) -> dict[tuple[int, str, str], str]:
    """Active pauses: (unit, program, period) -> 'dispensasi' (all stages) or 'proses' (reminders only)."""
    result: dict[tuple[int, str, str], str] = {}
    if not wanted:
        return result
    rows = session.execute(
        sa_select(
            col(Pause.unit_id), col(Pause.program_key), col(Pause.period), col(Pause.kind), col(Pause.until)
        ).where(col(Pause.revoked_at).is_(None), col(Pause.period).in_({period for _key, period in wanted}))
    ).all()
    for unit_id, key, period, kind, until in rows:
        if (key, period) not in wanted:
            continue
        if kind == PAUSE_DISPENSASI:
            result[(unit_id, key, period)] = PAUSE_DISPENSASI
        elif kind == PAUSE_PROSES and until is not None and until >= today:
            result.setdefault((unit_id, key, period), PAUSE_PROSES)
    return result


def _ledger(session: Session, dues: Sequence[_Due]) -> None:
    """Fill each due stage's `done` with the (unit, person) pairs the ledger says were queued before."""
    if not dues:
        return
    by_key = {(d.program.key, d.period, d.stage_key): d for d in dues}
    rows = session.connection().execute(
        sa_select(
            col(Notice.program_key), col(Notice.period), col(Notice.stage), col(Notice.unit_id), col(Notice.contact_id)
        ).where(
            col(Notice.program_key).in_({key for key, _p, _s in by_key}),
            col(Notice.period).in_({period for _k, period, _s in by_key}),
            col(Notice.stage).in_({stage for _k, _p, stage in by_key}),
        )
    )
    for key, period, stage, unit_id, contact_id in rows:
        due = by_key.get((key, period, stage))
        if due is not None:
            due.done.add((unit_id, contact_id))


# -- writing ------------------------------------------------------------------------------------


def take_lock(session: Session, at: datetime) -> None:
    """Serialise sweeps: PostgreSQL advisory transaction lock; SQLite: write the SweepLock row first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    result = session.execute(update(SweepLock).where(col(SweepLock.id) == 1).values(last_run_at=at))
    if not getattr(result, "rowcount", 0):
        lock_table = SweepLock.__table__  # type: ignore[attr-defined]
        session.execute(insert_skipping_duplicates(session, lock_table, "id").values(id=1, last_run_at=at))


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
    with _collector_paused(), db.uow() as uow:
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


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the sweep, back on after (unless it was off already).

    A sweep builds a few hundred thousand small objects that all live until it ends; the collector would
    walk them over and over, about a quarter of the sweep's time at 30,000 units. Reference counting still
    frees everything dropped on the way; the few cycles wait for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    ledger: list[tuple[Any, ...]] = []
    handled = _letters(session, at, fresh, letter_hook, ledger, result) if letter_hook is not None else set()
    to_send = [p for p in fresh if p.channel is not None and (not handled or id(p) not in handled)]
    _checkin_rows(session, at, [p for p in to_send if p.kind != "stage"], result)
    per_person: dict[tuple[int, Channel | None], list[PlannedNotice]] = {}
    for notice in to_send:
        person = (notice.contact.id, notice.channel)
        items = per_person.get(person)
        if items is None:
            per_person[person] = [notice]
        else:
            items.append(notice)
    composer = _Composer(pemda, today)
    rows: list[tuple[Any, ...]] = []
    keys_of: dict[str, tuple[str, list[PlannedNotice]]] = {}
    for (contact_id, channel), items in per_person.items():
        assert channel is not None
        key = _idem_key(contact_id, channel, items)[:200]
        rows.append(outbox_values(key, contact_id, channel, composer.compose(items[0].contact, channel, items)))
        keys_of[key] = (channel.value, items)
    outbox_ids = _insert_outbox(session, rows, at)
    result.queued = len(outbox_ids)
    for key, (channel_value, items) in keys_of.items():
        outbox_id = outbox_ids.get(key)
        ledger.extend(
            (n.program.key, n.unit.id, n.period, n.stage_key, n.contact.id, channel_value, outbox_id)
            for n in items
            if n.kind == "stage"
        )
    if ledger:
        bulk_insert(session, Notice.__table__, NOTICE_COLUMNS, ledger, fixed={"created_at": at})  # type: ignore[attr-defined]
        result.notices = len(ledger)


NOTICE_COLUMNS = ("program_key", "unit_id", "period", "stage", "contact_id", "channel", "outbox_id")
"""The ledger columns that vary per row (`created_at` is the sweep's instant)."""

OUTBOX_COLUMNS = ("idem_key", "contact_id", "channel", "kind", "text", "buttons", "template_name", "template_params")
"""The outbox columns that vary per row; `outbox_fixed` gives the rest (as `jobs.outbox.outbox_row` sets them)."""

_to_json = json.JSONEncoder(ensure_ascii=False).encode  # = json.dumps(..., ensure_ascii=False), without its set-up
_json_string: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def _strings_json(values: Sequence[str]) -> str:
    """json.dumps(list(values), ensure_ascii=False) for a list of strings, at a fraction of the cost."""
    return f"[{', '.join(map(_json_string, values))}]"


def outbox_values(key: str, contact_id: int, channel: Channel, message: OutMessage) -> tuple[Any, ...]:
    """The `OUTBOX_COLUMNS` of one sweep message: the values `jobs.outbox.outbox_row` gives them."""
    template = message.template
    return (
        key[:200],
        contact_id,
        channel.value,
        message.kind,
        message.text,
        _buttons_json(message.buttons),
        template.name if template else None,
        _strings_json(template.params) if template else "[]",
    )


def outbox_fixed(at: datetime) -> dict[str, Any]:
    """The outbox columns every sweep row shares: pending, due now, no attachment, no broadcast."""
    return {
        "attachment_id": None,
        "use_template": False,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": at,
        "broadcast_id": None,
        "created_at": at,
        "last_error": "",
    }


_BUTTONS: dict[tuple[Button, ...], str] = {}


def _buttons_json(buttons: tuple[Button, ...]) -> str:
    found = _BUTTONS.get(buttons)
    if found is None:
        found = _to_json([[b.label, b.payload] for b in buttons])
        if len(_BUTTONS) < 1000:
            _BUTTONS[buttons] = found
    return found


def bulk_insert(
    session: Session,
    table: Any,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: str = "",
    *,
    fixed: Mapping[str, Any] | None = None,
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING through the driver's executemany (no per-row SQLAlchemy overhead).

    `rows` hold the values of `names` in order; `fixed` the values every row shares. Values go through each
    column's own bind processing (UTC datetimes, booleans) exactly as the ORM would; shared ones once.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect

    def processor(name: str) -> Any:
        return table.c[name].type._cached_bind_processor(dialect)

    shared = dict(fixed or {})
    tail = tuple(proc(value) if (proc := processor(name)) is not None else value for name, value in shared.items())
    procs = [(i, proc) for i, name in enumerate(names) if (proc := processor(name)) is not None]
    if procs:  # a varying column with a bind processor: the slow path, value by value
        converted = []
        for row in rows:
            values = list(row)
            for i, proc in procs:
                values[i] = proc(values[i])
            converted.append(tuple(values))
        rows = converted
    params = [row + tail for row in rows] if tail else list(rows)
    columns = [*names, *shared]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT {conflict} DO NOTHING"
    )
    for start in range(0, len(params), 10_000):
        connection.exec_driver_sql(sql, params[start : start + 10_000])


def _ledger_values(notice: PlannedNotice, channel: str, outbox_id: int | None) -> tuple[Any, ...]:
    """The `NOTICE_COLUMNS` of one ledger row."""
    return (notice.program.key, notice.unit.id, notice.period, notice.stage_key, notice.contact.id, channel, outbox_id)


def _idem_key(contact_id: int, channel: Channel, items: Sequence[PlannedNotice]) -> str:
    if len(items) == 1:
        n = items[0]
        return f"sweep|{n.program.key}|{n.unit.id}|{n.period}|{n.stage_key}|{contact_id}|{channel.value}"
    keys = sorted(f"{n.program.key}|{n.unit.id}|{n.period}|{n.stage_key}" for n in items)
    digest = hashlib.sha1("\n".join(keys).encode(), usedforsecurity=False).hexdigest()
    return f"sweep|{contact_id}|{channel.value}|{digest}"


def _insert_outbox(session: Session, rows: Sequence[tuple[Any, ...]], at: datetime) -> dict[str, int]:
    """Insert outbox rows (`OUTBOX_COLUMNS`, skipping keys already there); idem_key -> id of the rows written.

    Runs under the sweep lock: every row this sweep writes gets an id above the highest one seen before.
    """
    if not rows:
        return {}
    connection = session.connection()
    wanted = {row[0] for row in rows}
    before = int(connection.exec_driver_sql("SELECT max(id) FROM outbox").scalar() or 0)
    bulk_insert(session, Outbox.__table__, OUTBOX_COLUMNS, rows, "(idem_key)", fixed=outbox_fixed(at))  # type: ignore[attr-defined]
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"SELECT id, idem_key FROM outbox WHERE id > {before}")  # an integer read above: no injection
        return {key: row_id for row_id, key in cursor.fetchall() if key in wanted}
    finally:
        cursor.close()


def _letters(
    session: Session,
    at: datetime,
    fresh: Sequence[PlannedNotice],
    hook: LetterHook,
    ledger: list[tuple[Any, ...]],
    result: SweepResult,
) -> set[int]:
    """Hand each new teguran stage to the letters feature; the notices it handled (by object id)."""
    groups: dict[tuple[int, str, str, str], list[PlannedNotice]] = defaultdict(list)
    for notice in fresh:
        if notice.stage is not None and notice.stage.kind in ("teguran1", "teguran2"):
            groups[(notice.unit.id, notice.program.key, notice.period, notice.stage_key)].append(notice)
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
            ledger.append(_ledger_values(notice, LETTER_CHANNEL, None))
    after_sweep = getattr(hook, "after_sweep", None)
    if after_sweep is not None and handled:
        after_sweep(session, at)
    return handled


def _checkin_rows(session: Session, at: datetime, to_send: Sequence[PlannedNotice], result: SweepResult) -> None:
    """Record the check-ins asked and the follow-ups sent (one per unit, program and week)."""
    if not to_send:
        return
    asked = {(_id(n.unit.id), n.program.key, n.week) for n in to_send if n.kind == "checkin"}
    followed = {(_id(n.unit.id), n.program.key, n.week) for n in to_send if n.kind == "followup"}
    if asked:
        stmt = insert_skipping_duplicates(session, Checkin.__table__)  # type: ignore[attr-defined]
        rows = [{"unit_id": u, "program_key": k, "week": w, "asked_at": at} for u, k, w in sorted(asked)]
        for start in range(0, len(rows), 5000):
            session.execute(stmt, rows[start : start + 5000])
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
    return _Composer(pemda, today).compose(contact, channel, items)


HEADLINES = {
    "checkin": "📝 Permintaan angka terbaru",
    "followup": "📝 Permintaan angka terbaru (susulan)",
    "pengingat": "🔔 Pengingat batas waktu",
    "peringatan": "⚠️ Peringatan: batas waktu sudah lewat",
    "teguran1": "⛔ Peringatan keras: tahap Surat Teguran I",
    "teguran2": "⛔ Peringatan keras: tahap Surat Teguran II",
}
_SHORT_HEADLINES = {kind: headline.split(" ", 1)[1] for kind, headline in HEADLINES.items()}
_TEGURAN_CLOSING = (
    "Keterlambatan ini sudah sampai tahap surat teguran dan tercatat. "
    "Mohon laporan dilengkapi hari ini juga melalui /lapor.",
)
CLOSINGS: dict[str, tuple[str, ...]] = {
    "teguran1": _TEGURAN_CLOSING,
    "teguran2": _TEGURAN_CLOSING,
    "peringatan": ("Mohon segera lengkapi dan laporkan melalui /lapor agar tidak berlanjut ke surat teguran.",),
    "pengingat": (
        "Mohon lengkapi dan laporkan melalui /lapor sebelum batas waktu.",
        "Bila sedang diproses, kirim /proses <program> <tanggal>, misalnya /proses katalog 10/12/2026.",
    ),
    "checkin": ("Ketuk tombol di bawah untuk melapor, atau kirim /lapor.",),
    "followup": ("Ketuk tombol di bawah untuk melapor, atau kirim /lapor.",),
}
"""The closing lines of a unit's message, by its most severe item (the highest stage decides what to do next)."""
TEMPLATE_BUILDERS = {"checkin": templates.checkin, "followup": templates.checkin, "pengingat": templates.reminder}


def _severity_rank(notice: PlannedNotice) -> int:
    return SEVERITY[notice.severity]


def _line_order(notice: PlannedNotice) -> tuple[int, str]:
    return (-SEVERITY[notice.severity], notice.program.key)


class _Composer:
    """Puts together the messages of one sweep from fragments computed once (item lines, bodies, buttons).

    Thousands of units share the same figures and stages, so most lines and bodies repeat: only the
    greeting, the unit's name and the template's parameters are made per message.
    """

    def __init__(self, pemda: PemdaConfig, today: date) -> None:
        self.pemda = pemda
        self.today = today
        self._current = {p.key: current_period(p, today) for p in pemda.programs}
        self._lines: dict[tuple[Any, ...], str] = {}
        self._bodies: dict[tuple[Any, ...], tuple[str, str, tuple[Button, ...]]] = {}

    def compose(self, contact: ContactRef, channel: Channel, items: Sequence[PlannedNotice]) -> OutMessage:
        """One message for one person listing everything due for them."""
        top = (max(items, key=_severity_rank) if len(items) > 1 else items[0]).severity
        if contact.role in UNIT_ROLES:
            text, summary, buttons = self._unit_message(contact, items, top)
        else:
            text, summary, buttons = self._oversight_message(contact, items)
        # set on every channel: a Telegram row that falls back to WhatsApp may land outside the 24-hour window
        template = TEMPLATE_BUILDERS.get(top, templates.warning)(self.pemda, contact.name[:60], summary[:200])
        kind = "checkin" if top in ("checkin", "followup") else top
        return OutMessage(text=text, kind=kind, buttons=buttons, template=template)

    def _unit_message(
        self, contact: ContactRef, items: Sequence[PlannedNotice], top: str
    ) -> tuple[str, str, tuple[Button, ...]]:
        unit = items[0].unit
        ordered = sorted(items, key=_line_order) if len(items) > 1 else items
        lines = tuple([self._item_line(n) for n in ordered])
        key = (top, lines, tuple([n.program.key for n in ordered]))
        body = self._bodies.get(key)
        if body is None:
            body = self._bodies[key] = self._unit_body(ordered, lines, top)
        rest, labels, buttons = body
        text = f"Yth. Bapak/Ibu {contact.name},\n{HEADLINES[top]} — {unit.name}:\n{rest}"
        return text, f"{_SHORT_HEADLINES[top]} — {unit.name}: {labels}", buttons

    @staticmethod
    def _unit_body(
        ordered: Sequence[PlannedNotice], lines: tuple[str, ...], top: str
    ) -> tuple[str, str, tuple[Button, ...]]:
        """The item lines and closing words, the programs' labels (for the summary) and the buttons."""
        programs: dict[str, ProgramConfig] = {}
        for notice in ordered:
            programs.setdefault(notice.program.key, notice.program)
        if len(programs) == 1:
            buttons: tuple[Button, ...] = (Button("Lapor sekarang", f"/lapor {next(iter(programs))}"),)
        elif len(programs) <= MAX_BUTTONS:
            buttons = tuple(Button(f"Lapor {key}", f"/lapor {key}") for key in programs)
        else:
            buttons = ()
        labels = ", ".join(p.label for p in programs.values())
        return "\n".join((*lines, *CLOSINGS[top])), labels, buttons

    def _program_label(self, notice: PlannedNotice) -> str:
        """The program's label, with the period named when it is not the current one."""
        label = notice.program.label
        if notice.period != self._current.get(notice.program.key, notice.period):
            label = f"{label} {periode(notice.period)}"
        return label

    def _item_line(self, notice: PlannedNotice) -> str:
        """One bullet of a unit's message; computed once per program, stage and figure in a sweep."""
        standing = notice.standing
        kind = notice.kind
        last: date | None = None
        if kind == "stage":
            key: tuple[Any, ...] = (
                kind,
                notice.program.key,
                notice.period,
                notice.stage_key,
                standing.value,
                standing.target,
                standing.open_items,
            )
        elif kind == "checkin":
            last = standing.last_report_at.date() if standing.last_report_at is not None else None
            key = (kind, notice.program.key, standing.value, standing.target, standing.open_items, last)
        else:
            key = (kind, notice.program.key)
        line = self._lines.get(key)
        if line is not None:
            return line
        today = self.today
        if kind == "checkin":
            when = f"laporan terakhir {tanggal_pendek(last)}" if last else "belum pernah melapor"
            line = f"• {notice.program.label}: mohon kirim angka terbaru ({when}; {nilai(standing)})."
        elif kind == "followup":
            line = f"• {notice.program.label}: permintaan angka terbaru hari ini belum dijawab."
        else:
            deadline = f"batas {tanggal_pendek(standing.deadline)}, {sisa_hari(standing.deadline, today)}"
            line = f"• {self._program_label(notice)} ({notice.label}): {nilai(standing)}; {deadline}."
        self._lines[key] = line
        return line

    def _oversight_message(
        self, contact: ContactRef, items: Sequence[PlannedNotice]
    ) -> tuple[str, str, tuple[Button, ...]]:
        groups: dict[tuple[str, str, str], list[PlannedNotice]] = defaultdict(list)
        for notice in items:
            groups[(notice.program.key, notice.period, notice.stage_key)].append(notice)
        today = self.today
        lines = [f"Yth. Bapak/Ibu {contact.name},", f"Rekap tindak lanjut Sigap, {tanggal(today)}:"]
        summary: list[str] = []
        ordered = sorted(groups.values(), key=lambda g: (-SEVERITY[g[0].severity], g[0].program.key))
        for group in ordered:
            first = group[0]
            codes = sorted(n.unit.code for n in group)
            late = first.standing.deadline < today
            head = f"{len(codes)} unit {'terlambat' if late else 'belum memenuhi'} {self._program_label(first)}"
            shown = ", ".join(codes[:MAX_UNITS_LISTED])
            if len(codes) > MAX_UNITS_LISTED:
                shown += f" dan {len(codes) - MAX_UNITS_LISTED} unit lainnya"
            lines.append(f"• {head} ({first.label}): {shown}.")
            summary.append(head)
        lines.append("Rincian setiap unit: /rekap.")
        return "\n".join(lines), "; ".join(summary), (Button("Lihat rekap", "/rekap"),)
