"""Figures from LKPP by chat: an admin sends an export with the caption "impor", reads the preview, taps Terapkan.

The caption may name the source and the export's date: "impor ekatalog 2026-12-03" (default: the file's name and
now). The file is fetched through the channel's `FileSource`, read at once and summed per satker; the sums wait in
the chat state (flow "angka") with the moment they describe. "Terapkan" sends `/angka terapkan <fingerprint>`: the
figures are planned again against the database as it is now and written only when the plan is still the one shown.
`/angka petakan <unit> <satker>` maps a satker of the export to a unit once for all later imports, `/angka abaikan
<satker>` marks it as not a unit of ours; with an upload waiting, its preview is shown again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from handlers.base import Command, Ctx, fetch_file, find_unit, load_state_data
from models.app import UserError
from models.clock import ensure_utc
from models.figure_plan import apply_figures, chat_hint, figure_sources, plan_figures
from models.figure_read import SUFFIXES, Export, ExportError, read_export, read_records
from models.messages import Button, Reply
from models.roster_read import shown_name
from models.satkers import map_satker
from models.standing import Standing
from models.tables import Role

FLOW = "angka"
CAPTION = "impor"
MAX_BYTES = 20 * 1024 * 1024
PREVIEW_LINES = 15
MAX_PROBLEMS = 15
ONLY_ADMINS = (
    "Mohon maaf, angka e-Katalog dan P3DN dari LKPP hanya dapat diimpor oleh admin Sigap. "
    "Bila angka unit Bapak/Ibu keliru, silakan laporkan dengan /lapor."
)
HOW_TO = (
    "Untuk mengimpor angka katalog dan P3DN, kirim berkas ekspor LKPP (paket e-purchasing atau RUP; .xlsx, .csv "
    "atau .json) ke percakapan ini dengan keterangan “impor”, boleh diikuti nama sumber dan tanggal datanya, "
    "mis. “impor ekatalog 2026-12-03”. Sigap menampilkan pratinjaunya dulu; tidak ada yang disimpan sebelum "
    "Bapak/Ibu mengetuk Terapkan.\n"
    "Satker yang belum dikenali: /angka petakan <unit> <nama satker>, atau /angka abaikan <nama satker> bila bukan "
    "unit Pemda."
)
STALE = "Pratinjau itu sudah tidak berlaku (data berubah sejak ditampilkan), jadi belum ada yang disimpan. Terbaru:\n"


@dataclass(frozen=True)
class Upload:
    """An export read and waiting for Terapkan / Batal."""

    name: str
    source: str
    as_of: datetime
    export: Export


def claims(ctx: Ctx) -> bool:
    """Whether this message is an export of figures: a file without a command whose caption starts with "impor"."""
    incoming = ctx.incoming
    if ctx.contact is None or incoming.document_ref is None or incoming.command is not None:
        return False
    words = incoming.text.lower().split()
    return bool(words) and words[0].startswith(CAPTION)


async def upload(ctx: Ctx) -> list[Reply]:
    """An export arrived: fetch, read and sum it, and show what it would change with Terapkan / Batal."""
    incoming = ctx.incoming
    if ctx.role is not Role.ADMIN:
        raise UserError(ONLY_ADMINS)
    name = Path(incoming.document_name or "").name or "ekspor"
    if Path(name).suffix.lower() not in SUFFIXES:
        raise UserError("Berkas ekspor harus .xlsx, .csv atau .json. Silakan unduh ulang dari LKPP, lalu kirim lagi.")
    source, as_of = _caption(ctx, name)
    content = await fetch_file(
        ctx,
        incoming.document_ref,
        MAX_BYTES,
        too_large="Berkas ekspor lebih dari 20 MB. Ekspor per tahun anggaran (atau impor lewat baris perintah "
        "sigap import figures), lalu coba lagi.",
    )
    figures = ctx.pemda.figures
    try:
        export = read_export(read_records(name, content), figures.fields, figures.kode_klpd)
    except ExportError as exc:
        return [_problems(name, exc)]
    return _preview(ctx, Upload(name, source, as_of, export))


async def angka(ctx: Ctx) -> list[Reply]:
    """/angka [terapkan <kode> | batal | petakan <unit> <satker> | abaikan <satker>]; bare: the waiting preview or
    how to import."""
    args = ctx.incoming.args
    action = args[0].lower() if args else ""
    pending = _pending(ctx)
    if action == "batal":
        if pending is None:
            return [Reply("Tidak ada impor angka yang menunggu. Tidak ada yang berubah.")]
        ctx.clear_state()
        return [Reply("Baik, impor angka dibatalkan. Tidak ada yang berubah.")]
    if action in ("petakan", "abaikan"):
        return _map(ctx, action, args[1:], pending)
    if action == "terapkan":
        return _apply(ctx, pending, args[1] if len(args) > 1 else "")
    if pending is not None:
        return _preview(ctx, pending)
    return [Reply(HOW_TO)]


ANGKA = Command(
    "angka",
    angka,
    "impor angka katalog dan P3DN dari ekspor LKPP: kirim berkas berketerangan “impor”, periksa, terapkan",
    "/angka [petakan <unit> <satker> | abaikan <satker>]",
    frozenset({Role.ADMIN}),
)
"""The /angka command (the Terapkan / Batal buttons send it), listed in `handlers.commands`."""


def sources_note(ctx: Ctx, standing: Standing) -> str | None:
    """For an admin's /status: '    Sumber: impor 3 Des: 12 · laporan unit 5 Des: 15' when the unit's program has
    both an imported figure and the unit's own report; None otherwise (and for everyone else)."""
    if ctx.contact is None or ctx.role is not Role.ADMIN or standing.program.measure not in ("count", "percent"):
        return None
    found = figure_sources(ctx.session, standing.unit_id, standing.program, standing.period, ctx.deps.calendar.zone)
    return f"    Sumber: {found}" if found else None


def _caption(ctx: Ctx, name: str) -> tuple[str, datetime]:
    """The source named in the caption (default: the file's name) and the moment the data describes."""
    words = ctx.incoming.text.split()[1:]
    day: date | None = None
    rest = []
    for word in words:
        try:
            day = date.fromisoformat(word)
        except ValueError:
            rest.append(word)
    as_of = ctx.now
    if day is not None:
        if day > ctx.today:
            raise UserError(
                f"Tanggal {day.isoformat()} belum tiba. Tulis tanggal data ekspornya, mis. impor 2026-12-03."
            )
        if day < ctx.today:
            as_of = ctx.deps.calendar.at_local(day, time(0, 0))
    source = " ".join(rest) or Path(name).stem
    return shown_name(source, 64), as_of


def _apply(ctx: Ctx, pending: Upload | None, shown: str) -> list[Reply]:
    if pending is None:
        raise UserError(
            "Tidak ada impor angka yang menunggu untuk diterapkan. Kirim berkas ekspor LKPP dengan keterangan "
            "“impor” untuk melihat pratinjaunya."
        )
    plan = plan_figures(
        ctx.session, ctx.pemda, pending.export, source=pending.source, as_of=pending.as_of, zone=ctx.deps.calendar.zone
    )
    if not plan.changed or plan.fingerprint != shown:
        return _preview(ctx, pending, intro=STALE)
    record = apply_figures(ctx.session, plan, ctx.now, ctx.me.id)
    ctx.audit("angka.terapkan", pending.name, sumber=pending.source, impor=record.id if record else None)
    ctx.clear_state()
    return [Reply(plan.outcome(record, chat_hint, PREVIEW_LINES))]


def _map(ctx: Ctx, action: str, words: list[str], pending: Upload | None) -> list[Reply]:
    if action == "petakan":
        if len(words) < 2:
            raise UserError(
                "Cara pakai: /angka petakan <unit> <nama satker>, mis. /angka petakan dinkes DINAS KESEHATAN"
            )
        unit = find_unit(ctx.session, words[0])
        satker = " ".join(words[1:])
    else:
        if not words:
            example = f"DPRD {ctx.pemda.pemda.short_name}".upper()
            raise UserError(f"Cara pakai: /angka abaikan <nama satker>, mis. /angka abaikan {example}")
        unit, satker = None, " ".join(words)
    row = map_satker(ctx.session, satker, unit, ctx.me.id, ctx.now)
    ctx.audit("angka.petakan", row.satker_label, unit=unit.code if unit else None)
    if unit is None:
        text = f"Satker “{row.satker_label}” ditandai bukan unit Pemda; barisnya diabaikan pada impor berikutnya."
    else:
        text = f"Satker “{row.satker_label}” dipetakan ke {unit.code} ({unit.name}); impor berikutnya memakainya."
    if pending is None:
        return [Reply(text)]
    return [Reply(text), *_preview(ctx, pending)]


def _preview(ctx: Ctx, upload: Upload, *, intro: str = "") -> list[Reply]:
    plan = plan_figures(
        ctx.session, ctx.pemda, upload.export, source=upload.source, as_of=upload.as_of, zone=ctx.deps.calendar.zone
    )
    body = plan.describe(chat_hint, PREVIEW_LINES)
    if not plan.changed:
        if plan.unmatched:
            _keep(ctx, upload)  # mapping a satker may still bring figures in
        elif _pending(ctx) is not None:
            ctx.clear_state()
        return [Reply(f"{intro}Ekspor {upload.name}:\n{body}")]
    _keep(ctx, upload)
    text = (
        f"{intro}Pratinjau impor angka {upload.name} (belum ada yang disimpan):\n{body}\n\n"
        "Ketuk Terapkan untuk mencatat angka ini, atau Batal."
    )
    buttons = (Button("Terapkan", f"/angka terapkan {plan.fingerprint}"), Button("Batal", "/angka batal"))
    return [Reply(text, buttons)]


def _keep(ctx: Ctx, upload: Upload) -> None:
    ctx.set_state(
        FLOW, name=upload.name, source=upload.source, as_of=upload.as_of.isoformat(), export=upload.export.to_data()
    )


def _pending(ctx: Ctx) -> Upload | None:
    """The export waiting for Terapkan / Batal."""
    state = ctx.get_state()
    if state is None or state.flow != FLOW:
        return None
    data = load_state_data(state)
    with contextlib.suppress(KeyError, TypeError, ValueError):
        return Upload(
            str(data["name"]),
            str(data["source"]),
            ensure_utc(datetime.fromisoformat(str(data["as_of"]))),
            Export.from_data(data["export"]),
        )
    return None


def _problems(name: str, error: ExportError) -> Reply:
    shown = error.problems[:MAX_PROBLEMS]
    lines = [f"Ekspor {name} belum dapat dipakai; tidak ada yang disimpan. Mohon perbaiki dulu:"]
    lines += [f"- {problem}" for problem in shown]
    more = len(error.problems) - len(shown) + error.more
    if more:
        lines.append(f"- … dan {more} masalah lain")
    lines.append("Setelah diperbaiki, kirim lagi berkasnya dengan keterangan “impor”.")
    return Reply("\n".join(lines))
