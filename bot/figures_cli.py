"""`sigap import figures FILE --source NAME [--as-of YYYY-MM-DD] [--apply]`, `sigap figures map SATKER UNIT|--ignore`
and `sigap figures fetch [--apply]`: katalog and P3DN figures from LKPP, previewed before anything is written."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from datetime import date, time
from pathlib import Path
from typing import Any

from bot.settings import Settings
from models.app import UserError

MAX_BYTES = 200 * 1024 * 1024


def add_parsers(sub: Any, imports: Any) -> None:
    """Add `import figures` (under `sigap import`) and `figures map|fetch` to the `sigap` parser."""
    figures = imports.add_parser(
        "figures",
        help="angka katalog dan P3DN dari ekspor LKPP (CSV, XLSX, JSON): pratinjau, ditulis hanya dengan --apply",
    )
    figures.add_argument("file", type=Path, help="berkas ekspor paket e-purchasing atau RUP (.csv/.xlsx/.json)")
    figures.add_argument("--source", required=True, help="nama sumber yang dicatat bersama angkanya, mis. ekatalog")
    figures.add_argument(
        "--as-of", dest="as_of", type=_day, default=None, help="tanggal data ekspor, YYYY-MM-DD (bawaan: saat ini)"
    )
    figures.add_argument("--apply", action="store_true", help="mencatat angkanya (tanpa ini: hanya pratinjau)")
    figures.set_defaults(command="figures", figures_command="import")
    top = sub.add_parser("figures", help="angka dari LKPP: memetakan satker, mengambil dari API INAPROC")
    actions = top.add_subparsers(dest="figures_command", required=True, metavar="AKSI")
    mapping = actions.add_parser("map", help="memetakan satker di ekspor LKPP ke unit, sekali untuk seterusnya")
    mapping.add_argument("satker", help="nama satker seperti tertulis di ekspor (dalam tanda kutip), atau kodenya")
    mapping.add_argument("unit", nargs="?", default="", help="kode atau nama pendek unit, mis. DINKES")
    mapping.add_argument("--ignore", action="store_true", help="satker ini bukan unit Pemda: barisnya diabaikan")
    fetch = actions.add_parser("fetch", help="mengambil angka tahun ini dari API INAPROC (butuh INAPROC_TOKEN)")
    fetch.add_argument("--apply", action="store_true", help="mencatat angkanya (tanpa ini: hanya pratinjau)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"tanggal harus ditulis YYYY-MM-DD, mis. 2026-12-03 (bukan {text!r})"
        ) from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one figures action (the heavy imports wait until one is run)."""
    if args.figures_command == "import":
        return _import(args, settings)
    if args.figures_command == "map":
        return _map(args, settings)
    return _fetch(args, settings)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.wiring import build_deps
    from models.audit import record as audit
    from models.figure_plan import apply_figures, cli_hint, plan_figures
    from models.figure_read import ExportError, read_export, read_records
    from models.roster_read import shown_name

    deps = build_deps(settings)
    path: Path = args.file
    source = " ".join(str(args.source).split())[:64]
    if not source:
        raise UserError("--source belum diisi: beri nama sumber ekspornya, mis. --source ekatalog")
    now = deps.clock.now()
    as_of = now
    if args.as_of is not None:
        today = deps.calendar.local_date(now)
        if args.as_of > today:
            raise UserError(f"Tanggal --as-of {args.as_of.isoformat()} belum tiba; pakai tanggal data ekspornya.")
        if args.as_of < today:
            as_of = deps.calendar.at_local(args.as_of, time(0, 0))
    shown = shown_name(path, 200)
    try:
        content = _read(path)
        export = read_export(read_records(path.name, content), deps.pemda.figures.fields, deps.pemda.figures.kode_klpd)
    except ExportError as exc:
        print(f"Ekspor {shown} tidak diimpor; tidak ada yang ditulis. Perbaiki dulu:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        if exc.more:
            print(f"  - … dan {exc.more} masalah lain", file=sys.stderr)
        return 1
    with deps.db.uow() as uow:
        plan = plan_figures(uow.session, deps.pemda, export, source=source, as_of=as_of, zone=deps.calendar.zone)
        if not args.apply:
            print(plan.describe(cli_hint))
            if plan.changed:
                day = f" --as-of {args.as_of.isoformat()}" if args.as_of is not None else ""
                quoted = shlex.quote(shown_name(path, 4096))
                print(f"Untuk mencatat: sigap import figures {quoted} --source {shlex.quote(source)}{day} --apply")
            return 0
        record = apply_figures(uow.session, plan, now)
        if record is not None:  # something was written (an import that changes nothing records nothing)
            audit(uow.session, "angka.terapkan", shown_name(path.name), {"sumber": source, "impor": record.id}, at=now)
        uow.commit()
    print(plan.outcome(record, cli_hint))
    return 0


def _read(path: Path) -> bytes:
    from models.figure_read import ExportError
    from models.roster_read import RowProblem

    def fail(reason: str) -> ExportError:
        return ExportError((RowProblem(0, "", reason),))

    try:
        if path.stat().st_size > MAX_BYTES:
            raise fail("Berkas lebih dari 200 MB. Ekspor per tahun anggaran, lalu coba lagi.")
        return path.read_bytes()
    except IsADirectoryError:
        raise fail("Ini sebuah folder, bukan berkas. Sebutkan berkas .csv, .xlsx atau .json di dalamnya.") from None
    except (FileNotFoundError, NotADirectoryError):
        raise fail("Berkas tidak ditemukan. Periksa nama dan foldernya.") from None
    except PermissionError:
        raise fail("Berkas tidak boleh dibaca (izin ditolak). Periksa hak akses berkasnya.") from None
    except (OSError, ValueError):
        raise fail("Berkas tidak dapat dibuka. Periksa nama dan berkasnya, lalu coba lagi.") from None


def _map(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.base import find_unit
    from models.audit import record as audit
    from models.clock import SystemClock
    from models.db import Database
    from models.satkers import map_satker

    if args.ignore == bool(args.unit):
        raise UserError(
            'Sebutkan unitnya (mis. sigap figures map "DINAS KESEHATAN" DINKES), atau --ignore '
            "bila satker itu bukan unit Pemda; tidak keduanya."
        )
    db = Database(settings.database_url)
    now = SystemClock().now()
    with db.uow() as uow:
        unit = None if args.ignore else find_unit(uow.session, args.unit)
        row = map_satker(uow.session, args.satker, unit, None, now)
        audit(uow.session, "angka.petakan", row.satker_label, {"unit": unit.code if unit else None}, at=now)
        uow.commit()
    if unit is None:
        print(f"Satker “{row.satker_label}” ditandai bukan unit Pemda: barisnya diabaikan pada impor berikutnya.")
    else:
        print(f"Satker “{row.satker_label}” dipetakan ke {unit.code} ({unit.name}). Impor berikutnya memakainya.")
    return 0


def _fetch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.inaproc import feed_from_settings
    from bot.wiring import build_deps
    from jobs.figures_sync import FeedFailed, FeedRefused, sync_figures

    feed = feed_from_settings(settings)
    if feed is None:
        raise UserError(
            "INAPROC_TOKEN belum diisi. Minta token peran Data Integrator ke LKPP, isi di .env, lalu coba lagi "
            "(lihat README, bagian angka dari LKPP)."
        )
    deps = build_deps(settings)
    try:
        text = asyncio.run(sync_figures(deps, feed, apply=args.apply))
    except FeedRefused as exc:
        print(f"INAPROC: {exc}. Tidak ada yang ditulis.", file=sys.stderr)
        return 2
    except FeedFailed as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(text)
    if not args.apply:
        print("Untuk mencatat: sigap figures fetch --apply")
    return 0
