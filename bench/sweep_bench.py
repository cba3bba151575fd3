"""Sweep: 30,000 units x 4 programs on SQLite and on PostgreSQL, timed at an instant where a ladder stage is due.

The database is built with bulk inserts; the sweep runs in a fresh child process so its peak memory
(ru_maxrss) is the sweep's, not the builder's. On PostgreSQL the bench creates its own database
(`sigap_bench_sweep` on the server of `SIGAP_BENCH_PG_URL`, default 127.0.0.1:5432) and drops it after;
the tables are analysed after the build, as autovacuum would have done on a live server.

`python -m bench sweep` runs this part alone (both databases) and replaces only its rows in bench/results.md;
`python -m bench sweep --quick` runs 3,000 units and writes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bench.results_file import update_part
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
PG_SERVER = os.environ.get("SIGAP_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
"""A PostgreSQL server the bench may create and drop its own database on (connects to this URL's database)."""
PG_DATABASE = "sigap_bench_sweep"
UNITS = 30_000
GOAL_SECONDS = 3.0
GOAL_MB = 300.0
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def build(url: str, units: int) -> None:
    """A database at `url` with `units` units, one kepala each, and reports making every 4th unit compliant."""
    db = Database(url)
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
    if db.is_postgres:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    db.dispose()


def timed_sweep(url: str) -> dict[str, float]:
    """Run one sweep at `AT` on the database at `url`; seconds, rows queued, peak memory, and a second sweep's."""
    from bot.wiring import build_calendar
    from jobs.sweep import sweep

    db = Database(url)
    pemda = load_pemda(EXAMPLE_PEMDA)
    calendar = build_calendar(pemda, db)
    calendar.is_working_time(AT)  # as in `sigap run`: the holidays package loaded, a pooled connection open
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    start = time.perf_counter()
    result = sweep(db, pemda, calendar, AT)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    again = sweep(db, pemda, calendar, AT)
    again_seconds = time.perf_counter() - start
    db.dispose()
    return {
        "seconds": seconds,
        "queued": result.queued,
        "notices": result.notices,
        "planned": len(result.planned),
        "peak_mb": peak_kb / 1024,
        "again_seconds": again_seconds,
        "again_queued": again.queued,
    }


@contextlib.contextmanager
def postgres_database(server: str = PG_SERVER, name: str = PG_DATABASE) -> Iterator[str]:
    """A fresh, empty PostgreSQL database `name` on `server` (dropped first if a run left it): its URL."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    try:
        drop()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        drop()
        admin.dispose()


def run(tmp: Path, units: int = UNITS, url: str | None = None) -> dict[str, Any]:
    """Build the database (SQLite in `tmp` unless `url` is given), then time the sweep in a fresh process."""
    url = url or f"sqlite:///{tmp / 'sweep.db'}"
    started = time.perf_counter()
    build(url, units)
    built = time.perf_counter() - started
    load = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, "-m", "bench.sweep_bench", url],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["build_seconds"] = built
    figures["load"] = load
    figures["units"] = units
    figures["backend"] = BACKENDS[make_url(url).get_backend_name()]
    return figures


def run_both(units: int = UNITS) -> list[dict[str, Any]]:
    """The sweep on SQLite, then on PostgreSQL (in a database created and dropped for it)."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run(Path(tmp), units))
    print(summary(results[-1]), flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp, postgres_database() as url:
            results.append(run(Path(tmp), units, url))
    except OperationalError as exc:  # the other figures still count; the row says why this one is missing
        results.append({"backend": "PostgreSQL", "units": units, "error": str(exc.orig).strip().splitlines()[0]})
    print(summary(results[-1]), flush=True)
    return results


def summary(figures: dict[str, Any]) -> str:
    """One line for the console."""
    if "error" in figures:
        return f"sweep ({figures['backend']}): not measured, {figures['error']}"
    return (
        f"sweep {figures['units']:.0f} units x 4 programs ({figures['backend']}): {figures['seconds']:.2f} s, "
        f"peak {figures['peak_mb']:.0f} MB, queued {figures['queued']:.0f} (planned {figures['planned']:.0f}, "
        f"notices {figures['notices']:.0f}); again: {figures['again_seconds']:.2f} s, queued "
        f"{figures['again_queued']:.0f}; database built in {figures['build_seconds']:.1f} s; load average "
        f"{figures['load']:.1f} at the start"
    )


def _row(name: str, value: str, goal: str, ok: bool) -> str:
    return f"| {name} | {value} | {goal} | {'pass' if ok else 'FAIL'} |"


def table_rows(results: list[dict[str, Any]]) -> list[str]:
    """The rows of bench/results.md's table: seconds per database (a second sweep must queue nothing), memory."""
    rows = []
    for figures in results:
        if "error" in figures:
            name = f"sweep {figures['units']:,.0f} units x 4 programs ({figures['backend']}): seconds"
            rows.append(_row(name, f"not measured: {figures['error']}", f"<= {GOAL_SECONDS:g} s, again 0", False))
            continue
        seconds, again = figures["seconds"], figures["again_queued"]
        rows.append(
            _row(
                f"sweep {figures['units']:,.0f} units x 4 programs ({figures['backend']}): seconds",
                f"{seconds:.2f} (queued {figures['queued']:,.0f}; again: {figures['again_seconds']:.2f} s, "
                f"queued {again:.0f}; load average {figures['load']:.1f} at the start)",
                f"<= {GOAL_SECONDS:g} s, again 0",
                seconds <= GOAL_SECONDS and again == 0,
            )
        )
    measured = [figures for figures in results if "error" not in figures]
    peak = max(figures["peak_mb"] for figures in measured)
    each = ", ".join(f"{f['backend']} {f['peak_mb']:.0f} MB" for f in measured)
    rows.append(_row("sweep: peak memory of the process (ru_maxrss)", each, f"<= {GOAL_MB:g} MB", peak <= GOAL_MB))
    return rows


def how_measured(units: int = UNITS) -> list[str]:
    """The results.md note on how the sweep figures are measured."""
    return [
        f"- sweep: {units:,} units (5 kinds) each with one kepala on Telegram, every 4th unit compliant on",
        "  inovasi/katalog/p3dn; `jobs.sweep.sweep(...)` at Tuesday 2026-12-08 08:00 WIB (H-7 of 15 December),",
        "  in a fresh process after the database was built with bulk inserts (the calendar's holidays loaded and a",
        "  connection open before the clock starts, as in `sigap run`), then a second sweep at the same instant",
        "  (must queue nothing). SQLite: a file in a temporary directory; PostgreSQL: a database",
        f"  `{PG_DATABASE}` created on 127.0.0.1:5432 for the run (analysed after the build) and dropped after.",
    ]


def main(argv: list[str], results: Path) -> int:
    """`python -m bench sweep [--quick]`: the sweep on both databases; without --quick, update its rows."""
    quick = "--quick" in argv
    figures = run_both(3_000 if quick else UNITS)
    for line in table_rows(figures):
        print(line, flush=True)
    if not quick:
        update_part(results, "sweep", table_rows(figures), how_measured(), "python -m bench sweep")
        print(f"written to {results}")
    return 0


if __name__ == "__main__":
    target = sys.argv[1]
    print(json.dumps(timed_sweep(target if "://" in target else f"sqlite:///{target}")))
