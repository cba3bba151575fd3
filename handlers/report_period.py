"""Which period a report counts for, the confirmation that says it, and moving a report to the current period.

A report counts first for the period before the current one while the unit still owes it (`models.late`): its
deadline is still ahead (a monthly figure sent in the days after the month), or the sweep still warns the unit about
it (its ladder runs, or its letters are followed up). So a unit warned "Inovasi bulan November 2026 … terlambat" that
sends `/lapor inovasi <judul>` fixes November, the period it is warned about. The confirmation says so plainly
("… bulan November 2026 (yang terlambat)") and offers "Pindahkan ke Desember 2026" (`/lapor pindah <id>`) for a
report meant for the current period. A checklist report counts there only for an indicator still open in that period.
"""

from __future__ import annotations

from sqlmodel import col, select

from handlers.base import REPORTERS, Ctx, unit_named
from models.app import UserError
from models.evidence import title_key
from models.figures import indonesian
from models.fmt import nilai, periode, sisa_hari, tanggal
from models.late import Owed, owed_period
from models.messages import Button, Reply
from models.pemda import ProgramConfig
from models.periods import previous_period
from models.standing import DONE, Standing, current_period, load_standings
from models.tables import MAX_ID, ChecklistItem, Evidence, Report, Role, Unit, Verification

MOVE_WORD = "pindah"
"""`/lapor pindah <id>`: count a report sent for the previous period for the current one instead."""
MOVE_USAGE = (
    "Cara pakai: /lapor pindah <id laporan>, contoh /lapor pindah 12. Id laporan tertera di /riwayat (mis. #12), "
    "atau ketuk tombol “Pindahkan ke …” pada balasan laporan."
)


def shown(program: ProgramConfig, value: float, *, label: bool = False) -> str:
    """'1.250' (with label: '1.250 produk') or '42,5 %': the exact reading, the Indonesian way."""
    if program.measure == "percent":
        return f"{indonesian(value)} %"
    unit_label = program.unit_label if label and program.unit_label != "%" else ""
    return f"{indonesian(value)} {unit_label}".strip()


def owed(ctx: Ctx, unit: Unit, program: ProgramConfig) -> Owed | None:
    """`models.late.owed_period` for the sender's Pemda today."""
    return owed_period(ctx.session, ctx.pemda, ctx.deps.calendar, unit, ctx.today, program)


def reporting_period(ctx: Ctx, unit: Unit, program: ProgramConfig, item_code: str | None = None) -> str:
    """The period a report counts for: the previous one while the unit still owes it (for a checklist, when the
    indicator `item_code` is open there), otherwise the current one."""
    current = current_period(program, ctx.today)
    found = owed(ctx, unit, program)
    if found is None:
        return current
    if program.measure == "checklist" and item_code not in found.standing.open_items:
        return current
    return found.standing.period


def open_period(ctx: Ctx, unit: Unit, program: ProgramConfig) -> str:
    """The period a /proses pause is for: the previous one while its deadline has not passed and the unit has not
    met it yet (pausing reminders makes no sense once the deadline is gone), otherwise the current one."""
    current = current_period(program, ctx.today)
    previous = previous_period(current)
    if program.measure == "checklist" or program.deadline_of(previous) < ctx.today:
        return current
    periods = {program.key: previous}
    standing = load_standings(ctx.session, ctx.pemda, [unit], ctx.today, [program], periods).get(
        (unit.id or 0, program.key)
    )
    return previous if standing is not None and not standing.compliant else current


def _month(period: str) -> str:
    """'Desember 2026', 'triwulan I tahun 2027', 'tahun 2027': a period in words for a button."""
    return periode(period).removeprefix("bulan ")


def confirmation(ctx: Ctx, unit: Unit, program: ProgramConfig, report: Report) -> Reply:
    """'Tercatat untuk …': what was recorded, for which period, where the unit stands there, and the deadline.

    A report counted for the previous period says so ('(yang terlambat)' once its deadline has passed), whether the
    next report still goes there, and offers to move it to the current period.
    """
    periods = {program.key: report.period}
    standing = load_standings(ctx.session, ctx.pemda, [unit], ctx.today, [program], periods)[
        (unit.id or 0, program.key)
    ]
    if program.measure in ("count", "percent"):
        what = shown(program, report.value or 0, label=True)
    elif program.measure == "submission":
        what = f"“{report.title}”"
    else:
        what = f"indikator {report.item_code}: {report.item_status}"
    mark = "✅ Target terpenuhi." if standing.compliant else "⏳ Belum memenuhi target."
    required = program.verification == "required"
    if required and not standing.compliant:  # a plain report does not count there
        mark += " " + _counts_once_verified(program, report, standing)
        if report.item_code in standing.open_items and report.item_status == DONE:
            what += " (belum dihitung: menunggu bukti dukung yang disahkan)"
    label = f"{program.label}{period_words(ctx, program, report.period)}"
    lines = [
        f"Tercatat untuk {unit.name} – {label}: {what}.",
        f"Capaian{' yang dihitung' if required else ''}: {nilai(standing)}. {mark}",
        f"Batas waktu: {tanggal(standing.deadline)} ({sisa_hari(standing.deadline, ctx.today)}).",
    ]
    more, buttons = earlier_period_note(ctx, unit, program, report, standing)
    lines += more
    lines.append("Terima kasih. Ketik /status untuk melihat semua program.")
    return Reply("\n".join(lines), buttons)


def _counts_once_verified(program: ProgramConfig, report: Report, standing: Standing) -> str:
    """Under verification "required": that the report counts once its evidence is verified, and what to do."""
    caption = f"{program.key} {report.item_code or ''}".strip()
    send = f"kirim berkasnya dengan keterangan “{caption}”."
    code = report.item_code
    if code is None:
        return f"Program ini dihitung dari bukti dukung yang disahkan: {send}"
    if code not in standing.open_items:
        return (
            f"Indikator {code} sudah dihitung; indikator lain dihitung setelah bukti dukungnya disahkan: kirim "
            f"berkasnya dengan keterangan “{program.key} <kode>”."
        )
    if code in standing.waiting_items:
        return f"Indikator {code} dihitung selesai setelah bukti dukung yang sudah dikirim disahkan verifikator."
    return f"Indikator {code} baru dihitung selesai setelah bukti dukungnya disahkan verifikator: {send}"


def period_words(ctx: Ctx, program: ProgramConfig, period: str) -> str:
    """'' for the current period, else ' bulan November 2026', with ' (yang terlambat)' once its deadline passed."""
    if period == current_period(program, ctx.today):
        return ""
    return f" {periode(period)}" + (" (yang terlambat)" if program.deadline_of(period) < ctx.today else "")


def earlier_period_note(
    ctx: Ctx, unit: Unit, program: ProgramConfig, report: Report, standing: Standing | None = None
) -> tuple[list[str], tuple[Button, ...]]:
    """For a report counted for the previous period: whether the next one still goes there, and the button that
    moves this one to the current period. Nothing for a report of the current period."""
    current = current_period(program, ctx.today)
    if report.period == current:
        return [], ()
    if standing is None:
        periods = {program.key: report.period}
        standing = load_standings(ctx.session, ctx.pemda, [unit], ctx.today, [program], periods).get(
            (unit.id or 0, program.key)
        )
    then = f"{program.label} {periode(report.period)}"
    lines: list[str] = []
    if standing is not None and standing.compliant:
        stop = (
            " Tidak ada lagi peringatan atau surat teguran untuk periode itu." if standing.deadline < ctx.today else ""
        )
        lines.append(f"{then} kini terpenuhi.{stop} Laporan berikutnya dihitung untuk {periode(current)}.")
    else:
        lines.append(
            f"Laporan {program.label} berikutnya juga dihitung untuk {periode(report.period)} sampai targetnya "
            f"terpenuhi, baru kemudian untuk {periode(current)}."
        )
    lines.append(f"Bila laporan ini untuk {periode(current)}, ketuk “Pindahkan ke {_month(current)}”.")
    return lines, (Button(f"Pindahkan ke {_month(current)}", f"/lapor {MOVE_WORD} {report.id}"),)


def is_move(ctx: Ctx, args: list[str]) -> bool:
    """Whether `/lapor` was given `pindah <id>` (no program or unit is called so); `pindah` with anything else than
    one report id (a word, a number larger than any id) is a `UserError` with `MOVE_USAGE`."""
    if not args or args[0].lower() != MOVE_WORD or ctx.pemda.program(MOVE_WORD) is not None:
        return False
    if unit_named(ctx.session, MOVE_WORD) is not None:
        return False
    word = args[1] if len(args) == 2 else ""
    if not (word.isascii() and word.isdigit() and len(word) < 12 and int(word) <= MAX_ID):
        raise UserError(MOVE_USAGE)
    return True


def move(ctx: Ctx, report_id: int) -> list[Reply]:
    """/lapor pindah <id>: count a report sent for the previous period for the current one (its evidence moves with
    it); only its reporter or an admin, only while that period is the one just before the current one."""
    report = ctx.session.get(Report, report_id)
    program = ctx.pemda.program(report.program_key) if report is not None else None
    unit = ctx.session.get(Unit, report.unit_id) if report is not None else None
    if report is None or program is None or unit is None or report.withdrawn_at is not None:
        raise UserError(f"Laporan #{report_id} tidak ditemukan atau sudah ditarik. Ketik /riwayat untuk melihatnya.")
    if ctx.role is not Role.ADMIN and (
        ctx.role not in REPORTERS or ctx.me.unit_id != unit.id or report.reporter_id != ctx.me.id
    ):
        raise UserError("Hanya pelapornya atau admin yang dapat memindahkan laporan ini.")
    current = current_period(program, ctx.today)
    if report.period == current:
        return [Reply(f"Laporan #{report_id} sudah tercatat untuk {program.label} {periode(current)}.")]
    if report.period != previous_period(current):
        raise UserError(
            f"Laporan #{report_id} untuk {periode(report.period)} tidak dapat dipindahkan lagi: hanya laporan "
            "periode sebelumnya yang dapat dipindahkan ke periode berjalan."
        )
    if report.verification == Verification.VERIFIED.value:
        raise UserError(
            f"Laporan #{report_id} sudah dinyatakan sah untuk {periode(report.period)}, jadi tidak dipindahkan. "
            "Kirim laporan baru untuk periode berjalan."
        )
    _check_fits(ctx, unit, program, report, current)
    before = report.period
    report.period = current
    ctx.session.add(report)
    for evidence in ctx.session.exec(select(Evidence).where(Evidence.report_id == report.id)).all():
        evidence.period = current
        ctx.session.add(evidence)
    ctx.session.flush()
    ctx.audit("report.moved", unit.code, report=report.id, program=program.key, period_from=before, period_to=current)
    done = confirmation(ctx, unit, program, report)
    text = f"Dipindahkan dari {periode(before)} ke {periode(current)}.\n{done.text}"
    still = owed(ctx, unit, program)
    if still is not None:
        text += (
            f"\nMasih terbuka: {program.label} {periode(before)}: {nilai(still.standing)} "
            f"({sisa_hari(still.standing.deadline, ctx.today)})."
        )
    return [Reply(text)]


def _check_fits(ctx: Ctx, unit: Unit, program: ProgramConfig, report: Report, period: str) -> None:
    """Refuse a move that the current period cannot take: the same innovation already there, an indicator the unit
    has no longer."""
    if report.title is not None:
        key = title_key(report.title)
        there = ctx.session.exec(
            select(Report.title).where(
                Report.unit_id == unit.id,
                Report.program_key == program.key,
                Report.period == period,
                col(Report.title).is_not(None),
                col(Report.withdrawn_at).is_(None),
                Report.verification != Verification.REJECTED.value,
            )
        ).all()
        if any(title_key(t or "") == key for t in there):
            raise UserError(
                f"{program.label} “{report.title}” sudah tercatat untuk {periode(period)}, jadi tidak dipindahkan."
            )
    if report.item_code is not None:
        item = ctx.session.exec(
            select(ChecklistItem).where(
                ChecklistItem.program_key == program.key,
                ChecklistItem.unit_id == unit.id,
                ChecklistItem.period == period,
                ChecklistItem.code == report.item_code,
            )
        ).first()
        if item is None:
            raise UserError(f"Indikator {report.item_code} tidak ada untuk {unit.name} pada {periode(period)}.")
