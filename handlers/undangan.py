"""/undangan: how far onboarding has come (`models.onboarding`), and invite codes for many units at once (also
`sigap invite --all`): one per unit still without a registered person in a role, or renewing the expired ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from handlers.base import Command, Ctx
from handlers.invite_sheet import entries_for, render_pdf
from handlers.notify import head_role
from handlers.registration import check_days, create_invite
from models.app import UserError
from models.calendar import WorkingCalendar
from models.fmt import waktu
from models.messages import Attachment, Button, Reply
from models.onboarding import chased, kind_rank, misfit, progress, registered_roles, role_label, without_head
from models.pemda import PemdaConfig
from models.tables import Contact, Invite, Role, Unit

BATCH_ROLES = (Role.KEPALA, Role.CAMAT, Role.OPERATOR)
"""The roles `sigap invite --all` and the renewal give codes for: the people who answer for a unit."""
RENEW = "perbarui"
"""`/undangan perbarui`: the payload of the renewal button."""
SHOWN = 8
"""Units named in a list before "dan N lainnya"."""
CODES_SHOWN = 30
"""Renewed codes listed in the chat; the rest (a big Pemda renews hundreds) are on the printable sheet only."""


def units_for_role(session: Session, pemda: PemdaConfig, role: Role) -> list[Unit]:
    """The active units that should have a person in `role`: the units the programs chase, kecamatan for a camat
    and the other units for a kepala; in the roster's kind order, then by name."""
    if role not in BATCH_ROLES:
        raise UserError(
            f"Kode untuk semua unit sekaligus hanya untuk peran kepala, camat atau operator. "
            f"Untuk {role.value}, buat satu per satu: sigap invite --unit KODE --role {role.value}"
        )
    units = session.exec(select(Unit).where(col(Unit.active).is_(True))).all()
    wanted = [u for u in units if chased(pemda, u) and (role is Role.OPERATOR or head_role(u) is role)]
    return sorted(wanted, key=lambda u: (kind_rank(u.kind), u.name.lower()))


def unchased_kinds(session: Session, pemda: PemdaConfig, role: Role) -> dict[str, int]:
    """Per unit kind, the active units that could have a person in `role` but no program chases (so `sigap invite
    --all` gives them no code): said, not silently left out."""
    units = session.exec(select(Unit).where(col(Unit.active).is_(True))).all()
    found: dict[str, int] = {}
    for unit in units:
        if not chased(pemda, unit) and (role is Role.OPERATOR or head_role(unit) is role):
            found[unit.kind] = found.get(unit.kind, 0) + 1
    return found


def open_codes(session: Session, now: datetime) -> dict[tuple[int, str], Invite]:
    """The unused codes still valid, one per (unit id, role): the one valid longest."""
    found: dict[tuple[int, str], Invite] = {}
    invites = session.exec(
        select(Invite).where(col(Invite.used_at).is_(None), col(Invite.expires_at) > now).order_by(col(Invite.id))
    ).all()
    for invite in invites:
        key = (invite.unit_id, invite.role)
        if key not in found or invite.expires_at > found[key].expires_at:
            found[key] = invite
    return found


def batch_expiry(calendar: WorkingCalendar, now: datetime, days: int) -> datetime:
    """The end of the local day `days` days from today (23.59): one expiry a printed sheet can state plainly."""
    check_days(days)
    last: date = calendar.local_date(now) + timedelta(days=days)
    return calendar.at_local(last, time(23, 59))


@dataclass
class Batch:
    """What a batch of invites did: codes made, units that already had a valid code, units already covered."""

    role: Role
    expires_at: datetime
    created: list[tuple[Unit, Invite]] = field(default_factory=list)
    kept: list[tuple[Unit, Invite]] = field(default_factory=list)
    covered: int = 0
    unchased: dict[str, int] = field(default_factory=dict)
    """Units of each kind left out because no program chases them."""


def create_batch(
    session: Session,
    pemda: PemdaConfig,
    role: Role,
    now: datetime,
    expires_at: datetime,
    *,
    replace: bool = False,
    created_by: Contact | None = None,
) -> Batch:
    """One code per unit that should have a person in `role` and has no registered one yet, all expiring at
    `expires_at`. A unit with a valid unused code keeps it, unless `replace`: then the old code stops working."""
    batch = Batch(role, expires_at, unchased=unchased_kinds(session, pemda, role))
    registered = registered_roles(session)
    valid = open_codes(session, now)
    for unit in units_for_role(session, pemda, role):
        assert unit.id is not None
        if (unit.id, role.value) in registered:
            batch.covered += 1
            continue
        old = valid.get((unit.id, role.value))
        if old is not None and not replace:
            batch.kept.append((unit, old))
            continue
        if old is not None:
            for invite in session.exec(
                select(Invite).where(
                    Invite.unit_id == unit.id,
                    Invite.role == role.value,
                    col(Invite.used_at).is_(None),
                    col(Invite.expires_at) > now,
                )
            ).all():
                invite.expires_at = now
                session.add(invite)
        invite = create_invite(session, unit, role, now, created_by=created_by)
        invite.expires_at = expires_at
        session.add(invite)
        batch.created.append((unit, invite))
    session.flush()
    return batch


def renewable(session: Session, now: datetime) -> list[tuple[Unit, Invite]]:
    """Expired unused codes worth renewing, one per (unit, role): the unit is active, the role fits it
    (`models.onboarding.roles_for`: no kepala code for a kecamatan), nobody registered in the role there (for kepala,
    camat, operator), and no valid code for it exists."""
    expired = session.exec(
        select(Invite).where(col(Invite.used_at).is_(None), col(Invite.expires_at) <= now).order_by(col(Invite.id))
    ).all()
    if not expired:
        return []
    registered = registered_roles(session)
    valid = open_codes(session, now)
    wanted = {invite.unit_id for invite in expired}
    stmt = select(Unit).where(col(Unit.active).is_(True))
    if len(wanted) <= 1000:  # only the units of the expired codes, not every unit of a big Pemda
        stmt = stmt.where(col(Unit.id).in_(wanted))
    units = {u.id: u for u in session.exec(stmt).all()}
    found: dict[tuple[int, str], tuple[Unit, Invite]] = {}
    for invite in expired:
        key = (invite.unit_id, invite.role)
        unit = units.get(invite.unit_id)
        if unit is None or key in valid or misfit(Role(invite.role), unit.name, unit.kind):
            continue
        if invite.role in {r.value for r in BATCH_ROLES} and key in registered:
            continue
        found[key] = (unit, invite)
    return sorted(found.values(), key=lambda pair: (kind_rank(pair[0].kind), pair[0].name.lower(), pair[1].role))


def _names(units: Sequence[Unit]) -> str:
    shown = ", ".join(u.name for u in units[:SHOWN])
    return shown + (f", dan {len(units) - SHOWN} lainnya" if len(units) > SHOWN else "")


async def undangan(ctx: Ctx) -> list[Reply]:
    """/undangan: registration per unit kind, the codes still open and expired; `/undangan perbarui` renews."""
    args = [a.lower() for a in ctx.incoming.args]
    if args and args[0] == RENEW:
        return renew(ctx)
    if args:
        raise UserError("Format: /undangan, atau /undangan perbarui untuk mengganti kode yang kedaluwarsa.")
    lines = ["Pendaftaran di Sigap per jenis unit (terdaftar = sudah terhubung lewat Telegram atau WhatsApp):"]
    for row in progress(ctx.session, ctx.pemda):
        if row.chased:
            counts = f"{row.head.value} {row.heads}/{row.units}, operator {row.operators}/{row.units}"
            lines.append(f"• {row.kind} ({row.units} unit): {counts}")
        else:
            lines.append(f"• {row.kind} ({row.units} unit, tanpa program): operator {row.operators}/{row.units}")
    missing = without_head(ctx.session, ctx.pemda)
    if missing:
        lines.append(f"Belum ada kepala/camat terdaftar di {len(missing)} unit: {_names(missing)}.")
    else:
        lines.append("Setiap unit sudah punya kepala atau camat yang terdaftar.")
    still = open_codes(ctx.session, ctx.now)
    stale = renewable(ctx.session, ctx.now)
    lines.append(
        f"Kode undangan: {len(still)} belum dipakai dan masih berlaku, {len(stale)} kedaluwarsa tanpa dipakai."
    )
    if missing:
        lines.append("Lembar undangan siap cetak (dengan kode QR) untuk semua unit: sigap invite --all --role kepala")
    buttons: tuple[Button, ...] = ()
    if stale:
        lines.append("Ketuk tombol di bawah untuk membuat kode baru bagi yang kedaluwarsa.")
        buttons = (Button(f"Perbarui {len(stale)} kode", f"/undangan {RENEW}"),)
    return [Reply("\n".join(lines), buttons=buttons)]


def renew(ctx: Ctx) -> list[Reply]:
    """New codes (same unit and role, a fresh shared expiry) for the expired unused ones; the sheet as a PDF."""
    stale = renewable(ctx.session, ctx.now)
    if not stale:
        return [Reply("Tidak ada kode kedaluwarsa yang perlu diperbarui. Ketik /undangan untuk melihat kemajuan.")]
    expires_at = batch_expiry(ctx.deps.calendar, ctx.now, ctx.deps.invite_days)
    fresh: list[tuple[Unit, Invite]] = []
    for unit, old in stale:
        invite = create_invite(ctx.session, unit, Role(old.role), ctx.now, created_by=ctx.me)
        invite.expires_at = expires_at
        ctx.session.add(invite)
        fresh.append((unit, invite))
        ctx.audit("invite.renewed", unit.code, role=old.role, replaces=old.id, expires_at=expires_at)
    ctx.session.flush()
    until = waktu(expires_at, ctx.deps.calendar.zone)
    lines = [f"{len(fresh)} kode baru, berlaku sekali sampai {until}:"]
    for unit, i in fresh[:CODES_SHOWN]:
        lines.append(f"• {unit.name} ({unit.code}), {role_label(Role(i.role), unit)}: {i.code}")
    if len(fresh) > CODES_SHOWN:
        lines.append(f"… dan {len(fresh) - CODES_SHOWN} kode lainnya: semuanya ada di lembar terlampir.")
    lines.append(
        "Berikan kode kepada yang bersangkutan; mereka cukup mengirim /start KODE ke bot, "
        "atau memindai kode QR pada lembar terlampir."
    )
    pdf = render_pdf(entries_for(fresh, ctx.deps, expires_at), ctx.pemda.pemda.name)
    return [
        Reply("\n".join(lines)),
        Reply(
            "Lembar undangan siap cetak (satu blok per unit, dengan kode QR).",
            attachment=Attachment(f"undangan-{ctx.today.isoformat()}.pdf", pdf),
        ),
    ]


UNDANGAN = Command(
    "undangan",
    undangan,
    "kemajuan pendaftaran per jenis unit; perbarui kode yang kedaluwarsa",
    "/undangan [perbarui]",
    frozenset({Role.ADMIN}),
)
