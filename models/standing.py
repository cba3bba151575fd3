"""Where each unit stands on each program: the rule that decides compliance, loaded in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from models.pemda import PemdaConfig, ProgramConfig
from models.periods import period_key
from models.tables import ChecklistItem, Report, Unit, Verification

DONE = "selesai"
ITEM_STATUSES = ("selesai", "proses", "belum")


@dataclass(frozen=True)
class Standing:
    """One unit on one program in one period."""

    program: ProgramConfig
    unit_id: int
    period: str
    deadline: date
    value: float | None
    target: float
    last_report_at: datetime | None
    open_items: tuple[str, ...] = ()

    @property
    def compliant(self) -> bool:
        """count >= target, percent >= threshold, every checklist item done, N submissions."""
        if self.program.measure == "checklist":
            return not self.open_items
        return self.value is not None and self.value >= self.target


def current_period(program: ProgramConfig, today: date) -> str:
    """The period of `program` that contains `today`."""
    return period_key(program.period, today)


def _not_rejected() -> ColumnElement[bool]:
    return col(Report.verification) != Verification.REJECTED.value


def load_standings(
    session: Session,
    pemda: PemdaConfig,
    units: Sequence[Unit],
    today: date,
    programs: Iterable[ProgramConfig] | None = None,
) -> dict[tuple[int, str], Standing]:
    """Standings of `units` on every program that applies to them, keyed by (unit id, program key)."""
    result: dict[tuple[int, str], Standing] = {}
    wanted = {u.id: u for u in units if u.id is not None}
    for program in programs if programs is not None else pemda.programs:
        period = current_period(program, today)
        deadline = program.deadline_of(period)
        if program.measure == "checklist":
            _checklist(session, program, period, deadline, wanted, result)
            continue
        applicable = [uid for uid, unit in wanted.items() if program.applies(unit.kind)]
        if not applicable:
            continue
        values: dict[int, tuple[float, datetime]] = {}
        if program.measure == "submission":
            stmt = (
                select(Report.unit_id, func.count(), func.max(Report.created_at))
                .where(Report.program_key == program.key, Report.period == period, _not_rejected())
                .where(col(Report.title).is_not(None))
                .group_by(col(Report.unit_id))
            )
            for unit_id, count, last in session.exec(stmt):
                values[unit_id] = (float(count), last)
        else:
            latest = (
                select(func.max(Report.id))
                .where(Report.program_key == program.key, Report.period == period, _not_rejected())
                .where(col(Report.value).is_not(None))
                .group_by(col(Report.unit_id))
            )
            rows = session.exec(
                select(Report.unit_id, Report.value, Report.created_at).where(col(Report.id).in_(latest))
            )
            for unit_id, value, created in rows:
                values[unit_id] = (float(value or 0), created)
        for unit_id in applicable:
            value_at = values.get(unit_id)
            result[(unit_id, program.key)] = Standing(
                program=program,
                unit_id=unit_id,
                period=period,
                deadline=deadline,
                value=value_at[0] if value_at else (0.0 if program.measure == "submission" else None),
                target=program.target,
                last_report_at=value_at[1] if value_at else None,
            )
    return result


def _checklist(
    session: Session,
    program: ProgramConfig,
    period: str,
    deadline: date,
    wanted: dict[int, Unit],
    result: dict[tuple[int, str], Standing],
) -> None:
    items = session.exec(
        select(ChecklistItem).where(ChecklistItem.program_key == program.key, ChecklistItem.period == period)
    ).all()
    per_unit: dict[int, list[str]] = defaultdict(list)
    for item in items:
        if item.unit_id in wanted:
            per_unit[item.unit_id].append(item.code)
    if not per_unit:
        return
    latest = (
        select(func.max(Report.id))
        .where(Report.program_key == program.key, Report.period == period, _not_rejected())
        .where(col(Report.item_code).is_not(None))
        .group_by(col(Report.unit_id), col(Report.item_code))
    )
    status: dict[tuple[int, str], tuple[str, datetime]] = {}
    for unit_id, code, item_status, created in session.exec(
        select(Report.unit_id, Report.item_code, Report.item_status, Report.created_at).where(
            col(Report.id).in_(latest)
        )
    ):
        status[(unit_id, code or "")] = (item_status or "", created)
    for unit_id, codes in per_unit.items():
        done = [c for c in codes if status.get((unit_id, c), ("", None))[0] == DONE]
        times = [status[(unit_id, c)][1] for c in codes if (unit_id, c) in status]
        result[(unit_id, program.key)] = Standing(
            program=program,
            unit_id=unit_id,
            period=period,
            deadline=deadline,
            value=float(len(done)),
            target=float(len(codes)),
            last_report_at=max(times) if times else None,
            open_items=tuple(sorted(set(codes) - set(done))),
        )
