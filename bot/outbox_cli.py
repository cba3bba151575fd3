"""`sigap outbox` (what the outbox holds) and `sigap dispatch` (send it now or keep sending)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sqlmodel import col, select

from bot.settings import Settings
from models.db import Database
from models.outbox import status_counts
from models.tables import Contact, Outbox, OutboxStatus

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
    dispatch = sub.add_parser("dispatch", help="mengirim antrean pesan keluar dengan kanal yang dikonfigurasi")
    dispatch.add_argument("--once", action="store_true", help="kirim yang sudah jatuh tempo lalu berhenti (untuk cron)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run `outbox` or `dispatch`."""
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
