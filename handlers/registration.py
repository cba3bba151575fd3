"""Invites and binding: only invited people get a unit and a role."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from handlers.base import Ctx, find_unit
from models.app import UserError
from models.fmt import waktu
from models.messages import Channel, Reply
from models.tables import ROLE_LABELS, Contact, Invite, Role, Unit

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
USED = "Kode ini sudah pernah dipakai. Setiap kode hanya berlaku sekali; mohon minta kode baru kepada admin."


def new_code() -> str:
    """A random one-time code without look-alike characters."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def parse_role(text: str) -> Role:
    """The role named in Indonesian or by its key."""
    names = {r.value: r for r in Role} | {"kepala_opd": Role.KEPALA, "kadis": Role.KEPALA, "staf": Role.OPERATOR}
    role = names.get(text.strip().lower())
    if role is None:
        raise UserError(f"Peran “{text}” tidak dikenal. Pilihan: {', '.join(r.value for r in Role)}.")
    return role


def create_invite(
    session: Session, unit: Unit, role: Role, now: datetime, *, days: int = 7, created_by: Contact | None = None
) -> Invite:
    """A fresh one-time invite for `unit` and `role`, valid `days` days."""
    if role is Role.CAMAT and unit.kind != "kecamatan":
        raise UserError(f"Peran camat hanya untuk unit kecamatan; {unit.name} bukan kecamatan.")
    if unit.id is None:
        raise ValueError("unit is not saved")
    invite = Invite(
        code=new_code(),
        unit_id=unit.id,
        role=role.value,
        created_by_id=created_by.id if created_by else None,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(invite)
    session.flush()
    return invite


def invite_links(code: str, telegram_username: str | None, whatsapp_number: str | None) -> list[str]:
    """Deep links that open the bot with the code already typed."""
    links = []
    if telegram_username:
        links.append(f"Telegram: https://t.me/{telegram_username}?start={code}")
    if whatsapp_number:
        links.append(f"WhatsApp: https://wa.me/{whatsapp_number.lstrip('+')}?text=%2Fstart%20{code}")
    return links


async def undang(ctx: Ctx) -> list[Reply]:
    """/undang <unit> <peran>: an admin creates a one-time invite."""
    args = ctx.incoming.args
    if len(args) < 2:
        raise UserError("Format: /undang <unit> <peran>\nContoh: /undang dinkes kepala")
    role = parse_role(args[-1])
    unit = find_unit(ctx.session, " ".join(args[:-1]))
    invite = create_invite(ctx.session, unit, role, ctx.now, days=ctx.deps.invite_days, created_by=ctx.me)
    ctx.audit("invite.created", unit.code, role=role.value, expires_at=invite.expires_at)
    lines = [
        f"Kode undangan untuk {ROLE_LABELS[role]} {unit.name}: {invite.code}",
        f"Berlaku sekali, sampai {waktu(invite.expires_at, ctx.deps.calendar.zone)}.",
        "Minta yang bersangkutan mengirim: /start " + invite.code,
        *invite_links(invite.code, ctx.deps.telegram_username, ctx.deps.whatsapp_number),
    ]
    return [Reply("\n".join(lines))]


def _address_field(channel: Channel) -> str:
    return {Channel.TELEGRAM: "telegram_user_id", Channel.WHATSAPP: "wa_number"}.get(channel, "")


async def start(ctx: Ctx) -> list[Reply]:
    """/start <kode>: bind the sender to the invite's unit and role; /start alone greets."""
    code = "".join(ctx.incoming.args).strip().upper()
    if not code:
        if ctx.contact is not None:
            return [Reply(f"Selamat datang kembali, {ctx.contact.name}. Ketik /bantuan untuk melihat perintah.")]
        raise UserError(
            "Selamat datang di Sigap. Untuk mendaftar, kirim kode undangan dari admin: /start KODE\n"
            "Belum punya kode? Mohon minta kepada admin Sigap di Pemda."
        )
    invite = ctx.session.exec(select(Invite).where(Invite.code == code)).first()
    if invite is None:
        raise UserError(f"Kode “{code}” tidak dikenal. Mohon periksa kembali, atau minta kode baru kepada admin.")
    if invite.used_at is not None:
        raise UserError(USED)
    if invite.expires_at <= ctx.now:
        raise UserError(
            f"Kode ini sudah kedaluwarsa sejak {waktu(invite.expires_at, ctx.deps.calendar.zone)}. "
            "Mohon minta kode baru kepada admin."
        )
    unit = ctx.session.get(Unit, invite.unit_id)
    if unit is None or not unit.active:
        raise UserError("Unit pada kode ini sudah tidak aktif. Mohon hubungi admin.")
    role = Role(invite.role)
    field = _address_field(ctx.incoming.channel)
    contact = ctx.contact or _known_address(ctx, field) or _roster_match(ctx, unit, role)
    if contact is None:
        contact = Contact(name=ctx.incoming.display_name or f"{ROLE_LABELS[role]} {unit.code}", role=role.value)
    previous = (contact.unit_id, contact.role)
    contact.unit_id, contact.role, contact.active = unit.id, role.value, True
    if field:
        setattr(contact, field, ctx.incoming.address)
        if field == "telegram_user_id":
            contact.unreachable_telegram = False
        else:
            contact.unreachable_whatsapp = False
            contact.wa_last_inbound_at = ctx.now
        contact.preferred_channel = contact.preferred_channel or ctx.incoming.channel.value
    ctx.session.add(contact)
    ctx.session.flush()
    claimed = ctx.session.execute(  # guarded: of two people sending the code at once only one gets it
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
        .values(used_by_id=contact.id, used_at=ctx.now)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        raise UserError(USED)
    ctx.contact = contact
    ctx.audit("contact.bound", unit.code, role=role.value, invite=invite.id, previous=previous)
    return [
        Reply(
            f"Terima kasih, {contact.name}. Bapak/Ibu kini terdaftar sebagai {ROLE_LABELS[role]} "
            f"{unit.name}.\nKetik /bantuan untuk melihat perintah yang dapat dipakai."
        )
    ]


def _known_address(ctx: Ctx, field: str) -> Contact | None:
    """The contact that already has the sender's address, though inactive or without a unit (not recognised)."""
    if not field:
        return None
    return ctx.session.exec(select(Contact).where(getattr(Contact, field) == ctx.incoming.address)).first()


def _roster_match(ctx: Ctx, unit: Unit, role: Role) -> Contact | None:
    """The roster's one unbound person of this unit and role on this channel, if there is exactly one."""
    field = _address_field(ctx.incoming.channel)
    if not field:
        return None
    candidates = ctx.session.exec(select(Contact).where(Contact.unit_id == unit.id, Contact.role == role.value)).all()
    unbound = [c for c in candidates if getattr(c, field) is None]
    return unbound[0] if len(unbound) == 1 else None


def find_contact(session: Session, text: str) -> Contact:
    """A contact by id, phone number or (part of) name, for the command line."""
    from models.phone import PhoneError, normalize_phone

    wanted = text.strip()
    if wanted.isdigit() and len(wanted) < 7:
        contact = session.get(Contact, int(wanted))
        if contact is not None:
            return contact
    try:
        number = normalize_phone(wanted)
    except PhoneError:
        number = None
    if number:
        contact = session.exec(select(Contact).where(Contact.wa_number == number)).first()
        if contact is not None:
            return contact
    matches = session.exec(select(Contact).where(col(Contact.name).ilike(f"%{wanted}%"))).all()
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = "; ".join(f"{c.id}: {c.name}" for c in matches[:8])
        raise UserError(f"“{text}” cocok dengan beberapa kontak ({names}). Pakai nomor id-nya.")
    raise UserError(f"Kontak “{text}” tidak ditemukan (cari dengan nama, nomor HP, atau id).")
