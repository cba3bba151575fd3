"""Dispensations and /proses pauses as every view reads them: /status, /rekap and /peringkat in chat, the dashboard
and the status workbook (`models.status_book`) share these rules, so none of them disagrees with another.

A unit's program carries at most one mark (`marks_for`): an admin's dispensation (/dispensasi), which exempts the
unit, or 'sedang diproses' (/proses) until a date, which only holds reminders back. `state_of` says where a unit
stands with its mark, `in_group` and `tally` count a program's units the way /rekap does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from models.calendar import WorkingCalendar
from models.db import rows
from models.fmt import periode, tanggal_pendek
from models.ladder import PAUSE_DISPENSASI, PAUSE_PROSES, RUNNING, previous_window
from models.pemda import PemdaConfig, ProgramConfig
from models.periods import previous_period
from models.standing import FEW_UNITS, Standing, current_period
from models.tables import Pause

Standings = Mapping[tuple[int, str], Standing]
"""Standings keyed by (unit id, program key), as `models.standing.load_standings` gives them."""


def chased_periods(pemda: PemdaConfig, calendar: WorkingCalendar, today: date, program: ProgramConfig) -> list[str]:
    """The periods whose ladder the sweep still runs: the current one, and the one before while its last rung
    is not over (a deadline '+10' after a month keeps November's warnings going in December)."""
    current = current_period(program, today)
    if previous_window(pemda, calendar, today, program) == RUNNING:  # the sweep's own rule (`due_stages`)
        return [previous_period(current), current]
    return [current]


class PauseMark(NamedTuple):
    """A unit's program under an admin's dispensation, or 'sedang diproses' (/proses) until a date."""

    kind: str
    """PAUSE_DISPENSASI or PAUSE_PROSES."""
    period: str
    until: date | None
    reason: str

    def exempts(self, standing: Standing) -> bool:
        """Whether the unit is not behind on `standing` because of this mark: a dispensation of the period shown."""
        return self.kind == PAUSE_DISPENSASI and self.period == standing.period

    def text(self, standing: Standing) -> str:
        """The one wording /status and /rekap share: 'dispensasi (alasan: …)', 'sedang diproses s.d. 5 Des 2026'.

        A mark of another period than the one shown (the previous period, while its ladder still runs) names it.
        """
        other = f" {periode(self.period)}" if self.period != standing.period else ""
        why = f" (alasan: {self.reason})" if self.reason else ""
        if self.kind == PAUSE_DISPENSASI:
            return f"dispensasi{other}{why}"
        until = f" s.d. {tanggal_pendek(self.until)}" if self.until is not None else ""
        return f"sedang diproses{other}{until}{why}"


def marks_for(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    today: date,
    standings: Standings,
    units: Iterable[int] | None = None,
) -> dict[tuple[int, str], PauseMark]:
    """The dispensations and /proses pauses of the units and programs of `standings`, keyed like them.

    Only the periods the bot is chasing count (`chased_periods`: the current period, and the one before while its
    ladder runs), a revoked dispensation never, a pause only until its date. When a unit has several, the one about
    the period shown wins, then a dispensation over a pause. `units`: those asked about, when the caller read
    their marks ahead (`marks_read`; default: the units of `standings`).
    """
    if not standings:
        return {}
    wanted = set(units) if units is not None else {uid for uid, _key in standings}
    if len(wanted) <= FEW_UNITS:  # one unit, a kecamatan: only their rows, whatever the Pemda's size
        periods, read = _few_marks_read(pemda, calendar, today, wanted)
    else:
        programs = {s.program.key: s.program for s in standings.values()}
        periods = {key: chased_periods(pemda, calendar, today, program) for key, program in programs.items()}
        chased = sorted({period for each in periods.values() for period in each})
        read = _marks_statement(False), {"programs": list(programs), "periods": chased}
    found: dict[tuple[int, str], tuple[tuple[bool, bool], PauseMark]] = {}
    for unit_id, program_key, period, kind, until, reason in rows(session, *read):
        key = (unit_id, program_key)
        standing = standings.get(key)
        if standing is None or period not in periods[program_key]:
            continue
        if kind == PAUSE_PROSES and (until is None or until < today):
            continue
        rank = (period == standing.period, kind == PAUSE_DISPENSASI)
        if key not in found or rank >= found[key][0]:
            found[key] = (rank, PauseMark(kind, period, until, reason))
    return {key: mark for key, (_rank, mark) in found.items()}


def marks_read(
    pemda: PemdaConfig, calendar: WorkingCalendar, today: date, units: Iterable[int]
) -> list[tuple[Any, dict[str, Any]]]:
    """The read `marks_for` makes for a few units (every program's chased periods), for `read_ahead`; none for
    more."""
    wanted = set(units)
    return [_few_marks_read(pemda, calendar, today, wanted)[1]] if 0 < len(wanted) <= FEW_UNITS else []


def _few_marks_read(
    pemda: PemdaConfig, calendar: WorkingCalendar, today: date, units: set[int]
) -> tuple[dict[str, list[str]], tuple[Any, dict[str, Any]]]:
    """The chased periods of every program, and the statement with its values reading the marks of a few `units`
    (every program's: a unit's rows are few, and the read does not wait for the standings)."""
    periods = {program.key: chased_periods(pemda, calendar, today, program) for program in pemda.programs}
    chased = sorted({period for each in periods.values() for period in each})
    params = {"programs": list(periods), "periods": chased, "units": sorted(units)}
    return periods, (_marks_statement(True), params)


@functools.cache
def _marks_statement(few: bool) -> Any:
    """The live dispensations and pauses of the programs `:programs` in the periods `:periods` (of the units `:units`
    when `few`), oldest first: built once, run with bound values."""
    columns = (Pause.unit_id, Pause.program_key, Pause.period, Pause.kind, Pause.until, Pause.reason)
    stmt = sa_select(*(col(c) for c in columns)).where(
        col(Pause.revoked_at).is_(None),
        col(Pause.kind).in_((PAUSE_DISPENSASI, PAUSE_PROSES)),
        col(Pause.program_key).in_(bindparam("programs", expanding=True)),
        col(Pause.period).in_(bindparam("periods", expanding=True)),
    )
    if few:
        stmt = stmt.where(col(Pause.unit_id).in_(bindparam("units", expanding=True)))
    return stmt.order_by(col(Pause.id))


def exempt_and_paused(
    standings: Standings, marks: Mapping[tuple[int, str], PauseMark]
) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
    """The keys of `standings` a dispensation exempts, and those 'sedang diproses', as `tally` takes them."""
    exempt = {key for key, mark in marks.items() if key in standings and mark.exempts(standings[key])}
    paused = {key for key, mark in marks.items() if mark.kind == PAUSE_PROSES}
    return exempt, paused


def state_of(standing: Standing, pause: PauseMark | None, today: date) -> str:
    """Where a unit stands on one program, as /status marks it: 'memenuhi', 'menunggu verifikasi' (the unit sent
    everything; the verifier has yet to decide), 'dispensasi', 'terlambat' (past the deadline) or 'belum'."""
    if standing.compliant:
        return "memenuhi"
    if standing.awaiting:
        return "menunggu verifikasi"
    if pause is not None and pause.exempts(standing):
        return "dispensasi"
    return "terlambat" if standing.deadline < today else "belum"


FILTERS = ("memenuhi", "tertinggal", "menunggu verifikasi", "dispensasi")
"""The groups /rekap counts per program (a unit may be in two: behind, with evidence waiting)."""


def in_group(group: str, standing: Standing, exempt: bool) -> bool:
    """Whether a unit's standing belongs to one of `FILTERS`: 'memenuhi' (compliant), 'tertinggal' (not compliant
    and no dispensation), 'menunggu verifikasi' (not compliant, evidence waiting) or 'dispensasi' (not compliant,
    exempted)."""
    if group == "memenuhi":
        return standing.compliant
    if group == "tertinggal":
        return not standing.compliant and not exempt
    if group == "menunggu verifikasi":
        return not standing.compliant and standing.pending is not None
    return group == "dispensasi" and not standing.compliant and exempt


class Tally(NamedTuple):
    """One program's units by group, as /rekap's summary line counts them."""

    units: int
    compliant: int
    behind: int
    checking: int
    exempt: int
    paused: int
    total: float


def tally(mine: list[Standing], exempt: set[tuple[int, str]], paused: set[tuple[int, str]]) -> Tally:
    """Count one program's standings (`mine`) per group (as `in_group` sorts them, in one pass: a Pemda may have
    30,000 units); `exempt` and `paused` hold (unit id, program key)."""
    compliant = behind = checking = freed = waiting = 0
    total = 0.0
    for s in mine:
        total += s.value or 0
        if s.compliant:
            compliant += 1
            continue
        key = (s.unit_id, s.program.key)
        if key in exempt:
            freed += 1
        else:
            behind += 1
        checking += s.pending is not None
        waiting += key in paused
    return Tally(len(mine), compliant, behind, checking, freed, waiting, total)
