"""/riwayat, /tarik and /inovasi: a unit's report history, withdrawing a wrong report, the innovation entries.

Nothing is deleted: a withdrawn report stays in the history marked "ditarik" (who, when, why) and simply stops
counting. A person may withdraw their own report within a day; an admin any report. Withdrawing asks first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import col, select

from handlers.base import Ctx, find_program, find_unit, short_name
from handlers.status import visible_units
from models.app import UserError
from models.fmt import angka, tanggal_pendek
from models.messages import Button, Reply
from models.pemda import PemdaConfig, ProgramConfig
from models.periods import previous_period
from models.standing import current_period
from models.tables import MAX_ID, Contact, Evidence, Report, Role, Unit, Verification

SHOWN = 20
"""Reports listed by /riwayat (newest first)."""
OWN_WITHDRAW_WINDOW = timedelta(days=1)
"""How long a person may withdraw their own report."""
CHANNEL_WORDS = {"telegram": "Telegram", "whatsapp": "WhatsApp", "console": "konsol", "impor": "impor"}
TARIK_USAGE = "Cara pakai: /tarik <id laporan> [alasan], contoh /tarik 12 salah ketik. Id laporan ada di /riwayat."


def _scope(ctx: Ctx, words: list[str]) -> tuple[Unit, ProgramConfig | None]:
    """The unit and (optional) program named by `words` in any order; the sender's own unit by default."""
    program: ProgramConfig | None = None
    rest: list[str] = []
    for word in words:
        found = ctx.pemda.program(word)
        if found is not None and program is None:
            program = found
        else:
            rest.append(word)
    if rest:
        unit = _unit_of(ctx, rest, program)
        if not visible_units(ctx, unit):
            raise UserError("Bapak/Ibu hanya dapat melihat riwayat unit Anda sendiri. Ketik /riwayat tanpa nama unit.")
    elif ctx.role in (Role.ADMIN, Role.PIMPINAN):
        example = f"/riwayat dinkes {program.key if program is not None else 'katalog'}"
        raise UserError(
            f"Sebutkan unitnya: admin dan pimpinan perlu menulis unit yang riwayatnya ingin dilihat, contoh {example}"
        )
    else:
        unit = ctx.my_unit()
    return unit, program


def _unit_of(ctx: Ctx, words: list[str], program: ProgramConfig | None) -> Unit:
    """The unit `words` name; when they do not, but all but the last do and no program was named, the last word is a
    mistyped program ('/riwayat dinkes katalgo'): that is what is said, not that 'dinkes katalgo' is no unit."""
    try:
        return find_unit(ctx.session, " ".join(words))
    except UserError:
        if len(words) > 1 and program is None and _is_unit(ctx, " ".join(words[:-1])):
            find_program(ctx.pemda, words[-1], f"/riwayat {' '.join(words[:-1])} katalog")  # raises: the program
        raise


def _is_unit(ctx: Ctx, text: str) -> bool:
    try:
        find_unit(ctx.session, text)
    except UserError:
        return False
    return True


def describe(ctx: Ctx, report: Report) -> str:
    """`report_text` under the sender's Pemda file."""
    return report_text(ctx.pemda, report)


def report_text(pemda: PemdaConfig, report: Report) -> str:
    """What a report says: '120 produk', '42,5 %', 'Inovasi: <judul>', 'Indikator 1.1: selesai'."""
    program = pemda.program(report.program_key)
    label = program.label if program is not None else report.program_key
    if report.title:
        return f"{label}: “{report.title}”"
    if report.item_code:
        return f"{label} indikator {report.item_code}: {report.item_status or '-'}"
    unit_label = f" {program.unit_label}" if program is not None and program.unit_label else ""
    value = "-" if report.value is None else angka(report.value)
    return f"{label}: {value}{unit_label}".replace(" %", "\u00a0%")


def _when(ctx: Ctx, at: datetime) -> str:
    local = at.astimezone(ctx.deps.calendar.zone)
    return f"{tanggal_pendek(local.date())} {local:%H.%M}"


def report_state(report: Report) -> str:
    """'ditarik: <alasan>', 'ditolak verifikator', 'terverifikasi', 'menunggu verifikasi' or '' (counts as sent)."""
    if report.withdrawn_at is not None:
        return "ditarik" + (f": {report.withdraw_reason}" if report.withdraw_reason else "")
    if report.verification == Verification.REJECTED.value:
        return "ditolak verifikator"
    if report.verification == Verification.VERIFIED.value:
        return "terverifikasi"
    if report.verification == Verification.PENDING.value:
        return "menunggu verifikasi"
    return ""


def _line(ctx: Ctx, report: Report, names: dict[int, str], evidence: dict[int, int]) -> str:
    who = names.get(report.reporter_id or 0, "sistem")
    channel = CHANNEL_WORDS.get(report.channel, report.channel)
    state = report_state(report)
    if state and report.withdrawn_at is None and report.id in evidence:
        state = f"bukti #{evidence[report.id]} {state}"  # the number /verifikasi takes, not the report's
    tail = f" — {state}" if state else ""
    return f"• #{report.id} {describe(ctx, report)} · {who}, {_when(ctx, report.created_at)}, {channel}{tail}"


def _evidence_of(ctx: Ctx, reports: Sequence[Report]) -> dict[int, int]:
    """The id of the (latest) evidence of each of `reports` that has one, by report id."""
    ids = [r.id for r in reports if r.id is not None and r.verification != Verification.SELF.value]
    if not ids:
        return {}
    rows = ctx.session.exec(
        select(Evidence.report_id, Evidence.id).where(col(Evidence.report_id).in_(ids)).order_by(col(Evidence.id))
    ).all()
    return {report_id: evidence_id or 0 for report_id, evidence_id in rows}


HISTORY_YEARS = 10
"""How far back /riwayat and /inovasi look (in years of periods)."""


def _of_unit(ctx: Ctx, unit: Unit, programs: Sequence[ProgramConfig]) -> ColumnElement[bool]:
    """A unit's reports on `programs`, as the report index finds them (program, period, unit): the periods are
    listed from the current one back `HISTORY_YEARS` years, so the query costs the same in any size of Pemda."""
    periods: set[str] = set()
    for program in programs:
        period = current_period(program, ctx.today)
        while int(period[:4]) > ctx.today.year - HISTORY_YEARS:
            periods.add(period)
            period = previous_period(period)
    return (
        col(Report.program_key).in_([p.key for p in programs])
        & col(Report.period).in_(sorted(periods))
        & (col(Report.unit_id) == unit.id)
    )


async def riwayat(ctx: Ctx) -> list[Reply]:
    """/riwayat [unit] [program]: the unit's reports, newest first, with who, when, channel and state."""
    unit, program = _scope(ctx, ctx.incoming.args)
    mine = _of_unit(ctx, unit, [program] if program is not None else ctx.pemda.programs)
    stmt = select(Report).where(mine)
    reports = list(ctx.session.exec(stmt.order_by(col(Report.id).desc()).limit(SHOWN + 1)).all())
    scope = f"{unit.name}" + (f", {program.label}" if program is not None else "")
    if not reports:
        return [Reply(f"Belum ada laporan untuk {scope}. Laporkan dengan /lapor.")]
    ids = {r.reporter_id for r in reports if r.reporter_id is not None}
    names = {c.id or 0: c.name for c in ctx.session.exec(select(Contact).where(col(Contact.id).in_(ids))).all()}
    lines = [f"Riwayat laporan {scope} (terbaru di atas):"]
    evidence = _evidence_of(ctx, reports[:SHOWN])
    lines += [_line(ctx, r, names, evidence) for r in reports[:SHOWN]]
    if len(reports) > SHOWN:
        lines.append(f"… hanya {SHOWN} terbaru yang ditampilkan; sebutkan programnya untuk mempersempit.")
    lines.append("Salah lapor? Tarik dengan /tarik <id> [alasan], lalu laporkan lagi dengan /lapor.")
    return [Reply("\n".join(lines))]


async def inovasi(ctx: Ctx) -> list[Reply]:
    """/inovasi [unit]: the innovation entries of a unit this period, with ids to withdraw a wrong one."""
    programs = [p for p in ctx.pemda.programs if p.measure == "submission"]
    if not programs:
        raise UserError("Tidak ada program pengajuan inovasi di berkas Pemda.")
    unit, _program = _scope(ctx, ctx.incoming.args)
    reports = ctx.session.exec(
        select(Report).where(_of_unit(ctx, unit, programs), col(Report.title).is_not(None)).order_by(col(Report.id))
    ).all()
    active = [r for r in reports if r.withdrawn_at is None and r.verification != Verification.REJECTED.value]
    if not reports:
        return [Reply(f"{unit.name} belum mengajukan inovasi. Ajukan dengan /lapor inovasi <judul>.")]
    ids = {r.reporter_id for r in reports if r.reporter_id is not None}
    names = {c.id or 0: c.name for c in ctx.session.exec(select(Contact).where(col(Contact.id).in_(ids))).all()}
    lines = [f"Inovasi {unit.name}: {len(active)} tercatat."]
    evidence = _evidence_of(ctx, reports)
    lines += [_line(ctx, r, names, evidence) for r in reports]
    lines.append("Entri keliru atau ganda? Tarik dengan /tarik <id> [alasan].")
    return [Reply("\n".join(lines))]


async def tarik(ctx: Ctx) -> list[Reply]:
    """/tarik <id> [alasan]: withdraw a report (asks first); the reporter within a day, an admin any report."""
    args = ctx.incoming.args
    if not args:
        raise UserError(TARIK_USAGE)
    word = args[0].lstrip("#")
    if not (word.isascii() and word.isdigit()) or int(word) > MAX_ID:
        raise UserError(f"“{args[0]}” bukan id laporan. {TARIK_USAGE}")
    report = ctx.session.get(Report, int(word))
    if report is None:
        raise UserError(f"Laporan #{word} tidak ada. Lihat id laporan dengan /riwayat.")
    unit = ctx.session.get(Unit, report.unit_id)
    assert unit is not None
    _check_may_withdraw(ctx, report, unit)
    if report.withdrawn_at is not None:
        return [Reply(f"Laporan #{report.id} sudah ditarik pada {_when(ctx, report.withdrawn_at)}.")]
    if len(args) > 1 and args[1].lower() == "batal":
        return [Reply(f"Baik, laporan #{report.id} tidak ditarik.")]
    confirmed = len(args) > 1 and args[1].lower() == "ya"
    reason = " ".join(args[2:] if confirmed else args[1:]).strip()[:300]
    if not confirmed:
        payload = f"/tarik {report.id} ya {reason}".strip()
        return [
            Reply(
                f"Tarik laporan #{report.id} {describe(ctx, report)} ({unit.name}, {_when(ctx, report.created_at)})? "
                "Laporan itu tidak dihitung lagi, tetapi tetap tercatat di riwayat.",
                buttons=(Button("Ya, tarik", payload), Button("Batal", f"/tarik {report.id} batal")),
            )
        ]
    report.withdrawn_at = ctx.now
    report.withdrawn_by_id = ctx.me.id
    report.withdraw_reason = reason
    ctx.session.add(report)
    ctx.audit("report.withdrawn", str(report.id), unit=unit.code, program=report.program_key, reason=reason)
    again = _report_again(ctx, report, unit)
    return [Reply(f"Laporan #{report.id} {describe(ctx, report)} ditarik dan tidak dihitung lagi. {again}")]


def _report_again(ctx: Ctx, report: Report, unit: Unit) -> str:
    """How to report the right one, in the program's measure: a title, an indicator's status, or a figure."""
    lapor = " ".join(["/lapor", *([short_name(unit)] if ctx.role is Role.ADMIN else []), report.program_key])
    if report.title:
        return f"Bila perlu, laporkan judul yang benar dengan {lapor} <judul>."
    if report.item_code:
        code = report.item_code
        return (
            f"Bila perlu, laporkan status indikator {code} yang benar (selesai, proses atau belum) dengan "
            f"{lapor} {code} <status>."
        )
    return f"Bila perlu, laporkan angka yang benar dengan {lapor} <angka>."


def _check_may_withdraw(ctx: Ctx, report: Report, unit: Unit) -> None:
    """An admin may withdraw any report; others only their own, within a day, of a unit they answer for."""
    if ctx.role is Role.ADMIN:
        return
    if report.reporter_id != ctx.me.id or not visible_units(ctx, unit):
        raise UserError(
            f"Laporan #{report.id} bukan laporan Bapak/Ibu, jadi hanya admin yang dapat menariknya. "
            "Mohon hubungi admin Sigap."
        )
    if ctx.now - report.created_at > OWN_WITHDRAW_WINDOW:
        raise UserError(
            f"Laporan #{report.id} sudah lebih dari sehari, jadi hanya admin yang dapat menariknya. "
            "Kirim angka yang benar dengan /lapor, atau hubungi admin Sigap."
        )
