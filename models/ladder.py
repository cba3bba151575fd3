"""The ladder's rules and the sweep's plan: which stage of which program is due on a day, and for whom.

Pure decisions over the Pemda file and the working calendar (no database): `due_stages` says what is due
today, `stage_days` when each rung of a period's ladder falls, `checkin_day` when this week's check-in is.
A sweep's plan is a list of `PlannedNotice` (one thing due for one person); `SweepResult` is what a sweep
decided and wrote.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple, Protocol

from sqlmodel import Session

from models.calendar import WorkingCalendar
from models.fmt import tanggal
from models.messages import Channel
from models.pemda import PemdaConfig, ProgramConfig, Stage
from models.periods import previous_period
from models.standing import Standing, current_period
from models.tables import Unit

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4}
STAGE_NAMES = {
    "pengingat": "pengingat",
    "peringatan": "peringatan",
    "teguran1": "Surat Teguran I",
    "teguran2": "Surat Teguran II",
}
"""How each stage kind is named in messages."""
TEGURAN_KINDS = ("teguran1", "teguran2")
"""The stages that are warning letters."""
SEVERITY = {"checkin": 0, "followup": 0, "pengingat": 1, "peringatan": 2, "teguran1": 3, "teguran2": 4}
"""How serious each kind of notice is: a person's message is led by its most serious item."""
PAUSE_PROSES = "proses"
"""A unit's 'sedang diproses': reminders (pengingat) pause until a date; warnings and letters do not."""
PAUSE_DISPENSASI = "dispensasi"
"""An admin's dispensation: no stage at all for the unit and program this period."""

NoticeKind = Literal["stage", "checkin", "followup"]


class LetterHook(Protocol):
    """Drafts the warning letter of a teguran stage; True when it handled the stage (no message needed).

    A hook may also have `after_sweep(session, at)`, called once after every teguran stage of a sweep was handed
    over (in the same transaction), e.g. to ask for approval of all the new drafts in one message.
    """

    def __call__(self, session: Session, unit: Unit, standings: Sequence[Standing], stage: Stage, at: datetime) -> bool:
        """Handle the teguran stage of `unit` on the programs of `standings` (all due at this stage in one sweep)."""
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
            self.stage_key = stage_key_of(self.kind, self.stage, self.week)

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


def stage_key_of(kind: str, stage: Stage | None, week: str) -> str:
    """The ledger's stage name: 'H-7:pengingat' for a ladder stage, 'checkin:2026-W48' for a check-in."""
    if stage is not None:
        return f"{stage.key}:{stage.kind}"
    return f"{kind}:{week}"


class Waiting(NamedTuple):
    """A letter stage due for a unit that does not go yet, and why (shown by `sigap sweep --dry-run`)."""

    unit: UnitRef
    program_key: str
    period: str
    stage: Stage
    reason: str


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
    waiting: list[Waiting] = field(default_factory=list)

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


class Due(NamedTuple):
    """A stage due today for one period of one program."""

    program: ProgramConfig
    period: str
    stage: Stage
    follow_up_only: bool = False
    """The period's ladder is over and only letters already under way are followed up (Teguran II after I)."""


def due_stages(pemda: PemdaConfig, calendar: WorkingCalendar, today: date) -> list[Due]:
    """Every (program, period, stage) due on `today`.

    For the current period, the latest stage due (it stays due until the next one is). For the period
    before, the same while its ladder is still running, that is up to the working day of its last rung:
    a deadline '+10' after a month puts the H-7 ... H+14 rungs of November in December. When that last
    rung is a letter, the period stays open `letters.follow_up_days` longer for the units whose letters
    are under way (`follow_up_only`), so a Teguran II can follow a Teguran I whose own deadline falls in
    the next period (a December letter gives until January); other units hear nothing more about it.
    """
    found: list[Due] = []
    for program in pemda.programs:
        period = current_period(program, today)
        earlier = previous_period(period)
        days = stage_days(pemda, program, calendar, earlier)
        window = _window(pemda, days, today)
        if window is not None:
            stage = _latest(days, today)
            if stage is not None:
                found.append(Due(program, earlier, stage, window == FOLLOW_UP))
        stage = _latest(stage_days(pemda, program, calendar, period), today)
        if stage is not None:
            found.append(Due(program, period, stage))
    return found


RUNNING = "running"
FOLLOW_UP = "follow_up"


def previous_window(pemda: PemdaConfig, calendar: WorkingCalendar, today: date, program: ProgramConfig) -> str | None:
    """Whether the sweep still chases the period before the current one on `today`, as `due_stages` decides:
    RUNNING (its ladder runs, every unit behind is chased), FOLLOW_UP (its ladder is over but it ends with a letter
    and `letters.follow_up_days` have not passed: only units whose letters are under way) or None."""
    earlier = previous_period(current_period(program, today))
    return _window(pemda, stage_days(pemda, program, calendar, earlier), today)


def _window(pemda: PemdaConfig, days: Sequence[tuple[Stage, date]], today: date) -> str | None:
    if not days:
        return None
    last_stage, last_day = max(days, key=lambda pair: pair[1])
    if last_day >= today:
        return RUNNING
    if last_stage.kind in TEGURAN_KINDS and last_day + timedelta(days=pemda.letters.follow_up_days) >= today:
        return FOLLOW_UP
    return None


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


class LetterFact(NamedTuple):
    """What the sweep needs to know of a unit's letter of one stage, for one program and period."""

    letter_id: int
    status: str
    delivered: bool
    """Received (by chat or recorded as handed over), or sent and accepted by the platform."""
    new_deadline: date | None


def climb(
    ladder: Sequence[Stage],
    due: Stage,
    reached: Collection[str],
    queued: Collection[str],
    letters: Mapping[str, LetterFact],
    today: date,
    *,
    reachable: bool = True,
) -> Stage | str:
    """The stage to act on when `due` is due for one unit, program and period, or why nothing goes yet.

    The ladder climbs in order: a letter stage goes only when the stage before it reached the unit; a
    message stage before it (peringatan) must have been sent to the unit (`reached`: ledger stage keys of
    messages the platform accepted; `queued`: of messages written at all), a letter before it must have
    been delivered and the new deadline written in it must have passed. When the stage before was never
    sent (late adoption, a program added after its deadline), that stage goes first instead. A cancelled
    letter stops the ladder (until an admin restarts it). A unit nobody can reach on chat (`reachable`
    False) cannot be sent messages, so message stages do not hold its letters back (they go on paper).
    `letters` maps a letter stage kind to the unit's letter of that stage.
    """
    if due.kind not in TEGURAN_KINDS or due.kind in letters:
        return due
    order = sorted(ladder, key=lambda s: s.offset_days)
    index = next((i for i, s in enumerate(order) if s.key == due.key and s.kind == due.kind), None)
    if not index:
        return due
    before = order[index - 1]
    name = STAGE_NAMES[before.kind]
    if before.kind in TEGURAN_KINDS:
        fact = letters.get(before.kind)
        if fact is None:
            return climb(ladder, before, reached, queued, letters, today, reachable=reachable)
        if fact.status == "cancelled":
            return f"{name} dibatalkan; tangga berhenti sampai admin memulai ulang (/teguran ulang {fact.letter_id})"
        if fact.status == "draft":
            return f"menunggu {name} disetujui"
        if not fact.delivered:
            return f"menunggu {name} sampai ke unit"
        if fact.new_deadline is not None and today <= fact.new_deadline:
            return f"menunggu tenggat {name.removeprefix('Surat ')}, {tanggal(fact.new_deadline)}"
        return due
    if not reachable:
        return due
    key = stage_key_of("stage", before, "")
    if key in reached:
        return due
    if key in queued:
        return f"menunggu {name} {before.key} terkirim"
    return before
