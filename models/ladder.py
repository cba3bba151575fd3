"""The ladder's rules and the sweep's plan: which stage of which program is due on a day, and for whom.

Pure decisions over the Pemda file and the working calendar (no database): `due_stages` says what is due
today, `stage_days` when each rung of a period's ladder falls, `checkin_day` when this week's check-in is.
A sweep's plan is a list of `PlannedNotice` (one thing due for one person); `SweepResult` is what a sweep
decided and wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple, Protocol

from sqlmodel import Session

from models.calendar import WorkingCalendar
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
