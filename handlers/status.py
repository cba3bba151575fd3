"""/status, /rekap and /unit: where units stand, each person within their own reach."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import col, select

from handlers.base import Ctx, find_unit, sub_units
from models.app import UserError
from models.checkins import iso_week, unanswered
from models.fmt import angka, nilai, nilai_singkat, sisa_hari, tanggal
from models.ladder import PAUSE_DISPENSASI
from models.messages import Reply
from models.standing import Standing, load_standings
from models.tables import Pause, Role, Unit


def _unit_block(unit: Unit, standings: dict[tuple[int, str], Standing], ctx: Ctx) -> str:
    lines = [f"📊 {unit.name} ({unit.code})"]
    mine = [s for (uid, _), s in standings.items() if uid == unit.id]
    if not mine:
        lines.append("Belum ada program yang ditugaskan ke unit ini.")
    for standing in mine:
        mark = "✅" if standing.compliant else ("❌" if standing.deadline < ctx.today else "⏳")
        lines.append(f"{mark} {standing.program.label}: {nilai(standing)}")
        lines.append(f"    Batas: {tanggal(standing.deadline)} ({sisa_hari(standing.deadline, ctx.today)})")
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
    head = f"Status per {tanggal(ctx.today)}"
    blocks = [_unit_block(units[0], standings, ctx)]
    if len(units) > 1:
        blocks.append("Kelurahan/desa di bawahnya:\n" + "\n".join(_table_line(u, standings) for u in units[1:]))
    foot = "Laporkan perubahan dengan /lapor." if role is not Role.PIMPINAN else ""
    return [Reply("\n\n".join([head, *blocks, foot]).strip())]


def _table_line(
    unit: Unit, standings: dict[tuple[int, str], Standing], exempt: frozenset[tuple[int, str]] = frozenset()
) -> str:
    mine = [s for (uid, _), s in standings.items() if uid == unit.id]
    behind = [s for s in mine if not s.compliant and (s.unit_id, s.program.key) not in exempt]
    mark = "✅" if not behind else "❌"
    parts = (
        " · ".join(
            f"{s.program.key} {'dispensasi' if (s.unit_id, s.program.key) in exempt else nilai_singkat(s)}"
            for s in mine
        )
        or "tidak ada program"
    )
    return f"{mark} {unit.code} {unit.name} — {parts}"


def exemptions(ctx: Ctx, standings: dict[tuple[int, str], Standing]) -> frozenset[tuple[int, str]]:
    """(unit id, program key) pairs under an admin's dispensation for the period shown."""
    rows = ctx.session.exec(
        select(Pause.unit_id, Pause.program_key, Pause.period).where(
            Pause.kind == PAUSE_DISPENSASI, col(Pause.revoked_at).is_(None)
        )
    ).all()
    return frozenset(
        (unit_id, key)
        for unit_id, key, period in rows
        if (standing := standings.get((unit_id, key))) is not None and standing.period == period
    )


async def rekap(ctx: Ctx) -> list[Reply]:
    """/rekap: the Pemda-wide table (a camat: the kecamatan), units behind first."""
    if ctx.role is Role.CAMAT:
        own = ctx.my_unit()
        units = [own, *sub_units(ctx.session, own)]
        scope = own.name
    else:
        units = list(ctx.session.exec(select(Unit).where(col(Unit.active).is_(True)).order_by(col(Unit.code))).all())
        scope = ctx.pemda.pemda.short_name
    standings = load_standings(ctx.session, ctx.pemda, units, ctx.today)
    exempt = exemptions(ctx, standings)
    with_programs = {uid for uid, _ in standings}
    units = [u for u in units if u.id in with_programs]
    behind_count: dict[int, int] = defaultdict(int)
    for (uid, key), standing in standings.items():
        if not standing.compliant and (uid, key) not in exempt:
            behind_count[uid] += 1
    ordered = sorted(units, key=lambda u: (-behind_count[u.id or 0], u.code))
    complete = sum(1 for u in units if behind_count[u.id or 0] == 0)
    lines = [f"Rekap {scope} per {tanggal(ctx.today)}", f"{complete} dari {len(units)} unit memenuhi semua program."]
    for program in ctx.pemda.programs:
        mine = [s for (_, key), s in standings.items() if key == program.key]
        if not mine:
            continue
        ok = sum(1 for s in mine if s.compliant)
        line = f"• {program.label}: {ok}/{len(mine)} unit memenuhi"
        freed = sum(1 for s in mine if not s.compliant and (s.unit_id, program.key) in exempt)
        if freed:
            line += f" ({freed} dengan dispensasi)"
        if program.total_target is not None and program.measure == "count":
            total = sum(s.value or 0 for s in mine)
            line += f"; total {angka(total)} dari {angka(program.total_target)} {program.unit_label}".rstrip()
        lines.append(line)
    silent = unanswered(ctx.session, [u.id for u in units if u.id is not None], iso_week(ctx.today), standings)
    if silent:
        codes = {u.id: u.code for u in units}
        names = ", ".join(f"{codes[c.unit_id]} ({c.program_key})" for c in silent[:30])
        names += f" dan {len(silent) - 30} lainnya" if len(silent) > 30 else ""
        lines.append(f"Belum menjawab permintaan data minggu ini: {names}")
    lines.append("")
    lines.extend(_table_line(u, standings, exempt) for u in ordered)
    return [Reply("\n".join(lines))]


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
