"""Roster import: 100,000 rows (20,000 units x 5 contacts) planned and applied on SQLite, then imported again.

The CSV is written with invented names and unique Indonesian mobile numbers; the database is migrated by the
parent. Each import (`sigap import roster FILE --apply` in effect: read, plan, apply, commit) runs in a fresh child
process, so its peak memory (ru_maxrss) is the import's alone. The second run of the same file must change nothing.

`python -m bench roster` runs only this part and replaces only its rows (and its note) in bench/results.md;
`python -m bench roster --quick` runs 20,000 rows and writes nothing.
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results_file import update_part
from models.db import Database
from models.roster import COLUMNS

ROOT = Path(__file__).resolve().parent.parent
HEADER = COLUMNS
FIRST = ("Agus", "Budi", "Citra", "Dewi", "Eko", "Fitri", "Gita", "Hadi", "Indah", "Joko", "Kartika", "Lestari")
LAST = ("Santoso", "Wijaya", "Hidayat", "Lestari", "Pratama", "Saputra", "Nugroho", "Rahayu", "Siregar", "Purba")
GOAL_SECONDS = 30.0
GOAL_MB = 400.0
PER_KECAMATAN = 20
"""Every 20th unit is a kecamatan; the 19 after it are its kelurahan and desa."""


def write_csv(path: Path, units: int = 20_000, per_unit: int = 5) -> int:
    """A roster of `units` units with `per_unit` contacts each: the head (camat or kepala) and operators."""
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        parent = ""
        for u in range(units):
            if u % PER_KECAMATAN == 0:
                code, kind, parent_code, aliases = f"KEC-{u:05d}", "kecamatan", "", f"kec{u:05d}"
                name = f"Kecamatan Sukamaju {u // PER_KECAMATAN + 1}"
                parent = code
            else:
                kind = "kelurahan" if u % 2 else "desa"
                code, parent_code, aliases = f"DS-{u:05d}", parent, ""
                name = f"{kind.title()} Mekar Jaya {u}"
            for p in range(per_unit):
                n = u * per_unit + p
                head = p == 0
                role = ("camat" if kind == "kecamatan" else "kepala") if head else "operator"
                person = f"{FIRST[n % len(FIRST)]} {LAST[(n // len(FIRST)) % len(LAST)]} {n}"
                nip = f"19{n % 30 + 70}0101{2000 + n % 20}01{n % 2 + 1}{n % 1000:03d}" if head else ""
                title = ("Camat" if kind == "kecamatan" else "Kepala") + f" {name}" if head else f"Operator {name}"
                writer.writerow(
                    (code, name, kind, parent_code, aliases, person, role, f"+62812{10_000_000 + n}", "", nip, title)
                )
                rows += 1
    return rows


def timed_import(csv_path: Path, db_path: Path) -> dict[str, float]:
    """Read, plan and apply the roster at `csv_path` into the SQLite database at `db_path` and commit."""
    from models.roster import apply_plan, plan_roster, stream_rows

    db = Database(f"sqlite:///{db_path}")
    start = time.perf_counter()
    with db.uow() as uow:
        plan = plan_roster(uow.session, stream_rows(csv_path))
        planned = time.perf_counter() - start
        result = apply_plan(uow.session, plan)
        uow.commit()
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    db.dispose()
    return {
        "seconds": seconds,
        "plan_seconds": planned,
        "peak_mb": peak_kb / 1024,
        "units_created": result.units_created,
        "contacts_created": result.contacts_created,
        "changed": float(result.changed),
        "unchanged": result.unchanged,
    }


def _child(csv_path: Path, db_path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.roster_bench", str(csv_path), str(db_path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def run(tmp: Path, units: int = 20_000, per_unit: int = 5) -> dict[str, dict[str, float]]:
    """Write the CSV, migrate an empty database, import in a fresh process, then import again in another."""
    csv_path, db_path = tmp / "roster.csv", tmp / "roster.db"
    rows = write_csv(csv_path, units, per_unit)
    db = Database(f"sqlite:///{db_path}")
    db.upgrade()
    db.dispose()
    first = _child(csv_path, db_path) | {"rows": rows, "megabytes": csv_path.stat().st_size / 1e6}
    again = _child(csv_path, db_path) | {"rows": rows}
    return {"first": first, "again": again}


def table_rows(figures: dict[str, dict[str, float]]) -> list[str]:
    """The rows of bench/results.md's table for these figures (figure | measured | goal | result)."""
    first, again = figures["first"], figures["again"]
    rows, peak = f"{first['rows']:,.0f}", max(first["peak_mb"], again["peak_mb"])

    def row(name: str, value: str, goal: str, ok: bool) -> str:
        return f"| {name} | {value} | {goal} | {'pass' if ok else 'FAIL'} |"

    return [
        row(
            f"roster import {rows} rows (CSV {first['megabytes']:.1f} MB, SQLite): read + plan + apply, seconds",
            f"{first['seconds']:.1f} (plan {first['plan_seconds']:.1f})",
            f"<= {GOAL_SECONDS:g} s",
            first["seconds"] <= GOAL_SECONDS,
        ),
        row(
            f"roster import {rows} rows again (nothing changes): seconds",
            f"{again['seconds']:.1f}",
            f"<= {GOAL_SECONDS:g} s, no change",
            again["seconds"] <= GOAL_SECONDS and not again["changed"],
        ),
        row(
            "roster import: peak memory of the process (ru_maxrss)",
            f"{first['peak_mb']:.0f} MB (again: {again['peak_mb']:.0f} MB)",
            f"<= {GOAL_MB:g} MB",
            peak <= GOAL_MB,
        ),
    ]


def how_measured(units: int = 20_000, per_unit: int = 5) -> list[str]:
    """The results.md note on how the roster figures are measured."""
    return [
        f"- roster: a CSV of {units:,} units (every 20th a kecamatan, the rest its kelurahan/desa) x {per_unit}",
        "  contacts (invented names, unique +62812… numbers); `stream_rows` + `plan_roster` + `apply_plan` + commit",
        "  on a migrated, empty SQLite database in a fresh process, then the same file again (must change nothing).",
    ]


def update_results(path: Path, figures: dict[str, dict[str, float]]) -> None:
    """Replace the roster rows and note in results.md (the other parts' rows stay as they are)."""
    update_part(path, "roster", table_rows(figures), how_measured(), "python -m bench roster")


def main(argv: list[str], results: Path) -> int:
    """`python -m bench roster [--quick]`: run the roster part; without --quick, update its rows in `results`."""
    quick = "--quick" in argv
    units = 4_000 if quick else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(Path(tmp), units)
    for line in table_rows(figures):
        print(line, flush=True)
    if not quick:
        update_results(results, figures)
        print(f"written to {results}")
    return 0


if __name__ == "__main__":
    print(json.dumps(timed_import(Path(sys.argv[1]), Path(sys.argv[2]))))
