"""Mirror the Pemda file's programs and checklist indicators into the database."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from models.pemda import PemdaConfig
from models.standing import current_period
from models.tables import ChecklistItem, Program, Unit


def sync_programs(session: Session, pemda: PemdaConfig, today: date) -> list[str]:
    """Upsert programs and the current period's checklist items; returns warnings (unknown unit codes)."""
    warnings: list[str] = []
    existing = {p.key: p for p in session.exec(select(Program)).all()}
    units = {u.code.lower(): u for u in session.exec(select(Unit)).all()}
    for config in pemda.programs:
        row = existing.get(config.key) or Program(key=config.key, title=config.title, measure=config.measure)
        row.title = config.title
        row.measure = config.measure
        row.target = config.target
        row.total_target = config.total_target
        row.unit_label = config.unit_label
        row.period = config.period
        row.applies_to = ",".join(config.applies_to)
        row.active = True
        session.add(row)
        if config.measure != "checklist":
            continue
        period = current_period(config, today)
        items = {
            i.code: i
            for i in session.exec(
                select(ChecklistItem).where(ChecklistItem.program_key == config.key, ChecklistItem.period == period)
            ).all()
        }
        for entry in config.checklist:
            unit = units.get(entry.unit.lower())
            if unit is None or unit.id is None:
                warnings.append(
                    f"program {config.key}: indikator {entry.code} menunjuk unit {entry.unit!r} yang belum ada"
                )
                continue
            item = items.get(entry.code) or ChecklistItem(
                program_key=config.key,
                period=period,
                code=entry.code,
                area=entry.area,
                title=entry.title,
                unit_id=unit.id,
            )
            item.area, item.title, item.unit_id = entry.area, entry.title, unit.id
            session.add(item)
    for key, row in existing.items():
        if pemda.program(key) is None:
            row.active = False
            session.add(row)
    return warnings
