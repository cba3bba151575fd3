"""/status, /rekap and /unit: where units stand, each person within their own reach."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import NamedTuple

from sqlmodel import col, select

from handlers import figures_upload
from handlers.base import Ctx, find_unit, sub_units
from handlers.pause import running_periods
from models.app import UserError
from models.checkins import iso_week, unanswered
from models.fmt import angka, nilai, nilai_singkat, periode, sisa_hari, tanggal, tanggal_pendek
from models.ladder import PAUSE_DISPENSASI, PAUSE_PROSES
from models.messages import Button, Reply
from models.standing import Standing, load_standings
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
    """The dispensations and /proses pauses of the units and programs of `standings`, keyed like them.

    Only the periods the bot is chasing count (`handlers.pause.running_periods`: the current period, and the one
    before while its ladder runs), a revoked dispensation never, a pause only until its date. When a unit has
    several, the one about the period shown wins, then a dispensation over a pause.
    """
    if not standings:
        return {}
    programs = {s.program.key: s.program for s in standings.values()}
    periods = {key: running_periods(ctx, program) for key, program in programs.items()}
    rows = ctx.session.exec(
        select(Pause)
        .where(
            col(Pause.revoked_at).is_(None),
            col(Pause.kind).in_((PAUSE_DISPENSASI, PAUSE_PROSES)),
            col(Pause.program_key).in_(list(programs)),
            col(Pause.period).in_(sorted({p for each in periods.values() for p in each})),
        )
        .order_by(col(Pause.id))
    ).all()
    found: dict[tuple[int, str], tuple[tuple[bool, bool], PauseMark]] = {}
    for row in rows:
        key = (row.unit_id, row.program_key)
        standing = standings.get(key)
        if standing is None or row.period not in periods[row.program_key]:
            continue
        if row.kind == PAUSE_PROSES and (row.until is None or row.until < ctx.today):
            continue
        rank = (row.period == standing.period, row.kind == PAUSE_DISPENSASI)
        if key not in found or rank >= found[key][0]:
            found[key] = (rank, PauseMark(row.kind, row.period, row.until, row.reason))
    return {key: mark for key, (_rank, mark) in found.items()}


def _unit_block(unit: Unit, standings: Standings, marks: Mapping[tuple[int, str], PauseMark], ctx: Ctx) -> str:
    lines = [f"📊 {unit.name} ({unit.code})"]
    mine = [s for (uid, _), s in standings.items() if uid == unit.id]
    if not mine:
        lines.append("Belum ada program yang ditugaskan ke unit ini.")
    for standing in mine:
        pause = marks.get((standing.unit_id, standing.program.key))
        if standing.compliant:
            mark = "✅"
        elif standing.awaiting:  # the unit sent everything; the verifier has yet to decide
            mark = "🔎"
        elif pause is not None and pause.exempts(standing):
            mark = "➖"
        else:
            mark = "❌" if standing.deadline < ctx.today else "⏳"
        lines.append(f"{mark} {standing.program.label}: {nilai(standing)}")
        lines.append(f"    Batas: {tanggal(standing.deadline)} ({sisa_hari(standing.deadline, ctx.today)})")
        if pause is not None:
            lines.append(f"    Keterangan: {pause.text(standing)}")
        if (note := figures_upload.sources_note(ctx, standing)) is not None:
            lines.append(note)
    return "\n".join(lines)


def visible_units(ctx: Ctx, unit: Unit) -> bool:
    """Whether the sender may see `unit`: own unit; a camat also the sub-units; admin and pimpinan all."""
    role = ctx.role
    if role in (Role.ADMIN, Role.PIMPINAN):
        return True
    own = ctx.my_unit()
    if unit.id == own.id:
        return True
    return role is Role.CAMAT and unit.parent_id == own.id


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


def _table_line(unit: Unit, mine: list[Standing], marks: Mapping[tuple[int, str], PauseMark]) -> str:
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
    if ctx.role is Role.CAMAT:
        own = ctx.my_unit()
        units = [own, *sub_units(ctx.session, own)]
        scope = own.name
    else:
        units = list(ctx.session.exec(select(Unit).where(col(Unit.active).is_(True)).order_by(col(Unit.code))).all())
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
        ok = sum(1 for s in mine if s.compliant)
        line = f"• {program.label}: {ok}/{len(mine)} unit memenuhi"
        freed = sum(1 for s in mine if not s.compliant and (s.unit_id, program.key) in exempt)
        waiting = sum(1 for s in mine if not s.compliant and (s.unit_id, program.key) in paused)
        notes = [f"{freed} dengan dispensasi" if freed else "", f"{waiting} sedang diproses" if waiting else ""]
        checking = sum(1 for s in mine if s.pending is not None and not s.compliant)
        notes.append(f"{checking} menunggu verifikasi" if checking else "")
        if freed or waiting or checking:
            line += f" ({', '.join(n for n in notes if n)})"
        if program.total_target is not None and program.measure == "count":
            total = sum(s.value or 0 for s in mine)
            line += f"; total {angka(total)} dari {angka(program.total_target)} {program.unit_label}".rstrip()
        lines.append(line)
    return lines


async def unit_list(ctx: Ctx) -> list[Reply]:
    """/unit: the units and the short names people can type."""
    units = ctx.session.exec(
        select(Unit).where(col(Unit.active).is_(True)).order_by(col(Unit.kind), col(Unit.code))
    ).all()
    by_kind: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        by_kind[unit.kind].append(unit)
    lines = ["Daftar unit (kode — nama — nama pendek):"]
    for kind, members in by_kind.items():
        lines.append(f"\n{kind.capitalize()}:")
        lines.extend(
            f"{u.code} — {u.name}" + (f" — {', '.join(u.alias_list())}" if u.alias_list() else "") for u in members
        )
    return [Reply("\n".join(lines))]
