"""The status export (XLSX, openpyxl): a summary sheet with the Pemda totals and the picture, one sheet per program
(unit, value, target, status, last report, reporter, evidence, dispensation or pause), and a history sheet of the
weekly totals.

Shared by `sigap export status FILE.xlsx` and `/ekspor` in chat: both call `status_workbook`. Text from people (unit
names, reporters, a dispensation's reason) goes through `models.sheets.put`, so it is never written as a formula.
Times are local, as Excel has no time zones. The figures are the ones /rekap shows (the same standings), and so are
the dispensations and /proses pauses (`models.pauses`: /status's state and wording, /rekap's counts).
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from models.calendar import WorkingCalendar
from models.charts import overview_spec, render
from models.fmt import tanggal
from models.leaders import ProgramView, UnitLike, figure_text, load_views, overall_scores, pace_known
from models.pauses import PauseMark, exempt_and_paused, marks_for, state_of, tally
from models.pemda import PemdaConfig
from models.sheets import Cell, put
from models.standing import Standing, _latest, _not_rejected, _when
from models.tables import Contact, Evidence, EvidenceStatus, Report

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SUMMARY_TITLE = "Ringkasan"
HISTORY_TITLE = "Riwayat"
PERCENT_FORMAT = "0.0"
SUMMARY_COLUMNS: tuple[tuple[str, float], ...] = (
    ("Program", 30),
    ("Capaian", 12),
    ("Target", 10),
    ("Perubahan minggu ini", 14),
    ("Unit memenuhi", 12),
    ("Jumlah unit", 10),
    ("Dispensasi", 11),
    ("Sedang diproses", 11),
    ("Menunggu verifikasi", 12),
    ("Keterangan", 60),
    ("Perkiraan pada tenggat", 14),
    ("Tenggat", 12),
)
PROGRAM_COLUMNS: tuple[tuple[str, float], ...] = (
    ("Kode unit", 14),
    ("Unit", 40),
    ("Nilai", 10),
    ("Target", 10),
    ("Status", 16),
    ("Laporan terakhir", 17),
    ("Pelapor", 28),
    ("Bukti dukung", 26),
    ("Belum selesai", 24),
    ("Keterangan", 40),
)
EVIDENCE_WORDS = {
    EvidenceStatus.ACCEPTED.value: "sah",
    EvidenceStatus.WAITING.value: "menunggu",
    EvidenceStatus.REJECTED.value: "ditolak",
}
_BAD_TITLE = re.compile(r"[\\*?:/\[\]]")


Marks = Mapping[tuple[int, str], PauseMark]
"""The dispensations and /proses pauses by (unit id, program key), as `models.pauses.marks_for` finds them."""


def status_word(standing: Standing, mark: PauseMark | None, today: date) -> str:
    """/status's state (`models.pauses.state_of`: 'memenuhi', 'menunggu verifikasi', 'dispensasi', 'terlambat'),
    its 'belum' told apart as 'belum lapor' or 'belum memenuhi'."""
    state = state_of(standing, mark, today)
    if state != "belum":
        return state
    return "belum lapor" if standing.value is None else "belum memenuhi"


def last_reports(session: Session, view: ProgramView) -> dict[int, tuple[datetime, int | None]]:
    """Per unit: the moment and reporter of its latest counting report of the program and period."""
    latest = _latest(
        (col(Report.unit_id),), Report.program_key == view.program.key, Report.period == view.period, _not_rejected()
    )
    rows = session.exec(select(Report.unit_id, _when(), Report.reporter_id).where(col(Report.id).in_(latest)))
    return {unit_id: (moment, reporter) for unit_id, moment, reporter in rows}


def evidence_states(session: Session, view: ProgramView) -> dict[int, str]:
    """Per unit: its evidence files by verdict, '2 sah, 1 menunggu' (empty when it sent none)."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = session.exec(
        select(Evidence.unit_id, Evidence.status).where(
            Evidence.program_key == view.program.key, Evidence.period == view.period
        )
    )
    for unit_id, status in rows:
        counts[unit_id][status] = counts[unit_id].get(status, 0) + 1
    return {
        unit_id: ", ".join(f"{n} {EVIDENCE_WORDS.get(s, s)}" for s, n in sorted(found.items()))
        for unit_id, found in counts.items()
    }


def _local(at: datetime | None, zone: ZoneInfo) -> datetime | None:
    return at.astimezone(zone).replace(tzinfo=None, microsecond=0) if at is not None else None


def _sheet_title(text: str, taken: set[str]) -> str:
    title = _BAD_TITLE.sub("-", text)[:31] or "Program"
    base, n = title, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def _header(sheet: Any, columns: Sequence[tuple[str, float]], row: int = 1) -> None:
    bold = Font(bold=True)
    for column, (heading, width) in enumerate(columns, start=1):
        cell = sheet.cell(row=row, column=column, value=heading)
        cell.font = bold
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        sheet.column_dimensions[get_column_letter(column)].width = width


def _number(program_measure: str, value: float | None) -> float | int | None:
    if value is None:
        return None
    return round(value, 2) if program_measure == "percent" or value != int(value) else int(value)


def build_workbook(
    views: Sequence[ProgramView],
    units: Mapping[int, UnitLike],
    details: Mapping[str, tuple[Mapping[int, tuple[datetime, int | None]], Mapping[int, str]]],
    people: Mapping[int, str],
    chart_png: bytes | None,
    scope: str,
    today: date,
    zone: ZoneInfo,
    marks: Marks,
) -> bytes:
    """The workbook as bytes. `details` per program key: (last reports, evidence states) by unit id; `marks` the
    dispensations and pauses of the standings of `views`."""
    book = Workbook()
    summary = book.active
    summary.title = SUMMARY_TITLE
    taken = {SUMMARY_TITLE.lower(), HISTORY_TITLE.lower()}
    put(summary.cell(row=1, column=1), f"Capaian {scope} per {tanggal(today)}")
    summary.cell(row=1, column=1).font = Font(bold=True, size=14)
    _header(summary, SUMMARY_COLUMNS, row=3)
    for index, view in enumerate(views, start=4):
        measure = view.program.measure
        mine = {(uid, view.program.key): s for uid, s in view.standings.items()}
        count = tally(list(mine.values()), *exempt_and_paused(mine, marks))  # as /rekap counts
        row: list[Cell] = [
            view.program.label,
            _number(measure, view.now.value),
            _number(measure, view.now.goal),
            view.change_words() if view.first_week or view.since is None else _number(measure, view.change),
            count.compliant,
            count.units,
            count.exempt,
            count.paused,
            count.checking,
            figure_text(view.program, view.now),
            _number(measure, round(view.pace.projected, 1)) if pace_known(view) else "belum dapat dihitung",
            view.deadline,
        ]
        for column, value in enumerate(row, start=1):
            put(summary.cell(row=index, column=column), value)
    summary.freeze_panes = "A4"
    if chart_png:
        picture = Image(io.BytesIO(chart_png))
        picture.width, picture.height = picture.width * 0.6, picture.height * 0.6
        summary.add_image(picture, f"A{len(views) + 6}")
    for view in views:
        detail = details.get(view.program.key, ({}, {}))
        _program_sheet(book, view, units, detail, people, marks, today, zone, taken)
    _history_sheet(book, views)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _program_sheet(
    book: Workbook,
    view: ProgramView,
    units: Mapping[int, UnitLike],
    detail: tuple[Mapping[int, tuple[datetime, int | None]], Mapping[int, str]],
    people: Mapping[int, str],
    marks: Marks,
    today: date,
    zone: ZoneInfo,
    taken: set[str],
) -> None:
    sheet = book.create_sheet(_sheet_title(view.program.label, taken))
    _header(sheet, PROGRAM_COLUMNS)
    reports, evidence = detail
    measure = view.program.measure
    ordered = sorted(view.standings.values(), key=lambda s: units[s.unit_id].code if s.unit_id in units else "")
    for index, standing in enumerate(ordered, start=2):
        unit = units.get(standing.unit_id)
        moment, reporter = reports.get(standing.unit_id, (None, None))
        mark = marks.get((standing.unit_id, view.program.key))
        row: list[Cell] = [
            unit.code if unit else "",
            unit.name if unit else "",
            _number(measure, standing.value),
            _number(measure, standing.target),
            status_word(standing, mark, today),
            _local(moment, zone),
            people.get(reporter, "") if reporter is not None else "",
            evidence.get(standing.unit_id, ""),
            ", ".join(standing.open_items),
            mark.text(standing) if mark is not None else None,
        ]
        for column, value in enumerate(row, start=1):
            put(sheet.cell(row=index, column=column), value)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(PROGRAM_COLUMNS))}{len(ordered) + 1}"


def _history_sheet(book: Workbook, views: Sequence[ProgramView]) -> None:
    sheet = book.create_sheet(HISTORY_TITLE)
    _header(sheet, [("Tanggal", 14)] + [(f"{v.program.label} ({_goal_word(v)})", 18) for v in views])
    days = sorted({day for view in views for day, _value in view.series})
    values = [dict(view.series) for view in views]
    for index, day in enumerate(days, start=2):
        put(sheet.cell(row=index, column=1), day)
        for column, (view, found) in enumerate(zip(views, values, strict=True), start=2):
            put(sheet.cell(row=index, column=column), _number(view.program.measure, found.get(day)))
    sheet.freeze_panes = "B2"


def _goal_word(view: ProgramView) -> str:
    program = view.program
    if program.measure == "percent":
        return "%"
    if program.measure == "submission":
        return "unit yang mengajukan"
    if program.measure == "checklist":
        return "indikator selesai"
    return program.unit_label or "jumlah"


def status_workbook(
    session: Session,
    pemda: PemdaConfig,
    units: Sequence[UnitLike],
    today: date,
    scope: str,
    *,
    calendar: WorkingCalendar,
) -> bytes:
    """The status export of `units` at `today`: load, draw and write. `calendar` is the Pemda's working calendar:
    which periods' dispensations and pauses still count is /status's rule (`models.pauses.marks_for`)."""
    zone = ZoneInfo(pemda.pemda.timezone)
    views = load_views(session, pemda, units, today)
    every = {(uid, view.program.key): s for view in views for uid, s in view.standings.items()}
    marks = marks_for(session, pemda, calendar, today, every)
    by_id = {u.id: u for u in units if u.id is not None}
    details = {view.program.key: (last_reports(session, view), evidence_states(session, view)) for view in views}
    wanted = {reporter for reports, _e in details.values() for _m, reporter in reports.values() if reporter}
    people = (
        dict(session.exec(select(Contact.id, Contact.name).where(col(Contact.id).in_(wanted))).all()) if wanted else {}
    )
    overall = overall_scores(s for view in views for s in view.standings.values())
    chart = render(overview_spec(views, overall, by_id, scope, today)) if views else None
    return build_workbook(
        views, by_id, details, {k: v for k, v in people.items() if k is not None}, chart.png if chart else None,
        scope, today, zone, marks,
    )  # fmt: skip
