"""Onboarding: who is *terdaftar* (registered) and which units still wait for their head, per unit kind.

A person is registered once connected on a chat channel: the bot knows their Telegram id (they sent /start, or the
roster gave it) or they wrote on WhatsApp. A roster row alone is not yet registration. Used by /undangan,
`sigap invite --all`, `sigap doctor` and (a line of) the weekly digest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from models.pemda import PemdaConfig
from models.tables import UNIT_KINDS, Contact, Role, Unit


def head_of(unit: Unit) -> Role:
    """The role that heads `unit`: the camat for a kecamatan, the kepala for every other unit."""
    return Role.CAMAT if unit.kind == "kecamatan" else Role.KEPALA


def connected() -> ColumnElement[bool]:
    """Contacts that are registered on a chat channel (see the module docstring)."""
    return or_(col(Contact.telegram_user_id).is_not(None), col(Contact.wa_last_inbound_at).is_not(None))


def registered_roles(session: Session) -> set[tuple[int, str]]:
    """(unit id, role) of every active, registered person."""
    rows = session.exec(
        select(Contact.unit_id, Contact.role).where(
            col(Contact.active).is_(True), col(Contact.unit_id).is_not(None), connected()
        )
    ).all()
    return {(unit_id, role) for unit_id, role in rows if unit_id is not None}


def chased(pemda: PemdaConfig, unit: Unit) -> bool:
    """Whether some program applies to `unit` (its kind, or a checklist indicator names it)."""
    for program in pemda.programs:
        if program.measure == "checklist":
            if any(entry.unit.lower() == unit.code.lower() for entry in program.checklist):
                return True
        elif program.applies(unit.kind):
            return True
    return False


def kind_rank(kind: str) -> int:
    """Where a unit kind stands in the roster's order (sekretariat first, desa last)."""
    return UNIT_KINDS.index(kind) if kind in UNIT_KINDS else len(UNIT_KINDS)


@dataclass(frozen=True)
class KindProgress:
    """One unit kind: how many units, and how many have a registered head and a registered operator."""

    kind: str
    units: int
    heads: int
    operators: int
    head: Role
    chased: int
    """How many of these units some program chases (0: a kind the bot never reminds, e.g. kelurahan)."""


def progress(session: Session, pemda: PemdaConfig) -> list[KindProgress]:
    """Registration per unit kind, over the active units, in the roster's kind order."""
    registered = registered_roles(session)
    units = session.exec(select(Unit).where(col(Unit.active).is_(True))).all()
    totals: Counter[str] = Counter()
    heads: Counter[str] = Counter()
    operators: Counter[str] = Counter()
    followed: Counter[str] = Counter()
    for unit in units:
        followed[unit.kind] += chased(pemda, unit)
        totals[unit.kind] += 1
        heads[unit.kind] += (unit.id, head_of(unit).value) in registered
        operators[unit.kind] += (unit.id, Role.OPERATOR.value) in registered
    return [
        KindProgress(
            kind,
            totals[kind],
            heads[kind],
            operators[kind],
            Role.CAMAT if kind == "kecamatan" else Role.KEPALA,
            followed[kind],
        )
        for kind in sorted(totals, key=kind_rank)
    ]


def without_head(session: Session, pemda: PemdaConfig) -> list[Unit]:
    """Active units some program chases whose head (kepala, or the camat of a kecamatan) is not registered yet."""
    registered = registered_roles(session)
    units = session.exec(select(Unit).where(col(Unit.active).is_(True))).all()
    missing = [u for u in units if chased(pemda, u) and (u.id, head_of(u).value) not in registered]
    return sorted(missing, key=lambda u: (kind_rank(u.kind), u.name.lower()))


def digest_line(session: Session, pemda: PemdaConfig) -> str | None:
    """One line for the weekly digest while some chased unit has no registered head; None once every unit has."""
    missing = without_head(session, pemda)
    if not missing:
        return None
    units = [u for u in session.exec(select(Unit).where(col(Unit.active).is_(True))).all() if chased(pemda, u)]
    return (
        f"Pendaftaran: {len(units) - len(missing)} dari {len(units)} unit sudah punya kepala/camat terdaftar di "
        f"Sigap. Rincian dan kode undangan: /undangan"
    )
