"""Sweep: 30,000 units x 4 programs on SQLite, timed at an instant where a ladder stage is due.

The database is built with bulk inserts; the sweep runs in a fresh child process so its peak memory
(ru_maxrss) is the sweep's, not the builder's.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.settings import EXAMPLE_PEMDA
from models.clock import ensure_utc
from models.db import Database
from models.pemda import load_pemda
from models.program_sync import sync_programs
from models.standing import current_period
from models.tables import Contact, Report, Unit

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
"""Tuesday 8 December 2026, 08:00 WIB: H-7 of the 15 December deadline, a pengingat stage is due."""
KINDS = ("dinas", "badan", "bagian", "kecamatan", "rsud")


def build(path: Path, units: int) -> None:
    """A SQLite database with `units` units, one kepala each, and reports making every 4th unit compliant."""
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    pemda = load_pemda(EXAMPLE_PEMDA)
    today = AT.date()
    with db.engine.begin() as conn:
        conn.execute(
            insert(Unit),
            [
                {"code": f"U{i:05d}", "name": f"Unit {i}", "kind": KINDS[i % len(KINDS)], "aliases": ""}
                for i in range(units)
            ],
        )
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM unit ORDER BY id")]
        conn.execute(
            insert(Contact),
            [
                {
                    "name": f"Kepala {i}",
                    "role": "kepala",
                    "unit_id": uid,
                    "telegram_user_id": str(1_000_000 + i),
                    "created_at": AT,
                }
                for i, uid in enumerate(ids)
            ],
        )
        reports: list[dict[str, Any]] = []
        for program in pemda.programs:
            period = current_period(program, today)
            for uid in ids[::4]:
                row: dict[str, Any] = {
                    "unit_id": uid,
                    "program_key": program.key,
                    "period": period,
                    "channel": "telegram",
                    "created_at": ensure_utc(AT.replace(day=1)),
                    "title": None,
                    "value": None,
                }
                if program.measure == "submission":
                    row["title"] = "Inovasi layanan"
                elif program.measure in ("count", "percent"):
                    row["value"] = program.target * 1.2
                else:
                    continue
                reports.append(row)
        for start in range(0, len(reports), 5000):
            conn.execute(insert(Report), reports[start : start + 5000])
    with db.uow() as uow:
        sync_programs(uow.session, pemda, today)
        uow.commit()
    db.dispose()


def timed_sweep(path: Path) -> dict[str, float]:
    """Run one sweep at `AT` on the database at `path`; seconds, rows queued and peak memory."""
    from bot.wiring import build_calendar
    from jobs.sweep import sweep

    db = Database(f"sqlite:///{path}")
    pemda = load_pemda(EXAMPLE_PEMDA)
    calendar = build_calendar(pemda, db)
    start = time.perf_counter()
    result = sweep(db, pemda, calendar, AT)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    db.dispose()
    return {"seconds": seconds, "queued": result.queued, "planned": len(result.planned), "peak_mb": peak_kb / 1024}


def run(tmp: Path, units: int = 30_000) -> dict[str, float]:
    """Build the database, then time the sweep in a fresh process."""
    path = tmp / "sweep.db"
    started = time.perf_counter()
    build(path, units)
    built = time.perf_counter() - started
    out = subprocess.run(
        [sys.executable, "-m", "bench.sweep_bench", str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["build_seconds"] = built
    figures["units"] = units
    return figures


if __name__ == "__main__":
    print(json.dumps(timed_sweep(Path(sys.argv[1]))))
