"""/takterjangkau: the people the bot cannot reach now, so an admin can call them.

Listed: whoever blocked the bot on a channel (even if another still reaches them) first, then whoever cannot be
reached at all on the channels this deployment sends on (`models.reach`: no address, or only an address on a channel
that is not configured, e.g. only a WhatsApp number where WhatsApp is not set up). On the console (no channel
configured) nobody can be reached, and the answer says so instead of listing everyone.
"""

from __future__ import annotations

from collections import Counter

from sqlmodel import col, select

from handlers.base import Ctx
from models.messages import Channel, Reply
from models.outbox import reachable_channels
from models.reach import CONSOLE_NOTE, SHORT, Unreachable, describe, hints, why_unreachable
from models.tables import ROLE_LABELS, Contact, Unit

LIST_LIMIT = 100
_LABELS = {Channel.TELEGRAM: "Telegram", Channel.WHATSAPP: "WhatsApp"}
_ROLE_NAMES = {role.value: label for role, label in ROLE_LABELS.items()}
BLOCKED_HINT = (
    "Bot berhenti mengirim ke kanal yang memblokir sampai yang bersangkutan mengirim pesan lagi ke bot. "
    "Mohon hubungi mereka dan minta membuka blokir lalu mengirim pesan, misalnya /status."
)


def _blocked(contact: Contact) -> list[str]:
    """The channels that bounced for `contact` ('Telegram', 'WhatsApp')."""
    return [
        name
        for name, off in (("Telegram", contact.unreachable_telegram), ("WhatsApp", contact.unreachable_whatsapp))
        if off
    ]


def _channels(contact: Contact, on: frozenset[Channel], why: Unreachable | None) -> str:
    """Which channel fails for `contact` and whether another still reaches them."""
    blocked = _blocked(contact)
    if not blocked:
        return SHORT[why] if why is not None else ""
    still = [_LABELS[channel] for channel in sorted(reachable_channels(contact, on))]
    text = " dan ".join(blocked)
    return f"{text} (masih bisa lewat {' dan '.join(still)})" if still else text


async def takterjangkau(ctx: Ctx) -> list[Reply]:
    """/takterjangkau: active contacts who blocked a channel or cannot be reached now, with unit and channel."""
    on = ctx.deps.sends_on
    people = ctx.session.exec(select(Contact).where(col(Contact.active).is_(True)).order_by(col(Contact.name))).all()
    if not on:
        counts = Counter(why for c in people if (why := why_unreachable(c, on)) is not None)
        return [
            Reply(
                f"Tidak ada kontak yang dapat dijangkau sekarang ({len(people)} orang aktif). {CONSOLE_NOTE}\n"
                + (f"Dari mereka: {describe(counts)}.\n" if counts else "")
                + "\n".join(hints(counts, on))
            )
        ]
    listed = [(c, why_unreachable(c, on)) for c in people]
    listed = [(c, why) for c, why in listed if why is not None or _blocked(c)]
    listed.sort(key=lambda item: not _blocked(item[0]))  # those who blocked the bot first (call them), then by name
    if not listed:
        return [Reply("Semua kontak dapat dijangkau; tidak ada yang memblokir bot.")]
    lines = [f"Kontak yang tidak terjangkau ({len(listed)}):"]
    for contact, why in listed[:LIST_LIMIT]:
        unit = ctx.session.get(Unit, contact.unit_id) if contact.unit_id is not None else None
        where = f"{unit.name} ({unit.code})" if unit is not None else "tanpa unit"
        role = _ROLE_NAMES.get(contact.role, contact.role)
        lines.append(f"• {contact.name} — {role}, {where} — {_channels(contact, on, why)}")
    if len(listed) > LIST_LIMIT:
        lines.append(f"… dan {len(listed) - LIST_LIMIT} kontak lainnya.")
    counts = Counter(why for _contact, why in listed if why is not None)
    lines.append("")
    if counts:
        lines.append(f"Tidak dapat dijangkau sama sekali sekarang: {describe(counts)}.")
    if any(_blocked(contact) for contact, _why in listed):
        lines.append(BLOCKED_HINT)
    lines += hints(set(counts) - {Unreachable.BLOCKED}, on)
    return [Reply("\n".join(lines))]
