"""A seeded history for the leaders' view: reports over ten weeks before Monday 23 November 2026."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from models.app import Deps
from models.tables import ChecklistItem, Report, Unit

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
"""Monday 23 November 2026, 09:00 WIB (the test clock)."""


def report(unit_id: int, program: str, at: datetime, **fields: object) -> Report:
    """One chat report of period 2026 at `at`."""
    return Report(unit_id=unit_id, program_key=program, period="2026", channel="console", created_at=at, **fields)


def seed_sample_history(deps: Deps, weeks: int = 10, seed: int = 7) -> None:
    """Every OPD and kecamatan reporting katalog and P3DN now and then over `weeks` weeks, some innovations and MCP
    items: a believable picture for looking at the chart."""
    rng = random.Random(seed)
    with deps.db.uow() as uow:
        session = uow.session
        units = session.exec(select(Unit).where(Unit.kind != "kelurahan").order_by(Unit.code)).all()
        rows: list[Report] = []
        for unit in units:
            assert unit.id is not None
            speed = rng.choice([0, 0.2, 0.5, 0.8, 1.2, 2.0])
            count, share = 0.0, rng.uniform(5, 30)
            for week in range(weeks, -1, -1):
                at = MONDAY - timedelta(weeks=week, hours=rng.randint(1, 72))
                if rng.random() < 0.6:
                    count += round(speed * rng.uniform(0.5, 1.5))
                    rows.append(report(unit.id, "katalog", at, value=count))
                if rng.random() < 0.4:
                    share = min(95.0, share + rng.uniform(0, 6))
                    rows.append(report(unit.id, "p3dn", at, value=round(share, 1)))
            if rng.random() < 0.45:
                at = MONDAY - timedelta(days=rng.randint(0, 7 * weeks))
                rows.append(report(unit.id, "inovasi", at, title=f"Inovasi {unit.code}"))
        items = session.exec(select(ChecklistItem)).all()
        for index, item in enumerate(items):
            if index % 3 != 2:
                at = MONDAY - timedelta(days=5 * index + 1)
                status = "selesai" if index % 4 != 3 else "proses"
                rows.append(
                    report(
                        item.unit_id,
                        "mcp",
                        at,
                        item_code=item.code,
                        item_status=status,
                        verification="verified" if index % 2 == 0 else "self",
                    )
                )
        session.add_all(rows)
        uow.commit()
