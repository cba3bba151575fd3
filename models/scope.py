"""Which units a person may see: the one rule the chat (/status, /rekap, /grafik...) and the web dashboard share.

Admin and pimpinan see every unit; a camat the kecamatan and the kelurahan/desa under it; a kepala or an operator
their own unit. A person bound to no unit (other than admin and pimpinan) sees nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.tables import Contact, Role, Unit

WHOLE_PEMDA = frozenset({Role.ADMIN, Role.PIMPINAN})
"""The roles that see every unit."""


@dataclass(frozen=True)
class Viewer:
    """A person as far as seeing units goes: who, in which role, bound to which unit."""

    contact_id: int
    name: str
    role: Role
    unit_id: int | None

    @property
    def whole_pemda(self) -> bool:
        """Whether this person sees every unit (admin, pimpinan)."""
        return self.role in WHOLE_PEMDA

    def sees(self, session: Session, unit: Unit) -> bool:
        """Whether this person may see `unit`: any for admin and pimpinan; a camat also the kecamatan's sub-units."""
        if self.whole_pemda:
            return True
        if self.unit_id is None or unit.id is None:
            return False
        if unit.id == self.unit_id:
            return True
        return self.role is Role.CAMAT and unit.parent_id == self.unit_id

    def units(self, session: Session) -> list[Unit]:
        """The units this person sees: every active unit by code (admin, pimpinan); a camat's own unit first, then
        its active sub-units by code; a kepala's or operator's own unit."""
        if self.whole_pemda:
            return list(session.exec(select(Unit).where(col(Unit.active).is_(True)).order_by(col(Unit.code))).all())
        own = session.get(Unit, self.unit_id) if self.unit_id is not None else None
        if own is None:
            return []
        if self.role is not Role.CAMAT:
            return [own]
        subs = session.exec(
            select(Unit).where(Unit.parent_id == own.id, col(Unit.active).is_(True)).order_by(col(Unit.code))
        ).all()
        return [own, *subs]


def viewer_for(contact: Contact) -> Viewer:
    """The `Viewer` of a (saved) contact."""
    if contact.id is None:
        raise ValueError("viewer_for needs a saved contact")
    return Viewer(contact_id=contact.id, name=contact.name, role=Role(contact.role), unit_id=contact.unit_id)
