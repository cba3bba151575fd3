"""/proses and /dispensasi: a unit pauses reminders while it works; an admin exempts a unit from a program."""

from __future__ import annotations

from sqlmodel import col, select

from handlers.base import Ctx, find_program, find_unit
from handlers.libur import DATE_FORMS, split_date
from handlers.report_period import open_period
from models.app import UserError
from models.fmt import periode, tanggal
from models.ladder import PAUSE_DISPENSASI, PAUSE_PROSES
from models.messages import Reply
from models.pauses import chased_periods
from models.pemda import ProgramConfig
from models.standing import current_period, load_standings
from models.tables import Pause, Unit

PROSES_USAGE = "Cara pakai: /proses <program> <tanggal>, contoh /proses katalog 10/12/2026"
DISPENSASI_USAGE = (
    "Cara pakai:\n"
    "/dispensasi <unit> <program> <alasan> — membebaskan unit dari pengingat dan eskalasi program itu\n"
    "/dispensasi cabut <unit> <program> — mencabut dispensasi\n"
    "/dispensasi — daftar dispensasi yang berlaku"
)


def _assigned(ctx: Ctx, unit: Unit, program: ProgramConfig) -> None:
    standings = load_standings(ctx.session, ctx.pemda, [unit], ctx.today, [program])
    if (unit.id or 0, program.key) not in standings:
        raise UserError(f"Program {program.label} tidak ditugaskan ke {unit.name}. Cek /status.")


def _active(ctx: Ctx, unit: Unit, program: ProgramConfig, kind: str, period: str | None = None) -> Pause | None:
    return ctx.session.exec(
        select(Pause).where(
            Pause.unit_id == unit.id,
            Pause.program_key == program.key,
            Pause.period == (period or current_period(program, ctx.today)),
            Pause.kind == kind,
            col(Pause.revoked_at).is_(None),
        )
    ).first()


def running_periods(ctx: Ctx, program: ProgramConfig) -> list[str]:
    """`models.pauses.chased_periods` for the sender's Pemda today."""
    return chased_periods(ctx.pemda, ctx.deps.calendar, ctx.today, program)


async def proses(ctx: Ctx) -> list[Reply]:
    """/proses <program> <tanggal>: 'sedang diproses' — pause reminders until a date (never past the deadline)."""
    args = ctx.incoming.args
    if not args:
        raise UserError(f"Program dan tanggalnya belum diisi.\n{PROSES_USAGE}")
    program = find_program(ctx.pemda, args[0], "/proses katalog 2026-12-05")
    if len(args) < 2:
        raise UserError(f"Sampai tanggal berapa sedang diproses? Tulis misalnya {DATE_FORMS}.\n{PROSES_USAGE}")
    until, rest = split_date(args[1:], ctx.today)
    unit = ctx.my_unit()
    _assigned(ctx, unit, program)
    period = open_period(ctx, unit, program)  # the month just ended while its deadline is still open
    deadline = program.deadline_of(period)
    label = program.label
    if period != current_period(program, ctx.today):
        label += f" {periode(period)}"
    standing = load_standings(ctx.session, ctx.pemda, [unit], ctx.today, [program], {program.key: period}).get(
        (unit.id or 0, program.key)
    )
    if standing is not None and standing.compliant:
        raise UserError(
            f"{label} {unit.name} sudah memenuhi target; pengingat tidak dikirim lagi, tidak perlu ditunda. "
            "Ketik /status untuk melihat capaian."
        )
    if ctx.today > deadline:
        raise UserError(
            f"Batas waktu {program.label} ({tanggal(deadline)}) sudah lewat, jadi pengingat tidak dapat ditunda lagi. "
            f"Mohon segera laporkan dengan /lapor {program.key}."
        )
    if until < ctx.today:
        raise UserError(f"{tanggal(until)} sudah lewat. Pilih tanggal hari ini atau sesudahnya.\n{PROSES_USAGE}")
    note = ""
    if until > deadline:
        note = f"\nCatatan: penundaan dibatasi sampai batas waktu program, {tanggal(deadline)}."
        until = deadline
    row = _active(ctx, unit, program, PAUSE_PROSES, period) or Pause(
        unit_id=unit.id or 0, program_key=program.key, period=period, kind=PAUSE_PROSES, created_at=ctx.now
    )
    row.until = until
    row.reason = " ".join(rest)[:300]
    row.created_by_id = ctx.me.id
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("pause.proses", unit.code, program=program.key, period=period, until=until.isoformat())
    return [
        Reply(
            f"Baik, {label} {unit.name} dicatat sedang diproses sampai {tanggal(until)}. "
            "Pengingat ditunda sampai tanggal itu. Peringatan dan surat teguran setelah batas waktu tetap berjalan "
            f"bila target belum tercapai. Laporkan hasilnya dengan /lapor {program.key}.{note}"
        )
    ]


async def dispensasi(ctx: Ctx) -> list[Reply]:
    """/dispensasi <unit> <program> <alasan> | cabut <unit> <program>: an admin's exemption, with a reason."""
    args = ctx.incoming.args
    if not args:
        return [_list(ctx)]
    if args[0].lower() == "cabut":
        return [_revoke(ctx, args[1:])]
    if len(args) < 3:
        raise UserError(f"Unit, program dan alasannya harus diisi.\n{DISPENSASI_USAGE}")
    unit = find_unit(ctx.session, args[0])
    program = find_program(ctx.pemda, args[1], "/dispensasi dinkes katalog <alasan>")
    reason = " ".join(args[2:]).strip()
    if len(reason) < 5:
        raise UserError("Alasan dispensasi terlalu singkat. Contoh: /dispensasi dinkes katalog Unit baru dibentuk")
    _assigned(ctx, unit, program)
    periods = [p for p in running_periods(ctx, program) if _active(ctx, unit, program, PAUSE_DISPENSASI, p) is None]
    if current_period(program, ctx.today) not in periods:
        raise UserError(
            f"{unit.name} sudah mendapat dispensasi {program.label}. Cabut dulu dengan "
            f"/dispensasi cabut {unit.code.lower()} {program.key} bila ingin mengubahnya."
        )
    for each in periods:
        ctx.session.add(
            Pause(
                unit_id=unit.id or 0,
                program_key=program.key,
                period=each,
                kind=PAUSE_DISPENSASI,
                reason=reason[:300],
                created_by_id=ctx.me.id,
                created_at=ctx.now,
            )
        )
    ctx.session.flush()
    period = " dan ".join(periods)
    ctx.audit("pause.dispensasi", unit.code, program=program.key, period=period, reason=reason)
    return [
        Reply(
            f"✅ Dispensasi {program.label} periode {period} untuk {unit.name} dicatat: {reason}.\n"
            "Unit ini tidak menerima pengingat, peringatan maupun surat teguran program itu sampai dispensasi "
            f"dicabut (/dispensasi cabut {unit.code.lower()} {program.key})."
        )
    ]


def _revoke(ctx: Ctx, args: list[str]) -> Reply:
    if len(args) != 2:
        raise UserError(f"Sebutkan unit dan programnya.\n{DISPENSASI_USAGE}")
    unit = find_unit(ctx.session, args[0])
    program = find_program(ctx.pemda, args[1], "/dispensasi dinkes katalog <alasan>")
    rows = [r for p in running_periods(ctx, program) if (r := _active(ctx, unit, program, PAUSE_DISPENSASI, p))]
    if not rows:
        raise UserError(f"{unit.name} tidak sedang mendapat dispensasi {program.label}.")
    for row in rows:
        row.revoked_at = ctx.now
        ctx.session.add(row)
    ctx.audit("pause.dispensasi_cabut", unit.code, program=program.key, period=" dan ".join(r.period for r in rows))
    return Reply(
        f"Dispensasi {program.label} untuk {unit.name} dicabut. Pengingat dan eskalasi berjalan lagi "
        "bila target belum tercapai."
    )


def _list(ctx: Ctx) -> Reply:
    rows = ctx.session.exec(
        select(Pause, Unit)
        .where(Pause.unit_id == Unit.id, Pause.kind == PAUSE_DISPENSASI, col(Pause.revoked_at).is_(None))
        .order_by(col(Unit.code), col(Pause.program_key))
    ).all()
    lines = ["Dispensasi yang berlaku:"]
    lines.extend(f"• {unit.code} {unit.name} — {row.program_key} {row.period}: {row.reason}" for row, unit in rows)
    if not rows:
        lines.append("Belum ada.")
    lines.append("")
    lines.append(DISPENSASI_USAGE)
    return Reply("\n".join(lines))
