"""What every handler receives: the dependencies, the unit of work, the sender; and the shared checks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from models.app import Deps, UserError
from models.db import UnitOfWork
from models.messages import Incoming, Reply
from models.pemda import PemdaConfig, ProgramConfig
from models.tables import AuditLog, ChatState, Contact, Role, Unit


@dataclass
class Ctx:
    """One incoming message being handled inside one unit of work."""

    deps: Deps
    uow: UnitOfWork
    incoming: Incoming
    contact: Contact | None
    now: datetime

    @property
    def session(self) -> Session:
        """The unit of work's session."""
        return self.uow.session

    @property
    def pemda(self) -> PemdaConfig:
        """The Pemda file."""
        return self.deps.pemda

    @property
    def today(self) -> date:
        """Today's date in the Pemda's zone."""
        return self.deps.calendar.local_date(self.now)

    @property
    def me(self) -> Contact:
        """The registered sender (the core only calls role-checked handlers for registered people)."""
        if self.contact is None:
            raise UserError(NOT_REGISTERED)
        return self.contact

    @property
    def role(self) -> Role:
        """The sender's role."""
        return Role(self.me.role)

    def my_unit(self) -> Unit:
        """The sender's unit."""
        unit = self.session.get(Unit, self.me.unit_id) if self.me.unit_id is not None else None
        if unit is None:
            raise UserError("Akun Bapak/Ibu belum terhubung ke unit mana pun. Mohon hubungi admin.")
        return unit

    def audit(self, action: str, target: str = "", **detail: Any) -> None:
        """Record who did what, from where."""
        self.session.add(
            AuditLog(
                at=self.now,
                actor_id=self.contact.id if self.contact else None,
                channel=self.incoming.channel.value,
                action=action,
                target=target,
                detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else "",
            )
        )

    def get_state(self) -> ChatState | None:
        """The sender's guided conversation, if one is open."""
        if self.contact is None or self.contact.id is None:
            return None
        return self.session.get(ChatState, self.contact.id)

    def set_state(self, flow: str, **data: Any) -> None:
        """Open or move a guided conversation."""
        contact_id = self.me.id
        assert contact_id is not None
        state = self.session.get(ChatState, contact_id) or ChatState(
            contact_id=contact_id, flow=flow, updated_at=self.now
        )
        state.flow = flow
        state.data = json.dumps(data, ensure_ascii=False)
        state.updated_at = self.now
        self.session.add(state)

    def clear_state(self) -> None:
        """Close the guided conversation."""
        state = self.get_state()
        if state is not None:
            self.session.delete(state)


Handler = Callable[[Ctx], Awaitable[list[Reply]]]
HelpFor = Callable[[Role, PemdaConfig], tuple[str, str]]
"""(usage, summary) of a command for a role under a Pemda file."""

NOT_REGISTERED = (
    "Mohon maaf, akun Bapak/Ibu belum terdaftar di Sigap.\n"
    "Silakan minta kode undangan kepada admin Sigap di Pemda, lalu kirim: /start KODE"
)

ALL_ROLES = frozenset(Role)
REPORTERS = frozenset({Role.KEPALA, Role.OPERATOR, Role.CAMAT, Role.ADMIN})


@dataclass(frozen=True)
class Command:
    """One chat command: who may use it, what it does, how it is written."""

    name: str
    handler: Handler
    summary: str
    usage: str
    roles: frozenset[Role] = ALL_ROLES
    aliases: tuple[str, ...] = ()
    public: bool = False
    help_for: HelpFor | None = None
    """Set when what a role may do with the command depends on the Pemda file (e.g. who may approve letters)."""

    def allowed(self, role: Role | None) -> bool:
        """Whether a person with `role` may use this command."""
        return self.public or (role is not None and role in self.roles)

    def describe(self, role: Role | None, pemda: PemdaConfig | None = None) -> tuple[str, str]:
        """(usage, summary) as a person with `role` may use the command; `usage`/`summary` without a Pemda file."""
        if self.help_for is None or role is None or pemda is None:
            return self.usage, self.summary
        return self.help_for(role, pemda)


def find_unit(session: Session, text: str) -> Unit:
    """The unit named by code, alias, or (part of) its name; a UserError explains a miss or an ambiguity."""
    wanted = text.strip().lower()
    if not wanted:
        raise UserError("Nama unit belum diisi. Ketik /unit untuk melihat daftar kode unit.")
    units = session.exec(select(Unit).where(col(Unit.active).is_(True))).all()
    for unit in units:
        if unit.code.lower() == wanted or wanted in unit.alias_list() or unit.name.lower() == wanted:
            return unit
    partial = [u for u in units if wanted in u.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = ", ".join(f"{u.code} ({u.name})" for u in partial[:6])
        raise UserError(f"“{text}” cocok dengan beberapa unit: {names}. Mohon tulis kodenya.")
    raise UserError(f"Unit “{text}” tidak ditemukan. Ketik /unit untuk melihat daftar kode unit.")


def find_program(pemda: PemdaConfig, text: str, example: str = "/lapor katalog 120") -> ProgramConfig:
    """The program named by key or alias; a UserError lists the right names and shows `example`."""
    program = pemda.program(text)
    if program is None:
        raise UserError(f"Program “{text}” tidak dikenal. Pilihan: {program_names(pemda.programs)}. Contoh: {example}")
    return program


def program_names(programs: Sequence[ProgramConfig]) -> str:
    """'katalog, p3dn, inovasi, mcp'."""
    return ", ".join(p.key for p in programs)


def sub_units(session: Session, unit: Unit) -> list[Unit]:
    """The active units directly under `unit` (kelurahan/desa under a kecamatan)."""
    return list(
        session.exec(
            select(Unit).where(Unit.parent_id == unit.id, col(Unit.active).is_(True)).order_by(col(Unit.code))
        ).all()
    )


def load_state_data(state: ChatState) -> dict[str, Any]:
    """The stored data of a guided conversation."""
    data = json.loads(state.data or "{}")
    return data if isinstance(data, dict) else {}
