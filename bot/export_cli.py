"""`sigap export status FILE.xlsx`: the status of every unit on every program as a spreadsheet."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.settings import Settings


def export_kinds(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse._SubParsersAction[Any]:
    """The subcommands of `sigap export` (status, evidence), made by whichever export registers first."""
    existing = sub.choices.get("export")
    if existing is None:
        export = sub.add_parser("export", help="mengekspor data")
        return export.add_subparsers(dest="export_command", required=True, metavar="JENIS")
    return next(a for a in existing._actions if isinstance(a, argparse._SubParsersAction))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `export status` to the `sigap` parser."""
    status = export_kinds(sub).add_parser(
        "status", help="status semua unit ke XLSX: ringkasan dengan grafik, satu lembar per program, riwayat mingguan"
    )
    status.add_argument("file", type=Path, help="berkas tujuan .xlsx")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Write the status workbook (the same file /ekspor sends in chat)."""
    from bot.wiring import build_deps
    from models.app import UserError
    from models.fmt import tanggal
    from models.leaders import active_units
    from models.standing import load_standings
    from models.status_book import status_workbook

    path: Path = args.file
    if path.suffix.lower() != ".xlsx":
        raise UserError(f"Berkas ekspor harus berakhiran .xlsx, bukan {path.name}.")
    deps = build_deps(settings)
    today = deps.calendar.local_date(deps.clock.now())
    with deps.db.uow() as uow:
        units = active_units(uow.session)
        scope = deps.pemda.pemda.short_name
        content = status_workbook(uow.session, deps.pemda, units, today, scope, calendar=deps.calendar)
        chased = len({uid for uid, _key in load_standings(uow.session, deps.pemda, units, today)})  # as /rekap
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise UserError(f"Berkas {path} tidak dapat ditulis: {problem}. Periksa folder dan izinnya.") from None
    print(f"Status {chased} unit per {tanggal(today)} diekspor ke {path}.")
    return 0
