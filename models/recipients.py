"""Who a sweep can reach: the active units and contacts as plain rows, grouped by unit and role, with channels."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from models.db import plain_rows
from models.ladder import ContactRef, UnitRef
from models.messages import CHAT_CHANNELS, Channel
from models.outbox import choose_channel
from models.tables import UNIT_ROLES, Contact, Role, Unit


@dataclass
class Recipients:
    """The active roster as the sweep reads it: units, the people answering for each, admins, pimpinan, channels."""

    units: dict[int, UnitRef]
    by_unit: dict[int, list[ContactRef]]
    admins: list[ContactRef]
    pimpinan: list[ContactRef]
    channels: dict[int, Channel | None]
    _groups: dict[tuple[int, tuple[str, ...]], list[ContactRef]] = field(default_factory=dict)

    def recipients(self, unit_id: int, audiences: tuple[str, ...]) -> list[ContactRef]:
        """The people a stage with `audiences` reaches for one unit (each once)."""
        if audiences == ("unit",):
            return self.by_unit.get(unit_id, [])
        key = (unit_id if "unit" in audiences else 0, audiences)
        cached = self._groups.get(key)
        if cached is not None:
            return cached
        seen: dict[int, ContactRef] = {}
        for audience in audiences:
            group = (
                self.by_unit.get(unit_id, [])
                if audience == "unit"
                else self.admins
                if audience == "admin"
                else self.pimpinan
            )
            for contact in group:
                seen.setdefault(contact.id, contact)
        found = list(seen.values())
        self._groups[key] = found
        return found


def load_recipients(session: Session, sends_on: Collection[Channel] = CHAT_CHANNELS) -> Recipients:
    """Read the active units and contacts as plain rows (30,000 ORM objects would be too slow) and choose each one's
    channel among `sends_on` (the channels the deployment sends on; None: not reachable now, `models.reach`)."""
    unit_rows = plain_rows(
        session,
        sa_select(col(Unit.id), col(Unit.code), col(Unit.name), col(Unit.kind)).where(col(Unit.active).is_(True)),
    )
    units = {row[0]: UnitRef._make(row) for row in unit_rows}
    by_unit: dict[int, list[ContactRef]] = defaultdict(list)
    admins: list[ContactRef] = []
    pimpinan: list[ContactRef] = []
    channels: dict[int, Channel | None] = {}
    contact_rows = plain_rows(
        session,
        sa_select(
            col(Contact.id),
            col(Contact.name),
            col(Contact.role),
            col(Contact.unit_id),
            col(Contact.telegram_user_id),
            col(Contact.wa_number),
            col(Contact.preferred_channel),
            col(Contact.unreachable_telegram),
            col(Contact.unreachable_whatsapp),
        )
        .where(col(Contact.active).is_(True))
        .order_by(col(Contact.id)),
    )
    admin, leader = Role.ADMIN.value, Role.PIMPINAN.value
    for cid, name, role, unit_id, telegram, wa, preferred, off_telegram, off_whatsapp in contact_rows:
        contact = ContactRef(cid, name, role, unit_id, telegram, wa, preferred, bool(off_telegram), bool(off_whatsapp))
        channels[cid] = choose_channel(contact, on=sends_on)
        if role == admin:
            admins.append(contact)
        elif role == leader:
            pimpinan.append(contact)
        elif role in UNIT_ROLES and unit_id is not None:
            by_unit[unit_id].append(contact)
    return Recipients(units, by_unit, admins, pimpinan, channels)
