"""Weekly check-ins (requests for a fresh figure): the week key and who has not answered yet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from sqlmodel import Session, col, select

from models.standing import Standing
from models.tables import Checkin


def iso_week(day: date) -> str:
    """'2026-W48': the ISO week a check-in belongs to."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def answered(row: Checkin, standing: Standing | None) -> bool:
    """Whether a report arrived after the check-in was asked (the row's mark, or a report seen since)."""
    if row.answered_at is not None:
        return True
    last = standing.last_report_at if standing is not None else None
    return last is not None and last > row.asked_at


def unanswered(
    session: Session, unit_ids: Sequence[int], week: str, standings: Mapping[tuple[int, str], Standing]
) -> list[Checkin]:
    """This week's check-ins of `unit_ids` that no report has answered yet, oldest first."""
    wanted = set(unit_ids)
    rows = session.exec(
        select(Checkin).where(Checkin.week == week, col(Checkin.answered_at).is_(None)).order_by(col(Checkin.id))
    ).all()
    return [r for r in rows if r.unit_id in wanted and not answered(r, standings.get((r.unit_id, r.program_key)))]
