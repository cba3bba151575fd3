"""Where each unit stands on each program: the rule that decides compliance, loaded in bulk."""

from __future__ import annotations

import contextlib
import functools
import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, bindparam, func, literal, null, type_coerce, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.db import core, rows
from models.pemda import PemdaConfig, ProgramConfig
from models.periods import period_key
from models.tables import ChecklistItem, Report, ReportSource, Verification

DONE = "selesai"
ITEM_STATUSES = ("selesai", "proses", "belum")


class Standing(NamedTuple):
    """One unit on one program in one period.

    Immutable; a named tuple rather than a frozen dataclass because a sweep builds one per unit and program
    (120,000 for 30,000 units), and a tuple is about four times faster to build and half the memory.
    """

    program: ProgramConfig
    unit_id: int
    period: str
    deadline: date
    value: float | None
    target: float
    last_report_at: datetime | None
    open_items: tuple[str, ...] = ()
    pending: float | None = None
    """With verification "required": the value if the evidence waiting for the verifier were accepted (the figure
    waiting, the submissions or indicators done counting those waiting); None when nothing waits."""
    waiting_items: tuple[str, ...] = ()
    """Open checklist items whose evidence waits for the verifier ("diunggah")."""
    rejected_items: tuple[str, ...] = ()
    """Open checklist items whose latest evidence the verifier rejected ("ditolak")."""

    @property
    def compliant(self) -> bool:
        """count >= target, percent >= threshold, every checklist item done, N submissions."""
        if self.program.measure == "checklist":
            return not self.open_items
        return self.value is not None and self.value >= self.target

    @property
    def awaiting(self) -> bool:
        """Not compliant, but would be if the evidence waiting for the verifier were accepted: the unit did its part,
        so it gets no reminder, warning or letter while the verifier decides."""
        return self.pending is not None and self.pending >= self.target and not self.compliant


def current_period(program: ProgramConfig, today: date) -> str:
    """The period of `program` that contains `today`."""
    return period_key(program.period, today)


def _when() -> ColumnElement[datetime]:
    """The moment a report describes: the export's date for an imported figure, else when it was sent."""
    return func.coalesce(col(Report.observed_at), col(Report.created_at))


FEW_UNITS = 200
"""Up to this many units, standings read only those units' reports (the unit index); more: one pass over all."""


def _latest(partition: tuple[Any, ...], *filters: Any) -> Any:
    """Ids of the latest report per `partition` among `filters`: by the moment it describes, then by id.

    An imported figure dated 3 December wins over a chat report of 1 December sent after the import; a unit's
    chat report of 5 December wins over both.
    """
    rank = func.row_number().over(partition_by=partition, order_by=(_when().desc(), col(Report.id).desc()))
    ranked = select(col(Report.id).label("id"), rank.label("rank")).where(*filters).subquery()
    return select(ranked.c.id).where(ranked.c.rank == 1)


def _ranked(columns: tuple[Any, ...], *filters: Any) -> Any:
    """`columns` of the latest report per unit among `filters` (as `_latest` ranks them), read straight from the
    ranking: PostgreSQL answers a Pemda of 30,000 units in a third of the time a join back by id takes."""
    rank = func.row_number().over(partition_by=col(Report.unit_id), order_by=(_when().desc(), col(Report.id).desc()))
    ranked = sa_select(*columns, rank.label("rank")).where(*filters).subquery()
    return sa_select(*(ranked.c[c.key] for c in columns)).where(ranked.c.rank == 1)


def _not_rejected() -> ColumnElement[bool]:
    """Reports that count: not rejected by a verifier and not withdrawn."""
    return (col(Report.verification) != Verification.REJECTED.value) & col(Report.withdrawn_at).is_(None)


def _verified() -> ColumnElement[bool]:
    """Reports a verifier accepted, and figures imported from the official systems (they need no evidence)."""
    return (col(Report.verification) == Verification.VERIFIED.value) | (col(Report.source) == ReportSource.IMPORT.value)


def _counts(required: bool) -> ColumnElement[bool]:
    """The reports that count for a program: with verification "required" only verified ones (and imports), else
    every one not rejected; never a withdrawn one."""
    return _verified() & col(Report.withdrawn_at).is_(None) if required else _not_rejected()


def _counting_or_waiting() -> ColumnElement[bool]:
    """Verified reports and those whose evidence waits for the verifier (not withdrawn)."""
    return (_verified() | (col(Report.verification) == Verification.PENDING.value)) & col(Report.withdrawn_at).is_(None)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a Pemda-wide answer is built, back on after (unless it was off).

    Standings of 30,000 units are some 100,000 small objects that live until the answer is sent; the collector would
    walk them (and everything else alive) over and over, a quarter of the time. Reference counting still frees what
    is dropped on the way; the few cycles wait for the next collection. The sweep pauses it too (its few hundred
    thousand objects: a quarter of its time at 30,000 units).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class UnitKind(Protocol):
    """What standings read of a unit: its id and its kind (a `Unit`, or a lighter row of the Pemda-wide views)."""

    @property
    def id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...


def load_standings(
    session: Session,
    pemda: PemdaConfig,
    units: Sequence[UnitKind],
    today: date,
    programs: Iterable[ProgramConfig] | None = None,
    periods: Mapping[str, str] | None = None,
) -> dict[tuple[int, str], Standing]:
    """Standings of `units` on every program that applies to them, keyed by (unit id, program key).

    Each program is read for its current period, or for `periods[program.key]` when given (the sweep
    also reads the period before, while that period's deadline ladder is still running). Up to `FEW_UNITS` units
    (a command about one unit or a kecamatan) only their own rows are read, so such a command costs the same in a
    Pemda of 500 units and of 30,000; more are read in one pass per program.
    """
    pairs = [(unit.id, unit.kind) for unit in units if unit.id is not None]
    if len(pairs) <= FEW_UNITS:
        return _load(session, pemda, pairs, today, programs, periods)
    with collector_paused():
        return _load(session, pemda, pairs, today, programs, periods)


def applicable_programs(
    session: Session, pemda: PemdaConfig, unit: UnitKind, today: date, programs: Iterable[ProgramConfig] | None = None
) -> list[ProgramConfig]:
    """The programs (of `programs`, default all) `unit` has a standing on today, as `load_standings` gives them: those
    that apply to its kind, a checklist program when it has items in the current period. Without reading reports."""
    found = []
    for program in programs if programs is not None else pemda.programs:
        if program.measure == "checklist":
            params = {"pk": program.key, "period": current_period(program, today), "units": [unit.id]}
            if core(session).execute(_items_exist_statement(), params).first() is not None:
                found.append(program)
        elif program.applies(unit.kind):
            found.append(program)
    return found


def _load(
    session: Session,
    pemda: PemdaConfig,
    pairs: list[tuple[int, str]],
    today: date,
    programs: Iterable[ProgramConfig] | None,
    periods: Mapping[str, str] | None,
) -> dict[tuple[int, str], Standing]:
    result: dict[tuple[int, str], Standing] = {}
    wanted = {uid for uid, _kind in pairs}
    few = len(wanted) <= FEW_UNITS
    plan = _plan(pemda, pairs, today, programs, periods)
    # A command about one unit (or a kecamatan) reads only their reports, every program's values in one statement
    figures = [step for step in plan if step[2]]
    prefetched = _few_values(session, figures) if few and figures else {}
    for program, period, applicable in plan:
        deadline = program.deadline_of(period)
        if program.measure == "checklist":
            _checklist(session, program, period, deadline, wanted, few, result)
            continue
        values: dict[int, tuple[float, datetime]] = {}
        required = program.verification == "required"
        submission = program.measure == "submission"
        if few:
            values = prefetched[program.key]
        else:  # one pass over the whole Pemda per program
            params = {"pk": program.key, "period": period}
            for unit_id, value, at in core(session).execute(_values_statement(submission, required, False), params):
                values[unit_id] = (float(value or 0), at)
        waiting = _waiting_values(session, program, period, applicable if few else None) if required else {}
        key, target = program.key, program.target
        missing = 0.0 if submission else None
        for unit_id in applicable:
            value_at = values.get(unit_id)
            if value_at is None:
                standing = Standing(program, unit_id, period, deadline, missing, target, None)
            else:
                standing = Standing(program, unit_id, period, deadline, value_at[0], target, value_at[1])
            if waiting and unit_id in waiting:
                extra = waiting[unit_id]
                pending = (standing.value or 0) + extra if submission else extra
                standing = standing._replace(pending=pending)
            result[(unit_id, key)] = standing
    return result


def _plan(
    pemda: PemdaConfig,
    pairs: list[tuple[int, str]],
    today: date,
    programs: Iterable[ProgramConfig] | None,
    periods: Mapping[str, str] | None,
) -> list[tuple[ProgramConfig, str, list[int]]]:
    """Per program: the period read, and the units (of `pairs`) it applies to (a checklist's: none, its items
    say)."""
    kinds = {kind for _uid, kind in pairs}
    plan: list[tuple[ProgramConfig, str, list[int]]] = []
    for program in programs if programs is not None else pemda.programs:
        period = periods[program.key] if periods and program.key in periods else current_period(program, today)
        if program.measure == "checklist":
            plan.append((program, period, []))
            continue
        applying = {kind for kind in kinds if program.applies(kind)}
        applicable = [uid for uid, kind in pairs] if applying == kinds else [u for u, k in pairs if k in applying]
        if applicable:
            plan.append((program, period, applicable))
    return plan


def standing_reads(
    pemda: PemdaConfig,
    units: Sequence[UnitKind],
    today: date,
    programs: Iterable[ProgramConfig] | None = None,
    periods: Mapping[str, str] | None = None,
) -> list[tuple[Any, dict[str, Any]]]:
    """The reads `load_standings` makes for a few units (each with its values), for `read_ahead`; none for more."""
    pairs = [(unit.id, unit.kind) for unit in units if unit.id is not None]
    if not pairs or len({uid for uid, _kind in pairs}) > FEW_UNITS:
        return []
    plan = _plan(pemda, pairs, today, programs, periods)
    wanted = [uid for uid, _kind in pairs]
    reads = []
    if figures := [step for step in plan if step[2]]:
        reads.append(_few_values_read(figures))
    for program, period, applicable in plan:
        if program.measure == "checklist":
            reads.append(_few_checklist_read(program, period, set(wanted), program.verification == "required"))
        elif program.verification == "required":
            reads.append(_waiting_read(program, period, applicable))
    return reads


# The statements below are built once per shape and reused with bound values (program key, period, the units of a
# command about a few units): building and keying an SQL expression costs more than running it on the unit index.


def _scope(few: bool, *extra: ColumnElement[bool], part: str = "") -> tuple[ColumnElement[bool], ...]:
    """Reports of the program `:pk` in the period `:period` (of the units `:units` when `few`), and `extra`; the
    parameters named with `part` appended (one part of a union)."""
    scope = (
        col(Report.program_key) == bindparam(f"pk{part}"),
        col(Report.period) == bindparam(f"period{part}"),
        *extra,
    )
    if few:
        scope += (col(Report.unit_id).in_(bindparam(f"units{part}", expanding=True)),)
    return scope


@functools.cache
def _values_statement(submission: bool, required: bool, few: bool, part: str = "") -> Any:
    """(unit id, value, moment) per unit: the submissions that count and the last one's time, or the latest figure
    that counts."""
    counts = _counts(required)
    if submission:
        return (
            sa_select(col(Report.unit_id), func.count(), func.max(col(Report.created_at)))
            .where(*_scope(few, counts, col(Report.title).is_not(None), part=part))
            .group_by(col(Report.unit_id))
        )
    columns = (col(Report.unit_id), col(Report.value), _when().label("at"))
    return _ranked(columns, *_scope(few, counts, col(Report.value).is_not(None), part=part))


@functools.cache
def _few_values_statement(shapes: tuple[tuple[bool, bool], ...]) -> Any:
    """`_values_statement` of several programs (their (submission, required) shapes) for a few units, in one
    statement: (part, unit id, value, moment), `part` the program's place in `shapes` (its parameters end in it)."""
    parts = []
    for i, (submission, required) in enumerate(shapes):
        one = _values_statement(submission, required, True, str(i)).subquery(f"part{i}")
        parts.append(sa_select(literal(i).label("part"), *one.c))
    return union_all(*parts)


def _few_values_read(wanted: Sequence[tuple[ProgramConfig, str, list[int]]]) -> tuple[Any, dict[str, Any]]:
    """`_few_values`' statement and its values."""
    params: dict[str, Any] = {}
    for i, (program, period, units) in enumerate(wanted):
        params |= {f"pk{i}": program.key, f"period{i}": period, f"units{i}": units}
    shapes = tuple((program.measure == "submission", program.verification == "required") for program, *_ in wanted)
    return _few_values_statement(shapes), params


def _few_values(
    session: Session, wanted: Sequence[tuple[ProgramConfig, str, list[int]]]
) -> dict[str, dict[int, tuple[float, datetime]]]:
    """(value, moment) per unit of each program in `wanted` (program, period, its units): one round trip for all."""
    found: dict[str, dict[int, tuple[float, datetime]]] = {program.key: {} for program, *_ in wanted}
    for part, unit_id, value, at in rows(session, *_few_values_read(wanted)):
        found[wanted[part][0].key][unit_id] = (float(value or 0), at)
    return found


@functools.cache
def _waiting_statement(submission: bool, few: bool) -> Any:
    """Submission programs: (unit id, submissions waiting); else (unit id, value, verification) of the latest figure
    verified or waiting."""
    if submission:
        waits = (col(Report.verification) == Verification.PENDING.value) & col(Report.withdrawn_at).is_(None)
        return (
            sa_select(col(Report.unit_id), func.count())
            .where(*_scope(few, waits, col(Report.title).is_not(None)))
            .group_by(col(Report.unit_id))
        )
    latest = _latest((col(Report.unit_id),), *_scope(few, _counting_or_waiting(), col(Report.value).is_not(None)))
    return sa_select(col(Report.unit_id), col(Report.value), col(Report.verification)).where(col(Report.id).in_(latest))


def _waiting_read(
    program: ProgramConfig, period: str, unit_ids: Sequence[int] | None
) -> tuple[Any, dict[str, Any]]:
    """`_waiting_values`' statement and its values."""
    params: dict[str, Any] = {"pk": program.key, "period": period}
    if unit_ids is not None:
        params["units"] = list(unit_ids)
    return _waiting_statement(program.measure == "submission", unit_ids is not None), params


def _waiting_values(
    session: Session, program: ProgramConfig, period: str, unit_ids: Sequence[int] | None = None
) -> dict[int, float]:
    """Per unit (of `unit_ids`, default every unit), what waits for the verifier: the figure waiting (when it is the
    latest one, verified or waiting), or the number of submissions waiting."""
    found: dict[int, float] = {}
    read = rows(session, *_waiting_read(program, period, unit_ids))
    if program.measure == "submission":
        for unit_id, count in read:
            found[unit_id] = float(count)
        return found
    for unit_id, value, verification in read:
        if verification == Verification.PENDING.value:
            found[unit_id] = float(value or 0)
    return found


@functools.cache
def _checklist_statements(required: bool, few: bool) -> tuple[Any, Any, Any, Any]:
    """The checklist's four readings: the units' items; per item the latest report that counts (status, moment,
    id); the latest verified or waiting (status, verification, id); the newest rejected report's id."""
    items = sa_select(col(ChecklistItem.unit_id), col(ChecklistItem.code)).where(
        col(ChecklistItem.program_key) == bindparam("pk"), col(ChecklistItem.period) == bindparam("period")
    )
    if few:
        items = items.where(col(ChecklistItem.unit_id).in_(bindparam("units", expanding=True)))
    per_item = (col(Report.unit_id), col(Report.item_code))
    scope = _scope(few, col(Report.item_code).is_not(None))
    counts = _counts(required)
    status = sa_select(*per_item, col(Report.item_status), _when(), col(Report.id)).where(
        col(Report.id).in_(_latest(per_item, *scope, counts))
    )
    live = sa_select(*per_item, col(Report.item_status), col(Report.verification), col(Report.id)).where(
        col(Report.id).in_(_latest(per_item, *scope, _counting_or_waiting()))
    )
    rejected = (
        sa_select(*per_item, func.max(col(Report.id)))
        .where(
            *scope, col(Report.verification) == Verification.REJECTED.value, col(Report.withdrawn_at).is_(None)
        )
        .group_by(*per_item)
    )
    return items, status, live, rejected


@functools.cache
def _few_checklist_statement(required: bool) -> Any:
    """`_checklist_statements` for a few units in one statement: (part, unit id, item code, status, moment,
    verification, report id), part 0 the items, 1 the latest report that counts, 2 the latest verified or waiting
    (only when `required`), 3 the newest rejected."""
    items, status, live, rejected = _checklist_statements(required, True)
    # A column a part does not have is a NULL of the column's type: the union's columns take their types from the
    # first part, and SQLite hands back a moment as text unless its column says it is one.
    report = Report.__table__.c  # type: ignore[attr-defined]
    item_status, at, verification, report_id = (
        type_coerce(null(), c.type) for c in (report.item_status, report.created_at, report.verification, report.id)
    )
    one = items.subquery("items").c
    parts = [sa_select(literal(0).label("part"), one[0], one[1], item_status, at, verification, report_id)]
    one = status.subquery("status").c
    parts.append(sa_select(literal(1).label("part"), one[0], one[1], one[2], one[3], verification, one[4]))
    if required:
        one = live.subquery("live").c
        parts.append(sa_select(literal(2).label("part"), one[0], one[1], one[2], at, one[3], one[4]))
    one = rejected.subquery("rejected").c
    parts.append(sa_select(literal(3).label("part"), one[0], one[1], item_status, at, verification, one[2]))
    return union_all(*parts)


_ChecklistReadings = tuple[
    dict[int, list[str]],
    dict[tuple[int, str], tuple[str, datetime, int]],
    dict[tuple[int, str], tuple[str, Any, int]],
    dict[tuple[int, str], int],
]
"""Per unit its item codes; per (unit, item) the latest report that counts (status, moment, id), the latest verified
or waiting (status, verification, id) and the newest rejected report's id."""


def _few_checklist_read(
    program: ProgramConfig, period: str, wanted: set[int], required: bool
) -> tuple[Any, dict[str, Any]]:
    """`_few_checklist`'s statement and its values."""
    return _few_checklist_statement(required), {"pk": program.key, "period": period, "units": sorted(wanted)}


def _few_checklist(
    session: Session, program: ProgramConfig, period: str, wanted: set[int], required: bool
) -> _ChecklistReadings:
    """`_checklist`'s four readings for a few units in one round trip."""
    per_unit: dict[int, list[str]] = defaultdict(list)
    status: dict[tuple[int, str], tuple[str, datetime, int]] = {}
    live: dict[tuple[int, str], tuple[str, Any, int]] = {}
    rejected: dict[tuple[int, str], int] = {}
    for part, unit_id, code, item_status, at, verification, report_id in rows(
        session, *_few_checklist_read(program, period, wanted, required)
    ):
        if part == 0:
            per_unit[unit_id].append(code)
        elif part == 1:
            status[(unit_id, code or "")] = (item_status or "", at, report_id)
        elif part == 2:
            live[(unit_id, code or "")] = (item_status or "", verification, report_id)
        else:
            rejected[(unit_id, code or "")] = report_id or 0
    return per_unit, status, live if required else dict(status), rejected


@functools.cache
def _items_exist_statement() -> Any:
    """A row when the unit `:units` has checklist items of `:pk` in `:period`."""
    return _checklist_statements(False, True)[0].limit(1)


def _checklist(
    session: Session,
    program: ProgramConfig,
    period: str,
    deadline: date,
    wanted: set[int],
    few: bool,
    result: dict[tuple[int, str], Standing],
) -> None:
    required = program.verification == "required"
    read = _few_checklist if few else _all_checklist
    per_unit, status, live, rejected = read(session, program, period, wanted, required)
    if per_unit:
        _checklist_standings(program, period, deadline, required, per_unit, status, live, rejected, result)


def _all_checklist(
    session: Session, program: ProgramConfig, period: str, wanted: set[int], required: bool
) -> _ChecklistReadings:
    """`_checklist`'s four readings over the whole Pemda (kept to the `wanted` units)."""
    items, latest, latest_live, newest_rejected = _checklist_statements(required, False)
    connection = core(session)
    params: dict[str, Any] = {"pk": program.key, "period": period}
    per_unit: dict[int, list[str]] = defaultdict(list)
    for owner, item_code in connection.execute(items, params):
        if owner in wanted:
            per_unit[owner].append(item_code)
    status: dict[tuple[int, str], tuple[str, datetime, int]] = {}
    live: dict[tuple[int, str], tuple[str, Any, int]] = {}
    rejected: dict[tuple[int, str], int] = {}
    if not per_unit:
        return per_unit, status, live, rejected
    for unit_id, code, item_status, created, report_id in connection.execute(latest, params):
        status[(unit_id, code or "")] = (item_status or "", created, report_id)
    live = dict(status)
    if required:  # the latest report verified or waiting, per item: a waiting one is "diunggah"
        live = {}
        for unit_id, code, item_status, verification, report_id in connection.execute(latest_live, params):
            live[(unit_id, code or "")] = (item_status or "", verification, report_id)
    for unit_id, code, report_id in connection.execute(newest_rejected, params):
        rejected[(unit_id, code or "")] = report_id or 0
    return per_unit, status, live, rejected


def _checklist_standings(
    program: ProgramConfig,
    period: str,
    deadline: date,
    required: bool,
    per_unit: Mapping[int, list[str]],
    status: Mapping[tuple[int, str], tuple[str, datetime, int]],
    live: Mapping[tuple[int, str], tuple[str, Any, int]],
    rejected: Mapping[tuple[int, str], int],
    result: dict[tuple[int, str], Standing],
) -> None:
    """Each unit's checklist standing from its items and the latest, live and newest rejected report per item."""
    for unit_id, codes in per_unit.items():
        done = [c for c in codes if status.get((unit_id, c), ("", None, 0))[0] == DONE]
        times = [status[(unit_id, c)][1] for c in codes if (unit_id, c) in status]
        open_items = tuple(sorted(set(codes) - set(done)))
        waiting = tuple(
            c for c in open_items if required and live.get((unit_id, c), ("", "", 0))[1] == Verification.PENDING.value
        )
        turned_down = tuple(
            c
            for c in open_items
            if c not in waiting and rejected.get((unit_id, c), 0) > live.get((unit_id, c), ("", "", 0))[2]
        )
        result[(unit_id, program.key)] = Standing(
            program=program,
            unit_id=unit_id,
            period=period,
            deadline=deadline,
            value=float(len(done)),
            target=float(len(codes)),
            last_report_at=max(times) if times else None,
            open_items=open_items,
            pending=float(len(done) + len(waiting)) if waiting else None,
            waiting_items=waiting,
            rejected_items=turned_down,
        )
