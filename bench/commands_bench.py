"""Chat commands at national scale: single-unit commands at 500 and at 30,000 units, the Pemda-wide views at 30,000.

A Pemda is built with bulk inserts on top of the sample roster (its admin, pimpinan and Kepala Dinas Kesehatan are
the people asking): units of kinds dinas, badan, kecamatan, bagian, rsud and kelurahan (under the kecamatan before
it; no program chases a kelurahan), one kepala or camat each, three katalog reports over the last six weeks for every
unit katalog applies to, a P3DN figure for two in three, an innovation for every second, evidence waiting for the
verifier for every 25th, a draft warning letter for every 10th and a dispensation for every 50th. It is first grown
to 500 units and timed, then grown to 30,000 and timed again, on SQLite (a file) and on PostgreSQL (a fresh database
`sigap_bench_cmd` on 127.0.0.1:5432, analysed after the load, dropped after).

Each command goes through `handlers.core.handle` on the console channel, as a person would type it; the figure is the
median wall time of several runs after one warm-up (and the process's CPU time beside it: on a busy machine the wall
time is mostly waiting). A Pemda-wide answer must also be short: at most `MESSAGES_GOAL` chat messages once cut into
chunks. The weekly digest is timed as its job builds it (`jobs.digest.build_digest`); the workbook (`/ekspor`) must
grow linearly.

`python -m bench commands` runs this part alone and replaces only its rows in bench/results.md; `--quick` builds
3,000 units instead of 30,000 and writes nothing; `--sqlite` skips PostgreSQL.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, text
from sqlmodel import col, select

from bench.results_file import update_part
from bot.console import LocalFiles
from bot.settings import EXAMPLE_PEMDA, SAMPLE_ROSTER
from bot.wiring import build_calendar
from handlers.core import handle
from jobs.digest import build_digest
from models.app import Deps
from models.clock import FakeClock
from models.db import Database
from models.ladder import PAUSE_DISPENSASI
from models.messages import Channel, Incoming, Reply
from models.outbox import chunk_texts
from models.pemda import load_pemda
from models.program_sync import sync_programs
from models.roster import import_roster
from models.standing import current_period
from models.tables import (
    Contact,
    Evidence,
    EvidenceStatus,
    Letter,
    LetterItem,
    LetterStatus,
    Pause,
    Report,
    StoredFile,
    Unit,
    Verification,
)
from tests.fakes.evidence_files import pdf

PART = "commands"
SMALL = 500
LARGE = 30_000
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_NAME = "sigap_bench_cmd"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
"""Monday 23 November 2026, 09:00 WIB: three weeks before the 15 December deadline."""
KINDS = ("dinas", "badan", "kecamatan", "bagian", "rsud", "kelurahan")
RATIO_GOAL = 2.0
WIDE_GOAL = 2.0
MESSAGES_GOAL = 3
"""A Pemda-wide answer is short: at most this many chat messages (the rest by pages on a button, or as a file)."""
RUNS_SINGLE = 7
RUNS_WIDE = 3
RUNS_EXPORT = 2
DIGEST = "weekly digest"

ADMIN = "Rina Marlina"
PIMPINAN = "H. Drs. Asep Mulyana, M.Si."
KEPALA = "Slamet Santoso"

SINGLE: tuple[tuple[str, str, str], ...] = (
    ("/status dinkes (admin)", ADMIN, "/status dinkes"),
    ("/status (kepala)", KEPALA, "/status"),
    ("/lapor katalog <n> (kepala)", KEPALA, "/lapor katalog {n}"),
    ("/riwayat katalog (kepala)", KEPALA, "/riwayat katalog"),
    ("/inovasi (kepala)", KEPALA, "/inovasi"),
    ("/verifikasi <id> (admin)", ADMIN, "/verifikasi {evidence}"),
    ("/bukti katalog <n> <file> (kepala)", KEPALA, "/bukti katalog {n} {pdf}"),
)
"""(figure, who, what they type): commands about one unit; `{n}` alternates 12/13, `{evidence}` is a waiting item."""

WIDE: tuple[tuple[str, str, str], ...] = (
    ("/rekap", ADMIN, "/rekap"),
    ("/rekap 2 (a later page)", ADMIN, "/rekap 2"),
    ("/peringkat", PIMPINAN, "/peringkat"),
    ("/peringkat katalog", PIMPINAN, "/peringkat katalog"),
    ("/grafik", PIMPINAN, "/grafik"),
    ("/grafik katalog", PIMPINAN, "/grafik katalog"),
    ("/unit", KEPALA, "/unit"),
    ("/verifikasi (the queue)", ADMIN, "/verifikasi"),
    ("/teguran (the register)", ADMIN, "/teguran"),
    ("/undangan", ADMIN, "/undangan"),
    ("/takterjangkau", ADMIN, "/takterjangkau"),
)
"""Pemda-wide views, timed at 30,000 units (goal: within 2 s each)."""

EXPORT = ("/ekspor", ADMIN, "/ekspor")
"""The workbook: may take longer than 2 s at 30,000 units, but must grow linearly (timed at both sizes)."""


@dataclass
class Timing:
    """One command's median wall and CPU seconds, and the size of its answer (chat messages once chunked)."""

    seconds: float
    cpu: float
    messages: int
    chars: int
    runs: list[float] = field(default_factory=list)


@dataclass
class Figures:
    """Everything measured on one database."""

    kind: str
    small: dict[str, Timing] = field(default_factory=dict)
    large: dict[str, Timing] = field(default_factory=dict)
    build_seconds: dict[int, float] = field(default_factory=dict)
    units: dict[int, int] = field(default_factory=dict)


# -- building the Pemda ------------------------------------------------------------------------------


def start(db: Database) -> Deps:
    """The sample roster on a migrated, empty database; Deps with a fake clock at `NOW`."""
    db.upgrade()
    pemda = load_pemda(EXAMPLE_PEMDA)
    clock = FakeClock(NOW)
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        uow.commit()
    calendar = build_calendar(pemda, db)
    with db.uow() as uow:
        sync_programs(uow.session, pemda, calendar.local_date(NOW))
        uow.commit()
    return Deps(db=db, pemda=pemda, clock=clock, calendar=calendar)


def grow(deps: Deps, total: int) -> None:
    """Add units (with a head, reports, evidence, letters, dispensations) until there are `total` active units."""
    db, pemda = deps.db, deps.pemda
    today = deps.calendar.local_date(NOW)
    periods = {p.key: current_period(p, today) for p in pemda.programs}
    katalog = pemda.program("katalog")
    assert katalog is not None
    with db.uow() as uow:
        have = uow.session.exec(select(func.count()).select_from(Unit)).one()
        admin_id = uow.session.exec(select(Contact.id).where(Contact.name == ADMIN)).one()
        file_id = uow.session.exec(select(StoredFile.id).where(StoredFile.filename == "bench.pdf")).first()
    first = int(have)
    if first >= total:
        return
    with db.engine.begin() as conn:
        if file_id is None:
            content = b"%PDF-1.4\n%bench\n"
            conn.execute(
                insert(StoredFile),
                [{"filename": "bench.pdf", "mime": "application/pdf", "sha256": "0" * 64, "content": content,
                  "created_at": NOW}],
            )
            file_id = conn.execute(text("SELECT id FROM stored_file WHERE filename = 'bench.pdf'")).scalar_one()
        numbers = range(first, total)
        parent_code: dict[int, str] = {}
        rows = []
        for i in numbers:
            kind = KINDS[i % len(KINDS)]
            if kind == "kecamatan":
                parent_code[i] = f"BK{i:05d}"
            rows.append({"code": f"BK{i:05d}", "name": f"{kind.title()} Uji Coba {i}", "kind": kind, "aliases": ""})
        for start_at in range(0, len(rows), 5000):
            conn.execute(insert(Unit), rows[start_at : start_at + 5000])
        ids = {
            code: uid
            for uid, code in conn.execute(
                select(Unit.id, Unit.code).where(col(Unit.code) >= f"BK{first:05d}", col(Unit.code) < "BL")
            )
        }
        last_kecamatan: int | None = None
        parents: list[dict[str, Any]] = []
        for i in numbers:
            kind = KINDS[i % len(KINDS)]
            if kind == "kecamatan":
                last_kecamatan = ids[f"BK{i:05d}"]
            elif kind == "kelurahan" and last_kecamatan is not None:
                parents.append({"uid": ids[f"BK{i:05d}"], "parent": last_kecamatan})
        for start_at in range(0, len(parents), 5000):
            conn.execute(
                text("UPDATE unit SET parent_id = :parent WHERE id = :uid"), parents[start_at : start_at + 5000]
            )
        contacts = [
            {
                "name": f"Kepala Uji {i}",
                "role": "camat" if KINDS[i % len(KINDS)] == "kecamatan" else "kepala",
                "unit_id": ids[f"BK{i:05d}"],
                "telegram_user_id": str(5_000_000 + i),
                "created_at": NOW,
                "title": "",
                "nip": "",
                "language": "id",
            }
            for i in numbers
        ]
        for start_at in range(0, len(contacts), 5000):
            conn.execute(insert(Contact), contacts[start_at : start_at + 5000])
        people: dict[int, int] = {
            uid: cid
            for uid, cid in conn.execute(
                select(Contact.unit_id, Contact.id).where(col(Contact.telegram_user_id) >= "5000000")
            )
        }
        reports: list[dict[str, Any]] = []
        evidence_for: list[tuple[int, int]] = []
        for i in numbers:
            uid = ids[f"BK{i:05d}"]
            who = people.get(uid)
            base = {"unit_id": uid, "channel": "telegram", "reporter_id": who, "note": "", "source": "chat",
                    "withdraw_reason": "", "verification": Verification.SELF.value, "value": None, "title": None}
            kind = KINDS[i % len(KINDS)]
            value = float(i % 7)
            for weeks, step in ((6, 0), (3, i % 5), (1, i % 4)) if katalog.applies(kind) else ():
                value += step
                reports.append(
                    base | {"program_key": "katalog", "period": periods["katalog"], "value": value,
                            "created_at": NOW - timedelta(weeks=weeks, hours=i % 24)}
                )
            if kind != "kelurahan":
                if i % 3:
                    reports.append(
                        base | {"program_key": "p3dn", "period": periods["p3dn"], "value": float(20 + i % 40),
                                "created_at": NOW - timedelta(weeks=2, hours=i % 24)}
                    )
                if i % 2 == 0:
                    reports.append(
                        base | {"program_key": "inovasi", "period": periods["inovasi"], "title": f"Inovasi uji {i}",
                                "created_at": NOW - timedelta(weeks=4, hours=i % 24)}
                    )
            if i % 25 == 0 and katalog.applies(kind):
                evidence_for.append((i, uid))
                reports.append(
                    base | {"program_key": "katalog", "period": periods["katalog"], "value": value + 1,
                            "verification": Verification.PENDING.value, "created_at": NOW - timedelta(days=2)}
                )
        for start_at in range(0, len(reports), 5000):
            conn.execute(insert(Report), reports[start_at : start_at + 5000])
        if evidence_for:
            pending: dict[int, int] = {
                uid: rid or 0
                for uid, rid in conn.execute(
                    select(Report.unit_id, func.max(Report.id))
                    .where(Report.verification == Verification.PENDING.value, Report.program_key == "katalog")
                    .where(col(Report.unit_id).in_([uid for _i, uid in evidence_for]))
                    .group_by(col(Report.unit_id))
                )
            }
            conn.execute(
                insert(Evidence),
                [
                    {"report_id": pending[uid], "unit_id": uid, "program_key": "katalog",
                     "period": periods["katalog"], "item_code": None, "file_id": file_id,
                     "filename": f"bukti-{i}.pdf", "mime": "application/pdf", "size": 16, "sha256": "0" * 64,
                     "uploaded_by_id": people.get(uid), "uploaded_at": NOW - timedelta(days=2, minutes=i),
                     "status": EvidenceStatus.WAITING.value, "reason": ""}
                    for i, uid in evidence_for
                ],
            )
        drafts = [
            {"unit_id": ids[f"BK{i:05d}"], "program_key": "katalog", "period": periods["katalog"],
             "stage": "teguran1", "status": LetterStatus.DRAFT.value, "sha256": "", "summary": "katalog 2/10",
             "created_at": NOW - timedelta(days=1), "delivery": "", "cancel_reason": ""}
            for i in numbers
            if i % 10 == 0
        ]
        if drafts:
            conn.execute(insert(Letter), drafts)
            letters = conn.execute(
                select(Letter.id, Letter.unit_id).where(col(Letter.unit_id).in_([d["unit_id"] for d in drafts]))
            ).all()
            conn.execute(
                insert(LetterItem),
                [{"letter_id": lid, "unit_id": uid, "program_key": "katalog", "period": periods["katalog"],
                  "stage": "teguran1", "summary": "katalog 2/10"} for lid, uid in letters],
            )
        pauses = [
            {"unit_id": ids[f"BK{i:05d}"], "program_key": "katalog", "period": periods["katalog"],
             "kind": PAUSE_DISPENSASI, "reason": "uji beban", "created_by_id": admin_id, "created_at": NOW}
            for i in numbers
            if i % 50 == 0
        ]
        if pauses:
            conn.execute(insert(Pause), pauses)


# -- timing ------------------------------------------------------------------------------------------


def _contact_id(deps: Deps, name: str) -> str:
    with deps.db.uow() as uow:
        return str(uow.session.exec(select(Contact.id).where(Contact.name == name)).one())


def _waiting_evidence(deps: Deps) -> int:
    with deps.db.uow() as uow:
        found = uow.session.exec(
            select(Evidence.id).where(Evidence.status == EvidenceStatus.WAITING.value).order_by(col(Evidence.id))
        ).first()
    return int(found or 0)


def _messages(replies: Sequence[Reply]) -> int:
    """How many Telegram messages `replies` go out as (a long text is one message per chunk)."""
    return sum(
        len(chunk_texts(r.text, Channel.TELEGRAM, buttons=len(r.buttons), attachment=r.attachment is not None))
        for r in replies
    )


def _timed(run: Callable[[int], Sequence[Reply]], runs: int) -> Timing:
    """Median wall and CPU seconds of `run(n)` over `runs` runs after one warm-up (the process's CPU: the handling
    thread's included), and the size of the last answer."""
    seconds: list[float] = []
    cpu: list[float] = []
    replies: Sequence[Reply] = []
    for n in range(runs + 1):
        gc.collect()
        started, used = time.perf_counter(), time.process_time()
        replies = run(n)
        elapsed, spent = time.perf_counter() - started, time.process_time() - used
        if n:
            seconds.append(elapsed)
            cpu.append(spent)
    chars = sum(len(r.text) for r in replies)
    return Timing(statistics.median(seconds), statistics.median(cpu), _messages(replies), chars, seconds)


def time_command(deps: Deps, who: str, typed: str, runs: int) -> Timing:
    """`typed` sent by `who` through the core, timed (`_timed`); `{pdf}` is a fresh PDF file for each run."""
    address = _contact_id(deps, who)
    evidence = _waiting_evidence(deps)
    deps.files.setdefault(Channel.CONSOLE, LocalFiles())
    with tempfile.TemporaryDirectory() as tmp:

        def run(n: int) -> Sequence[Reply]:
            path = Path(tmp) / f"bukti-{n}.pdf"
            if "{pdf}" in typed:
                path.write_bytes(pdf(f"Bukti dukung katalog {n} {time.time_ns()}"))
            message = typed.format(n=12 + n % 2, evidence=evidence, pdf=path)
            return asyncio.run(handle(deps, Incoming(Channel.CONSOLE, address, text=message)))

        return _timed(run, runs)


def time_digest(deps: Deps, runs: int) -> Timing:
    """Building the weekly digest (text and picture) over every active unit, timed (`_timed`)."""

    def run(_n: int) -> Sequence[Reply]:
        with deps.db.uow() as uow:
            return [Reply(build_digest(uow.session, deps.pemda, deps.calendar, NOW).body)]

    return _timed(run, runs)


def measure(deps: Deps, wide: bool, runs_single: int, runs_wide: int, log: Callable[[str], None]) -> dict[str, Timing]:
    """Time the single-unit commands (and, when `wide`, the Pemda-wide views and the digest)."""
    found: dict[str, Timing] = {}
    chosen = [(*c, runs_single) for c in SINGLE] + [(*EXPORT, RUNS_EXPORT)]
    if wide:
        chosen += [(*c, runs_wide) for c in WIDE]
    for name, who, typed, runs in chosen:
        t = found[name] = time_command(deps, who, typed, runs)
        log(f"  {name}: {_ms(t.seconds)} (cpu {_ms(t.cpu)}; {t.messages} msg, {t.chars:,} chars)")
    if wide:
        t = found[DIGEST] = time_digest(deps, runs_wide)
        log(f"  {DIGEST}: {_ms(t.seconds)} (cpu {_ms(t.cpu)})")
    return found


def run_on(kind: str, url: str, small: int, large: int, log: Callable[[str], None]) -> Figures:
    """Build and time on one database: single-unit commands at `small` units, everything at `large`."""
    figures = Figures(kind)
    db = Database(url)
    try:
        deps = start(db)
        for size in (small, large):
            started = time.perf_counter()
            grow(deps, size)
            if db.is_postgres:  # as autovacuum would after a bulk load: the planner's statistics
                with db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
            figures.build_seconds[size] = time.perf_counter() - started
            with db.uow() as uow:
                figures.units[size] = int(uow.session.exec(select(func.count()).select_from(Unit)).one())
            log(f"{kind}: {figures.units[size]:,} units (built in {figures.build_seconds[size]:.1f} s)")
            timed = measure(deps, size == large, RUNS_SINGLE, RUNS_WIDE, log)
            if size == small:
                figures.small = timed
            else:
                figures.large = timed
    finally:
        db.dispose()
    return figures


def sqlite_figures(small: int, large: int, log: Callable[[str], None]) -> Figures:
    """The figures on a SQLite file in a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        return run_on("SQLite", f"sqlite:///{Path(tmp) / 'commands.db'}", small, large, log)


def postgres_figures(small: int, large: int, log: Callable[[str], None]) -> Figures | None:
    """The figures on a fresh PostgreSQL database (None when PostgreSQL is not reachable)."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {PG_NAME}"))
    except Exception as exc:
        log(f"PostgreSQL not reachable ({type(exc).__name__}); its figures are left out")
        admin.dispose()
        return None
    try:
        return run_on("PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_NAME}", small, large, log)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)"))
        admin.dispose()


# -- the report --------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def table_rows(all_figures: Sequence[Figures]) -> list[str]:
    """The rows of bench/results.md's table (figure | measured | goal | result); pass/FAIL on wall time."""
    rows: list[str] = []
    for f in all_figures:
        small, large = min(f.units.values(), default=0), max(f.units.values(), default=0)
        for name, _who, _typed in SINGLE:
            a, b = f.small[name], f.large[name]
            ratio = b.seconds / a.seconds if a.seconds else float("inf")
            rows.append(
                f"| {PART} {name} ({f.kind}): {small:,} vs {large:,} units | {_ms(a.seconds)} vs {_ms(b.seconds)} "
                f"(x{ratio:.2f}; cpu {_ms(a.cpu)} vs {_ms(b.cpu)}) | <= x{RATIO_GOAL:g} | "
                f"{_verdict(ratio <= RATIO_GOAL)} |"
            )
        for name in [w[0] for w in WIDE] + [DIGEST]:
            t = f.large[name]
            ok = t.seconds <= WIDE_GOAL and t.messages <= MESSAGES_GOAL
            rows.append(
                f"| {PART} {name} ({f.kind}) at {large:,} units | {_ms(t.seconds)} (cpu {_ms(t.cpu)}; "
                f"{t.messages} msg, {t.chars:,} chars) | <= {WIDE_GOAL:g} s, <= {MESSAGES_GOAL} messages | "
                f"{_verdict(ok)} |"
            )
        name = EXPORT[0]
        a, b = f.small[name], f.large[name]
        growth = (b.seconds / large) / (a.seconds / small) if a.seconds and small and large else float("inf")
        rows.append(
            f"| {PART} {name} ({f.kind}): {small:,} vs {large:,} units, time per unit | {_ms(a.seconds)} vs "
            f"{_ms(b.seconds)} (per unit x{growth:.2f}; cpu {_ms(a.cpu)} vs {_ms(b.cpu)}) | linear: per unit <= x2 | "
            f"{_verdict(growth <= 2)} |"
        )
    return rows


def how_measured(large: int) -> list[str]:
    """The results.md note on how these figures are measured."""
    return [
        f"- {PART}: the sample roster grown by bulk inserts to {SMALL:,} and then {large:,} units (dinas, badan,",
        "  bagian, rsud, kecamatan and kelurahan under them; a head each; 3 katalog reports per unit over 6 weeks,",
        "  P3DN for 2 in 3, an innovation for every 2nd, waiting evidence for every 25th, a draft letter for every",
        "  10th, a dispensation for every 50th), on SQLite (a file) and PostgreSQL (fresh database on 127.0.0.1:5432,",
        "  ANALYZE after the load); each command sent through `handlers.core.handle` on the console channel by the",
        f"  sample admin, pimpinan or Kepala Dinkes; median wall time of {RUNS_SINGLE} (single-unit), {RUNS_WIDE}",
        f"  (Pemda-wide) or {RUNS_EXPORT} (/ekspor) runs after a warm-up, the process's CPU time beside it; msg =",
        "  Telegram messages once chunked; the digest as `jobs.digest.build_digest` builds it. Needs an otherwise",
        "  idle machine: under load the wall time is mostly waiting (compare the CPU time).",
    ]


def run(quick: bool = False, *, postgres: bool = True) -> list[Figures]:
    """Build and time on SQLite and (when reachable) PostgreSQL; `quick`: 3,000 units instead of 30,000."""
    large = 3_000 if quick else LARGE

    def log(line: str) -> None:
        print(line, flush=True)

    found = [sqlite_figures(SMALL, large, log)]
    pg = postgres_figures(SMALL, large, log) if postgres else None
    return found + ([pg] if pg is not None else [])


def main(argv: list[str], results: Path) -> int:
    """`python -m bench commands [--quick] [--sqlite]`: run this part; without --quick, update its rows."""
    quick = "--quick" in argv
    found = run(quick, postgres="--sqlite" not in argv)
    rows = table_rows(found)
    for row in rows:
        print(row, flush=True)
    if not quick:
        update_part(results, PART, rows, how_measured(max(found[0].units.values())), "python -m bench commands")
        print(f"written to {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], Path(__file__).with_name("results.md")))
