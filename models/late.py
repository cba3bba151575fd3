"""The period before the current one while a unit still owes it: what /lapor and /bukti count a report for first,
and what /status shows beside the current period.

A monthly program's November stays owed in December by a unit that has not met it while November's deadline has not
passed, or while the sweep still chases it: its ladder runs (`models.ladder.previous_window` RUNNING, the periods of
`models.pauses.chased_periods`), or its ladder is over but the unit's letters of November are under way (FOLLOW_UP,
`due_stages`' follow_up_only: a Teguran II still follows a Teguran I). A dispensation of that period closes it, and
so does evidence waiting for the verifier that would meet it (the unit did its part, the sweep asks nothing more).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from models.calendar import WorkingCalendar
from models.ladder import FOLLOW_UP, PAUSE_DISPENSASI, RUNNING, previous_window
from models.pemda import PemdaConfig, ProgramConfig
from models.periods import previous_period
from models.standing import Standing, UnitKind, current_period, load_standings
from models.tables import Letter, LetterItem, LetterStatus, Pause


class Owed(NamedTuple):
    """A unit's standing on a program in the period before the current one, while that period is still open for it."""

    standing: Standing
    chased: bool
    """The sweep chases it (its ladder runs, or the unit's letters are followed up); False: only its deadline is
    still ahead (a monthly figure reported in the days after the month)."""
    letters: tuple[str, ...] = ()
    """The letter stages the unit was sent (or has drafted) for that period and program, not cancelled."""
    overdue: bool = False
    """Its deadline has passed."""
    issued: tuple[str, ...] = ()
    """Of `letters`, the stages whose letter left the drafts (approved, sent, received): the unit knows of them."""

    @property
    def owing(self) -> bool:
        """Not met, and nothing waits for the verifier that would meet it: a report counts for it first."""
        return not self.standing.compliant and not self.standing.awaiting


def previous_open(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    unit: UnitKind,
    today: date,
    programs: Sequence[ProgramConfig],
) -> dict[str, Owed]:
    """Per program key (of `programs`, those that apply to `unit`), the unit's standing in the period before the
    current one while that period is still open for it (its deadline ahead, or chased by the sweep), met or not;
    a period under a dispensation for the unit is left out."""
    windows: dict[str, tuple[str, str | None, bool]] = {}
    for program in programs:
        period = previous_period(current_period(program, today))
        window = previous_window(pemda, calendar, today, program)
        if window is not None or program.deadline_of(period) >= today:
            windows[program.key] = (period, window, program.deadline_of(period) >= today)
    if not windows or unit.id is None:
        return {}
    chosen = [p for p in programs if p.key in windows]
    periods = {key: period for key, (period, _window, _open) in windows.items()}
    standings = load_standings(session, pemda, [unit], today, chosen, periods)
    letters = _letters(session, unit.id, periods)
    freed = _dispensed(session, unit.id, periods)
    found: dict[str, Owed] = {}
    for key, (_period, window, open_) in windows.items():
        standing = standings.get((unit.id, key))
        if standing is None or key in freed:
            continue
        under_way = tuple(stage for stage, _status in letters.get(key, ()))
        sent = tuple(stage for stage, status in letters.get(key, ()) if status != LetterStatus.DRAFT.value)
        chased = window == RUNNING or (window == FOLLOW_UP and bool(under_way))
        if chased or open_:
            found[key] = Owed(standing, chased, under_way, standing.deadline < today, sent)
    return found


def owed_period(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    unit: UnitKind,
    today: date,
    program: ProgramConfig,
) -> Owed | None:
    """The unit's owed previous period of `program` (`previous_open`, not met), or None."""
    owed = previous_open(session, pemda, calendar, unit, today, [program]).get(program.key)
    return owed if owed is not None and owed.owing else None


def _letters(session: Session, unit_id: int, periods: dict[str, str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per program key, (stage, status) of the unit's letters of that period not cancelled (nor restarted)."""
    rows = session.execute(
        sa_select(col(LetterItem.program_key), col(LetterItem.period), col(LetterItem.stage), col(Letter.status))
        .join(Letter, col(Letter.id) == col(LetterItem.letter_id))
        .where(
            col(LetterItem.unit_id) == unit_id,
            col(LetterItem.program_key).in_(list(periods)),
            col(LetterItem.period).in_(set(periods.values())),
            col(Letter.restarted_at).is_(None),
            col(Letter.status) != LetterStatus.CANCELLED.value,
        )
        .order_by(col(Letter.id))
    ).all()
    found: dict[str, tuple[tuple[str, str], ...]] = {}
    for key, period, stage, status in rows:
        if periods.get(key) == period:
            found[key] = (*found.get(key, ()), (stage, status))
    return found


def _dispensed(session: Session, unit_id: int, periods: dict[str, str]) -> set[str]:
    """The program keys whose period in `periods` the unit has a live dispensation for."""
    rows = session.execute(
        sa_select(col(Pause.program_key), col(Pause.period)).where(
            col(Pause.unit_id) == unit_id,
            col(Pause.kind) == PAUSE_DISPENSASI,
            col(Pause.revoked_at).is_(None),
            col(Pause.program_key).in_(list(periods)),
        )
    ).all()
    return {key for key, period in rows if periods.get(key) == period}
