"""Telling the admins what needs a person: a unit left with no head (kepala, or a kecamatan's camat).

Used after an invite moves someone away (handlers.registration) and after roster imports. Messages go through the
outbox (one per active admin, idempotent key), so they are sent by the dispatcher like every message the bot sends
on its own, with the WhatsApp template outside the 24-hour window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, col, select

from handlers.base import short_name
from models.messages import CHAT_CHANNELS, Channel
from models.outbound import Template
from models.outbox import OutMessage, enqueue
from models.pemda import PemdaConfig
from models.roster_plan import leader_role
from models.tables import Contact, Role, Unit


def head_role(unit: Unit) -> Role:
    """The role that heads `unit`: the camat for a kecamatan, the kepala for every other unit."""
    return Role(leader_role(unit.kind))


def unit_has_head(session: Session, unit: Unit) -> bool:
    """Whether an active person is registered as the head of `unit` (see `head_role`)."""
    found = session.exec(
        select(Contact.id).where(
            Contact.unit_id == unit.id,
            Contact.role == head_role(unit).value,
            col(Contact.active).is_(True),
        )
    ).first()
    return found is not None


def without_head_text(unit: Unit, reason: str = "") -> str:
    """'⚠️ Badan Pendapatan Daerah kini tidak memiliki kepala yang terdaftar di Sigap (…). Undang kepala baru: …'."""
    role = head_role(unit)
    why = f" ({reason.strip()})" if reason.strip() else ""
    return (
        f"⚠️ {unit.name} kini tidak memiliki {role.value} yang terdaftar di Sigap{why}. "
        f"Mohon undang {role.value} baru: /undang {short_name(unit)} {role.value}"
    )


def tell_admins_unit_without_head(
    session: Session,
    pemda: PemdaConfig,
    unit: Unit,
    now: datetime,
    reason: str,
    *,
    key: str | None = None,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """Queue the 'no head' message about `unit` to every active admin; returns how many admins it was queued for.

    `key` names the event (e.g. 'invite:12'); the same event queues each admin's message once, however often this
    runs. Without it the event is `now` and `reason`. Admins with no channel of `on` (`Deps.sends_on`) are skipped.
    """
    text = without_head_text(unit, reason)
    message = OutMessage(
        text=text,
        kind="alert",
        template=Template(pemda.whatsapp_templates.broadcast, (" ".join(text.split()),)),
    )
    event = key or hashlib.sha256(f"{now.isoformat()}|{reason}".encode()).hexdigest()[:16]
    admins = session.exec(
        select(Contact).where(Contact.role == Role.ADMIN.value, col(Contact.active).is_(True)).order_by(col(Contact.id))
    ).all()
    queued = 0
    for admin in admins:
        row_key = f"unit-tanpa-kepala:{unit.id}:{event}:{admin.id}"
        if enqueue(session, row_key, admin, message, now, on=on) is not None:
            queued += 1
    return queued
