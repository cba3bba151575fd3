"""/siaran: an admin's broadcast to a chosen audience, previewed, confirmed, sent through the outbox.

The handler writes a draft `Broadcast` and answers with a preview; "Kirim" queues one outbox row per
recipient (the dispatcher and the platform limits do the rest). Channel adapters show progress by
editing the confirmation message: `progress_broadcast_id` recognises that reply, `remember_progress_message`
stores where it landed, `tally`/`finish_if_done` count and close the broadcast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from handlers.base import Ctx, UserError, find_program, find_unit
from jobs.outbox import OutMessage, choose_channel, enqueue, insert_rows, outbox_row
from models.messages import Button, Channel, Reply
from models.outbound import Template
from models.pemda import PemdaConfig
from models.standing import load_standings
from models.tables import UNIT_KINDS, Broadcast, Contact, Outbox, OutboxStatus, Role, Unit

MAX_TEXT = 1000
"""Longest broadcast text: WhatsApp template parameters stay well inside their limit."""

MAX_ID = 2**31 - 1
"""Ids above this cannot exist (a 32-bit key on PostgreSQL)."""

UNIT_ROLES = frozenset({Role.KEPALA.value, Role.OPERATOR.value, Role.CAMAT.value})
"""Who hears a unit-targeted broadcast: the people who answer for the unit, not admins or pimpinan."""

DRAFT, SENDING, FINISHED, CANCELLED = "draft", "sending", "finished", "cancelled"
SENT_STATUSES = (OutboxStatus.SENT.value, OutboxStatus.DELIVERED.value, OutboxStatus.READ.value)
OPEN_STATUSES = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
UNREACHABLE_MARK = "tidak terjangkau"
"""How the dispatcher starts `last_error` of a row that failed because the person blocked the bot."""

USAGE = (
    "Format: /siaran <sasaran> <pesan>\n"
    "Sasaran:\n"
    "• semua — semua kontak aktif\n"
    "• jenis unit: kecamatan, dinas, badan, bagian, ...\n"
    "• tertinggal:<program> — unit yang belum memenuhi, mis. tertinggal:katalog\n"
    "• daftar unit dipisah koma, mis. dinkes,disdik\n"
    "Contoh: /siaran tertinggal:katalog Mohon segera menayangkan produk di e-Katalog lokal."
)
_PROGRESS = re.compile(r"^Siaran #(\d+) dikirim ke \d+ penerima\.")


@dataclass(frozen=True)
class Audience:
    """Who a broadcast reaches: people with a reachable channel, and what was left out."""

    label: str
    contacts: tuple[Contact, ...]
    unit_count: int
    units_without_reach: int
    skipped_people: int

    @property
    def reached_units(self) -> int:
        """Units with at least one recipient."""
        return len({c.unit_id for c in self.contacts if c.unit_id is not None})


@dataclass(frozen=True)
class Tally:
    """Where a broadcast's outbox rows stand."""

    total: int
    sent: int
    failed: int
    unreachable: int

    @property
    def open(self) -> int:
        """Rows not yet finished (waiting or being sent)."""
        return max(self.total - self.sent - self.failed - self.unreachable, 0)


def _active_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).where(col(Unit.active).is_(True)).order_by(col(Unit.code))).all())


def audience_for(ctx: Ctx, target: str) -> Audience:
    """The audience named by `target` (semua, a unit kind, tertinggal:<program>, or unit codes), sender excluded."""
    session = ctx.session
    wanted = target.strip().lower()
    everyone = False
    if wanted == "semua":
        everyone = True
        units = _active_units(session)
        label = "semua kontak aktif"
    elif wanted in UNIT_KINDS:
        units = [u for u in _active_units(session) if u.kind == wanted]
        label = f"semua unit berjenis {wanted}"
    elif wanted.startswith("tertinggal:"):
        program = find_program(ctx.pemda, wanted.split(":", 1)[1], "/siaran tertinggal:katalog <pesan>")
        candidates = _active_units(session)
        standings = load_standings(session, ctx.pemda, candidates, ctx.today, [program])
        units = [
            u for u in candidates if (key := (u.id or 0, program.key)) in standings and not standings[key].compliant
        ]
        label = f"unit yang belum memenuhi {program.label}"
    else:
        names = [part for part in wanted.split(",") if part.strip()]
        if not names:
            raise UserError(USAGE)
        found: dict[int, Unit] = {}
        for name in names:
            unit = find_unit(session, name)
            found[unit.id or 0] = unit
        units = list(found.values())
        label = ", ".join(u.code for u in units)
    unit_ids = {u.id for u in units if u.id is not None}
    stmt = select(Contact).where(col(Contact.active).is_(True), col(Contact.unit_id).is_not(None))
    if not everyone:
        stmt = stmt.where(col(Contact.unit_id).in_(unit_ids), col(Contact.role).in_(UNIT_ROLES))
    me = ctx.contact.id if ctx.contact is not None else None
    people = [c for c in session.exec(stmt.order_by(col(Contact.id))).all() if c.id != me]
    reachable = tuple(c for c in people if choose_channel(c) is not None)
    reached = {c.unit_id for c in reachable}
    return Audience(
        label=label,
        contacts=reachable,
        unit_count=len(unit_ids),
        units_without_reach=0 if everyone else len(unit_ids - reached),
        skipped_people=len(people) - len(reachable),
    )


async def siaran(ctx: Ctx) -> list[Reply]:
    """/siaran <sasaran> <pesan>, /siaran kirim <id>, /siaran batal <id>."""
    parts = ctx.incoming.body.split(maxsplit=2)
    args = parts[1:]
    if args and args[0].lower() in ("kirim", "batal") and len(args) == 2 and args[1].strip().isdigit():
        number = args[1].strip()
        if not number.isascii() or int(number) > MAX_ID:
            raise UserError(f"Siaran #{number} tidak ditemukan. Buat siaran baru dengan /siaran.")
        broadcast = _own_broadcast(ctx, int(number))
        return _confirm(ctx, broadcast) if args[0].lower() == "kirim" else _cancel(ctx, broadcast)
    if len(args) < 2 or not args[1].strip():
        raise UserError(USAGE)
    target, text = args[0], args[1].strip()
    if len(text) > MAX_TEXT:
        raise UserError(
            f"Pesan siaran terlalu panjang ({len(text)} karakter). Mohon persingkat, paling banyak {MAX_TEXT}."
        )
    audience = audience_for(ctx, target)
    if not audience.contacts:
        return [
            Reply(
                f"⚠️ Sasaran “{target}” ({audience.label}) tidak punya penerima yang dapat dijangkau, "
                "jadi siaran tidak dibuat.\nMohon periksa sasarannya, lalu kirim ulang /siaran."
            )
        ]
    broadcast = Broadcast(
        created_by_id=ctx.me.id or 0,
        channel=ctx.incoming.channel.value,
        audience=target[:200],
        text=text,
        total=len(audience.contacts),
        created_at=ctx.now,
    )
    ctx.session.add(broadcast)
    ctx.session.flush()
    ctx.audit("broadcast.draft", str(broadcast.id), audience=target, recipients=len(audience.contacts))
    lines = [
        f"Pratinjau siaran #{broadcast.id}",
        f"Sasaran: {audience.label}",
        f"Penerima: {len(audience.contacts)} orang di {audience.reached_units} unit.",
    ]
    left_out = []
    if audience.skipped_people:
        left_out.append(f"{audience.skipped_people} orang belum terhubung ke Telegram/WhatsApp atau memblokir bot")
    if audience.units_without_reach:
        left_out.append(f"{audience.units_without_reach} unit tanpa kontak yang dapat dijangkau")
    if left_out:
        lines.append("Tidak ikut menerima: " + "; ".join(left_out) + ".")
    lines += ["", "Isi pesan:", text, "", "Tekan Kirim untuk mengirim sekarang, atau Batal."]
    buttons = (Button("Kirim", f"/siaran kirim {broadcast.id}"), Button("Batal", f"/siaran batal {broadcast.id}"))
    return [Reply("\n".join(lines), buttons)]


def _own_broadcast(ctx: Ctx, broadcast_id: int) -> Broadcast:
    broadcast = ctx.session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.created_by_id != ctx.me.id:
        raise UserError(f"Siaran #{broadcast_id} tidak ditemukan. Buat siaran baru dengan /siaran.")
    if broadcast.status == CANCELLED:
        raise UserError(f"Siaran #{broadcast_id} sudah dibatalkan. Buat siaran baru dengan /siaran.")
    if broadcast.status != DRAFT:
        raise UserError(f"Siaran #{broadcast_id} sudah dikirim sebelumnya; tidak dikirim dua kali.")
    return broadcast


def broadcast_message(pemda: PemdaConfig, text: str) -> OutMessage:
    """What each recipient gets; WhatsApp's template parameter holds the text on one line."""
    return OutMessage(
        text=f"📢 Pengumuman Sigap {pemda.pemda.short_name}:\n\n{text}",
        kind="broadcast",
        template=Template(pemda.whatsapp_templates.broadcast, (" ".join(text.split()),)),
    )


def _confirm(ctx: Ctx, broadcast: Broadcast) -> list[Reply]:
    audience = audience_for(ctx, broadcast.audience)
    if not audience.contacts:
        raise UserError(
            f"Siaran #{broadcast.id} tidak lagi punya penerima yang dapat dijangkau; tidak ada yang dikirim."
        )
    message = broadcast_message(ctx.pemda, broadcast.text)
    rows = []
    for contact in audience.contacts:
        channel = choose_channel(contact)
        if channel is None:
            continue
        key = f"broadcast|{broadcast.id}|{contact.id}"
        rows.append(outbox_row(key, contact, message, ctx.now, channel=channel, broadcast_id=broadcast.id))
    insert_rows(ctx.session, rows)
    total = int(
        ctx.session.exec(select(func.count()).select_from(Outbox).where(Outbox.broadcast_id == broadcast.id)).one()
    )
    broadcast.status, broadcast.total, broadcast.confirmed_at = SENDING, total, ctx.now
    ctx.session.add(broadcast)
    ctx.audit("broadcast.sent", str(broadcast.id), audience=broadcast.audience, recipients=total)
    return [Reply(progress_text(broadcast.id or 0, Tally(total, 0, 0, 0)))]


def _cancel(ctx: Ctx, broadcast: Broadcast) -> list[Reply]:
    broadcast.status = CANCELLED
    ctx.session.add(broadcast)
    ctx.audit("broadcast.cancelled", str(broadcast.id))
    return [Reply(f"Siaran #{broadcast.id} dibatalkan; tidak ada pesan yang dikirim.")]


def progress_text(broadcast_id: int, tally: Tally, *, finished: bool = False) -> str:
    """The confirmation that later becomes the progress message: 'Kemajuan: Terkirim 120/560'."""
    text = f"Siaran #{broadcast_id} dikirim ke {tally.total} penerima.\nKemajuan: Terkirim {tally.sent}/{tally.total}"
    problems = tally.failed + tally.unreachable
    if problems:
        text += f" (belum berhasil {problems})"
    if finished:
        text += "\nSelesai."
    return text


def progress_broadcast_id(text: str) -> int | None:
    """The broadcast whose confirmation `text` is (an adapter then remembers where it was shown)."""
    match = _PROGRESS.match(text)
    return int(match.group(1)) if match else None


def remember_progress_message(
    session: Session, broadcast_id: int, channel: Channel, address: str, message_id: str
) -> bool:
    """Store where the confirmation of `broadcast_id` was shown, if its author received it there."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.channel != channel.value or broadcast.progress_message_id is not None:
        return False
    author = session.get(Contact, broadcast.created_by_id)
    if author is None or author.address(channel) != address:
        return False
    broadcast.progress_chat, broadcast.progress_message_id = address, message_id
    session.add(broadcast)
    return True


def tally(session: Session, broadcast_id: int) -> Tally:
    """Count the broadcast's rows: sent, failed, unreachable (the person blocked the bot) and the rest."""
    rows = session.exec(select(Outbox.status, Outbox.last_error).where(Outbox.broadcast_id == broadcast_id)).all()
    sent = failed = unreachable = 0
    for status, error in rows:
        if status in SENT_STATUSES:
            sent += 1
        elif status in OPEN_STATUSES:
            continue
        elif status == OutboxStatus.FAILED.value and (error or "").startswith(UNREACHABLE_MARK):
            unreachable += 1
        else:
            failed += 1
    return Tally(total=len(rows), sent=sent, failed=failed, unreachable=unreachable)


def open_rows(session: Session, broadcast_id: int) -> int:
    """Rows of the broadcast still waiting or being sent."""
    stmt = (
        select(func.count())
        .select_from(Outbox)
        .where(Outbox.broadcast_id == broadcast_id, col(Outbox.status).in_(OPEN_STATUSES))
    )
    return int(session.exec(stmt).one())


def finish_if_done(session: Session, pemda: PemdaConfig, broadcast_id: int, now: datetime) -> Tally | None:
    """When every row is finished: mark the broadcast finished once and queue the tally to its author."""
    if open_rows(session, broadcast_id):
        return None
    claimed = session.execute(
        update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id, col(Broadcast.status) == SENDING)
        .values(status=FINISHED, finished_at=now)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        return None
    result = tally(session, broadcast_id)
    broadcast = session.get(Broadcast, broadcast_id)
    author = session.get(Contact, broadcast.created_by_id) if broadcast is not None else None
    if author is not None:
        lines = [
            f"Siaran #{broadcast_id} selesai.",
            f"Terkirim: {result.sent}",
            f"Gagal: {result.failed}",
            f"Tidak terjangkau: {result.unreachable}",
        ]
        if result.unreachable:
            lines.append("Lihat siapa saja dengan /takterjangkau.")
        text = "\n".join(lines)
        template = Template(pemda.whatsapp_templates.broadcast, (" ".join(text.split()),))
        enqueue(
            session,
            f"broadcast|{broadcast_id}|hasil",
            author,
            OutMessage(text=text, kind="broadcast_tally", template=template),
            now,
        )
    return result
