"""Invites and binding: only invited people get a unit and a role."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from handlers.base import NO_LONGER_ACTIVE, Ctx, deactivated, find_unit, short_name
from handlers.heads import holders, names, replace_heads
from handlers.notify import head_role, tell_admins_unit_without_head, unit_has_head
from models.app import UserError
from models.flood import TOO_MANY_CODES
from models.fmt import waktu
from models.messages import Button, Channel, Reply, full_stop
from models.onboarding import misfit, post_name, role_label
from models.tables import Contact, Invite, Role, Unit

MAX_DAYS = 90
"""The longest an invite code may be valid, in days (`--days`)."""
REPLACE = "ganti"
"""`/undang <unit> <peran> ganti`: the admin confirms a code for a head role someone already holds."""
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
UNKNOWN = "Kode “{code}” tidak dikenal. Mohon periksa kembali, atau minta kode baru kepada admin."
"""For a code that does not exist and for one already used alike: nobody learns which codes exist by trying."""


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
    """A fresh one-time invite for `unit` and `role`, valid `days` days (1 to `MAX_DAYS`); a role that does not fit
    the unit's kind (`models.onboarding.roles_for`) is refused. Callers warn first about a head already there
    (`handlers.heads.holders`)."""
    why = misfit(role, unit.name, unit.kind)
    if why:
        raise UserError(why)
    check_days(days)
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


def check_days(days: int) -> None:
    """Refuse a validity outside 1 to `MAX_DAYS` days."""
    if not 1 <= days <= MAX_DAYS:
        raise UserError(f"Masa berlaku kode harus 1 sampai {MAX_DAYS} hari.")


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
    args = list(ctx.incoming.args)
    if [a.lower() for a in args] == ["batal"]:
        return [Reply("Baik, tidak ada kode yang dibuat.")]
    confirmed = len(args) > 2 and args[-1].lower() == REPLACE
    if confirmed:
        args.pop()
    if len(args) < 2:
        raise UserError("Format: /undang <unit> <peran>\nContoh: /undang dinkes kepala")
    role = parse_role(args[-1])
    unit = find_unit(ctx.session, " ".join(args[:-1]))
    short = short_name(unit)
    why = misfit(role, unit.name, unit.kind)
    if why:
        raise UserError(f"{why}\nBuat kodenya dengan: /undang {short} {head_role(unit).value}")
    there = holders(ctx.session, unit, role, registered=True)
    if there and not confirmed:
        return [_ask_replace(unit, role, there, short)]
    invite = create_invite(ctx.session, unit, role, ctx.now, days=ctx.deps.invite_days, created_by=ctx.me)
    replaces = {"replaces": [c.id for c in there]} if there else {}
    ctx.audit("invite.created", unit.code, role=role.value, expires_at=invite.expires_at, **replaces)
    lines = [
        f"Kode undangan untuk {post_name(role, unit)}: {invite.code}",
        f"Berlaku sekali, sampai {waktu(invite.expires_at, ctx.deps.calendar.zone)}.",
        "Minta yang bersangkutan mengirim: /start " + invite.code,
        *invite_links(invite.code, ctx.deps.telegram_username, ctx.deps.whatsapp_number),
    ]
    held = holders(ctx.session, unit, role)
    if held:
        lines.append(
            f"Bila kode ini dipakai orang lain, {names(held)} dinonaktifkan sebagai {role.value}; admin diberi tahu."
        )
    return [Reply("\n".join(lines))]


def replace_warning(unit: Unit, role: Role, there: list[Contact]) -> str:
    """What an invite for a head role already held would do, for the chat and the command line alike."""
    label = post_name(role, unit)
    return (
        f"⚠️ {unit.name} sudah punya {role.value}: {names(there)} (aktif). Satu unit hanya punya satu {role.value}: "
        f"siapa pun yang memakai kode baru menjadi {label}, dan {names(there)} dinonaktifkan (admin diberi tahu)."
    )


def _ask_replace(unit: Unit, role: Role, there: list[Contact], short: str) -> Reply:
    return Reply(
        replace_warning(unit, role, there) + f"\nBuat kode pengganti untuk {role.value} {unit.name}?",
        buttons=(
            Button("Ya, buat kode pengganti", f"/undang {short} {role.value} {REPLACE}"),
            Button("Batal", "/undang batal"),
        ),
    )


def _address_field(channel: Channel) -> str:
    return {Channel.TELEGRAM: "telegram_user_id", Channel.WHATSAPP: "wa_number"}.get(channel, "")


async def start(ctx: Ctx) -> list[Reply]:
    """/start <kode>: bind the sender to the invite's unit and role; /start alone greets.

    A person already registered (bound to a unit and role) is asked first ("Pindah menjadi …?"); the answer comes
    back as the button's payload, `/start <kode> pindah` or `/start <kode> tidak`, so nothing waits in the chat
    state and a restart or another open conversation cannot lose it. The invite is consumed only by "pindah".
    """
    code, answer = _code_and_answer(ctx.incoming.args)
    if not code:
        if ctx.contact is not None:
            welcome = f"Selamat datang kembali, {full_stop(ctx.contact.name)}"
            return [Reply(f"{welcome} Ketik /bantuan untuk melihat perintah.")]
        if deactivated(ctx.session, ctx.incoming):
            raise UserError(f"{NO_LONGER_ACTIVE}\nBila admin memberi kode undangan baru, kirim: /start KODE")
        raise UserError(
            "Selamat datang di Sigap. Untuk mendaftar, kirim kode undangan dari admin: /start KODE\n"
            "Belum punya kode? Mohon minta kepada admin Sigap di Pemda."
        )
    guard, channel, address = ctx.deps.guard, ctx.incoming.channel.value, ctx.incoming.address
    if guard is not None and guard.codes_blocked(channel, address):
        raise UserError(TOO_MANY_CODES)
    invite = ctx.session.exec(select(Invite).where(Invite.code == code)).first()
    registered = _registered(ctx)
    if invite is None or (invite.used_at is not None and (registered is None or invite.used_by_id != registered.id)):
        if guard is not None:
            guard.code_failed(channel, address)
        kept = ""
        if registered is not None:
            kept = f"\nBapak/Ibu tetap terdaftar sebagai {_as(registered, _unit_of(ctx, registered))}."
        raise UserError(UNKNOWN.format(code=code) + kept)
    if answer == STAY:
        return [_stay(ctx, invite, registered)]
    if registered is not None and _holds(registered, invite):
        unit = ctx.session.get(Unit, invite.unit_id)
        unused = f" Kode {invite.code} tidak dipakai." if invite.used_at is None else ""
        return [
            Reply(
                f"Bapak/Ibu sudah terdaftar sebagai {_as(registered, unit)}; tidak ada yang diubah.{unused}\n"
                "Ketik /bantuan untuk melihat perintah yang dapat dipakai."
            )
        ]
    still = f"\nBapak/Ibu tetap terdaftar sebagai {_as(registered, _unit_of(ctx, registered))}." if registered else ""
    if invite.used_at is not None:
        raise UserError(UNKNOWN.format(code=code) + still)
    if invite.expires_at <= ctx.now:
        raise UserError(
            f"Kode ini sudah kedaluwarsa sejak {waktu(invite.expires_at, ctx.deps.calendar.zone)}. "
            f"Mohon minta kode baru kepada admin.{still}"
        )
    unit = ctx.session.get(Unit, invite.unit_id)
    if unit is None or not unit.active:
        raise UserError(f"Unit pada kode ini sudah tidak aktif. Mohon hubungi admin.{still}")
    role = Role(invite.role)
    why = misfit(role, unit.name, unit.kind)
    if why:
        raise UserError(f"Kode ini tidak dapat dipakai: {why} Mohon minta kode baru kepada admin.{still}")
    if registered is not None:
        if answer != MOVE:
            return [_ask(ctx, registered, invite, unit, role)]
        return [_move(ctx, registered, invite, unit, role)]
    field = _address_field(ctx.incoming.channel)
    contact = ctx.contact or _known_address(ctx, field) or _roster_match(ctx, unit, role)
    if contact is None:
        name = ctx.incoming.display_name or f"{role_label(role, unit)} {unit.code}"
        contact = Contact(name=name, role=role.value)
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
    _claim(ctx, invite, contact)
    ctx.contact = contact
    ctx.audit("contact.bound", unit.code, role=role.value, invite=invite.id, previous=previous)
    replaced = _replace_head(ctx, unit, contact, invite)
    return [
        Reply(
            f"Terima kasih, {full_stop(contact.name)} Bapak/Ibu kini terdaftar sebagai {post_name(role, unit)}"
            f"{replaced}.\nKetik /bantuan untuk melihat perintah yang dapat dipakai."
        )
    ]


def _replace_head(ctx: Ctx, unit: Unit, contact: Contact, invite: Invite) -> str:
    """The new head replaces any other active head of `unit` (see `handlers.heads`); the reply's note on it."""
    old = holders(ctx.session, unit, Role(contact.role), but=contact.id)
    if not old:
        return ""
    on = ctx.deps.sends_on
    told = replace_heads(ctx.session, ctx.pemda, unit, contact, old, ctx.now, key=f"invite:{invite.id}", on=on)
    for person in old:
        ctx.audit(
            "contact.replaced",
            unit.code,
            contact=person.id,
            name=person.name,
            role=person.role,
            by=contact.id,
            invite=invite.id,
        )
    admins = "; admin Sigap diberi tahu" if told else ""
    return f", menggantikan {names(old)} (kini dinonaktifkan{admins})"


MOVE = "pindah"
"""The answer word of the "Ya, pindah" button: `/start <kode> pindah`."""
STAY = "tidak"
"""The answer word of the "Tidak" button: `/start <kode> tidak`."""


def _code_and_answer(args: list[str]) -> tuple[str, str | None]:
    """('ABCD2345', 'pindah') from '/start ABCD2345 pindah'; a code typed with spaces is joined (codes have no I,
    so neither answer word can be part of one)."""
    words = list(args)
    answer = words.pop().lower() if len(words) > 1 and words[-1].lower() in (MOVE, STAY) else None
    return "".join(words).strip().upper(), answer


def _registered(ctx: Ctx) -> Contact | None:
    """The sender when they are already registered: recognised, active, bound to a unit."""
    contact = ctx.contact
    return contact if contact is not None and contact.active and contact.unit_id is not None else None


def _holds(contact: Contact, invite: Invite) -> bool:
    """Whether `contact` already has the invite's unit and role."""
    return contact.unit_id == invite.unit_id and contact.role == invite.role


def _unit_of(ctx: Ctx, contact: Contact) -> Unit | None:
    return ctx.session.get(Unit, contact.unit_id) if contact.unit_id is not None else None


def _as(contact: Contact, unit: Unit | None) -> str:
    """'Kepala OPD Badan Pendapatan Daerah': the contact's role at `unit`, as the registration reply says it."""
    return _role_at(Role(contact.role), unit)


def _role_at(role: Role, unit: Unit | None) -> str:
    return post_name(role, unit)


def _claim(ctx: Ctx, invite: Invite, contact: Contact) -> None:
    """Mark the invite used by `contact`; guarded: of two people sending the code at once only one gets it."""
    claimed = ctx.session.execute(
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
        .values(used_by_id=contact.id, used_at=ctx.now)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        raise UserError(UNKNOWN.format(code=invite.code))


def _ask(ctx: Ctx, contact: Contact, invite: Invite, unit: Unit, role: Role) -> Reply:
    """ "Bapak/Ibu terdaftar sebagai …. Pindah menjadi …?" with "Ya, pindah" / "Tidak"; nothing changes yet."""
    now_as = _as(contact, _unit_of(ctx, contact))
    old = holders(ctx.session, unit, role, but=contact.id)
    also = f"\n{names(old)} tidak lagi tercatat sebagai {_role_at(role, unit)} (admin diberi tahu)." if old else ""
    return Reply(
        f"Bapak/Ibu terdaftar sebagai {now_as}. Pindah menjadi {_role_at(role, unit)}?\n"
        f"Bila pindah, Bapak/Ibu tidak lagi tercatat sebagai {now_as}.{also}",
        buttons=(
            Button("Ya, pindah", f"/start {invite.code} {MOVE}"),
            Button("Tidak", f"/start {invite.code} {STAY}"),
        ),
    )


def _stay(ctx: Ctx, invite: Invite, registered: Contact | None) -> Reply:
    """The answer "Tidak": nothing changes, and what became of the code."""
    lines = ["Baik, tidak ada yang diubah."]
    if registered is not None:
        lines[0] += f" Bapak/Ibu tetap terdaftar sebagai {_as(registered, _unit_of(ctx, registered))}."
    if invite.used_at is not None:
        lines.append(f"Kode {invite.code} sudah dipakai.")
    elif invite.expires_at <= ctx.now:
        lines.append(f"Kode {invite.code} sudah kedaluwarsa.")
    else:
        until = waktu(invite.expires_at, ctx.deps.calendar.zone)
        lines.append(f"Kode {invite.code} belum terpakai (berlaku sampai {until}).")
    return Reply("\n".join(lines))


def _move(ctx: Ctx, contact: Contact, invite: Invite, unit: Unit, role: Role) -> Reply:
    """The answer "Ya, pindah": move the person, consume the invite, audit, and tell the admins when the unit left
    behind has no head any more."""
    old_unit, old_role = _unit_of(ctx, contact), Role(contact.role)
    had_head = old_unit is not None and unit_has_head(ctx.session, old_unit)
    contact.unit_id, contact.role = unit.id, role.value
    ctx.session.add(contact)
    ctx.session.flush()
    _claim(ctx, invite, contact)
    was, becomes = _role_at(old_role, old_unit), _role_at(role, unit)
    ctx.audit(
        "contact.moved",
        unit.code,
        contact=contact.id,
        name=contact.name,
        from_unit=old_unit.code if old_unit else None,
        from_role=old_role.value,
        to_unit=unit.code,
        to_role=role.value,
        invite=invite.id,
    )
    told = ""
    if old_unit is not None and had_head and not unit_has_head(ctx.session, old_unit):
        reason = f"{contact.name} pindah menjadi {becomes}"
        key, on = f"invite:{invite.id}", ctx.deps.sends_on
        if tell_admins_unit_without_head(ctx.session, ctx.pemda, old_unit, ctx.now, reason, key=key, on=on):
            told = f"\nAdmin Sigap diberi tahu bahwa {old_unit.name} kini tidak memiliki {head_role(old_unit).value}."
    replaced = _replace_head(ctx, unit, contact, invite)
    return Reply(
        f"Baik, {full_stop(contact.name)} Bapak/Ibu kini terdaftar sebagai {becomes} (sebelumnya {was}){replaced}."
        f"{told}\n"
        "Ketik /bantuan untuk melihat perintah yang dapat dipakai."
    )


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
