"""Where each unit stands on each program: the rule that decides compliance, loaded in bulk."""

from __future__ import annotations

import contextlib
import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

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


def counting(program: ProgramConfig) -> ColumnElement[bool]:
    """The reports that count for `program`: with verification "required" only verified ones (and imports), else every
    one not rejected; never a withdrawn one."""
    if program.verification == "required":
        return _verified() & col(Report.withdrawn_at).is_(None)
    return _not_rejected()


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
    kinds = {kind for _uid, kind in pairs}
    for program in programs if programs is not None else pemda.programs:
        period = periods[program.key] if periods and program.key in periods else current_period(program, today)
        deadline = program.deadline_of(period)
        if program.measure == "checklist":
            _checklist(session, program, period, deadline, wanted, few, result)
            continue
        applying = {kind for kind in kinds if program.applies(kind)}
        applicable = [uid for uid, kind in pairs] if applying == kinds else [u for u, k in pairs if k in applying]
        if not applicable:
            continue
        values: dict[int, tuple[float, datetime]] = {}
        counts = counting(program)
        if few:  # a command about one unit (or a kecamatan) reads only their reports
            counts = counts & col(Report.unit_id).in_(applicable)
        if program.measure == "submission":
            stmt = (
                sa_select(col(Report.unit_id), func.count(), func.max(col(Report.created_at)))
                .where(col(Report.program_key) == program.key, col(Report.period) == period, counts)
                .where(col(Report.title).is_not(None))
                .group_by(col(Report.unit_id))
            )
            for unit_id, count, last in session.execute(stmt):
                values[unit_id] = (float(count), last)
        else:
            latest = _ranked(
                (col(Report.unit_id), col(Report.value), _when().label("at")),
                col(Report.program_key) == program.key,
                col(Report.period) == period,
                counts,
                col(Report.value).is_not(None),
            )
            for unit_id, value, created in session.execute(latest):
                values[unit_id] = (float(value or 0), created)
        mine = applicable if few else None
        waiting = _waiting_values(session, program, period, mine) if program.verification == "required" else {}
        key, target = program.key, program.target
        missing = 0.0 if program.measure == "submission" else None
        for unit_id in applicable:
            value_at = values.get(unit_id)
            if value_at is None:
                standing = Standing(program, unit_id, period, deadline, missing, target, None)
            else:
                standing = Standing(program, unit_id, period, deadline, value_at[0], target, value_at[1])
            if waiting and unit_id in waiting:
                extra = waiting[unit_id]
                pending = (standing.value or 0) + extra if program.measure == "submission" else extra
                standing = standing._replace(pending=pending)
            result[(unit_id, key)] = standing
    return result


def _waiting_values(
    session: Session, program: ProgramConfig, period: str, unit_ids: Sequence[int] | None = None
) -> dict[int, float]:
    """Per unit (of `unit_ids`, default every unit), what waits for the verifier: the figure waiting (when it is the
    latest one, verified or waiting), or the number of submissions waiting."""
    found: dict[int, float] = {}
    waits = (col(Report.verification) == Verification.PENDING.value) & col(Report.withdrawn_at).is_(None)
    if unit_ids is not None:
        waits = waits & col(Report.unit_id).in_(unit_ids)
    if program.measure == "submission":
        stmt = (
            select(Report.unit_id, func.count())
            .where(Report.program_key == program.key, Report.period == period, waits, col(Report.title).is_not(None))
            .group_by(col(Report.unit_id))
        )
        for unit_id, count in session.exec(stmt):
            found[unit_id] = float(count)
        return found
    filters = [col(Report.program_key) == program.key, col(Report.period) == period, _counting_or_waiting()]
    filters.append(col(Report.value).is_not(None))
    if unit_ids is not None:
        filters.append(col(Report.unit_id).in_(unit_ids))
    latest = _latest((col(Report.unit_id),), *filters)
    rows = session.exec(select(Report.unit_id, Report.value, Report.verification).where(col(Report.id).in_(latest)))
    for unit_id, value, verification in rows:
        if verification == Verification.PENDING.value:
            found[unit_id] = float(value or 0)
    return found


def _checklist(
    session: Session,
    program: ProgramConfig,
    period: str,
    deadline: date,
    wanted: set[int],
    few: bool,
    result: dict[tuple[int, str], Standing],
) -> None:
    stmt = select(ChecklistItem.unit_id, ChecklistItem.code).where(
        ChecklistItem.program_key == program.key, ChecklistItem.period == period
    )
    if few:
        stmt = stmt.where(col(ChecklistItem.unit_id).in_(wanted))
    per_unit: dict[int, list[str]] = defaultdict(list)
    for owner, item_code in session.exec(stmt):
        if owner in wanted:
            per_unit[owner].append(item_code)
    if not per_unit:
        return
    scope: tuple[ColumnElement[bool], ...] = (
        col(Report.program_key) == program.key,
        col(Report.period) == period,
        col(Report.item_code).is_not(None),
    )
    if few:
        scope += (col(Report.unit_id).in_(list(per_unit)),)
    latest = _latest((col(Report.unit_id), col(Report.item_code)), *scope, counting(program))
    status: dict[tuple[int, str], tuple[str, datetime, int]] = {}
    for unit_id, code, item_status, created, report_id in session.execute(
        sa_select(col(Report.unit_id), col(Report.item_code), col(Report.item_status), _when(), col(Report.id)).where(
            col(Report.id).in_(latest)
        )
    ):
        status[(unit_id, code or "")] = (item_status or "", created, report_id)
    live: dict[tuple[int, str], tuple[str, Any, int]] = dict(status)
    required = program.verification == "required"
    if required:  # the latest report verified or waiting, per item: a waiting one is "diunggah"
        live = {}
        latest = _latest((col(Report.unit_id), col(Report.item_code)), *scope, _counting_or_waiting())
        for unit_id, code, item_status, verification, report_id in session.execute(
            sa_select(
                col(Report.unit_id),
                col(Report.item_code),
                col(Report.item_status),
                col(Report.verification),
                col(Report.id),
            ).where(col(Report.id).in_(latest))
        ):
            live[(unit_id, code or "")] = (item_status or "", verification, report_id)
    rejected: dict[tuple[int, str], int] = {}
    for unit_id, code, report_id in session.exec(
        select(Report.unit_id, Report.item_code, func.max(Report.id))
        .where(*scope, Report.verification == Verification.REJECTED.value, col(Report.withdrawn_at).is_(None))
        .group_by(col(Report.unit_id), col(Report.item_code))
    ):
        rejected[(unit_id, code or "")] = report_id or 0
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
