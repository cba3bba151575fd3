"""A program's history: each unit's figure at past dates, rebuilt from the reports with the standing's own rule.

A unit's figure at the end of a day is its latest counting report whose moment (`coalesce(observed_at, created_at)`)
falls on or before that day; withdrawn and rejected reports never count (`models.standing`'s helpers, reused).
Submissions count up one by one; a checklist unit's figure is its items whose latest report says "selesai".
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, DateTime, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.pemda import ProgramConfig
from models.standing import DONE, FEW_UNITS, Standing, _latest, _not_rejected, _when
from models.tables import ChecklistItem, Report, ReportSource, Verification


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after local day `day` (a report counts at `day` when its moment is before this)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


@dataclass(frozen=True)
class Snapshot:
    """Every unit's figure at one moment: `values` (None: nothing reported yet) and, for checklists, `verified`."""

    values: dict[int, float | None]
    verified: dict[int, float] = field(default_factory=dict)


@dataclass
class History:
    """The counting reports of one program and period for some units, oldest first, ready to be replayed."""

    program: ProgramConfig
    period: str
    unit_ids: tuple[int, ...]
    items: dict[int, frozenset[str]] = field(default_factory=dict)
    """Checklist programs: the item codes each unit answers for."""
    events: list[tuple[datetime, int, int, str, float, bool]] = field(default_factory=list)
    """(moment, report id, unit id, item code, value, verified), sorted by moment then id."""

    def standings(self, unit_ids: Sequence[int], deadline: date) -> dict[int, Standing]:
        """Each of `unit_ids`' standing now, replayed from these reports, in their order: for a count, percent or
        submission program without required verification the same as `load_standings` (the same reports count, the
        latest by moment then id), so a Pemda-wide view reads the reports once instead of twice."""
        program, measure = self.program, self.program.measure
        if measure == "checklist" or program.verification == "required":
            raise ValueError(f"{program.key}: a checklist or verified program's standing needs `load_standings`")
        latest: dict[int, tuple[float, datetime]] = {}
        if measure == "submission":
            for at, _id, unit_id, _code, _one, _checked in self.events:
                count = latest[unit_id][0] + 1 if unit_id in latest else 1.0
                latest[unit_id] = (count, at)
        else:
            for at, _id, unit_id, _code, value, _checked in self.events:
                latest[unit_id] = (value, at)
        missing = 0.0 if measure == "submission" else None
        period, target = self.period, program.target
        found: dict[int, Standing] = {}
        for unit_id in unit_ids:
            now = latest.get(unit_id)
            if now is None:
                found[unit_id] = Standing(program, unit_id, period, deadline, missing, target, None)
            else:
                found[unit_id] = Standing(program, unit_id, period, deadline, now[0], target, _aware(now[1]))
        return found

    @property
    def first_moment(self) -> datetime | None:
        """The moment of the earliest counting report (aware, UTC)."""
        return _aware(self.events[0][0]) if self.events else None

    def snapshots(self, moments: Iterable[datetime]) -> list[Snapshot]:
        """Each unit's figure just before each of `moments` (aware, given in ascending order)."""
        measure = self.program.measure
        values: dict[int, float | None] = dict.fromkeys(self.unit_ids, 0.0 if measure == "submission" else None)
        item_state: dict[tuple[int, str], tuple[float, bool]] = {}
        result: list[Snapshot] = []
        index, events = 0, self.events
        naive = bool(events) and events[0][0].tzinfo is None  # SQLite hands back naive UTC (see `_moment`)
        for aware in moments:
            moment = aware.astimezone(UTC).replace(tzinfo=None) if naive else aware
            while index < len(events) and events[index][0] < moment:
                _when_at, _id, unit_id, code, value, verified = events[index]
                index += 1
                if measure == "submission":
                    values[unit_id] = (values.get(unit_id) or 0.0) + 1
                elif measure == "checklist":
                    item_state[(unit_id, code)] = (value, verified)
                else:
                    values[unit_id] = value
            if measure != "checklist":
                result.append(Snapshot(dict(values)))
                continue
            done: dict[int, float] = dict.fromkeys(self.unit_ids, 0.0)
            checked: dict[int, float] = dict.fromkeys(self.unit_ids, 0.0)
            for (unit_id, _code), (value, verified) in item_state.items():
                done[unit_id] += value
                checked[unit_id] += value if verified else 0.0
            result.append(Snapshot(dict(done), checked))
        return result


def _moment() -> ColumnElement[datetime]:
    """The moment a report describes, as the driver gives it: naive UTC on SQLite, aware on PostgreSQL. Replaying a
    Pemda's history reads tens of thousands of them; the UTC column type would touch each one in Python."""
    return type_coerce(_when(), DateTime(timezone=True))


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def counted(program: ProgramConfig, period: str) -> list[ColumnElement[bool]]:
    """The reports of `program` and `period` that count: never withdrawn or rejected (`models.standing`'s rule);
    with verification "required" only those a verifier accepted, and imported figures."""
    found = [col(Report.program_key) == program.key, col(Report.period) == period, _not_rejected()]
    if program.verification == "required":
        accepted = col(Report.verification) == Verification.VERIFIED.value
        found.append(accepted | (col(Report.source) == ReportSource.IMPORT.value))
    return found


def load_history(session: Session, program: ProgramConfig, period: str, unit_ids: Collection[int]) -> History:
    """The counting reports of `program` in `period` for `unit_ids` (a checklist: the units' own items only), in
    one pass over the program's reports (up to `FEW_UNITS` units: only theirs), oldest first."""
    wanted = set(unit_ids)
    history = History(program, period, tuple(sorted(wanted)))
    verified = Verification.VERIFIED.value
    base = counted(program, period)
    if len(wanted) <= FEW_UNITS:
        base.append(col(Report.unit_id).in_(wanted))
    moment = _moment()
    order = (moment, col(Report.id))  # oldest first: the database sorts faster than Python
    events = history.events
    if program.measure == "checklist":
        items: dict[int, set[str]] = defaultdict(set)
        for unit_id, code in session.exec(
            select(ChecklistItem.unit_id, ChecklistItem.code).where(
                ChecklistItem.program_key == program.key, ChecklistItem.period == period
            )
        ):
            if unit_id in wanted:
                items[unit_id].add(code)
        history.items = {unit_id: frozenset(codes) for unit_id, codes in items.items()}
        rows = session.execute(
            sa_select(
                moment,
                col(Report.id),
                col(Report.unit_id),
                col(Report.item_code),
                col(Report.item_status),
                col(Report.verification),
            )
            .where(*base, col(Report.item_code).is_not(None))
            .order_by(*order)
        )
        for at, report_id, unit_id, code, status, check in rows:
            if code in history.items.get(unit_id, ()):
                done = 1.0 if status == DONE else 0.0
                events.append((at, report_id, unit_id, code or "", done, check == verified))
    elif program.measure == "submission":
        rows_s = session.execute(
            sa_select(moment, col(Report.id), col(Report.unit_id), col(Report.verification))
            .where(*base, col(Report.title).is_not(None))
            .order_by(*order)
        )
        for at, report_id, unit_id, check in rows_s:
            if unit_id in wanted:
                events.append((at, report_id, unit_id, "", 1.0, check == verified))
    else:
        rows_v = session.execute(
            sa_select(moment, col(Report.id), col(Report.unit_id), col(Report.value), col(Report.verification))
            .where(*base, col(Report.value).is_not(None))
            .order_by(*order)
        )
        for at, report_id, unit_id, value, check in rows_v:
            if unit_id in wanted:
                events.append((at, report_id, unit_id, "", float(value or 0), check == verified))
    return history


def values_before(session: Session, program: ProgramConfig, period: str, cutoff: datetime) -> dict[int, float]:
    """Every unit's figure of a value program (count, percent) just before `cutoff`, in one query (the sweep's pace)."""
    filters = (*counted(program, period), col(Report.value).is_not(None), _when() < cutoff)
    latest = _latest((col(Report.unit_id),), *filters)
    rows = session.exec(select(Report.unit_id, Report.value).where(col(Report.id).in_(latest)))
    return {unit_id: float(value or 0) for unit_id, value in rows}


def spend_weights(snapshot: str, unit_ids: Mapping[str, int]) -> dict[int, float]:
    """Per-unit spend (the weight of a P3DN share) from a figure import's snapshot, when it carries one.

    The snapshot is the import's JSON; spend per unit code under "belanja" (the P3DN denominator, in rupiah), e.g.
    `{"unit": {"DINKES": {"p3dn": 42.5}}, "belanja": {"DINKES": 1250000000}}`. `unit_ids` maps codes to unit ids;
    units without a positive spend are left out.
    """
    try:
        data = json.loads(snapshot or "{}")
    except ValueError:
        return {}
    spend = data.get("belanja") if isinstance(data, dict) else None
    if not isinstance(spend, dict):
        return {}
    found: dict[int, float] = {}
    for code, amount in spend.items():
        unit_id = unit_ids.get(str(code).upper())
        if unit_id is not None and isinstance(amount, int | float) and not isinstance(amount, bool) and amount > 0:
            found[unit_id] = float(amount)
    return found
