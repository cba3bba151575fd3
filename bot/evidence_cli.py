"""`sigap export evidence DIR`: the evidence files (bukti dukung) with a manifest, ready for the MCP upload."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.export_cli import export_kinds
from bot.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `export evidence` to the `sigap` parser."""
    evidence = export_kinds(sub).add_parser(
        "evidence", help="berkas bukti dukung dan manifesnya (CSV dan XLSX) ke sebuah folder baru atau kosong"
    )
    evidence.add_argument("directory", type=Path, help="folder tujuan (belum ada, atau kosong)")
    evidence.add_argument("--program", default=None, help="hanya satu program, mis. mcp")
    evidence.add_argument(
        "--status", default=None, help="hanya satu status: sah, menunggu verifikasi, ditolak, atau ditarik"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `sigap export evidence` (the heavy imports wait until it is run)."""
    from bot.wiring import build_deps
    from handlers.base import find_program
    from jobs.evidence_export import STATUSES, ExportError, export_evidence
    from models.app import UserError

    deps = build_deps(settings)
    program = find_program(deps.pemda, args.program, "--program mcp").key if args.program else None
    status = args.status.strip().lower() if args.status else None
    if status == "menunggu":
        status = "menunggu verifikasi"
    if status is not None and status not in STATUSES:
        raise UserError(f"Status “{args.status}” tidak dikenal. Pilihan: {', '.join(STATUSES)}.")
    directory: Path = args.directory
    with deps.db.uow() as uow:
        try:
            count = export_evidence(uow.session, deps.pemda, deps.calendar, directory, program=program, status=status)
        except ExportError as exc:
            raise UserError(str(exc)) from None
    print(f"Bukti dukung: {count} berkas diekspor ke {directory} (manifest.csv dan manifest.xlsx).")
    return 0
