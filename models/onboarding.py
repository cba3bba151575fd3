"""Onboarding: who is *terdaftar* (registered) and which units still wait for their head, per unit kind.

A person is registered once connected on a chat channel: the bot knows their Telegram id (they sent /start, or the
roster gave it) or they wrote on WhatsApp. A roster row alone is not yet registration. Used by /undangan,
`sigap invite --all`, `sigap doctor` and (a line of) the weekly digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.messages import CHAT_CHANNELS, Channel
from models.pemda import PemdaConfig
from models.tables import ROLE_LABELS, UNIT_KINDS, Contact, Role, Unit


class Kinded(Protocol):
    """What onboarding reads of a unit: a `Unit`, or the light `_UnitRow` of a count over every unit."""

    @property
    def code(self) -> str: ...
    @property
    def kind(self) -> str: ...


class Counted(Kinded, Protocol):
    """A unit counted for the digest's line: a `Kinded` with its id (the leaders' `UnitRow`, or `_UnitRow`)."""

    @property
    def id(self) -> int: ...


class _UnitRow(NamedTuple):
    id: int
    code: str
    kind: str


def _active_rows(session: Session) -> list[_UnitRow]:
    """Every active unit's id, code and kind: a Pemda may have 30,000 units, and `Unit` objects take ten times as
    long to load."""
    rows = session.execute(sa_select(col(Unit.id), col(Unit.code), col(Unit.kind)).where(col(Unit.active).is_(True)))
    return [_UnitRow(uid, code, kind) for uid, code, kind in rows]


def head_of(unit: Kinded) -> Role:
    """The role that heads `unit`: the camat for a kecamatan, the kepala for every other unit."""
    return Role.CAMAT if unit.kind == "kecamatan" else Role.KEPALA


LOCAL_KINDS = ("kecamatan", "kelurahan", "desa")
"""Units below the Pemda's own offices: they have a head and operators, never an admin or a pimpinan."""


def roles_for(kind: str) -> tuple[Role, ...]:
    """The roles a unit of `kind` can have, its head first: a kecamatan's camat, any other unit's kepala (a
    kelurahan's lurah, a desa's kepala desa), then operators; admin (the coordinating office) and pimpinan (Bupati,
    Sekda) only at the Pemda's own offices, never a kecamatan, kelurahan or desa. Invites and roster imports check
    this one rule."""
    head = Role.CAMAT if kind == "kecamatan" else Role.KEPALA
    if kind in LOCAL_KINDS:
        return (head, Role.OPERATOR)
    return (head, Role.OPERATOR, Role.ADMIN, Role.PIMPINAN)


def misfit(role: Role, name: str, kind: str) -> str | None:
    """Why `role` does not fit the unit `name` of `kind`, naming the role that does; None when it fits."""
    if role in roles_for(kind):
        return None
    head = roles_for(kind)[0]
    if role is Role.CAMAT:
        return f"Peran camat hanya untuk unit kecamatan; {name} bukan kecamatan. Kepalanya berperan {head.value}."
    if role is Role.KEPALA:
        return f"{name} adalah kecamatan; kepalanya berperan camat, bukan kepala."
    return (
        f"Peran {role.value} hanya untuk kantor Pemda (sekretariat, bagian, dinas, badan, dan sejenisnya), bukan "
        f"{kind}. Untuk {name}, pilih {head.value} atau operator."
    )


HEAD_LABELS = {"kelurahan": "Lurah", "desa": "Kepala Desa"}
"""What the head (role kepala) of a local unit is called; a kecamatan's head is the camat role."""
LOCAL_OPERATOR_LABELS = {"kecamatan": "Operator Kecamatan", "kelurahan": "Operator Kelurahan", "desa": "Operator Desa"}


def is_distrik(unit: Unit | None) -> bool:
    """Whether a kecamatan is a distrik (Papua: 'Distrik …', headed by a 'Kepala Distrik')."""
    return unit is not None and distrik_named(unit.name)


def distrik_named(name: str) -> bool:
    """Whether a kecamatan of this name is a distrik (`is_distrik`), e.g. a roster row's before it is a unit."""
    return name.lower().startswith("distrik ")


def role_label(role: Role, unit: Unit | None = None) -> str:
    """What someone of `role` at `unit` is called: 'Lurah', 'Kepala Desa', 'Operator Kelurahan'; at the Pemda's own
    offices (or without a unit) the role's label, 'Kepala OPD', 'Operator OPD', 'Admin'. A kecamatan named
    'Distrik …' (Papua) is headed by a 'Kepala Distrik', as its letters say."""
    kind = unit.kind if unit is not None else None
    if role is Role.CAMAT and is_distrik(unit):
        return "Kepala Distrik"
    if role is Role.KEPALA and kind in HEAD_LABELS:
        return HEAD_LABELS[kind]
    if role is Role.OPERATOR and kind in LOCAL_OPERATOR_LABELS:
        return LOCAL_OPERATOR_LABELS[kind]
    return ROLE_LABELS[role]


def post_name(role: Role, unit: Unit | None) -> str:
    """'Lurah Kelurahan Wangurer', 'Kepala Desa Sukamaju' (of 'Desa Sukamaju': the kind is not said twice),
    'Kepala OPD Dinas Kesehatan': the role at `unit`, as people are told it."""
    if unit is None:
        return ROLE_LABELS[role]
    label, name = role_label(role, unit), unit.name
    first, _, rest = name.partition(" ")
    if rest and first.lower() == label.rsplit(" ", 1)[-1].lower():
        name = rest
    return f"{label} {name}"


def connected(on: Collection[Channel] = CHAT_CHANNELS) -> ColumnElement[bool]:
    """Contacts that are registered on a chat channel of `on` (see the module docstring; `on` empty: nobody)."""
    registered: list[ColumnElement[bool]] = []
    if Channel.TELEGRAM in on:
        registered.append(col(Contact.telegram_user_id).is_not(None))
    if Channel.WHATSAPP in on:
        registered.append(col(Contact.wa_last_inbound_at).is_not(None))
    return or_(false(), *registered)


def registered_roles(session: Session) -> set[tuple[int, str]]:
    """(unit id, role) of every active, registered person."""
    rows = session.execute(
        sa_select(col(Contact.unit_id), col(Contact.role)).where(
            col(Contact.active).is_(True), col(Contact.unit_id).is_not(None), connected()
        )
    )
    return {(unit_id, role) for unit_id, role in rows if unit_id is not None}


def chased(pemda: PemdaConfig, unit: Kinded) -> bool:
    """Whether some program applies to `unit` (its kind, or a checklist indicator names it)."""
    for program in pemda.programs:
        if program.measure == "checklist":
            if any(entry.unit.lower() == unit.code.lower() for entry in program.checklist):
                return True
        elif program.applies(unit.kind):
            return True
    return False


def _chaser(pemda: PemdaConfig) -> Callable[[Kinded], bool]:
    """`chased` for many units: the kinds and the checklist's unit codes looked up once."""
    kinds = {kind for kind in UNIT_KINDS if any(p.applies(kind) for p in pemda.programs if p.measure != "checklist")}
    codes = {entry.unit.lower() for p in pemda.programs if p.measure == "checklist" for entry in p.checklist}

    def chased_fast(unit: Kinded) -> bool:
        if unit.kind in UNIT_KINDS:
            return unit.kind in kinds or unit.code.lower() in codes
        return chased(pemda, unit)  # a kind the roster does not know: the rule itself

    return chased_fast


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
    units = _active_rows(session)
    is_chased = _chaser(pemda)
    totals: Counter[str] = Counter()
    heads: Counter[str] = Counter()
    operators: Counter[str] = Counter()
    followed: Counter[str] = Counter()
    for unit in units:
        followed[unit.kind] += is_chased(unit)
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


def _headless(session: Session, pemda: PemdaConfig, active: Sequence[Counted] | None = None) -> tuple[list[int], int]:
    """The ids of the chased active units (`active`, default read here) without a registered head, and how many
    units are chased."""
    registered = registered_roles(session)
    units = list(filter(_chaser(pemda), _active_rows(session) if active is None else active))
    return [u.id for u in units if (u.id, head_of(u).value) not in registered], len(units)


def without_head(session: Session, pemda: PemdaConfig) -> list[Unit]:
    """Active units some program chases whose head (kepala, or the camat of a kecamatan) is not registered yet."""
    missing, _chased = _headless(session, pemda)
    if not missing:
        return []
    stmt = select(Unit).where(col(Unit.active).is_(True))
    if len(missing) <= 1000:  # the usual case, once most heads have registered: load only those units
        stmt = stmt.where(col(Unit.id).in_(missing))
    wanted = set(missing)
    units = [u for u in session.exec(stmt).all() if u.id in wanted]
    return sorted(units, key=lambda u: (kind_rank(u.kind), u.name.lower()))


def digest_line(session: Session, pemda: PemdaConfig, active: Sequence[Counted] | None = None) -> str | None:
    """One line for the weekly digest while some chased unit has no registered head; None once every unit has.
    `active`: the active units when the caller has read them already."""
    missing, units = _headless(session, pemda, active)
    if not missing:
        return None
    return (
        f"Pendaftaran: {units - len(missing)} dari {units} unit sudah punya kepala/camat terdaftar di "
        f"Sigap. Rincian dan kode undangan: /undangan"
    )
