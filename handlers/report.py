"""/lapor: status updates, in one line or guided with buttons (the guided state lives in the database)."""

from __future__ import annotations

import re
import unicodedata

from sqlmodel import select

from handlers.base import REPORTERS, Ctx, find_program, find_unit, load_state_data
from models.app import UserError
from models.fmt import angka, nilai, periode, persen, sisa_hari, tanggal
from models.messages import Button, Reply
from models.pemda import ProgramConfig
from models.periods import previous_period
from models.standing import ITEM_STATUSES, current_period, load_standings
from models.tables import ChecklistItem, Report, Role, Unit

FLOW = "lapor"
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_THOUSANDS = re.compile(r"^[0-9]{1,3}(\.[0-9]{3})+$")
_PLAIN_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
MAX_VALUE = 1_000_000_000
"""The largest figure accepted: far above any real count, and small enough to show and store everywhere."""
STATUS_WORDS = {
    "selesai": "selesai",
    "sudah": "selesai",
    "done": "selesai",
    "lengkap": "selesai",
    "proses": "proses",
    "sedang": "proses",
    "belum": "belum",
}


def parse_number(text: str, *, whole: bool) -> float:
    """Read '120', '1.250', '42,5', '42.5 %' the Indonesian way; a UserError says what was wrong."""
    raw = unicodedata.normalize("NFKC", text).strip().replace(" ", "").rstrip("%")
    cleaned = raw
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif _THOUSANDS.match(cleaned) and whole:
        cleaned = cleaned.replace(".", "")
    if not _PLAIN_NUMBER.match(cleaned):  # no 'NaN', 'inf', '1e5', '1_000' or other scripts' digits
        raise UserError(f"“{text}” bukan angka.")
    value = float(cleaned)
    if value < 0:
        raise UserError("Angka tidak boleh negatif.")
    if value > MAX_VALUE:
        raise UserError(f"Angka “{text}” terlalu besar. Mohon periksa kembali.")
    if whole and value != int(value):
        raise UserError(f"“{text}” harus bilangan bulat (jumlah produk tidak berkoma).")
    return value


def example(program: ProgramConfig) -> str:
    """The one-line form of a report for `program`."""
    return {
        "count": f"/lapor {program.key} 120",
        "percent": f"/lapor {program.key} 42,5",
        "submission": f"/lapor {program.key} <judul inovasi>",
        "checklist": f"/lapor {program.key} <kode indikator> selesai",
    }[program.measure]


def _own_unit_or_named(ctx: Ctx, args: list[str]) -> tuple[Unit, list[str]]:
    """The unit reported for, and the remaining words; people report only for their own unit."""
    role = ctx.role
    if args and ctx.pemda.program(args[0]) is None and len(args) >= 2 and ctx.pemda.program(args[1]) is not None:
        named = find_unit(ctx.session, args[0])
        if role is not Role.ADMIN:
            own = ctx.my_unit()
            if named.id != own.id:
                raise UserError(
                    f"Bapak/Ibu hanya dapat melapor untuk {own.name}. Laporan untuk {named.name} tidak dicatat."
                )
        return named, args[1:]
    if role is Role.ADMIN:
        if args and ctx.pemda.program(args[0]) is not None and len(args) == 1:
            return ctx.my_unit(), args
        if args and ctx.pemda.program(args[0]) is not None:
            raise UserError(
                "Admin melapor atas nama unit: /lapor <unit> <program> <nilai>\nContoh: /lapor dinkes katalog 120"
            )
    return ctx.my_unit(), args


def _applicable(ctx: Ctx, unit: Unit) -> list[ProgramConfig]:
    standings = load_standings(ctx.session, ctx.pemda, [unit], ctx.today)
    return [p for p in ctx.pemda.programs if (unit.id or 0, p.key) in standings]


async def lapor(ctx: Ctx) -> list[Reply]:
    """/lapor [program] [nilai]: record a status update for the sender's unit."""
    unit, args = _own_unit_or_named(ctx, ctx.incoming.args)
    if not args:
        programs = _applicable(ctx, unit)
        if not programs:
            raise UserError(f"Belum ada program yang ditugaskan ke {unit.name}.")
        ctx.clear_state()
        buttons = tuple(Button(p.label, f"/lapor {p.key}") for p in programs)
        return [Reply(f"Laporan untuk {unit.name}. Program mana yang ingin dilaporkan?", buttons)]
    program = find_program(ctx.pemda, args[0])
    if program not in _applicable(ctx, unit):
        raise UserError(
            f"Program {program.label} tidak ditugaskan ke {unit.name}. Cek /status untuk program unit Anda."
        )
    rest = args[1:]
    if not rest:
        return _ask(ctx, unit, program)
    if program.measure == "checklist":
        return _checklist(ctx, unit, program, rest)
    return _record_value(ctx, unit, program, rest)


async def continue_flow(ctx: Ctx) -> list[Reply]:
    """A plain-text answer inside the guided /lapor conversation."""
    state = ctx.get_state()
    data = load_state_data(state) if state else {}
    program = ctx.pemda.program(str(data.get("program", "")))
    unit = ctx.session.get(Unit, data.get("unit_id")) if data.get("unit_id") else None
    if program is None or unit is None or not _still_reportable(ctx, unit, program):
        ctx.clear_state()  # a reply, not a UserError: the rollback would keep the stale conversation open
        return [Reply("Percakapan laporan sebelumnya sudah tidak berlaku. Silakan mulai lagi dengan /lapor.")]
    words = ctx.incoming.args
    if not words:
        raise UserError(f"Mohon kirim isinya, atau ketik /batal. Contoh: {example(program)}")
    if program.measure == "checklist":
        item = data.get("item")
        return _checklist(ctx, unit, program, [str(item), *words] if item else words)
    return _record_value(ctx, unit, program, words)


def _still_reportable(ctx: Ctx, unit: Unit, program: ProgramConfig) -> bool:
    """Whether a conversation opened earlier may still record for `unit`: the unit is active, the sender still
    answers for it (a person re-bound to another unit since does not), and the program still applies to it."""
    if not unit.active:
        return False
    if ctx.role is not Role.ADMIN and (ctx.me.unit_id != unit.id or ctx.role not in REPORTERS):
        return False
    return program in _applicable(ctx, unit)


def _ask(ctx: Ctx, unit: Unit, program: ProgramConfig) -> list[Reply]:
    ctx.set_state(FLOW, program=program.key, unit_id=unit.id)
    if program.measure == "count":
        question = (
            f"Berapa jumlah {program.unit_label or 'capaian'} {program.label} {unit.name} saat ini? "
            "Kirim angkanya saja, misalnya 120."
        )
    elif program.measure == "percent":
        question = f"Berapa persen capaian {program.label} {unit.name} saat ini? Kirim angkanya saja, misalnya 42,5."
    elif program.measure == "submission":
        question = f"Mohon kirim judul {program.label} yang diajukan {unit.name}."
    else:
        items = _unit_items(ctx, unit, program)
        standing = load_standings(ctx.session, ctx.pemda, [unit], ctx.today, [program]).get((unit.id or 0, program.key))
        open_codes = set(standing.open_items) if standing else set()
        buttons = tuple(
            Button(
                f"{'⬜' if i.code in open_codes else '✅'} {i.code} {i.title}"[:60], f"/lapor {program.key} {i.code}"
            )
            for i in items
        )
        return [Reply(f"Indikator {program.label} untuk {unit.name}. Pilih indikator yang ingin dilaporkan:", buttons)]
    return [Reply(question + "\nKetik /batal untuk membatalkan.")]


def _unit_items(ctx: Ctx, unit: Unit, program: ProgramConfig) -> list[ChecklistItem]:
    return list(
        ctx.session.exec(
            select(ChecklistItem)
            .where(ChecklistItem.program_key == program.key, ChecklistItem.unit_id == unit.id)
            .where(ChecklistItem.period == current_period(program, ctx.today))
            .order_by(ChecklistItem.code)
        ).all()
    )


def _split_evidence(words: list[str]) -> tuple[list[str], str | None]:
    links = [w for w in words if _URL.match(w)]
    return [w for w in words if not _URL.match(w)], (links[0][:500] if links else None)


def _record_value(ctx: Ctx, unit: Unit, program: ProgramConfig, words: list[str]) -> list[Reply]:
    words, evidence = _split_evidence(words)
    if program.measure == "submission":
        title = " ".join(words).strip()
        if len(title) < 5:
            raise UserError(f"Judul terlalu pendek. Contoh: {example(program)}")
        report = _new_report(ctx, unit, program, title=title[:300], evidence=evidence)
    else:
        if not words:
            raise UserError(f"Angkanya belum ada. Contoh: {example(program)}")
        number_text = words[0] if len(words) == 1 or words[1] not in ("%",) else words[0] + "%"
        try:
            value = parse_number(number_text, whole=program.measure == "count")
        except UserError as exc:
            raise UserError(f"{exc} Contoh yang benar: {example(program)}") from None
        if program.measure == "percent" and value > 100:
            raise UserError(f"Persentase tidak boleh lebih dari 100 %. Contoh yang benar: {example(program)}")
        note = " ".join(w for w in words[1:] if w != "%")
        report = _new_report(ctx, unit, program, value=value, note=note, evidence=evidence)
    return [_confirmation(ctx, unit, program, report)]


def _checklist(ctx: Ctx, unit: Unit, program: ProgramConfig, words: list[str]) -> list[Reply]:
    words, evidence = _split_evidence(words)
    if not words:
        raise UserError(f"Kode indikatornya belum ada. Contoh: {example(program)}")
    code = words[0]
    items = {i.code.lower(): i for i in _unit_items(ctx, unit, program)}
    item = items.get(code.lower())
    if item is None:
        known = ", ".join(i.code for i in items.values()) or "tidak ada"
        raise UserError(f"Indikator “{code}” bukan tanggung jawab {unit.name}. Indikator unit ini: {known}.")
    if len(words) < 2:
        ctx.set_state(FLOW, program=program.key, unit_id=unit.id, item=item.code)
        buttons = tuple(Button(s.capitalize(), f"/lapor {program.key} {item.code} {s}") for s in ITEM_STATUSES)
        return [Reply(f"Indikator {item.code} – {item.title}\nBagaimana statusnya?", buttons)]
    status = STATUS_WORDS.get(words[1].lower())
    if status is None:
        raise UserError(
            f"Status “{words[1]}” tidak dikenal. Pilihan: {', '.join(ITEM_STATUSES)}. "
            f"Contoh: /lapor {program.key} {item.code} selesai"
        )
    report = _new_report(
        ctx, unit, program, item_code=item.code, item_status=status, note=" ".join(words[2:]), evidence=evidence
    )
    return [_confirmation(ctx, unit, program, report)]


def _new_report(
    ctx: Ctx,
    unit: Unit,
    program: ProgramConfig,
    *,
    value: float | None = None,
    title: str | None = None,
    item_code: str | None = None,
    item_status: str | None = None,
    note: str = "",
    evidence: str | None = None,
) -> Report:
    assert unit.id is not None
    report = Report(
        unit_id=unit.id,
        program_key=program.key,
        period=reporting_period(ctx, unit, program),
        value=value,
        title=title,
        item_code=item_code,
        item_status=item_status,
        note=note[:500],
        evidence_url=evidence,
        reporter_id=ctx.me.id,
        channel=ctx.incoming.channel.value,
        created_at=ctx.now,
    )
    ctx.session.add(report)
    ctx.session.flush()
    ctx.clear_state()
    ctx.audit("report.created", unit.code, program=program.key, value=value, item=item_code, status=item_status)
    return report


def reporting_period(ctx: Ctx, unit: Unit, program: ProgramConfig) -> str:
    """The period a report counts for: the previous one while its deadline has not passed and the unit has not
    met it yet (a monthly figure reported in the days after the month), otherwise the current one."""
    current = current_period(program, ctx.today)
    previous = previous_period(current)
    if program.measure == "checklist" or program.deadline_of(previous) < ctx.today:
        return current
    periods = {program.key: previous}
    standing = load_standings(ctx.session, ctx.pemda, [unit], ctx.today, [program], periods).get(
        (unit.id or 0, program.key)
    )
    return previous if standing is not None and not standing.compliant else current


def _confirmation(ctx: Ctx, unit: Unit, program: ProgramConfig, report: Report) -> Reply:
    periods = {program.key: report.period}
    standing = load_standings(ctx.session, ctx.pemda, [unit], ctx.today, [program], periods)[
        (unit.id or 0, program.key)
    ]
    if program.measure == "count":
        what = f"{angka(report.value or 0)} {program.unit_label}".strip()
    elif program.measure == "percent":
        what = persen(report.value or 0)
    elif program.measure == "submission":
        what = f"“{report.title}”"
    else:
        what = f"indikator {report.item_code}: {report.item_status}"
    mark = "✅ Target terpenuhi." if standing.compliant else "⏳ Belum memenuhi target."
    label = program.label
    if report.period != current_period(program, ctx.today):
        label += f" {periode(report.period)}"
    return Reply(
        f"Tercatat untuk {unit.name} – {label}: {what}.\n"
        f"Capaian: {nilai(standing)}. {mark}\n"
        f"Batas waktu: {tanggal(standing.deadline)} ({sisa_hari(standing.deadline, ctx.today)}).\n"
        "Terima kasih. Ketik /status untuk melihat semua program."
    )
