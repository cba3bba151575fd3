"""/status, /rekap and /unit: where units stand, each person within their own reach."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from handlers import figures_upload
from handlers.base import Ctx, find_unit, page_number, sub_units
from models.app import UserError
from models.checkins import iso_week, unanswered
from models.db import read_ahead, rows
from models.fmt import angka, nilai, nilai_singkat, periode, persen, sisa_hari, tanggal, tanggal_pendek
from models.ladder import STAGE_NAMES
from models.late import Owed, previous_open
from models.leaders import UnitLike, active_units
from models.messages import Button, Reply

# The rules of dispensations and pauses live in `models.pauses` (the status workbook shares them); those the
# dashboard imports from here are re-exported.
from models.pauses import FILTERS as FILTERS
from models.pauses import PauseMark as PauseMark
from models.pauses import Standings, exempt_and_paused, marks_read
from models.pauses import Tally as Tally
from models.pauses import in_group as in_group
from models.pauses import marks_for as marks_for
from models.pauses import state_of as state_of
from models.pauses import tally as tally
from models.pemda import ProgramConfig
from models.scope import viewer_for
from models.standing import Standing, current_period, load_standings, standing_reads
from models.tables import Evidence, Report, Role, Unit, Verification


def pause_marks(ctx: Ctx, standings: Standings, units: Sequence[int] | None = None) -> dict[tuple[int, str], PauseMark]:
    """`marks_for` the sender's Pemda today."""
    return marks_for(ctx.session, ctx.pemda, ctx.deps.calendar, ctx.today, standings, units)


STATE_MARKS = {"memenuhi": "✅", "menunggu verifikasi": "🔎", "dispensasi": "➖", "terlambat": "❌", "belum": "⏳"}
"""/status's mark for each `state_of` word."""


def _unit_block(unit: Unit, standings: Standings, marks: Mapping[tuple[int, str], PauseMark], ctx: Ctx) -> str:
    lines = [f"📊 {unit.name} ({unit.code})"]
    mine = [s for (uid, _), s in standings.items() if uid == unit.id]
    if not mine:
        lines.append("Belum ada program yang ditugaskan ke unit ini.")
    earlier = _previous_periods(ctx, unit, [s.program for s in mine])
    refused = _rejected(ctx, unit, mine)
    for standing in mine:
        if (owed := earlier.get(standing.program.key)) is not None:
            lines += _previous_lines(owed, ctx)
        pause = marks.get((standing.unit_id, standing.program.key))
        mark = STATE_MARKS[state_of(standing, pause, ctx.today)]
        lines.append(f"{mark} {standing.program.label}: {nilai(standing)}")
        left = "sudah terpenuhi" if standing.compliant else sisa_hari(standing.deadline, ctx.today)
        lines.append(f"    Batas: {tanggal(standing.deadline)} ({left})")  # met: never 'terlambat' beside a ✅
        if pause is not None:
            lines.append(f"    Keterangan: {pause.text(standing)}")
        if (why := refused.get(standing.program.key)) is not None:
            lines.append(f"    {why}")
        if (note := figures_upload.sources_note(ctx, standing)) is not None:
            lines.append(note)
    return "\n".join(lines)


@functools.cache
def _latest_reports(programs: int) -> Any:
    """The latest report (id, program, verification) of one unit in each of `programs` (program, period) pairs: built
    once per number of pairs (every /status asks), on `ix_report_lookup`."""
    pairs = [
        (col(Report.program_key) == bindparam(f"p{i}")) & (col(Report.period) == bindparam(f"per{i}"))
        for i in range(programs)
    ]
    newest = func.row_number().over(partition_by=col(Report.program_key), order_by=col(Report.id).desc())
    ranked = (
        sa_select(col(Report.id), col(Report.program_key), col(Report.verification), newest.label("newest"))
        .where(or_(*pairs), col(Report.unit_id) == bindparam("unit"), col(Report.withdrawn_at).is_(None))
        .subquery("ranked")
    )
    return sa_select(ranked.c.id, ranked.c.program_key, ranked.c.verification).where(ranked.c.newest == 1)


def _latest_read(unit_id: int | None, periods: Sequence[tuple[str, str]]) -> tuple[Any, dict[str, Any]]:
    """`_latest_reports` of the unit in each (program, period) of `periods`, with its values."""
    params: dict[str, Any] = {"unit": unit_id}
    for index, (key, period) in enumerate(periods):
        params |= {f"p{index}": key, f"per{index}": period}
    return _latest_reports(len(periods)), params


def _rejected_reads(ctx: Ctx, unit: Unit) -> list[tuple[Any, dict[str, Any]]]:
    """The read `_rejected` makes for `unit`'s standings (its programs other than checklists, in their current
    periods), for `read_ahead`."""
    periods = [
        (program.key, current_period(program, ctx.today))
        for program in ctx.pemda.programs
        if program.measure != "checklist" and program.applies(unit.kind)
    ]
    return [_latest_read(unit.id, periods)] if periods else []


def _rejected(ctx: Ctx, unit: Unit, mine: Sequence[Standing]) -> dict[str, str]:
    """For programs not met whose latest report the verifier rejected: 'Laporan terakhir (12 produk, 30 Nov 2026)
    ditolak verifikator: …' (else /status would read as if the unit never reported, or as if the older figure
    were its last word). One indexed query for the latest report of each program; the reason only for a rejected
    one."""
    figures = [s for s in mine if s.program.measure != "checklist"]
    wanted = {s.program.key: s for s in figures if not s.compliant and s.pending is None}
    if not wanted:
        return {}
    latest: dict[str, int] = {}
    for report_id, key, verification in rows(
        ctx.session, *_latest_read(unit.id, [(s.program.key, s.period) for s in figures])
    ):
        if key in wanted and report_id is not None:
            latest[key] = report_id if verification == Verification.REJECTED.value else 0
    refused = [report_id for report_id in latest.values() if report_id]
    if not refused:
        return {}
    said: dict[str, str] = {}
    found = ctx.session.exec(
        select(Report, Evidence.reason)
        .join(Evidence, col(Evidence.report_id) == col(Report.id), isouter=True)
        .where(col(Report.id).in_(refused))
    ).all()
    for report, reason in found:
        program = wanted[report.program_key].program
        if report.title:
            what = f"“{report.title}”"
        elif program.measure == "percent":
            what = persen(report.value or 0)
        else:
            what = f"{angka(report.value or 0)} {program.unit_label}".strip()
        day = tanggal_pendek(ctx.deps.calendar.local_date(report.created_at))
        because = f": {reason.strip().rstrip('.')}" if reason and reason.strip() else ""
        said[report.program_key] = (
            f"Laporan terakhir ({what}, {day}) ditolak verifikator{because}. Kirim ulang dengan bukti dukung yang "
            f"benar: /bukti {program.key}."
        )
    return said


def _previous_periods(ctx: Ctx, unit: Unit, programs: Sequence[ProgramConfig]) -> dict[str, Owed]:
    """The previous periods /status shows beside the current ones (`models.late`): those the unit still owes (a report
    counts there first), and, while the sweep would still chase them, those waiting for the verifier or met after
    their deadline."""
    found = previous_open(ctx.session, ctx.pemda, ctx.deps.calendar, unit, ctx.today, programs)
    return {
        key: owed
        for key, owed in found.items()
        if owed.owing or (owed.chased and (owed.standing.awaiting or _met_late(owed, ctx)))
    }


def _met_late(owed: Owed, ctx: Ctx) -> bool:
    standing = owed.standing
    at = standing.last_report_at
    return standing.compliant and at is not None and ctx.deps.calendar.local_date(at) > standing.deadline


def _previous_lines(owed: Owed, ctx: Ctx) -> list[str]:
    """'❌ Inovasi daerah bulan November 2026: 1 dari target 2 inovasi', its deadline, whether the unit is being
    warned about it, and that the next report counts there."""
    standing = owed.standing
    program = standing.program
    mark = STATE_MARKS[state_of(standing, None, ctx.today)]
    lines = [f"{mark} {program.label} {periode(standing.period)}: {nilai(standing)}"]
    if standing.compliant:
        lines.append(
            f"    Terpenuhi setelah batas waktu ({tanggal(standing.deadline)}); "
            "tidak ada lagi peringatan atau surat teguran untuk periode itu."
        )
        return lines
    warned = ""
    if owed.issued:
        warned = f", sedang ditegur ({STAGE_NAMES[max(owed.issued)]})"
    elif owed.chased and owed.overdue and not standing.awaiting:
        warned = ", sedang diperingatkan"
    lines.append(f"    Batas: {tanggal(standing.deadline)} ({sisa_hari(standing.deadline, ctx.today)}){warned}")
    if standing.awaiting:
        return lines
    lines.append(f"    Laporan {program.key} berikutnya dihitung untuk {periode(standing.period)} dulu.")
    return lines


def visible_units(ctx: Ctx, unit: Unit) -> bool:
    """Whether the sender may see `unit` (`models.scope.Viewer.sees`, the rule the dashboard shares): own unit; a
    camat also the sub-units; admin and pimpinan all."""
    viewer = viewer_for(ctx.me)
    if not viewer.whole_pemda:
        ctx.my_unit()  # someone bound to no unit is told to ask the admin
    return viewer.sees(ctx.session, unit)


async def status(ctx: Ctx) -> list[Reply]:
    """/status [unit]: a unit's standing on every program."""
    args = ctx.incoming.args
    role = ctx.role
    if args:
        unit = find_unit(ctx.session, " ".join(args))
        if not visible_units(ctx, unit):
            reach = "kecamatan Anda dan kelurahan/desa di bawahnya" if role is Role.CAMAT else "unit Anda sendiri"
            raise UserError(f"Bapak/Ibu hanya dapat melihat status {reach}. Ketik /status tanpa nama unit.")
        units = [unit]
    elif role in (Role.ADMIN, Role.PIMPINAN):
        raise UserError("Sebutkan unitnya: /status <unit>, contoh /status dinkes. Untuk semua unit ketik /rekap.")
    else:
        own = ctx.my_unit()
        units = [own, *(sub_units(ctx.session, own) if role is Role.CAMAT else [])]
    # Every read of the answer below goes out at once (one round trip on PostgreSQL): the units' figures and
    # checklist, their pauses, and the latest reports of the unit shown in full
    marks_of = [unit.id for unit in units if unit.id is not None]
    reads = [
        *standing_reads(ctx.pemda, units, ctx.today),
        *marks_read(ctx.pemda, ctx.deps.calendar, ctx.today, marks_of),
    ]
    read_ahead(ctx.session, [*reads, *_rejected_reads(ctx, units[0])])
    standings = load_standings(ctx.session, ctx.pemda, units, ctx.today)
    marks = pause_marks(ctx, standings, marks_of)
    head = f"Status per {tanggal(ctx.today)}"
    blocks = [_unit_block(units[0], standings, marks, ctx)]
    if len(units) > 1:
        lines = (
            _table_line(u, [s for (uid, _), s in standings.items() if uid == u.id], marks, ctx.today) for u in units[1:]
        )
        blocks.append("Kelurahan/desa di bawahnya:\n" + "\n".join(lines))
    chased = bool(standings)  # a unit no program applies to (a desa in some Pemda) has nothing to report
    foot = "Laporkan perubahan dengan /lapor." if role is not Role.PIMPINAN and chased else ""
    return [Reply("\n\n".join([head, *blocks, foot]).strip())]


def _table_line(unit: UnitLike, mine: list[Standing], marks: Mapping[tuple[int, str], PauseMark], today: date) -> str:
    """'❌ DINKES Dinas Kesehatan — katalog 3/10 · p3dn dispensasi (alasan: …)': one unit on one line, marked as
    /status marks a program: ❌ a deadline passed unmet, ⏳ not met yet before its deadline, ✅ all met."""
    parts: list[str] = []
    behind = late = False
    for standing in mine:
        pause = marks.get((standing.unit_id, standing.program.key))
        exempt = pause is not None and pause.exempts(standing)
        behind = behind or (not standing.compliant and not exempt)
        late = late or state_of(standing, pause, today) == "terlambat"
        shown = "" if exempt else nilai_singkat(standing)
        words = [standing.program.key, shown, pause.text(standing) if pause is not None else ""]
        parts.append(" ".join(w for w in words if w))
    mark = "❌" if late else "⏳" if behind else "✅"
    return f"{mark} {unit.code} {unit.name} — {' · '.join(parts) or 'tidak ada program'}"


MARKS_LEGEND = "Tanda: ❌ lewat batas waktu · ⏳ belum memenuhi, batas belum lewat · ✅ memenuhi semua"


REKAP_PAGE = 100
"""Units per page of the /rekap table (the page fits one chat message; a button shows the next)."""


async def rekap(ctx: Ctx) -> list[Reply]:
    """/rekap [halaman]: the Pemda-wide summary and table (a camat: the kecamatan), units behind first, by pages."""
    page = _page(ctx.incoming.args)
    units: list[UnitLike]
    if ctx.role is Role.CAMAT:
        own = ctx.my_unit()
        units = [own, *sub_units(ctx.session, own)]
        scope = own.name
    else:
        units = list(active_units(ctx.session))  # light rows: a Pemda may have 30,000 units
        scope = ctx.pemda.pemda.short_name
    standings = load_standings(ctx.session, ctx.pemda, units, ctx.today)
    marks = pause_marks(ctx, standings)
    exempt, paused = exempt_and_paused(standings, marks)
    by_unit: dict[int, list[Standing]] = defaultdict(list)
    by_program: dict[str, list[Standing]] = defaultdict(list)
    for (uid, key), standing in standings.items():
        by_unit[uid].append(standing)
        by_program[key].append(standing)
    units = [u for u in units if u.id in by_unit]
    behind_count: dict[int, int] = defaultdict(int)
    late_count: dict[int, int] = defaultdict(int)
    for (uid, key), standing in standings.items():
        if not standing.compliant and (uid, key) not in exempt:
            behind_count[uid] += 1
            late_count[uid] += state_of(standing, marks.get((uid, key)), ctx.today) == "terlambat"
    ordered = sorted(units, key=lambda u: (-late_count[u.id or 0], -behind_count[u.id or 0], u.code))
    pages = max(1, -(-len(ordered) // REKAP_PAGE))
    page = min(page, pages)
    complete = sum(1 for u in units if behind_count[u.id or 0] == 0)
    lines = [f"Rekap {scope} per {tanggal(ctx.today)}", f"{complete} dari {len(units)} unit memenuhi semua program."]
    if late := sum(1 for u in units if late_count[u.id or 0]):
        lines[-1] += f" {late} unit melewati batas waktu tanpa memenuhi target."
    if page == 1:
        lines += _program_lines(ctx, by_program, exempt, paused, whole_pemda=ctx.role is not Role.CAMAT)
        silent = unanswered(ctx.session, [u.id for u in units if u.id is not None], iso_week(ctx.today), standings)
        if silent:
            codes = {u.id: u.code for u in units}
            names = ", ".join(f"{codes[c.unit_id]} ({c.program_key})" for c in silent[:30])
            names += f" dan {len(silent) - 30} lainnya" if len(silent) > 30 else ""
            lines.append(f"Belum menjawab permintaan data minggu ini: {names}")
    lines.append("")
    shown = ordered[(page - 1) * REKAP_PAGE : page * REKAP_PAGE]
    lines.append(MARKS_LEGEND)
    lines.extend(_table_line(u, by_unit[u.id or 0], marks, ctx.today) for u in shown)
    buttons: list[Button] = []
    if pages > 1:
        lines.append(f"\nHalaman {page} dari {pages} (yang paling tertinggal di depan).")
        if page > 1:
            buttons.append(Button("◀ Sebelumnya", f"/rekap {page - 1}"))
        if page < pages:
            buttons.append(Button("Berikutnya ▶", f"/rekap {page + 1}"))
        if ctx.role in (Role.ADMIN, Role.PIMPINAN):  # the whole table at once, as a spreadsheet
            lines.append("Tabel lengkap semua unit sebagai berkas Excel: /ekspor")
            buttons.append(Button("Unduh Excel", "/ekspor"))
    return [Reply("\n".join(lines), tuple(buttons))]


def _page(args: list[str]) -> int:
    """The page asked for (`/rekap 2`); 1 when none or not a page number."""
    return (page_number(args[0]) if args else None) or 1


def _program_lines(
    ctx: Ctx,
    by_program: Mapping[str, list[Standing]],
    exempt: set[tuple[int, str]],
    paused: set[tuple[int, str]],
    *,
    whole_pemda: bool,
) -> list[str]:
    """One summary line per program: units meeting it, dispensations and pauses, and the total against the Pemda's
    `total_target` (a kecamatan's: against its own units' targets, as /grafik counts it)."""
    lines = []
    for program in ctx.pemda.programs:
        mine = by_program.get(program.key, [])
        if not mine:
            continue
        count = tally(mine, exempt, paused)
        line = f"• {program.label}: {count.compliant}/{count.units} unit memenuhi"
        freed, waiting, checking = count.exempt, count.paused, count.checking
        notes = [f"{freed} dengan dispensasi" if freed else "", f"{waiting} sedang diproses" if waiting else ""]
        notes.append(f"{checking} menunggu verifikasi" if checking else "")
        if freed or waiting or checking:
            line += f" ({', '.join(n for n in notes if n)})"
        if program.total_target is not None and program.measure == "count":
            goal = program.total_target if whole_pemda else program.target * count.units
            line += f"; total {angka(count.total)} dari {angka(goal)} {program.unit_label}".rstrip()
        lines.append(line)
    return lines


UNIT_PAGE = 100
KIND_HEADINGS = {"rsud": "RSUD", "satpol": "Satpol PP", "satpolpp": "Satpol PP", "upt": "UPT", "uptd": "UPTD"}
"""Unit kinds that are abbreviations, as /unit heads them (others: 'Dinas', 'Kecamatan')."""
"""Units per page of /unit (and at most this many found by a search)."""


async def unit_list(ctx: Ctx) -> list[Reply]:
    """/unit [halaman | kata]: the units and the short names people can type, by pages in a large Pemda, or those
    whose code, name or short name contains a word (`/unit kesehatan`)."""
    args = ctx.incoming.args
    if args and not (len(args) == 1 and args[0].isascii() and args[0].isdigit()):
        return [_unit_search(ctx, " ".join(args))]
    active = col(Unit.active).is_(True)
    total = ctx.session.exec(select(func.count()).select_from(Unit).where(active)).one()
    pages = max(1, -(-total // UNIT_PAGE))
    page = min(_page(args), pages)
    units = ctx.session.exec(
        select(Unit.code, Unit.name, Unit.kind, Unit.aliases)
        .where(active)
        .order_by(col(Unit.kind), col(Unit.code))
        .offset((page - 1) * UNIT_PAGE)
        .limit(UNIT_PAGE)
    ).all()
    lines = ["Daftar unit (kode — nama — nama pendek):"]
    if pages > 1:
        kinds = ctx.session.exec(
            select(Unit.kind, func.count()).where(active).group_by(col(Unit.kind)).order_by(col(Unit.kind))
        ).all()
        lines.append(f"{angka(total)} unit: " + ", ".join(f"{kind} {angka(count)}" for kind, count in kinds) + ".")
    lines += _unit_lines(units)
    buttons: list[Button] = []
    if pages > 1:
        lines.append(f"\nHalaman {page} dari {pages}. Cari unit: /unit <kata>, misalnya /unit kesehatan.")
        if page > 1:
            buttons.append(Button("◀ Sebelumnya", f"/unit {page - 1}"))
        if page < pages:
            buttons.append(Button("Berikutnya ▶", f"/unit {page + 1}"))
    return [Reply("\n".join(lines), tuple(buttons))]


def _unit_lines(units: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """'Dinas:' then 'DINKES — Dinas Kesehatan — dinkes' per unit (given by kind, then code)."""
    lines: list[str] = []
    kind_shown = ""
    for code, name, kind, aliases in units:
        if kind != kind_shown:
            lines.append(f"\n{KIND_HEADINGS.get(kind.lower(), kind.capitalize())}:")
            kind_shown = kind
        short = ", ".join(a.strip().lower() for a in aliases.split(",") if a.strip())
        lines.append(f"{code} — {name}" + (f" — {short}" if short else ""))
    return lines


def _unit_search(ctx: Ctx, text: str) -> Reply:
    """The active units whose code, name or short name contains `text` (any case), at most `UNIT_PAGE`."""
    wanted = text.strip().lower()[:60]
    found = ctx.session.exec(
        select(Unit.code, Unit.name, Unit.kind, Unit.aliases)
        .where(col(Unit.active).is_(True))
        .where(
            or_(
                func.lower(col(Unit.code)).contains(wanted, autoescape=True),
                func.lower(col(Unit.name)).contains(wanted, autoescape=True),
                func.lower(col(Unit.aliases)).contains(wanted, autoescape=True),
            )
        )
        .order_by(col(Unit.kind), col(Unit.code))
        .limit(UNIT_PAGE + 1)
    ).all()
    if not found:
        return Reply(f"Tidak ada unit yang memuat “{text}”. Coba kata lain, atau ketik /unit untuk daftar semua unit.")
    lines = [f"Unit yang memuat “{text}” (kode — nama — nama pendek):", *_unit_lines(found[:UNIT_PAGE])]
    if len(found) > UNIT_PAGE:
        lines.append(f"\nHanya {UNIT_PAGE} yang pertama ditampilkan; perjelas kata carinya.")
    return Reply("\n".join(lines))
