"""/takterjangkau: the people the bot can no longer reach (they blocked it), so an admin can call them."""

from __future__ import annotations

from sqlmodel import col, or_, select

from handlers.base import Ctx
from models.messages import Channel, Reply
from models.outbox import reachable_channels
from models.tables import ROLE_LABELS, Contact, Unit

LIST_LIMIT = 100
_LABELS = {Channel.TELEGRAM: "Telegram", Channel.WHATSAPP: "WhatsApp"}
_ROLE_NAMES = {role.value: label for role, label in ROLE_LABELS.items()}


def _channels(contact: Contact) -> str:
    blocked = []
    if contact.unreachable_telegram:
        blocked.append("Telegram")
    if contact.unreachable_whatsapp:
        blocked.append("WhatsApp")
    still = [_LABELS[channel] for channel in sorted(reachable_channels(contact))]
    text = " dan ".join(blocked)
    return f"{text} (masih bisa lewat {' dan '.join(still)})" if still else text


async def takterjangkau(ctx: Ctx) -> list[Reply]:
    """/takterjangkau: active contacts marked unreachable on a channel, with their unit and channel."""
    contacts = ctx.session.exec(
        select(Contact)
        .where(col(Contact.active).is_(True))
        .where(or_(col(Contact.unreachable_telegram).is_(True), col(Contact.unreachable_whatsapp).is_(True)))
        .order_by(col(Contact.name))
    ).all()
    if not contacts:
        return [Reply("Semua kontak dapat dijangkau; tidak ada yang memblokir bot.")]
    lines = [f"Kontak yang tidak terjangkau ({len(contacts)}):"]
    for contact in contacts[:LIST_LIMIT]:
        unit = ctx.session.get(Unit, contact.unit_id) if contact.unit_id is not None else None
        where = f"{unit.name} ({unit.code})" if unit is not None else "tanpa unit"
        role = _ROLE_NAMES.get(contact.role, contact.role)
        lines.append(f"• {contact.name} — {role}, {where} — {_channels(contact)}")
    if len(contacts) > LIST_LIMIT:
        lines.append(f"… dan {len(contacts) - LIST_LIMIT} kontak lainnya.")
    lines += [
        "",
        "Bot berhenti mengirim ke kanal itu sampai yang bersangkutan mengirim pesan lagi ke bot. "
        "Mohon hubungi mereka dan minta membuka blokir lalu mengirim pesan, misalnya /status.",
    ]
    return [Reply("\n".join(lines))]
