"""`sigap outbox` (what the outbox holds) and `sigap dispatch` (send it now or keep sending)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from bot.settings import Settings
from models.audit import record
from models.db import Database
from models.outbox import dead_since, retry, status_counts
from models.tables import Contact, Outbox, OutboxStatus, utcnow

STATUS_LABELS = {
    OutboxStatus.PENDING: "menunggu",
    OutboxStatus.SENDING: "sedang dikirim",
    OutboxStatus.SENT: "terkirim",
    OutboxStatus.DELIVERED: "sampai",
    OutboxStatus.READ: "dibaca",
    OutboxStatus.FAILED: "gagal",
    OutboxStatus.DEAD: "mati (menyerah)",
}


def add_parsers(sub: Any) -> None:
    """Register `outbox` and `dispatch` on the `sigap` sub-command parser."""
    outbox = sub.add_parser("outbox", help="jumlah pesan keluar per status dan pesan mati terbaru beserta alasannya")
    outbox.add_argument("--dead", type=int, default=10, help="berapa pesan mati terbaru yang ditampilkan (bawaan 10)")
    outbox.add_argument(
        "--retry-dead",
        action="store_true",
        help="kirim ulang pesan mati (mis. setelah token atau kanal diperbaiki): pratinjau dulu, tulis dengan --apply",
    )
    outbox.add_argument(
        "--days", type=int, default=3, help="dengan --retry-dead: pesan mati sejak berapa hari (bawaan 3)"
    )
    outbox.add_argument("--apply", action="store_true", help="dengan --retry-dead: benar-benar mengantrekan ulang")
    dispatch = sub.add_parser("dispatch", help="mengirim antrean pesan keluar dengan kanal yang dikonfigurasi")
    dispatch.add_argument("--once", action="store_true", help="kirim yang sudah jatuh tempo lalu berhenti (untuk cron)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `outbox` or `dispatch`."""
    if args.command == "outbox" and args.retry_dead:
        return retry_dead(Database(settings.database_url), days=args.days, apply=args.apply)
    if args.command == "outbox":
        print(report(Database(settings.database_url), dead=args.dead))
        return 0
    from bot.senders import dispatch

    return asyncio.run(dispatch(settings, once=args.once))


def report(db: Database, *, dead: int = 10) -> str:
    """Counts per status, then the latest dead rows with who, channel, kind, attempts and reason."""
    with db.uow() as uow:
        counts = status_counts(uow.session)
        rows = uow.session.exec(
            select(Outbox, Contact)
            .join(Contact, col(Contact.id) == col(Outbox.contact_id))
            .where(Outbox.status == OutboxStatus.DEAD.value)
            .order_by(col(Outbox.id).desc())
            .limit(max(dead, 0))
        ).all()
    width = max(len(label) for label in STATUS_LABELS.values())
    lines = ["Pesan keluar per status:"]
    for status, label in STATUS_LABELS.items():
        lines.append(f"  {label:<{width}}  {counts.get(status.value, 0):>7}")
    lines.append(f"  {'jumlah':<{width}}  {sum(counts.values()):>7}")
    if not rows:
        lines.append("Tidak ada pesan mati.")
        return "\n".join(lines)
    lines.append(f"{len(rows)} pesan mati terbaru (kontak | kanal | jenis | percobaan | alasan):")
    for row, contact in rows:
        reason = " ".join(row.last_error.split()) or "-"
        lines.append(f"  #{row.id} {contact.name} | {row.channel} | {row.kind} | {row.attempts} | {reason}")
    return "\n".join(lines)


RETRY_SHOWN = 10
"""Dead messages listed by name in the retry preview."""


def retry_dead(db: Database, *, days: int, apply: bool, now: datetime | None = None) -> int:
    """`sigap outbox --retry-dead`: the dead messages of the last `days` days that are worth sending again (not to
    people who blocked the bot), listed; with `apply` queued again for the dispatcher, and audited."""
    if not 1 <= days <= 60:
        print("--days harus 1 sampai 60: pesan yang lebih lama biasanya sudah tidak berlaku.", file=sys.stderr)
        return 2
    now = now or utcnow()
    since = now - timedelta(days=days)
    with db.uow() as uow:
        rows = dead_since(uow.session, since)
        if not rows:
            print(f"Tidak ada pesan mati sejak {days} hari terakhir yang dapat dikirim ulang.")
            return 0
        names = {
            c.id: c.name
            for c in uow.session.exec(select(Contact).where(col(Contact.id).in_({r.contact_id for r in rows})))
        }
        kinds = Counter(f"{row.kind} lewat {row.channel}" for row in rows)
        print(
            f"{len(rows)} pesan mati sejak {days} hari terakhir: "
            + ", ".join(f"{n} {k}" for k, n in kinds.most_common())
            + "."
        )
        for row in rows[:RETRY_SHOWN]:
            reason = " ".join(row.last_error.split()) or "-"
            print(f"  #{row.id} {names.get(row.contact_id, '?')} | {row.channel} | {row.kind} | {reason}")
        if len(rows) > RETRY_SHOWN:
            print(f"  … dan {len(rows) - RETRY_SHOWN} lainnya")
        if not apply:
            print("Belum ada yang diubah. Bila penyebabnya sudah diperbaiki, jalankan lagi dengan --apply.")
            return 0
        retry(uow.session, rows, now)
        record(uow.session, "outbox.retried", "", {"pesan": len(rows), "hari": days}, at=now)
        uow.commit()
    print(f"{len(rows)} pesan diantrekan lagi; sigap run (atau sigap dispatch --once) mengirimnya.")
    return 0
