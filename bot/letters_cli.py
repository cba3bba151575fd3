"""`sigap letters ...`: export the register and draft a letter by hand."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.settings import Settings

STAGES = ("teguran1", "teguran2")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `letters export` and `letters draft` to the `sigap` parser."""
    letters = sub.add_parser("letters", help="register surat teguran")
    letters_sub = letters.add_subparsers(dest="letters_command", required=True, metavar="AKSI")
    export = letters_sub.add_parser("export", help="mengekspor register surat teguran ke XLSX")
    export.add_argument("file", type=Path, help="berkas tujuan .xlsx")
    draft = letters_sub.add_parser("draft", help="merancang surat teguran untuk satu unit dan program")
    draft.add_argument("--unit", required=True, help="kode atau nama pendek unit, mis. DINKES")
    draft.add_argument("--program", required=True, help="kunci program, mis. katalog")
    draft.add_argument("--stage", required=True, choices=STAGES, help="tahap teguran")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `sigap letters` action (the heavy imports wait until a letters command is run)."""
    from bot.wiring import build_deps
    from handlers.base import find_program, find_unit
    from jobs.letters.export import export_register
    from jobs.letters.flow import STATUS_WORDS, submit
    from jobs.letters.register import LetterError, draft_letter, find_letter
    from models.app import UserError
    from models.fmt import tanggal
    from models.pemda import Stage
    from models.standing import load_standings

    deps = build_deps(settings)
    if args.letters_command == "export":
        path: Path = args.file
        if path.suffix.lower() != ".xlsx":
            raise UserError(f"Berkas ekspor harus berakhiran .xlsx, bukan {path.name}.")
        with deps.db.uow() as uow:
            count = export_register(uow.session, deps.pemda, deps.calendar, path)
        print(f"Register surat teguran: {count} surat diekspor ke {path}.")
        return 0
    now = deps.clock.now()
    with deps.db.uow() as uow:
        session = uow.session
        unit = find_unit(session, args.unit)
        program = find_program(deps.pemda, args.program, "--program katalog")
        standing = load_standings(session, deps.pemda, [unit], deps.calendar.local_date(now), [program]).get(
            (unit.id or 0, program.key)
        )
        if standing is None:
            raise UserError(f"Program {program.label} tidak ditugaskan ke {unit.name}.")
        if standing.compliant:
            raise UserError(f"{unit.name} sudah memenuhi target {program.label}; surat teguran tidak dirancang.")
        if deps.calendar.local_date(now) <= standing.deadline:
            raise UserError(
                f"Batas waktu {program.label} ({tanggal(standing.deadline)}) belum lewat; surat teguran belum dapat "
                "dirancang."
            )
        stage = next(
            (s for s in deps.pemda.ladder_of(program) if s.kind == args.stage),
            Stage(offset_days=7 if args.stage == "teguran1" else 14, kind=args.stage),
        )
        existing = find_letter(session, unit.id or 0, program.key, standing.period, stage.kind)
        try:
            letter = existing or draft_letter(session, deps.pemda, deps.calendar, unit, standing, stage, now)
        except LetterError as exc:
            raise UserError(str(exc)) from None
        queued = submit(session, deps.pemda, deps.calendar, letter, now, deps.sends_on) if existing is None else 0
        uow.commit()
    state = "sudah ada" if existing is not None else "dirancang"
    print(
        f"Surat {letter.label_number} (id {letter.id}) {state}: {letter.summary}. "
        f"Status: {STATUS_WORDS[letter.status]}."
    )
    if existing is None and deps.pemda.letters.require_approval:
        if queued:
            print("Permintaan persetujuan masuk antrean pesan untuk admin (dikirim oleh `sigap run`).")
        else:
            print(
                "Tidak ada penyetuju surat yang dapat dihubungi di Sigap sekarang (lihat sigap doctor), jadi "
                f"permintaan persetujuan tidak dikirim. Setujui suratnya dengan /teguran setujui {letter.id}."
            )
    return 0
