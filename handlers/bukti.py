"""Bukti dukung (evidence files) by chat, and /bukti.

A file sent with a caption (`mcp 2.1`, `inovasi <judul>`, `katalog 12`; an admin names the unit first, `dinkes katalog
12`, except for an MCP indicator, which belongs to one unit) is fetched, checked by its content
(`models.filecheck`) and stored at once. A file sent alone is checked, then the sender picks the program (and the
indicator) with buttons: the file's reference waits in the chat state (flow "bukti") and is fetched again when the
choice is complete. On the console: `/bukti mcp 2.1 laporan.pdf`.

Every upload is a new report with verification "pending" and its `Evidence` row, in the message's one transaction
(a refused file leaves nothing behind). An earlier report of the same target still waiting for the verifier (and, for
an innovation, one reported without evidence; for a figure, the latest one reported without evidence when it is the
same figure) is withdrawn as replaced, so each target has one file in the verifier's queue, an innovation is never
counted twice, and a figure whose file is rejected does not go on counting unchecked. The same file sent again for
the same target is recognised; the file the verifier rejected is refused. Only the unit's own people and admins
attach evidence to a unit.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlmodel import col, select

from handlers.base import Ctx, fetch_file, find_program, indicator_key, load_state_data, unit_named
from handlers.report_period import earlier_period_note, period_words, reporting_period
from models.app import UserError
from models.evidence import (
    WITHDRAWN,
    describe,
    same_target,
    status_word,
    store_blob,
    title_key,
    title_too_long,
    verifier_label,
)
from models.figures import FigureError, Unclear, figure_words, read_figure
from models.filecheck import BadFile, Checked, check_file, safe_name, too_large
from models.messages import Button, Channel, Reply
from models.pemda import ProgramConfig
from models.standing import DONE, applicable_programs, current_period
from models.tables import ChecklistItem, Evidence, EvidenceStatus, Report, Role, Unit, Verification

FLOW = "bukti"
PATH_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".docx", ".xlsx")
"""On the console, a last word ending so (or a path with a folder) is the file to send."""
CANCEL_WORDS = frozenset({"batal", "batalkan", "cancel"})
MAX_CHOICES = 9
USAGE = (
    "Untuk mengirim bukti dukung, kirim berkasnya (PDF, JPG, PNG, DOCX atau XLSX) ke percakapan ini dengan keterangan, "
    "misalnya “mcp 2.1”, “inovasi <judul inovasi>” atau “katalog 12”. Tanpa keterangan, Sigap menanyakan programnya "
    "dengan tombol. Di konsol: /bukti mcp 2.1 laporan.pdf"
)
NO_FILE = (
    "Berkas buktinya belum ada. Kirim berkasnya dengan keterangan, misalnya “mcp 2.1”; di konsol: "
    "/bukti mcp 2.1 laporan.pdf"
)


@dataclass(frozen=True)
class Upload:
    """A file a person sent: the channel's reference to it and the name it came with."""

    ref: str
    name: str
    channel: Channel


@dataclass(frozen=True)
class Target:
    """What a file is evidence for."""

    unit: Unit
    program: ProgramConfig
    item: ChecklistItem | None = None
    value: float | None = None
    title: str | None = None
    note: str = ""


async def document(ctx: Ctx) -> list[Reply]:
    """A file sent without a command: evidence for what its caption says, or asked about with buttons."""
    incoming = ctx.incoming
    assert incoming.document_ref is not None
    upload = Upload(incoming.document_ref, incoming.document_name or "", incoming.channel)
    return await _take(ctx, upload, incoming.args, fresh=True)


async def bukti(ctx: Ctx) -> list[Reply]:
    """/bukti [unit] <program> [indikator | angka | judul] [PATH on the console]: send a file as evidence; with a file
    waiting for its program, the answer to the question about it."""
    incoming = ctx.incoming
    args = incoming.args
    if incoming.document_ref is not None:
        upload = Upload(incoming.document_ref, incoming.document_name or "", incoming.channel)
        return await _take(ctx, upload, args, fresh=True)
    if incoming.channel is Channel.CONSOLE:
        args = _console_words(incoming.body) or args
        if args and _looks_like_path(args[-1]):
            path = args[-1]
            return await _take(ctx, Upload(path, PurePosixPath(path).name, Channel.CONSOLE), args[:-1], fresh=True)
    pending = _pending(ctx)
    if pending is None:
        if args:
            raise UserError(NO_FILE)
        return [Reply(USAGE)]
    if " ".join(args).lower() in CANCEL_WORDS:
        ctx.clear_state()
        return [Reply("Baik, berkas itu tidak disimpan.")]
    return await _take(ctx, pending, args, fresh=False)


def _looks_like_path(word: str) -> bool:
    """A console word naming a file: ending in an accepted extension, or a path with a folder and an extension."""
    name = PurePosixPath(word.replace("\\", "/")).name
    return word.lower().endswith(PATH_SUFFIXES) or (("/" in word or "\\" in word) and "." in name.strip("."))


def _console_words(body: str) -> list[str]:
    """The words after /bukti typed on the console, a quoted path kept whole ("/bukti mcp 2.1 'Laporan MCP.pdf'")."""
    try:
        words = shlex.split(body)
    except ValueError:
        return []
    return words[1:]


async def continue_flow(ctx: Ctx) -> list[Reply]:
    """A typed answer while a file waits for its program, indicator, figure or title."""
    pending = _pending(ctx)
    state = ctx.get_state()
    if pending is None or state is None:
        ctx.clear_state()
        return [Reply("Berkas sebelumnya sudah tidak menunggu. Silakan kirim ulang berkasnya.")]
    words = ctx.incoming.args
    if " ".join(words).lower() in CANCEL_WORDS:
        ctx.clear_state()
        return [Reply("Baik, berkas itu tidak disimpan.")]
    data = load_state_data(state)
    prefix = [str(w) for w in data.get("prefix", [])]
    choices = [str(c) for c in data.get("choices", [])]
    if len(words) == 1 and words[0].isascii() and words[0].isdigit() and choices:
        number = int(words[0])
        if not 1 <= number <= len(choices):
            raise UserError(f"Pilihan “{words[0]}” tidak ada. Ketik nomor 1 sampai {len(choices)}, atau /batal.")
        words = [choices[number - 1]]
    return await _take(ctx, pending, [*prefix, *words], fresh=False)


# -- deciding what the file is for ------------------------------------------------------------------


async def _take(ctx: Ctx, upload: Upload, words: list[str], *, fresh: bool) -> list[Reply]:
    if ctx.role is Role.PIMPINAN:
        raise UserError(
            "Bukti dukung dikirim oleh kepala atau operator unit yang bersangkutan, atau oleh admin. "
            "Berkas itu tidak disimpan."
        )
    if words and words[0].lower() in ("bukti", "/bukti"):
        words = words[1:]
    fetched = await _fetch_checked(ctx, upload) if fresh else None  # a new file: say at once whether it can be taken
    try:
        target = _resolve(ctx, upload, words, fetched[1] if fetched is not None and not words else None)
    except UserError as exc:
        if fetched is None:
            raise
        # a sound file with a wrong caption: keep it waiting, so the right words are enough (no second upload)
        ctx.set_state(FLOW, ref=upload.ref, name=upload.name, channel=upload.channel.value, prefix=[], choices=[])
        return [Reply(f"{exc}\nBerkas {_shown_name(upload)} masih menunggu: ketik keterangan yang benar, atau /batal.")]
    if isinstance(target, list):
        return target
    return _record(ctx, upload, target, fetched or await _fetch_checked(ctx, upload))


def _resolve(ctx: Ctx, upload: Upload, words: list[str], checked: Checked | None) -> Target | list[Reply]:
    admin = ctx.role is Role.ADMIN
    unit: Unit | None = None if admin else ctx.my_unit()
    rest = words
    if words and ctx.pemda.program(words[0]) is None:
        named = unit_named(ctx.session, words[0])
        if named is not None:
            if unit is not None and named.id != unit.id:
                raise UserError(f"Bapak/Ibu hanya dapat mengirim bukti dukung untuk {unit.name}.")
            unit, rest = named, words[1:]
    if not rest:
        return _ask_program(ctx, upload, unit, checked)
    program = find_program(ctx.pemda, rest[0], "mcp 2.1")
    rest = rest[1:]
    if program.measure == "checklist":
        return _item_target(ctx, upload, unit, program, rest)
    if unit is None:
        raise UserError(f"Admin mengirim bukti atas nama unit: tulis unitnya dulu, misalnya “dinkes {program.key} …”.")
    if not applicable_programs(ctx.session, ctx.pemda, unit, ctx.today, [program]):
        raise UserError(
            f"Program {program.label} tidak ditugaskan ke {unit.name}. Ketik /status untuk program unit ini."
        )
    if program.measure == "submission":
        return _title_target(ctx, upload, unit, program, rest)
    return _value_target(ctx, upload, unit, program, rest)


def _command(ctx: Ctx, unit: Unit | None, *words: str) -> str:
    """A /bukti command for a button: an admin's names the unit."""
    named = [unit.code] if ctx.role is Role.ADMIN and unit is not None else []
    return " ".join(["/bukti", *named, *words])


def _ask(
    ctx: Ctx, upload: Upload, text: str, prefix: list[str], choices: list[str], buttons: tuple[Button, ...] = ()
) -> list[Reply]:
    ctx.set_state(FLOW, ref=upload.ref, name=upload.name, channel=upload.channel.value, prefix=prefix, choices=choices)
    return [Reply(text + "\nKetik /batal bila berkas itu tidak jadi dikirim.", buttons)]


def _ask_program(ctx: Ctx, upload: Upload, unit: Unit | None, checked: Checked | None) -> list[Reply]:
    got = f"Berkas {_shown_name(upload)} diterima ({checked.summary}). " if checked is not None else ""
    if unit is None:
        return _ask(
            ctx,
            upload,
            f"{got}Bukti dukung ini untuk unit dan program apa? Ketik misalnya “dinkes katalog 12”, "
            "“bappeda inovasi <judul>”, atau “mcp 2.1” (indikator MCP sudah menunjuk unitnya).",
            [],
            [],
        )
    programs = applicable_programs(ctx.session, ctx.pemda, unit, ctx.today)
    if not programs:
        raise UserError(f"Belum ada program yang ditugaskan ke {unit.name}, jadi belum ada bukti yang dapat dikirim.")
    buttons = tuple(Button(p.label, _command(ctx, unit, p.key)) for p in programs)
    prefix = [unit.code] if ctx.role is Role.ADMIN else []
    text = (
        f"{got}Bukti dukung ini untuk program apa ({unit.name})? Pilih tombol, atau ketik nomor atau nama programnya."
    )
    return _ask(ctx, upload, text, prefix, [p.key for p in programs], buttons)


def _items(ctx: Ctx, program: ProgramConfig, unit: Unit | None) -> list[ChecklistItem]:
    stmt = select(ChecklistItem).where(
        ChecklistItem.program_key == program.key, ChecklistItem.period == current_period(program, ctx.today)
    )
    if unit is not None:
        stmt = stmt.where(ChecklistItem.unit_id == unit.id)
    return list(ctx.session.exec(stmt.order_by(col(ChecklistItem.code))).all())


def _item_target(
    ctx: Ctx, upload: Upload, unit: Unit | None, program: ProgramConfig, rest: list[str]
) -> Target | list[Reply]:
    items = _items(ctx, program, unit)
    whose = unit.name if unit is not None else "unit mana pun"
    if not items:
        raise UserError(f"Program {program.label} tidak ditugaskan ke {whose}. Ketik /status untuk program unit ini.")
    if not rest:
        buttons = tuple(
            Button(f"{i.code} {i.title}"[:60], _command(ctx, unit, program.key, i.code)) for i in items[:MAX_CHOICES]
        )
        prefix = [*([unit.code] if ctx.role is Role.ADMIN and unit is not None else []), program.key]
        text = f"Untuk indikator {program.label} yang mana? Pilih tombol, atau ketik kode indikatornya (misalnya 2.1)."
        return _ask(ctx, upload, text, prefix, [i.code for i in items[:MAX_CHOICES]], buttons)
    code = rest[0]
    item = next((i for i in items if indicator_key(i.code) == indicator_key(code)), None)
    if item is None:
        known = ", ".join(i.code for i in items)
        owner = f"bukan tanggung jawab {unit.name}. Indikator unit ini" if unit is not None else "tidak ada. Indikator"
        raise UserError(f"Indikator “{code}” {owner}: {known}.")
    owner_unit = unit or ctx.session.get(Unit, item.unit_id)
    if owner_unit is None or not owner_unit.active:
        raise UserError(f"Unit indikator {item.code} tidak aktif. Mohon hubungi admin Sigap.")
    return Target(owner_unit, program, item=item, note=" ".join(rest[1:]))


def _value_target(
    ctx: Ctx, upload: Upload, unit: Unit, program: ProgramConfig, rest: list[str]
) -> Target | list[Reply]:
    example = f"{program.key} {'42,5' if program.measure == 'percent' else '12'}"
    if rest:
        number_text, note = figure_words(rest)
        try:
            reading = read_figure(number_text, "percent" if program.measure == "percent" else "count")
        except FigureError as exc:
            raise UserError(f"{exc} Contoh keterangan: “{example}”.") from None
        if isinstance(reading, Unclear):
            raise UserError(
                f"Angka “{reading.text}” bisa dibaca lebih dari satu cara. Di Sigap titik memisahkan ribuan (1.250) "
                f"dan koma menandai desimal (42,5). Mohon tulis ulang, misalnya “{example}”."
            )
        return Target(unit, program, value=reading, note=" ".join(note))
    latest = ctx.session.exec(
        select(Report.value)
        .where(Report.unit_id == unit.id, Report.program_key == program.key)
        .where(Report.period == reporting_period(ctx, unit, program), col(Report.value).is_not(None))
        .where(col(Report.withdrawn_at).is_(None), Report.verification != Verification.REJECTED.value)
        .order_by(col(Report.id).desc())
    ).first()
    if latest is not None:
        return Target(unit, program, value=float(latest))
    prefix = [*([unit.code] if ctx.role is Role.ADMIN else []), program.key]
    return _ask(
        ctx,
        upload,
        f"Berapa angka {program.label} {unit.name} yang didukung berkas ini? Kirim angkanya saja, misalnya "
        f"{example.split()[1]}.",
        prefix,
        [],
    )


def _title_target(
    ctx: Ctx, upload: Upload, unit: Unit, program: ProgramConfig, rest: list[str]
) -> Target | list[Reply]:
    text = " ".join(rest).strip()
    from_record = text.startswith("#") and text[1:].isdigit()
    if from_record:
        report = ctx.session.get(Report, int(text[1:])) if len(text) < 12 else None
        if report is None or report.unit_id != unit.id or report.program_key != program.key or not report.title:
            raise UserError(f"{program.label} {text} tidak ditemukan untuk {unit.name}. Ketik judulnya saja.")
        text = report.title
    if not text:
        open_titles = ctx.session.exec(
            select(Report)
            .where(Report.unit_id == unit.id, Report.program_key == program.key, col(Report.title).is_not(None))
            .where(Report.period == reporting_period(ctx, unit, program), col(Report.withdrawn_at).is_(None))
            .where(Report.verification != Verification.REJECTED.value)
            .where(Report.verification != Verification.VERIFIED.value)
            .order_by(col(Report.id))
        ).all()[:MAX_CHOICES]
        buttons = tuple(Button((r.title or "")[:60], _command(ctx, unit, program.key, f"#{r.id}")) for r in open_titles)
        prefix = [*([unit.code] if ctx.role is Role.ADMIN else []), program.key]
        which = "Pilih tombol inovasi yang sudah tercatat, atau ketik" if buttons else "Ketik"
        return _ask(
            ctx,
            upload,
            f"Untuk {program.label} yang mana? {which} judulnya.",
            prefix,
            [f"#{r.id}" for r in open_titles],
            buttons,
        )
    if len(text) < 5:
        raise UserError(f"Judul terlalu pendek: “{text}”. Mohon tulis judul lengkap, minimal 5 huruf.")
    if (too_long := title_too_long(text)) is not None and not from_record:
        raise UserError(too_long)
    return Target(unit, program, title=text[:300])


# -- taking the file -------------------------------------------------------------------------------


def _shown_name(upload: Upload) -> str:
    return PurePosixPath(upload.name.replace("\\", "/")).name[:80] or "itu"


async def _fetch_checked(ctx: Ctx, upload: Upload) -> tuple[bytes, Checked]:
    """The file's bytes, checked: every problem is one Indonesian reply and nothing is stored."""
    limit = int(ctx.pemda.evidence.max_mb * 1024 * 1024)
    name = _shown_name(upload)
    content = await fetch_file(
        ctx,
        upload.ref,
        limit,
        too_large=f"Berkas {name} tidak disimpan. {too_large(limit)}",
        unavailable=f"Mohon maaf, berkas {name} tidak dapat diunduh. "
        "Silakan kirim ulang berkasnya (petunjuk: /bantuan).",
        channel=upload.channel,
    )
    try:
        return content, check_file(upload.name, content, limit)
    except BadFile as exc:
        raise UserError(f"Berkas {name} tidak disimpan. {exc}") from None


def _record(ctx: Ctx, upload: Upload, target: Target, fetched: tuple[bytes, Checked]) -> list[Reply]:
    content, checked = fetched
    unit, program, item = target.unit, target.program, target.item
    assert unit.id is not None
    period = reporting_period(ctx, unit, program, item.code if item is not None else None)
    fallback = f"bukti-{program.key}-{item.code if item else unit.code.lower()}"
    filename = safe_name(upload.name, checked.kind, fallback)
    probe = Evidence(
        report_id=0, unit_id=unit.id, program_key=program.key, period=period, item_code=item.code if item else None,
        file_id=0, filename=filename, mime=checked.mime, sha256="", uploaded_at=ctx.now,
    )  # fmt: skip
    digest = hashlib.sha256(content).hexdigest()
    for old, old_report in same_target(ctx.session, probe, title=target.title):
        if old.sha256 != digest:
            continue
        when = f"{old.uploaded_at.astimezone(ctx.deps.calendar.zone):%d-%m-%Y %H.%M}"
        if old.status == EvidenceStatus.REJECTED.value:
            raise UserError(
                f"Berkas {filename} sama persis dengan yang ditolak verifikator pada {when}"
                f"{f' (alasan: {old.reason})' if old.reason else ''}. Mohon kirim berkas yang sudah diperbaiki."
            )
        state = status_word(old, old_report)
        if state != WITHDRAWN:
            ctx.clear_state()
            return [Reply(f"Berkas {filename} sudah diterima pada {when} untuk target yang sama (status: {state}).")]
    if target.title is not None:
        _refuse_verified_title(ctx, unit, program, period, target.title)
    file_id, _digest = store_blob(ctx.session, content, filename, checked.mime, ctx.now)
    report = Report(
        unit_id=unit.id,
        program_key=program.key,
        period=period,
        value=target.value,
        item_code=item.code if item else None,
        item_status=DONE if item else None,
        title=target.title,
        note=(target.note or f"bukti dukung: {filename}")[:500],
        reporter_id=ctx.me.id,
        channel=ctx.incoming.channel.value,
        created_at=ctx.now,
        verification=Verification.PENDING.value,
    )
    ctx.session.add(report)
    ctx.session.flush()
    replaced = _replace_earlier(ctx, report)
    evidence = Evidence(
        report_id=report.id or 0,
        unit_id=unit.id,
        program_key=program.key,
        period=period,
        item_code=report.item_code,
        file_id=file_id,
        filename=filename,
        mime=checked.mime,
        size=len(content),
        sha256=digest,
        uploaded_by_id=ctx.me.id,
        uploaded_at=ctx.now,
    )
    ctx.session.add(evidence)
    ctx.session.flush()
    ctx.audit(
        "evidence.uploaded", unit.code, evidence=evidence.id, program=program.key, item=report.item_code,
        report=report.id, sha256=digest, size=len(content), replaced=replaced,
    )  # fmt: skip
    ctx.clear_state()
    lines = [
        f"✅ Bukti dukung diterima: {filename} ({checked.summary}).",
        f"Untuk: {unit.name} – {describe(ctx.session, ctx.pemda, evidence, report)}"
        f"{_period_shown(ctx, program, period)}.",
        f"Status: bukti #{evidence.id} menunggu verifikasi oleh {verifier_label(ctx.session, program, unit.id)}. "
        "Bapak/Ibu akan diberi tahu hasilnya.",
    ]
    if program.verification == "required":
        lines.append("Capaian ini dihitung setelah bukti dinyatakan sah.")
    else:
        lines.append("Capaian ini sudah dihitung; bila bukti ditolak verifikator, tidak dihitung lagi.")
    if replaced:
        lines.append("Berkas sebelumnya yang masih menunggu untuk target ini diganti dengan berkas ini.")
    more, buttons = earlier_period_note(ctx, unit, program, report)
    lines += [*more, "Ketik /status untuk melihat capaian."]
    return [Reply("\n".join(lines), buttons)]


def _period_shown(ctx: Ctx, program: ProgramConfig, period: str) -> str:
    """' (bulan November 2026, yang terlambat)' for evidence counted for the previous period; '' for the current."""
    words = period_words(ctx, program, period).strip()
    return f" ({words.replace(' (yang terlambat)', ', yang terlambat')})" if words else ""


def _refuse_verified_title(ctx: Ctx, unit: Unit, program: ProgramConfig, period: str, title: str) -> None:
    verified = ctx.session.exec(
        select(Report.title).where(
            Report.unit_id == unit.id,
            Report.program_key == program.key,
            Report.period == period,
            Report.verification == Verification.VERIFIED.value,
            col(Report.withdrawn_at).is_(None),
            col(Report.title).is_not(None),
        )
    ).all()
    if any(title_key(t or "") == title_key(title) for t in verified):
        raise UserError(f"{program.label} “{title}” sudah dinyatakan sah; tidak perlu bukti lagi.")


def _replace_earlier(ctx: Ctx, report: Report) -> list[int]:
    """Withdraw the earlier reports of the same target that the new one replaces: those still waiting for the verifier
    (and, for an innovation, the one reported without evidence; for a figure, the latest one reported without
    evidence when it is this figure); their ids."""
    stmt = select(Report).where(
        Report.unit_id == report.unit_id,
        Report.program_key == report.program_key,
        Report.period == report.period,
        col(Report.withdrawn_at).is_(None),
        col(Report.id) != report.id,
    )
    waiting = [Verification.PENDING.value]
    backed: list[Report] = []
    if report.item_code is not None:
        stmt = stmt.where(Report.item_code == report.item_code)
    elif report.title is not None:
        stmt = stmt.where(col(Report.title).is_not(None))
        waiting.append(Verification.SELF.value)
    else:
        stmt = stmt.where(col(Report.value).is_not(None))
        # the figure this file now backs: replaced, so a rejected file is not outlived by it counting unchecked
        plain = ctx.session.exec(
            stmt.where(Report.verification == Verification.SELF.value).order_by(col(Report.id).desc()).limit(1)
        ).first()
        backed = [plain] if plain is not None and plain.value == report.value else []
    rows = [*ctx.session.exec(stmt.where(col(Report.verification).in_(waiting))).all(), *backed]
    replaced: list[int] = []
    for old in rows:
        if report.title is not None and title_key(old.title or "") != title_key(report.title):
            continue
        old.withdrawn_at = ctx.now
        old.withdrawn_by_id = ctx.me.id
        old.withdraw_reason = f"diganti laporan #{report.id} dengan bukti dukung"
        ctx.session.add(old)
        replaced.append(old.id or 0)
    return replaced


def _pending(ctx: Ctx) -> Upload | None:
    """The file waiting for its program or indicator, if any."""
    state = ctx.get_state()
    if state is None or state.flow != FLOW:
        return None
    data: dict[str, Any] = load_state_data(state)
    ref, channel = data.get("ref"), data.get("channel")
    if not isinstance(ref, str) or channel not in {c.value for c in Channel}:
        return None
    return Upload(ref, str(data.get("name") or ""), Channel(str(channel)))
