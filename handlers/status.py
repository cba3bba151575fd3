"""/status, /rekap and /unit: where units stand, each person within their own reach."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from handlers import figures_upload
from handlers.base import Ctx, find_unit, sub_units
from handlers.pause import chased_periods
from models.app import UserError
from models.calendar import WorkingCalendar
from models.checkins import iso_week, unanswered
from models.db import core
from models.fmt import angka, nilai, nilai_singkat, periode, sisa_hari, tanggal, tanggal_pendek
from models.ladder import PAUSE_DISPENSASI, PAUSE_PROSES
from models.leaders import UnitLike, active_units
from models.messages import Button, Reply
from models.pemda import PemdaConfig
from models.scope import viewer_for
from models.standing import FEW_UNITS, Standing, load_standings
from models.tables import Pause, Role, Unit

Standings = Mapping[tuple[int, str], Standing]


class PauseMark(NamedTuple):
    """A unit's program under an admin's dispensation, or 'sedang diproses' (/proses) until a date."""

    kind: str
    """PAUSE_DISPENSASI or PAUSE_PROSES."""
    period: str
    until: date | None
    reason: str

    def exempts(self, standing: Standing) -> bool:
        """Whether the unit is not behind on `standing` because of this mark: a dispensation of the period shown."""
        return self.kind == PAUSE_DISPENSASI and self.period == standing.period

    def text(self, standing: Standing) -> str:
        """The one wording /status and /rekap share: 'dispensasi (alasan: …)', 'sedang diproses s.d. 5 Des 2026'.

        A mark of another period than the one shown (the previous period, while its ladder still runs) names it.
        """
        other = f" {periode(self.period)}" if self.period != standing.period else ""
        why = f" (alasan: {self.reason})" if self.reason else ""
        if self.kind == PAUSE_DISPENSASI:
            return f"dispensasi{other}{why}"
        until = f" s.d. {tanggal_pendek(self.until)}" if self.until is not None else ""
        return f"sedang diproses{other}{until}{why}"


def pause_marks(ctx: Ctx, standings: Standings) -> dict[tuple[int, str], PauseMark]:
    """`marks_for` the sender's Pemda today."""
    return marks_for(ctx.session, ctx.pemda, ctx.deps.calendar, ctx.today, standings)


def marks_for(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, today: date, standings: Standings
) -> dict[tuple[int, str], PauseMark]:
    """The dispensations and /proses pauses of the units and programs of `standings`, keyed like them.

    Only the periods the bot is chasing count (`handlers.pause.running_periods`: the current period, and the one
    before while its ladder runs), a revoked dispensation never, a pause only until its date. When a unit has
    several, the one about the period shown wins, then a dispensation over a pause.
    """
    if not standings:
        return {}
    programs = {s.program.key: s.program for s in standings.values()}
    periods = {key: chased_periods(pemda, calendar, today, program) for key, program in programs.items()}
    chased = sorted({period for each in periods.values() for period in each})
    params: dict[str, Any] = {"programs": list(programs), "periods": chased}
    units = {uid for uid, _key in standings}
    few = len(units) <= FEW_UNITS  # one unit, a kecamatan: only their rows, whatever the Pemda's size
    if few:
        params["units"] = list(units)
    found: dict[tuple[int, str], tuple[tuple[bool, bool], PauseMark]] = {}
    for unit_id, program_key, period, kind, until, reason in core(session).execute(_marks_statement(few), params):
        key = (unit_id, program_key)
        standing = standings.get(key)
        if standing is None or period not in periods[program_key]:
            continue
        if kind == PAUSE_PROSES and (until is None or until < today):
            continue
        rank = (period == standing.period, kind == PAUSE_DISPENSASI)
        if key not in found or rank >= found[key][0]:
            found[key] = (rank, PauseMark(kind, period, until, reason))
    return {key: mark for key, (_rank, mark) in found.items()}


@functools.cache
def _marks_statement(few: bool) -> Any:
    """The live dispensations and pauses of the programs `:programs` in the periods `:periods` (of the units `:units`
    when `few`), oldest first: built once, run with bound values."""
    columns = (Pause.unit_id, Pause.program_key, Pause.period, Pause.kind, Pause.until, Pause.reason)
    stmt = sa_select(*(col(c) for c in columns)).where(
        col(Pause.revoked_at).is_(None),
        col(Pause.kind).in_((PAUSE_DISPENSASI, PAUSE_PROSES)),
        col(Pause.program_key).in_(bindparam("programs", expanding=True)),
        col(Pause.period).in_(bindparam("periods", expanding=True)),
    )
    if few:
        stmt = stmt.where(col(Pause.unit_id).in_(bindparam("units", expanding=True)))
    return stmt.order_by(col(Pause.id))


STATE_MARKS = {"memenuhi": "✅", "menunggu verifikasi": "🔎", "dispensasi": "➖", "terlambat": "❌", "belum": "⏳"}
"""/status's mark for each `state_of` word."""


def state_of(standing: Standing, pause: PauseMark | None, today: date) -> str:
    """Where a unit stands on one program, as /status marks it: 'memenuhi', 'menunggu verifikasi' (the unit sent
    everything; the verifier has yet to decide), 'dispensasi', 'terlambat' (past the deadline) or 'belum'."""
    if standing.compliant:
        return "memenuhi"
    if standing.awaiting:
        return "menunggu verifikasi"
    if pause is not None and pause.exempts(standing):
        return "dispensasi"
    return "terlambat" if standing.deadline < today else "belum"


FILTERS = ("memenuhi", "tertinggal", "menunggu verifikasi", "dispensasi")
"""The groups /rekap counts per program (a unit may be in two: behind, with evidence waiting)."""


def in_group(group: str, standing: Standing, exempt: bool) -> bool:
    """Whether a unit's standing belongs to one of `FILTERS`: 'memenuhi' (compliant), 'tertinggal' (not compliant
    and no dispensation), 'menunggu verifikasi' (not compliant, evidence waiting) or 'dispensasi' (not compliant,
    exempted)."""
    if group == "memenuhi":
        return standing.compliant
    if group == "tertinggal":
        return not standing.compliant and not exempt
    if group == "menunggu verifikasi":
        return not standing.compliant and standing.pending is not None
    return group == "dispensasi" and not standing.compliant and exempt


class Tally(NamedTuple):
    """One program's units by group, as /rekap's summary line counts them."""

    units: int
    compliant: int
    behind: int
    checking: int
    exempt: int
    paused: int
    total: float


def tally(mine: list[Standing], exempt: set[tuple[int, str]], paused: set[tuple[int, str]]) -> Tally:
    """Count one program's standings (`mine`) per group (as `in_group` sorts them, in one pass: a Pemda may have
    30,000 units); `exempt` and `paused` hold (unit id, program key)."""
    compliant = behind = checking = freed = waiting = 0
    total = 0.0
    for s in mine:
        total += s.value or 0
        if s.compliant:
            compliant += 1
            continue
        key = (s.unit_id, s.program.key)
        if key in exempt:
            freed += 1
        else:
            behind += 1
        checking += s.pending is not None
        waiting += key in paused
    return Tally(len(mine), compliant, behind, checking, freed, waiting, total)


def _unit_block(unit: Unit, standings: Standings, marks: Mapping[tuple[int, str], PauseMark], ctx: Ctx) -> str:
    lines = [f"📊 {unit.name} ({unit.code})"]
    mine = [s for (uid, _), s in standings.items() if uid == unit.id]
    if not mine:
        lines.append("Belum ada program yang ditugaskan ke unit ini.")
    for standing in mine:
        pause = marks.get((standing.unit_id, standing.program.key))
        mark = STATE_MARKS[state_of(standing, pause, ctx.today)]
        lines.append(f"{mark} {standing.program.label}: {nilai(standing)}")
        lines.append(f"    Batas: {tanggal(standing.deadline)} ({sisa_hari(standing.deadline, ctx.today)})")
        if pause is not None:
            lines.append(f"    Keterangan: {pause.text(standing)}")
        if (note := figures_upload.sources_note(ctx, standing)) is not None:
            lines.append(note)
    return "\n".join(lines)


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
    standings = load_standings(ctx.session, ctx.pemda, units, ctx.today)
    marks = pause_marks(ctx, standings)
    head = f"Status per {tanggal(ctx.today)}"
    blocks = [_unit_block(units[0], standings, marks, ctx)]
    if len(units) > 1:
        lines = (_table_line(u, [s for (uid, _), s in standings.items() if uid == u.id], marks) for u in units[1:])
        blocks.append("Kelurahan/desa di bawahnya:\n" + "\n".join(lines))
    foot = "Laporkan perubahan dengan /lapor." if role is not Role.PIMPINAN else ""
    return [Reply("\n\n".join([head, *blocks, foot]).strip())]


def _table_line(unit: UnitLike, mine: list[Standing], marks: Mapping[tuple[int, str], PauseMark]) -> str:
    """'❌ DINKES Dinas Kesehatan — katalog 3/10 · p3dn dispensasi (alasan: …)': one unit on one line."""
    parts: list[str] = []
    behind = False
    for standing in mine:
        pause = marks.get((standing.unit_id, standing.program.key))
        exempt = pause is not None and pause.exempts(standing)
        behind = behind or (not standing.compliant and not exempt)
        shown = "" if exempt else nilai_singkat(standing)
        words = [standing.program.key, shown, pause.text(standing) if pause is not None else ""]
        parts.append(" ".join(w for w in words if w))
    return f"{'❌' if behind else '✅'} {unit.code} {unit.name} — {' · '.join(parts) or 'tidak ada program'}"


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
    exempt = {key for key, mark in marks.items() if mark.exempts(standings[key])}
    paused = {key for key, mark in marks.items() if mark.kind == PAUSE_PROSES}
    by_unit: dict[int, list[Standing]] = defaultdict(list)
    by_program: dict[str, list[Standing]] = defaultdict(list)
    for (uid, key), standing in standings.items():
        by_unit[uid].append(standing)
        by_program[key].append(standing)
    units = [u for u in units if u.id in by_unit]
    behind_count: dict[int, int] = defaultdict(int)
    for (uid, key), standing in standings.items():
        if not standing.compliant and (uid, key) not in exempt:
            behind_count[uid] += 1
    ordered = sorted(units, key=lambda u: (-behind_count[u.id or 0], u.code))
    pages = max(1, -(-len(ordered) // REKAP_PAGE))
    page = min(page, pages)
    complete = sum(1 for u in units if behind_count[u.id or 0] == 0)
    lines = [f"Rekap {scope} per {tanggal(ctx.today)}", f"{complete} dari {len(units)} unit memenuhi semua program."]
    if page == 1:
        lines += _program_lines(ctx, by_program, exempt, paused)
        silent = unanswered(ctx.session, [u.id for u in units if u.id is not None], iso_week(ctx.today), standings)
        if silent:
            codes = {u.id: u.code for u in units}
            names = ", ".join(f"{codes[c.unit_id]} ({c.program_key})" for c in silent[:30])
            names += f" dan {len(silent) - 30} lainnya" if len(silent) > 30 else ""
            lines.append(f"Belum menjawab permintaan data minggu ini: {names}")
    lines.append("")
    shown = ordered[(page - 1) * REKAP_PAGE : page * REKAP_PAGE]
    lines.extend(_table_line(u, by_unit[u.id or 0], marks) for u in shown)
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
    word = args[0] if args else ""
    return int(word) if word.isascii() and word.isdigit() and 0 < len(word) < 6 and int(word) > 0 else 1


def _program_lines(
    ctx: Ctx,
    by_program: Mapping[str, list[Standing]],
    exempt: set[tuple[int, str]],
    paused: set[tuple[int, str]],
) -> list[str]:
    """One summary line per program: units meeting it, dispensations and pauses, and the Pemda total."""
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
            line += f"; total {angka(count.total)} dari {angka(program.total_target)} {program.unit_label}".rstrip()
        lines.append(line)
    return lines


UNIT_PAGE = 100
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
            lines.append(f"\n{kind.capitalize()}:")
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
