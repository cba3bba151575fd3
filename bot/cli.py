"""The `sigap` command line (also `python -m bot`). Help text is in Indonesian."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlmodel import select

from bot.logs import configure_logging
from bot.settings import SAMPLE_ROSTER, Settings, describe_errors
from models.app import UserError
from models.audit import record
from models.db import Database
from models.fmt import angka
from models.pemda import PemdaFileError
from models.roster import RosterError, apply_plan, plan_roster, shown_name, stream_rows
from models.tables import Role, Unit

log = logging.getLogger("sigap")


# argparse's own words (usage, headings, errors), in Indonesian like the rest of the help text.
_ARGPARSE_WORDS = {
    "usage: ": "penggunaan: ",
    "positional arguments": "argumen",
    "options": "opsi",
    "show this help message and exit": "menampilkan bantuan ini lalu keluar",
    "%(prog)s: error: %(message)s\n": "%(prog)s: galat: %(message)s\n",
    "the following arguments are required: %s": "argumen berikut wajib diisi: %s",
    "unrecognized arguments: %s": "argumen tidak dikenal: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "pilihan tidak sah: %(value)r (pilih dari %(choices)s)",
    "expected one argument": "butuh satu nilai",
}


def _indonesian(message: str) -> str:
    return _ARGPARSE_WORDS.get(message, message)


def _parser() -> argparse.ArgumentParser:
    argparse._ = _indonesian  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(
        prog="sigap", description="Sigap: bot pengingat dan eskalasi kepatuhan OPD (Telegram, WhatsApp, konsol)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="PERINTAH")
    run = sub.add_parser("run", help="menjalankan bot (kanal yang dikonfigurasi; tanpa kanal: konsol)")
    run.add_argument(
        "--as", dest="as_contact", default="", help="kontak untuk konsol bila tidak ada kanal (nama, HP, id)"
    )
    console = sub.add_parser("console", help="mengobrol dengan bot di terminal sebagai seorang kontak")
    console.add_argument("--as", dest="as_contact", required=True, help="kontak: nama, nomor HP, atau id")
    db = sub.add_parser("db", help="basis data")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="AKSI")
    db_sub.add_parser("upgrade", help="membuat/memperbarui skema basis data ke versi terbaru")
    imp = sub.add_parser("import", help="mengimpor data")
    imp_sub = imp.add_subparsers(dest="import_command", required=True, metavar="JENIS")
    roster = imp_sub.add_parser(
        "roster", help="roster unit dan kontak dari CSV atau XLSX: pratinjau perubahan, ditulis hanya dengan --apply"
    )
    roster.add_argument("file", type=Path, nargs="?", default=None, help="berkas .csv/.xlsx (bawaan: contoh roster)")
    roster.add_argument("--apply", action="store_true", help="menerapkan perubahan (tanpa ini: hanya pratinjau)")
    roster.add_argument(
        "--prune", action="store_true", help="menonaktifkan unit dan kontak yang tidak ada di berkas (tidak dihapus)"
    )
    roster.add_argument(
        "--if-empty", action="store_true", help="hanya bila basis data belum berisi unit; langsung diterapkan"
    )
    invite = sub.add_parser("invite", help="membuat kode undangan sekali pakai")
    invite.add_argument("--unit", help="kode atau nama pendek unit, mis. DINKES (atau --all untuk semua unit)")
    invite.add_argument("--role", required=True, choices=[r.value for r in Role], help="peran")
    from bot import invite_cli

    invite_cli.add_arguments(invite)
    from bot import sweep_cli

    sweep_cli.add_parser(sub)
    from bot import outbox_cli

    outbox_cli.add_parsers(sub)
    from bot import letters_cli

    letters_cli.add_parser(sub)
    from bot import evidence_cli

    evidence_cli.add_parser(sub)
    from bot import export_cli

    export_cli.add_parser(sub)
    from bot import figures_cli

    figures_cli.add_parsers(sub, imp_sub)
    from bot import doctor

    doctor.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sigap` command."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(describe_errors(exc), file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        return _run_command(args, settings)
    except PemdaFileError as exc:
        print(f"Berkas Pemda bermasalah:\n{exc}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (DBAPIError, ArgumentError) as exc:
        print(database_problem(exc, settings.database_url), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def database_problem(exc: DBAPIError | ArgumentError, url: str) -> str:
    """What went wrong with the database, in one message naming SIGAP_DATABASE_URL (password hidden)."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "SIGAP_DATABASE_URL bukan alamat basis data yang sah, mis. postgresql://sigap:sandi@127.0.0.1:5432/sigap"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = make_url(url).password
    if password:
        reason = reason.replace(str(password), "***")
    lowered = reason.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f"Skema basis data ({shown}) belum dibuat atau belum terbaru. Jalankan dulu: sigap db upgrade"
    return (
        f"Basis data tidak dapat dipakai (SIGAP_DATABASE_URL={shown}): {reason}\n"
        "Periksa bahwa server basis data berjalan dan alamat, nama pengguna serta sandinya benar."
    )


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "db":
        done = Database(settings.database_url).upgrade()
        print(
            {
                "dibuat": "Skema basis data dibuat.",
                "diperbarui": "Skema basis data diperbarui ke versi terbaru.",
            }.get(done, "Skema basis data sudah versi terbaru; tidak ada yang diubah.")
        )
        return 0
    if args.command == "import":
        return _import_roster(settings, args.file, apply=args.apply, prune=args.prune, if_empty=args.if_empty)
    if args.command == "invite":
        from bot import invite_cli

        return invite_cli.run(args, settings)
    if args.command == "sweep":
        from bot import sweep_cli

        return sweep_cli.run(args, settings)
    if args.command in ("outbox", "dispatch"):
        from bot import outbox_cli

        return outbox_cli.run(args, settings)
    if args.command == "letters":
        from bot import letters_cli

        return letters_cli.run(args, settings)
    if args.command == "export" and args.export_command == "status":
        from bot import export_cli

        return export_cli.run(args, settings)
    if args.command == "export" and args.export_command == "evidence":
        from bot import evidence_cli

        return evidence_cli.run(args, settings)
    if args.command == "figures":
        from bot import figures_cli

        return figures_cli.run(args, settings)
    if args.command == "doctor":
        from bot import doctor

        return doctor.run(args, settings)
    if args.command == "console":
        from bot.console import open_console

        return asyncio.run(open_console(settings, args.as_contact))
    if args.command == "run":
        from bot.runner import run

        return asyncio.run(run(settings, console_as=args.as_contact or settings.console_as))
    raise AssertionError(args.command)


def _import_roster(settings: Settings, path: Path | None, *, apply: bool, prune: bool, if_empty: bool) -> int:
    """Show what the roster file would change; write it with --apply (or --if-empty on an empty database)."""
    db = Database(settings.database_url)
    file = path or SAMPLE_ROSTER
    shown, name = shown_name(file, 200), shown_name(file.name)
    with db.uow() as uow:
        if if_empty:
            if uow.session.exec(select(Unit).limit(1)).first() is not None:
                print("Basis data sudah berisi unit; roster tidak diimpor ulang.")
                return 0
            apply = True
        try:
            plan = plan_roster(uow.session, stream_rows(file, _read_so_far), prune=prune)
        except RosterError as exc:
            print(f"Roster {shown} tidak diimpor; tidak ada yang ditulis. Perbaiki dulu:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        if not plan.changed:
            print(f"Roster {name}: {plan.describe()}")
            return 0
        if not apply:
            print(f"Pratinjau roster {name} (belum ada yang ditulis):")
            print(plan.describe())
            flags = " --prune" if prune else ""
            print(f"Untuk menerapkan: sigap import roster {shlex.quote(shown_name(file, 4096))}{flags} --apply")
            return 0
        if not if_empty:
            print(plan.describe())
        result = apply_plan(uow.session, plan)
        record(uow.session, "roster.terapkan", name, plan.audit_counts())
        uow.commit()
    print(f"Roster {name} diterapkan. {result.summary()}")
    return 0


def _read_so_far(rows: int) -> None:
    """Progress of a long roster file, on stderr (the preview stays alone on stdout)."""
    print(f"dibaca {angka(rows)} baris…", file=sys.stderr, flush=True)
