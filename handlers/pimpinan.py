"""/grafik, /peringkat and /ekspor: the leaders' view in chat (a picture, a league table, a spreadsheet).

The computations are `models.leaders`; the picture (`models.charts`) and the workbook (`models.status_book`) are
pure renderers in `models`, so these handlers call them directly and send the result as an attachment.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from handlers.base import Command, Ctx, find_program
from handlers.status import pause_marks
from models.app import UserError
from models.charts import overview_spec, program_spec, render
from models.fmt import persen, tanggal, tanggal_pendek
from models.leaders import (
    ProgramView,
    UnitLike,
    active_units,
    figure_text,
    load_views,
    overall_scores,
    pace_known,
    pace_text,
    rank,
    score,
    short_value,
    tanggal_bulan,
)
from models.messages import Attachment, Button, Reply
from models.pemda import ProgramConfig
from models.scope import viewer_for
from models.standing import Standing
from models.status_book import XLSX_MIME, status_workbook
from models.tables import Role

PAGE = 50
"""Units per page of /peringkat."""
LEADERS = frozenset({Role.ADMIN, Role.PIMPINAN})
RULE_PROGRAM = (
    "Skor = capaian unit dibanding target unitnya (100 % = target terpenuhi). Skor sama berbagi peringkat; "
    "unit dengan dispensasi tidak diperingkat."
)
RULE_OVERALL = (
    "Skor = rata-rata capaian semua program yang berlaku bagi unit (tiap program paling tinggi 100 %). "
    "Skor sama berbagi peringkat; program dengan dispensasi tidak dihitung."
)


def _scope(ctx: Ctx) -> tuple[list[UnitLike], str, bool]:
    """The units the sender sees in the leaders' view (`models.scope`, as on the dashboard): a camat the kecamatan,
    admin and pimpinan every active unit (as light rows: a Pemda may have 30,000)."""
    viewer = viewer_for(ctx.me)
    if viewer.whole_pemda:
        return list(active_units(ctx.session)), ctx.pemda.pemda.short_name, True
    own = ctx.my_unit()
    return list(viewer.units(ctx.session)), own.name, False


def _words(ctx: Ctx) -> tuple[ProgramConfig | None, int]:
    """The program (optional) and the page (optional) written after the command."""
    program: ProgramConfig | None = None
    page = 1
    for word in ctx.incoming.args:
        if word.isascii() and word.isdigit() and 0 < len(word) < 6:
            page = max(1, int(word))
        elif program is None:
            program = find_program(ctx.pemda, word, f"/{ctx.incoming.command} katalog")
        else:
            raise UserError(f"Cukup satu nama program, misalnya /{ctx.incoming.command} katalog.")
    return program, page


def _views(
    ctx: Ctx, units: Sequence[UnitLike], whole: bool, program: ProgramConfig | None, *, history: bool = True
) -> list[ProgramView]:
    chosen = [program] if program else None
    views = load_views(ctx.session, ctx.pemda, units, ctx.today, programs=chosen, whole_pemda=whole, history=history)
    if not views:
        name = program.label if program else "program apa pun"
        raise UserError(f"Belum ada unit yang wajib {name} di sini. Ketik /rekap untuk melihat semua program.")
    return views


async def grafik(ctx: Ctx) -> list[Reply]:
    """/grafik [program]: the picture: each program's total over time against its target, and the units ranked."""
    program, _page = _words(ctx)
    units, scope, whole = _scope(ctx)
    views = _views(ctx, units, whole, program)
    by_id = {u.id: u for u in units if u.id is not None}
    if program is not None:
        view = views[0]
        chart = render(program_spec(view, by_id, scope))
        lines = [
            f"{program.label}, {scope}: {figure_text(program, view.now)}, {view.change_words()}.",
            f"{pace_line(view)}",
            "Garis merah: target. "
            + ("Titik-titik: perkiraan dengan laju sekarang. " if pace_known(view) else "")
            + "Batang: unit terbaik dan tertinggal.",
            f"Peringkat lengkap: /peringkat {program.key}",
        ]
        name = f"grafik-{program.key}-{ctx.today.isoformat()}.png"
    else:
        overall = overall_scores(s for view in views for s in view.standings.values())
        chart = render(overview_spec(views, overall, by_id, scope, ctx.today))
        lines = [f"Capaian {scope} per {tanggal_pendek(ctx.today)}:"]
        lines += [f"• {v.program.label}: {figure_text(v.program, v.now)}" for v in views]
        keys = [v.program.key for v in views] or [p.key for p in ctx.pemda.programs]
        others = f" (atau {', '.join(keys[1:])})" if len(keys) > 1 else ""
        lines.append(f"Grafik satu program: /grafik {keys[0]}{others}. Peringkat: /peringkat")
        name = f"grafik-{ctx.today.isoformat()}.png"
    caption = "\n".join(line for line in lines if line)
    return [Reply(caption[:1000], attachment=Attachment(name, chart.png, "photo", "image/png"))]


def pace_line(view: ProgramView) -> str:
    """'Dengan laju sekarang: ….' when a projection means something (`pace_known`), else ''."""
    if not pace_known(view):
        if view.first_week and view.deadline > view.today and view.since is not None:
            return f"Laju belum dapat dihitung: laporan baru masuk sejak {tanggal_bulan(view.since)}."
        return ""
    text = pace_text(view.program, view.pace)
    return text[0].upper() + text[1:] + "."


def league(
    views: Sequence[ProgramView], program: ProgramConfig | None, exempt: Collection[tuple[int, str]]
) -> tuple[dict[int, float], dict[int, str]]:
    """The league table's scores and the text shown beside each unit ('80 % (8/10)'), by unit id: of `program`
    (its view is `views[0]`), or over every program; units exempted from it (`exempt`) are not ranked."""
    if program is not None:
        mine = views[0].standings
        scores = {uid: score(s) for uid, s in mine.items() if (uid, program.key) not in exempt}
        return scores, {uid: f"{persen(scores[uid])} ({short_value(mine[uid])})" for uid in scores}
    every = (s for view in views for s in view.standings.values())
    overall = overall_scores(every, lambda s: (s.unit_id, s.program.key) in exempt)
    return overall, {uid: persen(value) for uid, value in overall.items()}


async def peringkat(ctx: Ctx) -> list[Reply]:
    """/peringkat [program] [halaman]: the league table, with its scoring rule; equal scores share a rank."""
    program, page = _words(ctx)
    units, scope, whole = _scope(ctx)
    views = _views(ctx, units, whole, program, history=False)  # the table needs the standings only
    by_id = {u.id: u for u in units if u.id is not None}
    every: dict[tuple[int, str], Standing] = {
        (s.unit_id, v.program.key): s for v in views for s in v.standings.values()
    }
    marks = pause_marks(ctx, every)
    exempt = {key for key, mark in marks.items() if mark.exempts(every[key])}
    scores, texts = league(views, program, exempt)
    if program is not None:
        head = [f"🏆 Peringkat {program.label} — {scope}, {tanggal_pendek(ctx.today)}", RULE_PROGRAM]
    else:
        head = [f"🏆 Peringkat semua program — {scope}, {tanggal_pendek(ctx.today)}", RULE_OVERALL]
    if not scores:
        raise UserError("Belum ada unit yang dapat diperingkat. Ketik /rekap untuk melihat keadaannya.")
    ranked = rank(scores, lambda uid: by_id[uid].code if uid in by_id else "")
    pages = -(-len(ranked) // PAGE)
    page = min(page, pages)
    lines = [*head, ""]
    for row in ranked[(page - 1) * PAGE : page * PAGE]:
        unit = by_id.get(row.unit_id)
        name = f"{unit.name} ({unit.code})" if unit else "?"
        lines.append(f"{row.rank}. {name} — {texts[row.unit_id]}")
    freed = sum(1 for _uid, key in exempt if program is not None and key == program.key)
    if freed:
        lines.append(f"\n{freed} unit dengan dispensasi tidak diperingkat.")
    buttons: list[Button] = []
    suffix = f" {program.key}" if program else ""
    if pages > 1:
        lines.append(f"\nHalaman {page} dari {pages}.")
        if page > 1:
            buttons.append(Button("◀ Sebelumnya", f"/peringkat{suffix} {page - 1}"))
        if page < pages:
            buttons.append(Button("Berikutnya ▶", f"/peringkat{suffix} {page + 1}"))
    if ctx.role in LEADERS:
        lines.append("Gambar: /grafik" + suffix)
    return [Reply("\n".join(lines), tuple(buttons))]


async def ekspor(ctx: Ctx) -> list[Reply]:
    """/ekspor: the status workbook (summary with the picture, one sheet per program, history) as an XLSX file."""
    units, scope, _whole = _scope(ctx)
    content = status_workbook(ctx.session, ctx.pemda, units, ctx.today, scope, calendar=ctx.deps.calendar)
    name = f"status-sigap-{ctx.today.isoformat()}.xlsx"
    text = (
        f"Berkas status {scope} per {tanggal(ctx.today)}: ringkasan dengan grafik, satu lembar per program, "
        "dan riwayat mingguan. Buka dengan Excel atau LibreOffice."
    )
    ctx.audit("status.export", name)
    return [Reply(text, attachment=Attachment(name, content, "document", XLSX_MIME))]


COMMANDS: tuple[Command, ...] = (
    Command(
        "grafik",
        grafik,
        "grafik capaian: total Pemda per program terhadap target, dan peringkat unit",
        "/grafik [program]",
        LEADERS,
    ),
    Command(
        "peringkat",
        peringkat,
        "peringkat unit per program atau semua program (camat: unit di kecamatannya)",
        "/peringkat [program]",
        frozenset({Role.ADMIN, Role.PIMPINAN, Role.CAMAT}),
    ),
    Command("ekspor", ekspor, "unduh status semua unit sebagai berkas Excel", "/ekspor", LEADERS),
)
"""The leaders' commands, registered in `handlers.commands`."""
