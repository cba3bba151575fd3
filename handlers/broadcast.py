"""/siaran: an admin's broadcast to a chosen audience, previewed, confirmed, sent through the outbox.

The handler writes a draft `Broadcast` and answers with a preview; "Kirim" queues one outbox row per
recipient (the dispatcher and the platform limits do the rest). The confirmation reply carries the
broadcast's id, so a channel adapter can remember where it was shown and edit it as rows go out
(`jobs.broadcasts`); `models.tally` counts the rows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from handlers.base import Ctx, find_program, find_unit
from models.app import UserError
from models.fmt import angka
from models.messages import Button, Channel, Reply
from models.outbound import Template
from models.outbox import OutMessage, choose_channel, insert_rows, outbox_row
from models.pemda import PemdaConfig
from models.reach import CONSOLE_NOTE, Unreachable, count_reasons, describe, hints
from models.standing import load_standings
from models.tables import MAX_ID, UNIT_KINDS, UNIT_ROLES, Broadcast, BroadcastStatus, Contact, Outbox, Unit
from models.tally import Tally, progress_text

TARGET = re.compile(r"([^\s,]+(?:\s*,\s*[^\s,]+)*)\s*(.*)", re.DOTALL)
"""The target word, or a list of units with spaces around its commas ("dinkes, disdik"), then the message."""
MAX_TEXT = 1000
"""Longest broadcast text: WhatsApp template parameters stay well inside their limit."""

USAGE = (
    "Format: /siaran <sasaran> <pesan>\n"
    "Sasaran:\n"
    "• semua — semua kontak aktif\n"
    "• jenis unit: kecamatan, dinas, badan, bagian, ...\n"
    "• tertinggal:<program> — unit yang belum memenuhi, mis. tertinggal:katalog\n"
    "• daftar unit dipisah koma, mis. dinkes,disdik\n"
    "Contoh: /siaran tertinggal:katalog Mohon segera menayangkan produk di e-Katalog lokal."
)


@dataclass(frozen=True)
class Audience:
    """Who a broadcast reaches: people reachable now on the channels this deployment sends on, and who was left out
    and why (`models.reach`)."""

    label: str
    contacts: tuple[Contact, ...]
    unit_count: int
    units_without_reach: int
    left_out: Counter[Unreachable] = field(default_factory=Counter)
    """The people of the audience who cannot be reached now, per reason."""

    @property
    def skipped_people(self) -> int:
        """People of the audience who cannot be reached now."""
        return sum(self.left_out.values())

    @property
    def reached_units(self) -> int:
        """Units with at least one recipient."""
        return len({c.unit_id for c in self.contacts if c.unit_id is not None})


def _active_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).where(col(Unit.active).is_(True)).order_by(col(Unit.code))).all())


KIND_NAMES = {"distrik": "kecamatan", "kampung": "desa"}
"""What Papua (and some other regions) call a unit kind: `/siaran distrik …` reaches every kecamatan-kind unit."""


def audience_for(ctx: Ctx, target: str) -> Audience:
    """The audience named by `target` (semua, a unit kind, tertinggal:<program>, or unit codes), sender excluded."""
    session = ctx.session
    wanted = target.strip().lower()
    everyone = False
    if wanted == "semua":
        everyone = True
        units = _active_units(session)
        label = "semua kontak aktif"
    elif wanted in UNIT_KINDS or wanted in KIND_NAMES:
        kind = KIND_NAMES.get(wanted, wanted)
        units = [u for u in _active_units(session) if u.kind == kind]
        label = f"semua {wanted}" if wanted in KIND_NAMES else f"semua unit berjenis {wanted}"
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
    on = ctx.deps.sends_on
    reachable = tuple(c for c in people if choose_channel(c, on=on) is not None)
    reached = {c.unit_id for c in reachable}
    return Audience(
        label=label,
        contacts=reachable,
        unit_count=len(unit_ids),
        units_without_reach=0 if everyone else len(unit_ids - reached),
        left_out=count_reasons(people, on),
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
    target, text = _target_and_text(ctx.incoming.body)
    if not target or not text:
        raise UserError(USAGE)
    if len(text) > MAX_TEXT:
        sent = len(text) + (ctx.incoming.text_cut if ctx.incoming.payload is None else 0)  # as typed, before any cut
        raise UserError(
            f"Pesan siaran terlalu panjang: {angka(sent)} karakter, paling banyak {angka(MAX_TEXT)}. "
            "Mohon persingkat, lalu kirim ulang /siaran."
        )
    audience = audience_for(ctx, target)
    on = ctx.deps.sends_on
    if not audience.contacts:
        return [Reply(_nobody(target, audience, on))]
    broadcast = Broadcast(
        created_by_id=ctx.me.id or 0,
        channel=ctx.incoming.channel.value,
        audience=target,
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
        left_out.append(
            f"{audience.skipped_people} orang tidak dapat dijangkau sekarang ({describe(audience.left_out)})"
        )
    if audience.units_without_reach:
        left_out.append(f"{audience.units_without_reach} unit tanpa kontak yang dapat dijangkau")
    if left_out:
        lines.append("Tidak ikut menerima: " + "; ".join(left_out) + ".")
        lines += hints(audience.left_out, on)
    lines += ["", "Isi pesan:", text, "", "Tekan Kirim untuk mengirim sekarang, atau Batal."]
    buttons = (Button("Kirim", f"/siaran kirim {broadcast.id}"), Button("Batal", f"/siaran batal {broadcast.id}"))
    return [Reply("\n".join(lines), buttons)]


def _target_and_text(body: str) -> tuple[str, str]:
    """The target (a unit list read as one, its commas without spaces: "dinkes, disdik" is "dinkes,disdik") and the
    message after it."""
    parts = body.split(maxsplit=1)
    found = TARGET.fullmatch(parts[1].strip()) if len(parts) == 2 else None
    if found is None:
        return "", ""
    return re.sub(r"\s*,\s*", ",", found.group(1)), found.group(2).strip()


def _nobody(target: str, audience: Audience, on: frozenset[Channel]) -> str:
    """Why a broadcast to `target` is not made: nobody in it can be reached now (who, why, what to do)."""
    lines = [
        f"⚠️ Sasaran “{target}” ({audience.label}) tidak punya penerima yang dapat dijangkau, jadi siaran tidak dibuat."
    ]
    if not on:
        lines.append(CONSOLE_NOTE)
    if audience.skipped_people:
        lines.append(f"{audience.skipped_people} orang tidak dapat dijangkau sekarang: {describe(audience.left_out)}.")
        lines += hints(audience.left_out, on)
        lines.append("Setelah itu kirim ulang /siaran.")
    else:
        lines.append("Mohon periksa sasarannya, lalu kirim ulang /siaran.")
    return "\n".join(lines)


def _own_broadcast(ctx: Ctx, broadcast_id: int) -> Broadcast:
    broadcast = ctx.session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.created_by_id != ctx.me.id:
        raise UserError(f"Siaran #{broadcast_id} tidak ditemukan. Buat siaran baru dengan /siaran.")
    if broadcast.status == BroadcastStatus.CANCELLED:
        raise UserError(f"Siaran #{broadcast_id} sudah dibatalkan. Buat siaran baru dengan /siaran.")
    if broadcast.status != BroadcastStatus.DRAFT:
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
        channel = choose_channel(contact, on=ctx.deps.sends_on)
        if channel is None:
            continue
        key = f"broadcast|{broadcast.id}|{contact.id}"
        rows.append(outbox_row(key, contact, message, ctx.now, channel=channel, broadcast_id=broadcast.id))
    insert_rows(ctx.session, rows)
    total = int(
        ctx.session.exec(select(func.count()).select_from(Outbox).where(Outbox.broadcast_id == broadcast.id)).one()
    )
    broadcast.status, broadcast.total, broadcast.confirmed_at = BroadcastStatus.SENDING.value, total, ctx.now
    ctx.session.add(broadcast)
    ctx.audit("broadcast.sent", str(broadcast.id), audience=broadcast.audience, recipients=total)
    return [Reply(progress_text(broadcast.id or 0, Tally(total, 0, 0, 0)), broadcast_id=broadcast.id)]


def _cancel(ctx: Ctx, broadcast: Broadcast) -> list[Reply]:
    broadcast.status = BroadcastStatus.CANCELLED.value
    ctx.session.add(broadcast)
    ctx.audit("broadcast.cancelled", str(broadcast.id))
    return [Reply(f"Siaran #{broadcast.id} dibatalkan; tidak ada pesan yang dikirim.")]
