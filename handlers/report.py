"""/lapor: status updates, in one line or guided with buttons (the guided state lives in the database).

Figures are read the Indonesian way (models.figures); what could be read two ways is asked with a button per
reading. A figure that looks wrong (below half the previous one, above ten times the target) is recorded only after
"Ya, catat". A mistyped program or unit gets the closest match, as a button when the match is clear.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, bindparam, insert
from sqlalchemy import select as sa_select
from sqlmodel import col, delete, select

from handlers.base import (
    REPORTERS,
    Ctx,
    NotFound,
    find_program,
    find_unit,
    indicator_key,
    load_state_data,
    program_names,
    unit_named,
)
from handlers.report_period import confirmation, is_move, move, owed, period_words, reporting_period, shown
from models.app import UserError
from models.db import core, read_ahead
from models.evidence import title_too_long
from models.figures import FigureError, FigureKind, Unclear, figure_words, indonesian, read_figure
from models.fmt import periode, waktu
from models.messages import Button, Reply
from models.pemda import ProgramConfig
from models.standing import ITEM_STATUSES, applicable_programs, current_period, load_standings, standing_reads
from models.tables import ChatState, ChecklistItem, Contact, Report, Role, Unit, Verification

FLOW = "lapor"
CONFIRM = "!ya"
"""The last word of the "Ya, catat" button's command: record this exact figure despite the doubt."""
PAYLOAD_LIMIT = 64
"""Telegram's limit on a button's payload, in bytes: a longer corrected command is offered as text only."""
MAX_UNIT_WORDS = 8
"""The most words a unit's name may take in '/lapor <unit> <program> …'."""
CANCEL_WORDS = frozenset({"batal", "batalkan", "cancel"})
YES_WORDS = frozenset({"ya", "y", "yakin", "catat", "ya catat", "ya, catat", "benar", "ok", "oke"})
NO_WORDS = frozenset({"tidak", "tdk", "jangan", "no"})
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
STATUS_WORDS = {
    "selesai": "selesai",
    "sudah": "selesai",
    "done": "selesai",
    "lengkap": "selesai",
    "proses": "proses",
    "sedang": "proses",
    "belum": "belum",
}


def example(program: ProgramConfig) -> str:
    """The one-line form of a report for `program`."""
    return {
        "count": f"/lapor {program.key} 120",
        "percent": f"/lapor {program.key} 42,5",
        "submission": f"/lapor {program.key} <judul inovasi>",
        "checklist": f"/lapor {program.key} <kode indikator> selesai",
    }[program.measure]


def _command(ctx: Ctx, unit: Unit, *words: str) -> str:
    """A /lapor command for `unit` as a button payload: admins always name the unit (they report for many)."""
    return " ".join(["/lapor", *([unit.code] if ctx.role is Role.ADMIN else []), *words])


def _named(ctx: Ctx, unit: Unit) -> Unit:
    """`unit`, when the sender may report for it: admins for any unit, the others only for their own."""
    if ctx.role is not Role.ADMIN:
        own = ctx.my_unit()
        if unit.id != own.id:
            raise UserError(f"Bapak/Ibu hanya dapat melapor untuk {own.name}. Laporan untuk {unit.name} tidak dicatat.")
    return unit


def _target(ctx: Ctx, args: list[str]) -> tuple[Unit, list[str]]:
    """The unit reported for, and the remaining words. Errors name the word that was wrong: in
    '/lapor dinkes katalgo 5' that is 'katalgo', in '/lapor dinkess katalog 5' it is 'dinkess'."""
    pemda = ctx.pemda
    if not args:
        return ctx.my_unit(), []
    if pemda.program(args[0]) is not None:
        if ctx.role is Role.ADMIN and len(args) > 1:
            raise UserError(
                "Admin melapor atas nama unit: /lapor <unit> <program> <nilai>\nContoh: /lapor dinkes katalog 120\n"
                "Atau ketik /lapor dinkes untuk mengisi langkah demi langkah."
            )
        return ctx.my_unit(), args
    if len(args) >= 2 and pemda.program(args[1]) is not None:
        return _named(ctx, find_unit(ctx.session, args[0])), args[1:]
    at = next((i for i in range(2, min(len(args), MAX_UNIT_WORDS + 1)) if pemda.program(args[i]) is not None), None)
    if at is not None:  # a unit named in words: '/lapor dinas kesehatan katalog 5'
        named = _unit_in_words(ctx, " ".join(args[:at]))
        if named is not None:
            return _named(ctx, named), args[at:]
    unit = unit_named(ctx.session, args[0])
    if unit is None:
        return ctx.my_unit(), args  # the first word is neither a program nor a unit: find_program names it
    return _named(ctx, unit), args[1:]  # '/lapor dinkes' asks step by step; in '/lapor dinkes katalgo' the 2nd word


def _unit_in_words(ctx: Ctx, text: str) -> Unit | None:
    """The unit named by several words, if they name one; a clear near miss is raised to be corrected."""
    try:
        return find_unit(ctx.session, text)
    except NotFound as exc:
        if exc.suggestion is not None:
            raise
        return None
    except UserError:
        return None  # not a unit after all: the first word is then what was wrong


def _applicable(ctx: Ctx, unit: Unit) -> list[ProgramConfig]:
    return applicable_programs(ctx.session, ctx.pemda, unit, ctx.today)


async def lapor(ctx: Ctx) -> list[Reply]:
    """/lapor [unit] [program] [nilai]: record a status update, or ask step by step."""
    args = ctx.incoming.args
    if is_move(ctx, args):
        return move(ctx, int(args[1]))
    try:
        unit, rest = _target(ctx, args)
        if not rest:
            return _choose_program(ctx, unit)
        return _program_step(ctx, unit, find_program(ctx.pemda, rest[0]), rest[1:])
    except NotFound as exc:
        return _did_you_mean(ctx, exc, ["/lapor", *args])


def _did_you_mean(ctx: Ctx, exc: NotFound, words: list[str]) -> list[Reply]:
    """The error of a mistyped name, with a button re-submitting `words` corrected when the match is clear."""
    lowered = [w.lower() for w in words]
    wrong = exc.word.lower().split()
    at = next((i for i in range(len(words)) if lowered[i : i + len(wrong)] == wrong), None)
    if exc.suggestion is None or at is None or not wrong:
        raise exc
    payload = " ".join([*words[:at], exc.suggestion, *words[at + len(wrong) :]])
    if len(payload.encode("utf-8")) > PAYLOAD_LIMIT:
        raise exc
    ctx.uow.rollback()  # as for any error: nothing of this message is kept
    return [Reply(str(exc), (Button(exc.suggestion, payload),))]


def _choose_program(ctx: Ctx, unit: Unit) -> list[Reply]:
    programs = _applicable(ctx, unit)
    if not programs:
        raise UserError(f"Belum ada program yang ditugaskan ke {unit.name}.")
    ctx.set_state(FLOW, step="program", unit_id=unit.id, choices=[p.key for p in programs])
    buttons = tuple(Button(p.label, _command(ctx, unit, p.key)) for p in programs)
    text = (
        f"Laporan untuk {unit.name}. Program mana yang ingin dilaporkan?\n"
        "Pilih tombol, atau ketik nomor atau nama programnya. Ketik /batal untuk membatalkan."
    )
    if ctx.role is Role.ADMIN and unit.id == ctx.me.unit_id:
        text += "\nUntuk unit lain: /lapor <unit>, misalnya /lapor dinkes."
    return [Reply(text, buttons)]


def _program_step(ctx: Ctx, unit: Unit, program: ProgramConfig, rest: list[str]) -> list[Reply]:
    if not applicable_programs(ctx.session, ctx.pemda, unit, ctx.today, [program]):
        raise UserError(
            f"Program {program.label} tidak ditugaskan ke {unit.name}. Cek /status untuk program unit Anda."
        )
    if not rest:
        return _ask(ctx, unit, program)
    if program.measure == "checklist":
        return _checklist(ctx, unit, program, rest)
    return _record_value(ctx, unit, program, rest)


async def continue_flow(ctx: Ctx) -> list[Reply]:
    """A plain-text answer inside the guided /lapor conversation."""
    state = ctx.get_state()
    data = load_state_data(state) if state else {}
    words = ctx.incoming.args
    if " ".join(words).lower() in CANCEL_WORDS:
        ctx.clear_state()
        return [Reply("Baik, laporan dibatalkan. Tidak ada yang dicatat.")]
    unit = ctx.session.get(Unit, data.get("unit_id")) if data.get("unit_id") else None
    if data.get("step") == "program":
        if unit is None or not _answers_for(ctx, unit):
            return _stale(ctx)
        try:
            return _typed_program(ctx, unit, data, words)
        except NotFound as exc:
            return _did_you_mean(ctx, exc, _command(ctx, unit).split() + words)
    program = ctx.pemda.program(str(data.get("program", "")))
    if program is None or unit is None or not _answers_for(ctx, unit) or program not in _applicable(ctx, unit):
        return _stale(ctx)
    if not words:
        raise UserError(f"Mohon kirim isinya, atau ketik /batal. Contoh: {example(program)}")
    if data.get("step") == "confirm":
        return _typed_confirmation(ctx, unit, program, data, words)
    if program.measure == "checklist":
        item = data.get("item")
        if item:
            return _checklist(ctx, unit, program, [str(item), _numbered(words[0], ITEM_STATUSES), *words[1:]])
        codes = [i.code for i in _unit_items(ctx, unit, program)]
        first = words[0] if words[0].lower() in (c.lower() for c in codes) else _numbered(words[0], codes)
        return _checklist(ctx, unit, program, [first, *words[1:]])
    return _record_value(ctx, unit, program, words)


def _stale(ctx: Ctx) -> list[Reply]:
    ctx.clear_state()  # a reply, not a UserError: the rollback would keep the stale conversation open
    return [Reply("Percakapan laporan sebelumnya sudah tidak berlaku. Silakan mulai lagi dengan /lapor.")]


def _numbered(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """The choice a typed number stands for ('2' -> the second button), or the word itself."""
    if word.isascii() and word.isdigit() and 1 <= int(word) <= len(choices):
        return choices[int(word) - 1]
    return word


def _answers_for(ctx: Ctx, unit: Unit) -> bool:
    """Whether a conversation opened earlier may still record for `unit`: the unit is active and the sender still
    answers for it (a person re-bound to another unit since does not)."""
    if not unit.active:
        return False
    return ctx.role is Role.ADMIN or (ctx.me.unit_id == unit.id and ctx.role in REPORTERS)


def _typed_program(ctx: Ctx, unit: Unit, data: dict[str, Any], words: list[str]) -> list[Reply]:
    """The program typed at the first step: its number among the buttons, key, alias or name (and maybe more)."""
    shown = [p for key in data.get("choices", []) if (p := ctx.pemda.program(str(key))) is not None]
    choices = shown or _applicable(ctx, unit)
    if not words:
        raise UserError("Mohon ketik nomor atau nama programnya, atau /batal.")
    first, rest = words[0], words[1:]
    if first.isascii() and first.isdigit():
        if not 1 <= int(first) <= len(choices):
            raise UserError(
                f"Pilihan “{first}” tidak ada. Ketik nomor 1 sampai {len(choices)} atau nama programnya "
                f"({program_names(choices)}), atau /batal."
            )
        return _program_step(ctx, unit, choices[int(first) - 1], rest)
    whole = " ".join(words).casefold()
    for program in choices:
        if whole in (program.label.casefold(), program.title.casefold()):
            return _program_step(ctx, unit, program, [])
    return _program_step(ctx, unit, find_program(ctx.pemda, first), rest)


def _ask(ctx: Ctx, unit: Unit, program: ProgramConfig) -> list[Reply]:
    ctx.set_state(
        FLOW, step="item" if program.measure == "checklist" else "value", program=program.key, unit_id=unit.id
    )
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
        late = owed(ctx, unit, program)
        open_codes = {*(standing.open_items if standing else ()), *(late.standing.open_items if late else ())}
        buttons = tuple(
            Button(
                f"{'⬜' if i.code in open_codes else '✅'} {i.code} {i.title}"[:60],
                _command(ctx, unit, program.key, i.code),
            )
            for i in items
        )
        return [
            Reply(
                f"Indikator {program.label} untuk {unit.name}. Pilih indikator yang ingin dilaporkan "
                "(atau ketik kodenya). Ketik /batal untuk membatalkan.",
                buttons,
            )
        ]
    period = reporting_period(ctx, unit, program)
    if (words := period_words(ctx, program, period)) != "":
        question += f"\nLaporan ini dihitung untuk {program.label}{words}, yang belum terpenuhi."
    return [Reply(question + "\nKetik /batal untuk membatalkan.")]


def _unit_items(ctx: Ctx, unit: Unit, program: ProgramConfig) -> list[ChecklistItem]:
    """The unit's indicators of the current period, with those still open in the previous period it owes."""
    periods = [current_period(program, ctx.today)]
    late = owed(ctx, unit, program)
    if late is not None:
        periods.append(late.standing.period)
    rows = ctx.session.exec(
        select(ChecklistItem)
        .where(ChecklistItem.program_key == program.key, ChecklistItem.unit_id == unit.id)
        .where(col(ChecklistItem.period).in_(periods))
        .order_by(col(ChecklistItem.code), col(ChecklistItem.period).desc())
    ).all()
    found: dict[str, ChecklistItem] = {}
    for item in rows:
        if item.period == periods[0] or (late is not None and item.code in late.standing.open_items):
            found.setdefault(item.code, item)
    return list(found.values())


def _split_evidence(words: list[str]) -> tuple[list[str], str | None]:
    links = [w for w in words if _URL.match(w)]
    return [w for w in words if not _URL.match(w)], (links[0][:500] if links else None)


def _kind(program: ProgramConfig) -> FigureKind:
    return "percent" if program.measure == "percent" else "count"


def _record_value(ctx: Ctx, unit: Unit, program: ProgramConfig, words: list[str]) -> list[Reply]:
    words, evidence = _split_evidence(words)
    if program.measure == "submission":
        return _record_title(ctx, unit, program, " ".join(words).strip(), evidence)
    confirmed = bool(words) and words[-1] == CONFIRM
    if confirmed:
        words = words[:-1]
    if not words:
        raise UserError(f"Angkanya belum ada. Contoh: {example(program)}")
    number_text, rest = figure_words(words)
    try:
        reading = read_figure(number_text, _kind(program))
    except FigureError as exc:
        raise UserError(f"{exc} Contoh yang benar: {example(program)}") from None
    note = " ".join(rest)
    if not note and evidence is None:
        note, evidence = _carried(ctx, unit, program)
    if isinstance(reading, Unclear):
        return _ask_which(ctx, unit, program, reading, note, evidence)
    period = reporting_period(ctx, unit, program)
    if confirmed:
        pending = _take_pending(ctx, unit, program, reading)
        if pending is not None:
            note, evidence = str(pending.get("note") or ""), pending.get("evidence")
            return _record_figure(ctx, unit, program, period, reading, note, evidence)
        if _latest_value(ctx, unit, program, period) == reading:
            return [Reply(f"Sudah tercatat: {shown(program, reading, label=True)} untuk {unit.name}. Terima kasih.")]
    doubt = _doubt(ctx, unit, program, period, reading)
    if doubt is not None:
        ctx.set_state(
            FLOW, step="confirm", program=program.key, unit_id=unit.id, value=reading, note=note, evidence=evidence
        )
        yes = Button("Ya, catat", _command(ctx, unit, program.key, indonesian(reading), CONFIRM))
        return [Reply(doubt, (yes, Button("Batal", "/batal")))]
    return _record_figure(ctx, unit, program, period, reading, note, evidence)


def _record_figure(
    ctx: Ctx, unit: Unit, program: ProgramConfig, period: str, value: float, note: str, evidence: str | None
) -> list[Reply]:
    report = _new_report(ctx, unit, program, period, value=value, note=note, evidence=evidence)
    return [confirmation(ctx, unit, program, report)]


def _carried(ctx: Ctx, unit: Unit, program: ProgramConfig) -> tuple[str, str | None]:
    """The note and link sent with a figure that was asked about, kept while the question is open."""
    state = ctx.get_state()
    data = load_state_data(state) if state is not None and state.flow == FLOW else {}
    if data.get("unit_id") != unit.id or data.get("program") != program.key:
        return "", None
    evidence = data.get("evidence")
    return str(data.get("note") or ""), str(evidence) if evidence else None


def _ask_which(
    ctx: Ctx, unit: Unit, program: ProgramConfig, reading: Unclear, note: str, evidence: str | None
) -> list[Reply]:
    """A figure that can be read more than one way: a button per reading, each re-submitting an unambiguous form."""
    ctx.set_state(FLOW, step="value", program=program.key, unit_id=unit.id, note=note, evidence=evidence)
    options = [shown(program, value, label=True) for value in reading.readings]
    rule = "Di Sigap titik memisahkan ribuan (1.250) dan koma menandai desimal (42,5)."
    if len(options) == 1:
        text = f"Mohon maaf, “{reading.text}” kurang jelas. {rule} Maksud Anda {options[0]}?"
    else:
        text = f"Mohon maaf, “{reading.text}” bisa dibaca {' atau '.join(options)}. {rule} Mana yang dimaksud?"
    buttons = tuple(
        Button(option, _command(ctx, unit, program.key, indonesian(value)))
        for option, value in zip(options, reading.readings, strict=True)
    )
    return [Reply(text + "\nPilih tombol atau kirim ulang angkanya, atau ketik /batal.", buttons)]


def _counting() -> ColumnElement[bool]:
    """Reports that count: neither rejected by a verifier nor withdrawn."""
    return (col(Report.verification) != Verification.REJECTED.value) & col(Report.withdrawn_at).is_(None)


def _latest_value(ctx: Ctx, unit: Unit, program: ProgramConfig, period: str) -> float | None:
    """The figure that counts now for the unit, program and period."""
    params = {"unit": unit.id, "program": program.key, "period": period}
    value = core(ctx.session).execute(_LATEST_VALUE, params).scalar()
    return None if value is None else float(value)


_LATEST_VALUE = (
    sa_select(col(Report.value))
    .where(
        col(Report.unit_id) == bindparam("unit"),
        col(Report.program_key) == bindparam("program"),
        col(Report.period) == bindparam("period"),
    )
    .where(col(Report.value).is_not(None), _counting())
    .order_by(col(Report.id).desc())
    .limit(1)
)
"""`_latest_value`'s statement, built once (every figure reported)."""


def _doubt(ctx: Ctx, unit: Unit, program: ProgramConfig, period: str, value: float) -> str | None:
    """'Yakin? …' when the figure looks wrong: below half the previous one, or (counts) above ten times the
    target; None when it looks plausible."""
    previous = _latest_value(ctx, unit, program, period)
    if previous is not None and value < previous / 2:
        doubt = (
            f"Yakin? Sebelumnya {shown(program, previous)}, sekarang {shown(program, value)}: turun lebih dari separuh."
        )
    elif program.measure == "count" and program.target > 0 and value > 10 * program.target:
        doubt = (
            f"Yakin? Sekarang {shown(program, value, label=True)}, lebih dari sepuluh kali target "
            f"({shown(program, program.target, label=True)})."
        )
    else:
        return None
    label = program.label
    if period != current_period(program, ctx.today):
        label += f" {periode(period)}"
    return (
        f"{doubt}\nMohon periksa kembali angka {label} {unit.name}. "
        "Angka ini baru dicatat setelah Bapak/Ibu memilih “Ya, catat”."
    )


def _take_pending(ctx: Ctx, unit: Unit, program: ProgramConfig, value: float) -> dict[str, Any] | None:
    """The open "Yakin?" question for exactly this figure, closed in the same step; None when there is none (already
    answered: a double tap, or a second delivery, finds nothing and records nothing)."""
    state = ctx.get_state()
    if state is None or state.flow != FLOW:
        return None
    data = load_state_data(state)
    wanted = {"step": "confirm", "unit_id": unit.id, "program": program.key, "value": value}
    if any(data.get(key) != expected for key, expected in wanted.items()):
        return None
    closed = ctx.session.exec(
        delete(ChatState).where(col(ChatState.contact_id) == state.contact_id, col(ChatState.data) == state.data)
    )
    return data if closed.rowcount == 1 else None


def _typed_confirmation(
    ctx: Ctx, unit: Unit, program: ProgramConfig, data: dict[str, Any], words: list[str]
) -> list[Reply]:
    """A typed answer to "Yakin?": yes records the figure asked about, no cancels, another figure replaces it."""
    answer = " ".join(words).lower().strip(".!")
    if answer in NO_WORDS:
        ctx.clear_state()
        return [Reply("Baik, tidak dicatat. Silakan kirim angka yang benar dengan /lapor.")]
    value = data.get("value")
    if answer in YES_WORDS and isinstance(value, int | float):
        return _record_value(ctx, unit, program, [indonesian(float(value)), CONFIRM])
    return _record_value(ctx, unit, program, words)


def _title_key(title: str) -> str:
    """A title compared without case, spaces or punctuation: 'Posyandu-Digital!' is 'posyandu digital'."""
    return "".join(c for c in unicodedata.normalize("NFKC", title).casefold() if c.isalnum())


def _record_title(ctx: Ctx, unit: Unit, program: ProgramConfig, title: str, evidence: str | None) -> list[Reply]:
    if not title:
        raise UserError(f"Judulnya belum ada. Contoh: {example(program)}")
    if (too_long := title_too_long(title)) is not None:
        raise UserError(f"{too_long} Contoh: {example(program)}")
    if len(title) < 5:
        raise UserError(
            f"Judul terlalu pendek: “{title}”. Mohon tulis judul lengkap, minimal 5 huruf. Contoh: {example(program)}"
        )
    period = reporting_period(ctx, unit, program)
    key = _title_key(title)
    existing = ctx.session.exec(
        select(Report)
        .where(Report.unit_id == unit.id, Report.program_key == program.key, Report.period == period)
        .where(col(Report.title).is_not(None), _counting())
        .order_by(col(Report.id))
    ).all()
    for report in existing:
        if _title_key(report.title or "") == key:
            reporter = ctx.session.get(Contact, report.reporter_id) if report.reporter_id else None
            by = f" oleh {reporter.name}" if reporter is not None else ""
            raise UserError(
                f"{program.label} “{report.title}” sudah tercatat untuk {unit.name} pada "
                f"{waktu(report.created_at, ctx.deps.calendar.zone)}{by}, jadi tidak dicatat dua kali.\n"
                "Bila ini inovasi lain, mohon kirim dengan judul yang berbeda. Ketik /status untuk melihat capaian."
            )
    report = _new_report(ctx, unit, program, period, title=title, evidence=evidence)
    return [confirmation(ctx, unit, program, report)]


def _checklist(ctx: Ctx, unit: Unit, program: ProgramConfig, words: list[str]) -> list[Reply]:
    words, evidence = _split_evidence(words)
    if not words:
        raise UserError(f"Kode indikatornya belum ada. Contoh: {example(program)}")
    code = words[0]
    items = {indicator_key(i.code): i for i in _unit_items(ctx, unit, program)}
    item = items.get(indicator_key(code))
    if item is None:
        known = ", ".join(i.code for i in items.values()) or "tidak ada"
        raise UserError(f"Indikator “{code}” bukan tanggung jawab {unit.name}. Indikator unit ini: {known}.")
    if len(words) < 2:
        ctx.set_state(FLOW, step="status", program=program.key, unit_id=unit.id, item=item.code)
        buttons = tuple(Button(s.capitalize(), _command(ctx, unit, program.key, item.code, s)) for s in ITEM_STATUSES)
        return [
            Reply(
                f"Indikator {item.code} – {item.title}\nBagaimana statusnya? Pilih tombol atau ketik "
                f"{', '.join(ITEM_STATUSES)}. Ketik /batal untuk membatalkan.",
                buttons,
            )
        ]
    status = STATUS_WORDS.get(words[1].lower())
    if status is None:
        raise UserError(
            f"Status “{words[1]}” tidak dikenal. Pilihan: {', '.join(ITEM_STATUSES)}. "
            f"Contoh: /lapor {program.key} {item.code} selesai"
        )
    report = _new_report(
        ctx,
        unit,
        program,
        reporting_period(ctx, unit, program, item.code),
        item_code=item.code,
        item_status=status,
        note=" ".join(words[2:]),
        evidence=evidence,
    )
    return [confirmation(ctx, unit, program, report)]


_REPORT_TABLE = Report.__table__  # type: ignore[attr-defined]
_REPORT_COLUMNS = tuple(column.name for column in _REPORT_TABLE.columns if column.name != "id")
_INSERT_REPORT = insert(_REPORT_TABLE).returning(_REPORT_TABLE.c.id)
"""A report as the ORM would write it (every column), without its flush: built once."""


def _new_report(
    ctx: Ctx,
    unit: Unit,
    program: ProgramConfig,
    period: str,
    *,
    value: float | None = None,
    title: str | None = None,
    item_code: str | None = None,
    item_status: str | None = None,
    note: str = "",
    evidence: str | None = None,
) -> Report:
    """The report written, with the read of where the unit now stands that `confirmation` makes next (one round trip
    on PostgreSQL). The report returned is not in the session: it is read, not changed, after this."""
    assert unit.id is not None
    report = Report(
        unit_id=unit.id,
        program_key=program.key,
        period=period,
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
    row = {name: getattr(report, name) for name in _REPORT_COLUMNS}
    confirming = standing_reads(ctx.pemda, [unit], ctx.today, [program], {program.key: period})
    [report.id] = read_ahead(ctx.session, confirming, writes=[(_INSERT_REPORT, row)])
    ctx.clear_state()
    ctx.audit("report.created", unit.code, program=program.key, value=value, item=item_code, status=item_status)
    return report
