"""One head per unit: a kepala (a kecamatan's camat) invited while the unit has one replaces them.

An invite for a unit's head role while an active person holds it is made only after the admin confirms
(`/undang … ganti`, `sigap invite … --replace-person`). Whoever redeems a head code becomes the head: the previous
head is deactivated (never deleted: their reports and letters stay), the change is audited, and the admins and the
previous head are told through the outbox. Operators, admins and pimpinan may be many: nothing is replaced for them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, col, select

from models.messages import CHAT_CHANNELS, Channel
from models.onboarding import connected, head_of, post_name
from models.outbound import Template
from models.outbox import OutMessage, enqueue
from models.pemda import PemdaConfig
from models.tables import Contact, Role, Unit


def holders(
    session: Session, unit: Unit, role: Role, *, but: int | None = None, registered: bool = False
) -> list[Contact]:
    """The active people holding `unit`'s head role when `role` is it (else nobody), other than contact `but`;
    with `registered`, only those connected on a chat channel."""
    if role is not head_of(unit) or unit.id is None:
        return []
    stmt = select(Contact).where(Contact.unit_id == unit.id, Contact.role == role.value, col(Contact.active).is_(True))
    if but is not None:
        stmt = stmt.where(col(Contact.id) != but)
    if registered:
        stmt = stmt.where(connected())
    return list(session.exec(stmt.order_by(col(Contact.id))).all())


def names(people: list[Contact]) -> str:
    """'Slamet Santoso' or 'Slamet Santoso dan Budi'."""
    shown = [p.name for p in people]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " dan " + shown[-1]


def replace_heads(
    session: Session,
    pemda: PemdaConfig,
    unit: Unit,
    new: Contact,
    old: list[Contact],
    now: datetime,
    *,
    key: str,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """Deactivate the `old` heads of `unit` now that `new` heads it, and tell each of them and every active admin
    (once per `key`); returns how many admins were told. The caller audits."""
    post = post_name(Role(new.role), unit)
    for person in old:
        person.active = False
        session.add(person)
        text = (
            f"Bapak/Ibu tidak lagi terdaftar di Sigap sebagai {post}: {new.name} kini terdaftar sebagai {post}. "
            "Bila ini keliru, mohon hubungi admin Sigap."
        )
        _queue(session, pemda, person, text, now, f"kepala-diganti:{key}:{person.id}", on)
    text = (
        f"ℹ️ {new.name} kini terdaftar sebagai {post}, menggantikan {names(old)}; {names(old)} dinonaktifkan. "
        "Bila ini keliru, aktifkan kembali lewat impor roster atau undang ulang."
    )
    admins = session.exec(
        select(Contact).where(Contact.role == Role.ADMIN.value, col(Contact.active).is_(True)).order_by(col(Contact.id))
    ).all()
    return sum(
        _queue(session, pemda, admin, text, now, f"kepala-diganti:{key}:admin:{admin.id}", on) for admin in admins
    )


def _queue(
    session: Session, pemda: PemdaConfig, to: Contact, text: str, now: datetime, key: str, on: Collection[Channel]
) -> int:
    message = OutMessage(
        text=text, kind="alert", template=Template(pemda.whatsapp_templates.broadcast, (" ".join(text.split()),))
    )
    return int(enqueue(session, key, to, message, now, on=on) is not None)
