"""The sweep: decide which stage of which program is due for whom, and queue it once.

`plan` is the pure decision at an instant (what is due, for which unit, which person, on which channel);
`sweep` takes the sweep lock, plans inside the same transaction, writes the ledger (`Notice`, `Checkin`)
and the grouped outbox rows, and commits. Running it twice, concurrently or after a restart never
queues a stage twice: the lock serialises sweeps and the ledger remembers what each person got.

Each program is swept for its current period and, while that period's ladder is still running, for the
period before: a deadline '+N' days after the period's end (monthly, quarterly programs) puts the late
rungs of a period's ladder in the next period.

Speed (30,000 units x 4 programs within 3 s on 2 cores, SQLite and PostgreSQL, see bench/sweep_bench.py):
the roster is read as plain driver rows, the plan is made of slotted objects sharing their unit, contact and
standing, message texts are put together from fragments computed once per sweep (per program, stage and
figure), and the outbox and ledger rows are written as tuples (`models.db.bulk_insert`: COPY on PostgreSQL,
executemany on SQLite), with the values every row shares (times, status) converted once, in batches of
people: on PostgreSQL a batch's ledger is inserted while the next batch's messages are put together. The
ledger keeps one row per (program, unit, period, stage, person), as before.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select as sa_select
from sqlalchemy import text, update
from sqlmodel import Session, col, select

from jobs.reminder_text import Composer
from models.calendar import WorkingCalendar
from models.checkins import answered, iso_week
from models.clock import ensure_utc
from models.db import Database, bulk_insert_while, insert_skipping_duplicates
from models.escalation import LETTER_CHANNEL, Escalation, load_escalation
from models.ladder import (
    PAUSE_DISPENSASI,
    PAUSE_PROSES,
    TEGURAN_KINDS,
    LetterHook,
    NoticeKind,
    PlannedNotice,
    SweepResult,
    Waiting,
    checkin_day,
    climb,
    due_stages,
    stage_key_of,
)
from models.messages import CHAT_CHANNELS, Channel
from models.outbox import MAX_KEY, insert_values, outbox_fixed, outbox_values
from models.pemda import PemdaConfig, ProgramConfig, Stage
from models.reach import SETUP_REASONS, why_unreachable
from models.recipients import Recipients, load_recipients
from models.standing import Standing, collector_paused, current_period, load_standings
from models.tables import (
    Checkin,
    Notice,
    Pause,
    SweepLock,
    Unit,
)

log = logging.getLogger(__name__)

ADVISORY_LOCK = 0x51_6A_50_53  # "SIGAP sweep": one sweeper at a time on PostgreSQL


def _id(value: int | None) -> int:
    assert value is not None
    return value


@dataclass(slots=True)
class _Due:
    """A stage due today for one period of one program, and the (unit, person) pairs the ledger says got it."""

    program: ProgramConfig
    period: str
    stage: Stage
    stage_key: str
    audiences: tuple[str, ...]
    follow_up_only: bool = False
    """The period's ladder is over: only units whose letters are under way are followed up."""
    done: set[tuple[int, int]] = field(default_factory=set)
    ladder: tuple[Stage, ...] = ()
    """The program's ladder, for letter stages (which climb in order)."""
    escalation: Escalation | None = None
    """What a letter stage climbs on, per unit (loaded only when a letter stage is due)."""
    done_before: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
    """For a letter stage: the ledger's (unit, person) pairs of the stages it may climb back to, by stage key."""


def plan(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    at: datetime,
    waiting: list[Waiting] | None = None,
    sends_on: Collection[Channel] = CHAT_CHANNELS,
) -> list[PlannedNotice]:
    """Everything due at instant `at`: one entry per (program, unit, period, stage, person), marked if queued before.

    Each person's channel is chosen among `sends_on`, the channels the deployment sends on (None: not reachable now;
    nothing is queued for them and the ledger does not record them: a stage still due reaches them once they can be).
    Letter stages climb in order (`models.ladder.climb`); those that wait are appended to `waiting` with the reason.
    """
    at = ensure_utc(at)
    if not calendar.is_working_time(at):
        return []
    today = calendar.local_date(at)
    dues = [
        _Due(program, period, stage, stage_key_of("stage", stage, ""), tuple(stage.recipients), follow_up)
        for program, period, stage, follow_up in due_stages(pemda, calendar, today)
    ]
    checkin_programs = _checkin_programs(pemda, calendar, at, today)
    if not dues and not checkin_programs:
        return []
    current: dict[str, _Due] = {}
    earlier: dict[str, _Due] = {}
    for due in dues:
        (current if due.period == current_period(due.program, today) else earlier)[due.program.key] = due
    roster = load_recipients(session, sends_on)
    units = cast(list[Unit], list(roster.units.values()))  # load_standings reads only `id` and `kind`
    paused = _pauses(session, {(d.program.key, d.period) for d in dues}, today)
    _escalation(session, pemda, [d for d in dues if d.stage.kind in TEGURAN_KINDS])
    _ledger(session, dues)
    gate = _Gate(today, roster, waiting if waiting is not None else [], sends_on)
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
        _plan_stages(planned, before, earlier, roster, paused, gate)
    wanted = [p for p in pemda.programs if p.key in current or p.key in checkin_programs]
    standings = load_standings(session, pemda, units, today, wanted) if wanted else {}
    _plan_stages(planned, standings, current, roster, paused, gate)
    if checkin_programs:
        planned.extend(_plan_checkins(session, pemda, calendar, at, today, checkin_programs, roster, standings))
    return planned


@dataclass(slots=True)
class _Gate:
    """What letter stages need to climb in order: today, who can be reached, and where waits are reported."""

    today: date
    roster: Recipients
    waiting: list[Waiting]
    sends_on: Collection[Channel] = CHAT_CHANNELS
    _reachable: dict[int, bool] = field(default_factory=dict)

    def reachable(self, unit_id: int) -> bool:
        """Whether someone who answers for the unit can be reached on chat, or could be once the deployment has the
        channel they use: a unit is not sent letters because Telegram or WhatsApp is not set up yet; only a unit
        nobody can reach by its own doing (no address in the roster, the bot blocked) has them drafted at once."""
        found = self._reachable.get(unit_id)
        if found is None:
            channels = self.roster.channels
            found = self._reachable[unit_id] = any(
                channels[c.id] is not None or why_unreachable(c, self.sends_on) in SETUP_REASONS
                for c in self.roster.by_unit.get(unit_id, [])
            )
        return found


def _plan_stages(
    planned: list[PlannedNotice],
    standings: Mapping[tuple[int, str], Standing],
    dues: Mapping[str, _Due],
    roster: Recipients,
    paused: Mapping[tuple[int, str, str], str],
    gate: _Gate,
) -> None:
    """Append the ladder stage due for each unit not compliant (and not paused) to each of its recipients."""
    units, channels, append = roster.units, roster.channels, planned.append
    for (unit_id, key), standing in standings.items():
        due = dues.get(key)
        if due is None or standing.compliant or standing.awaiting:  # awaiting: the verifier is reminded instead
            continue
        if paused:
            pause = paused.get((unit_id, key, due.period))
            if pause == PAUSE_DISPENSASI or (pause == PAUSE_PROSES and due.stage.kind == "pengingat"):
                continue
        unit = units[unit_id]
        stage, stage_key, audiences, done = due.stage, due.stage_key, due.audiences, due.done
        facts = due.escalation
        if due.follow_up_only and (facts is None or not facts.letters.get(unit_id)):
            continue
        if facts is not None:
            climbed = climb(
                due.ladder,
                stage,
                facts.reached.get(unit_id, ()),
                facts.queued.get(unit_id, ()),
                facts.letters.get(unit_id, {}),
                gate.today,
                reachable=gate.reachable(unit_id),
            )
            if isinstance(climbed, str):
                gate.waiting.append(Waiting(unit, key, due.period, stage, climbed))
                continue
            if climbed is not stage:
                stage, stage_key, audiences = climbed, stage_key_of("stage", climbed, ""), tuple(climbed.recipients)
                done = due.done_before.get(stage_key, set())
        for contact in roster.recipients(unit_id, audiences):
            append(
                PlannedNotice(
                    "stage",
                    due.program,
                    unit,
                    due.period,
                    stage,
                    contact,
                    channels[contact.id],
                    standing,
                    "",
                    (unit_id, contact.id) in done if done else False,
                    stage_key,
                )
            )


def _escalation(session: Session, pemda: PemdaConfig, dues: Sequence[_Due]) -> None:
    """Give each due letter stage its ladder and what it climbs on (messages that reached units, their letters)."""
    if not dues:
        return
    for due in dues:
        due.ladder = tuple(sorted(pemda.ladder_of(due.program), key=lambda s: s.offset_days))
    facts = load_escalation(session, {(d.program.key, d.period): d.ladder for d in dues})
    for due in dues:
        due.escalation = facts[(due.program.key, due.period)]


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
    roster: Recipients,
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
    by_key: dict[tuple[str, str, str], set[tuple[int, int]]] = {}
    for due in dues:
        for before, after in itertools.pairwise(due.ladder):
            if after.kind in TEGURAN_KINDS:
                for rung in (before, after):
                    name = stage_key_of("stage", rung, "")
                    if name != due.stage_key:
                        by_key[(due.program.key, due.period, name)] = due.done_before.setdefault(name, set())
        by_key[(due.program.key, due.period, due.stage_key)] = due.done
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
        done = by_key.get((key, period, stage))
        if done is not None:
            done.add((unit_id, contact_id))


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
    sends_on: Collection[Channel] = CHAT_CHANNELS,
) -> SweepResult:
    """Plan at `at` and, unless `dry_run`, queue what is new in one transaction under the sweep lock; people are
    reached on the channels of `sends_on` only (`Deps.sends_on`)."""
    at = ensure_utc(at)
    result = SweepResult(at=at, working=calendar.is_working_time(at), dry_run=dry_run)
    with collector_paused(), db.uow() as uow:
        session = uow.session
        if dry_run:
            result.planned = plan(session, pemda, calendar, at, result.waiting, sends_on)
            result.already = sum(1 for p in result.planned if p.already)
            return result
        take_lock(session, at)
        result.planned = plan(session, pemda, calendar, at, result.waiting, sends_on)
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
    composer = Composer(pemda, today, session)  # with each unit's pace on count programs
    composer.prepare(to_send)  # its reads done now: below, messages are put together while the database writes
    people = list(per_person.items())
    batch = _compose(composer, people[:WRITE_BATCH])
    for start in range(0, max(len(people), 1), WRITE_BATCH):
        rows, keys_of = batch
        outbox_ids = _insert_outbox(session, rows, at)
        result.queued += len(outbox_ids)
        for key, (channel_value, items) in keys_of.items():
            outbox_id = outbox_ids.get(key)
            ledger.extend(
                (n.program.key, n.unit.id, n.period, n.stage_key, n.contact.id, channel_value, outbox_id)
                for n in items
                if n.kind == "stage"
            )
        following = functools.partial(_compose, composer, people[start + WRITE_BATCH : start + 2 * WRITE_BATCH])
        notices = Notice.__table__  # type: ignore[attr-defined]
        batch = bulk_insert_while(session, notices, NOTICE_COLUMNS, ledger, following, fixed={"created_at": at})
        result.notices += len(ledger)
        ledger = []


WRITE_BATCH = 2_000
"""People whose messages are written at once. On PostgreSQL a batch's ledger rows are inserted while the next
batch's messages are put together (the server's work and Python's overlap)."""


def _compose(
    composer: Composer, people: Sequence[tuple[tuple[int, Channel | None], list[PlannedNotice]]]
) -> tuple[list[tuple[Any, ...]], dict[str, tuple[str, list[PlannedNotice]]]]:
    """The outbox rows of `people`'s messages, and each message's channel and items by its idempotency key."""
    rows: list[tuple[Any, ...]] = []
    keys_of: dict[str, tuple[str, list[PlannedNotice]]] = {}
    for (contact_id, channel), items in people:
        assert channel is not None
        key = _idem_key(contact_id, channel, items)[:MAX_KEY]
        rows.append(outbox_values(key, contact_id, channel, composer.compose(items[0].contact, channel, items)))
        keys_of[key] = (channel.value, items)
    return rows, keys_of


NOTICE_COLUMNS = ("program_key", "unit_id", "period", "stage", "contact_id", "channel", "outbox_id")
"""The ledger columns that vary per row (`created_at` is the sweep's instant)."""


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
    insert_values(session, rows, outbox_fixed(at))
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
    """Hand each unit's new teguran stage to the letters feature, all its programs at once (one letter per unit
    and stage when the Pemda file says so); the notices it handled (by object id)."""
    groups: dict[tuple[int, str], list[PlannedNotice]] = defaultdict(list)
    for notice in fresh:
        if notice.stage is not None and notice.stage.kind in TEGURAN_KINDS:
            groups[(notice.unit.id, notice.stage.kind)].append(notice)
    handled: set[int] = set()
    for items in groups.values():
        first = items[0]
        assert first.stage is not None
        unit = session.get(Unit, first.unit.id)
        if unit is None:
            continue
        standings = list({(n.program.key, n.period): n.standing for n in items}.values())
        try:
            with session.begin_nested():
                done = hook(session, unit, standings, first.stage, at)
        except Exception:
            log.exception("letter hook failed for unit %s; sending a warning instead", first.unit.code)
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
