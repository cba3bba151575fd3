"""`sigap invite --unit KODE --role R [--days N] [--replace-person]`: one code for one unit; `sigap invite --all
--role kepala|camat|operator`: one code per unit without a registered person in that role, sharing one expiry,
written as a printable PDF (with QR codes) and an XLSX."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.settings import Settings
from handlers.invite_sheet import entries_for, render_pdf, render_xlsx
from handlers.registration import MAX_DAYS
from handlers.undangan import BATCH_ROLES, Batch, batch_expiry, create_batch
from models.audit import record
from models.fmt import waktu
from models.tables import ROLE_LABELS, Role

SHOWN = 10


def add_arguments(invite: argparse.ArgumentParser) -> None:
    """The batch options of `sigap invite`."""
    invite.add_argument(
        "--all",
        action="store_true",
        help="satu kode untuk setiap unit yang belum punya orang terdaftar dengan peran itu; menulis PDF dan XLSX",
    )
    invite.add_argument(
        "--days", type=int, default=None, help=f"masa berlaku kode, 1-{MAX_DAYS} hari (bawaan SIGAP_INVITE_DAYS)"
    )
    invite.add_argument(
        "--replace-person",
        action="store_true",
        help="tetap membuat kode kepala/camat untuk unit yang sudah punya; pemakai kode menggantikannya",
    )
    invite.add_argument(
        "--out", type=Path, default=Path(), help="folder untuk berkas PDF dan XLSX (bawaan: folder ini)"
    )
    invite.add_argument(
        "--replace", action="store_true", help="mengganti kode lama yang belum dipakai (kode lama tidak berlaku lagi)"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Create the batch, write both files, then commit (a file that cannot be written leaves no codes behind)."""
    if not args.all and args.unit:
        return _one(args, settings)
    if not args.all:
        print("Sebutkan unitnya dengan --unit KODE, atau buat untuk semua unit dengan --all.", file=sys.stderr)
        return 2
    if args.unit:
        print("Pakai --unit untuk satu unit atau --all untuk semua unit, tidak keduanya.", file=sys.stderr)
        return 2
    role = Role(args.role)
    if role not in BATCH_ROLES:
        print(
            f"--all hanya untuk peran kepala, camat atau operator. Untuk {role.value}, buat satu per satu: "
            f"sigap invite --unit KODE --role {role.value}",
            file=sys.stderr,
        )
        return 2
    from bot.wiring import build_deps

    deps = build_deps(settings)
    days = args.days if args.days is not None else deps.invite_days
    now = deps.clock.now()
    expires_at = batch_expiry(deps.calendar, now, days)
    if settings.telegram_enabled:
        from bot.telegram.identity import fetch_username

        deps.telegram_username = asyncio.run(fetch_username(settings))
    out: Path = args.out
    stem = f"undangan-{role.value}-{deps.calendar.local_date(now).isoformat()}"
    with deps.db.uow() as uow:
        batch = create_batch(uow.session, deps.pemda, role, now, expires_at, replace=args.replace)
        if batch.created:
            entries = entries_for(batch.created, deps, expires_at)
            try:
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{stem}.pdf").write_bytes(render_pdf(entries, deps.pemda.pemda.name))
                (out / f"{stem}.xlsx").write_bytes(render_xlsx(entries))
            except OSError as exc:
                print(
                    f"Berkas tidak dapat ditulis ke {out}: {exc.strerror or exc}. Tidak ada kode yang dibuat; "
                    "pilih folder lain dengan --out FOLDER.",
                    file=sys.stderr,
                )
                return 1
        uow.commit()
    _report(batch, out / stem, waktu(expires_at, deps.calendar.zone), deps.telegram_username, deps.whatsapp_number)
    return 0


def _report(batch: Batch, stem: Path, until: str, username: str | None, number: str | None) -> None:
    role = batch.role.value
    label = ROLE_LABELS[batch.role]
    if batch.created:
        print(f"Kode undangan {label} dibuat untuk {len(batch.created)} unit, berlaku sekali sampai {until}.")
        print(f"Lembar siap cetak{' (kode QR)' if username or number else ''}: {stem}.pdf")
        print(f"Tabel yang sama: {stem}.xlsx")
    else:
        print(f"Tidak ada kode baru: tidak ada unit yang masih menunggu {label}.")
    if batch.covered:
        print(f"{batch.covered} unit sudah punya {role} terdaftar; tidak dibuatkan kode.")
    if batch.unchased:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(batch.unchased.items()))
        print(
            f"Tidak dibuatkan kode karena tidak ada program yang berlaku bagi unitnya: {kinds}. Bila perlu, buat "
            f"satu per satu: sigap invite --unit KODE --role {role}"
        )
    if batch.kept:
        codes = ", ".join(unit.code for unit, _invite in batch.kept[:SHOWN])
        more = f" dan {len(batch.kept) - SHOWN} lainnya" if len(batch.kept) > SHOWN else ""
        print(
            f"{len(batch.kept)} unit masih punya kode {role} yang berlaku ({codes}{more}); kodenya tidak diganti. "
            f"Untuk menggantinya: sigap invite --all --role {role} --replace"
        )
    if batch.created and not username and not number:
        print(
            "Catatan: belum ada kanal (Telegram/WhatsApp) yang diatur, jadi lembar hanya memuat kode tanpa tautan "
            "dan kode QR. Atur kanalnya di .env, lalu buat ulang dengan --replace."
        )
    elif batch.created and not username:
        print("Catatan: tautan Telegram tidak dibuat (TELEGRAM_BOT_TOKEN kosong atau Telegram tidak terjangkau).")
    elif batch.created and not number:
        print("Catatan: tautan WhatsApp tidak dibuat; isi WHATSAPP_DISPLAY_NUMBER di .env bila memakai WhatsApp.")


def _one(args: argparse.Namespace, settings: Settings) -> int:
    """One code for `--unit` and `--role`, valid `--days` days; a head role someone holds needs `--replace-person`."""
    from bot.wiring import build_deps
    from handlers.base import find_unit
    from handlers.heads import holders, names
    from handlers.notify import head_role
    from handlers.registration import check_days, create_invite, invite_links, replace_warning
    from models.onboarding import misfit

    role = Role(args.role)
    deps = build_deps(settings)
    days = args.days if args.days is not None else deps.invite_days
    check_days(days)
    with deps.db.uow() as uow:
        unit = find_unit(uow.session, args.unit)
        why = misfit(role, unit.name, unit.kind)
        if why:
            print(
                f"{why}\nBuat kodenya dengan: sigap invite --unit {unit.code} --role {head_role(unit).value}",
                file=sys.stderr,
            )
            return 2
        there = holders(uow.session, unit, role, registered=True)
        if there and not args.replace_person:
            print(
                f"{replace_warning(unit, role, there)}\nTidak ada kode yang dibuat. Bila memang diganti: "
                f"sigap invite --unit {unit.code} --role {role.value} --replace-person",
                file=sys.stderr,
            )
            return 2
        held = holders(uow.session, unit, role)
        invite = create_invite(uow.session, unit, role, deps.clock.now(), days=days)
        detail = {"role": role.value, "invite": invite.id, "expires_at": invite.expires_at.isoformat()}
        replaces = {"replaces": [c.id for c in there]} if there else {}
        record(uow.session, "invite.created", unit.code, detail | replaces, at=invite.created_at)
        uow.commit()
    if settings.telegram_enabled:
        from bot.telegram.identity import fetch_username

        deps.telegram_username = asyncio.run(fetch_username(settings))
    print(f"Kode undangan {role.value} {unit.name}: {invite.code}")
    print(f"Berlaku sekali sampai {waktu(invite.expires_at, deps.calendar.zone)}. Kirim ke bot: /start {invite.code}")
    for link in invite_links(invite.code, deps.telegram_username, deps.whatsapp_number):
        print(link)
    if held:
        print(f"Bila kode ini dipakai orang lain, {names(held)} dinonaktifkan sebagai {role.value}; admin diberi tahu.")
    return 0
