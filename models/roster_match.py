"""Who is who in a roster file: the database read once (`Current`), every row matched to the person it is about
(`match_people`: NIP, phone, Telegram id, name), and the checks that need the database (aliases, the unit tree, one
head per unit). `models.roster` plans and applies with them."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import select as sa_select
from sqlmodel import Session

from models.roster_plan import ContactChange, RosterPlan, leader_role
from models.roster_read import RowProblem
from models.tables import Contact, Unit

_TITLES = frozenset({"h", "hj", "dr", "drs", "dra", "ir", "prof", "kh"})
SIMILAR = 75
"""The least likeness (rapidfuzz WRatio, 0-100) of two names for a row without a number to be taken as the person of
its unit and role the file leaves out (a corrected spelling); the preview says so, the admin decides."""
TERRITORY = frozenset({"kecamatan", "kelurahan", "desa"})


@dataclass
class UnitRow:
    line: int
    code: str
    name: str
    kind: str
    parent: str
    aliases: str


def name_key(name: str) -> str:
    words = [w.strip(".").casefold() for w in name.split(",")[0].split()]
    return " ".join(w for w in words if w and w not in _TITLES)


def same_person(a: str, b: str) -> bool:
    """Whether two spellings name the same person: titles and degrees aside, equal, or a small typo fix."""
    ka, kb = name_key(a), name_key(b)
    if ka == kb or set(ka.split()) <= set(kb.split()) or set(kb.split()) <= set(ka.split()):
        return bool(ka and kb)
    same_first = ka.split()[:1] == kb.split()[:1]
    return same_first and SequenceMatcher(None, ka, kb).ratio() >= 0.85


@dataclass(frozen=True, slots=True)
class DbUnit:
    """A unit in the database, as the plan needs it."""

    id: int | None
    code: str
    name: str
    kind: str
    aliases: str
    parent_id: int | None
    active: bool

    def alias_list(self) -> list[str]:
        return [a.strip().lower() for a in self.aliases.split(",") if a.strip()]


@dataclass(frozen=True, slots=True)
class DbPerson:
    """A contact in the database, as the plan needs it."""

    id: int | None
    name: str
    role: str
    unit_id: int | None
    nip: str
    title: str
    wa_number: str | None
    telegram_user_id: str | None
    active: bool


class Current:
    """The database's units and contacts, read once (plain values, no ORM objects) and looked up every way the
    plan needs."""

    def __init__(self, session: Session) -> None:
        session.flush()
        read = session.connection().execute
        units: list[Any] = [Unit.id, Unit.code, Unit.name, Unit.kind, Unit.aliases, Unit.parent_id, Unit.active]
        self.units = [DbUnit(*row) for row in read(sa_select(*units))]
        people: list[Any] = [Contact.id, Contact.name, Contact.role, Contact.unit_id, Contact.nip, Contact.title]
        people += [Contact.wa_number, Contact.telegram_user_id, Contact.active]
        self.contacts = [DbPerson(*row) for row in read(sa_select(*people))]
        self.unit_by_code = {u.code: u for u in self.units}
        self.code_by_id = {u.id: u.code for u in self.units}
        self.by_phone = {c.wa_number: c for c in self.contacts if c.wa_number}
        self.by_telegram = {c.telegram_user_id: c for c in self.contacts if c.telegram_user_id}
        self.by_name = {(name_key(c.name), c.unit_id): c for c in self.contacts}
        nips = Counter(c.nip for c in self.contacts if c.nip)
        self.by_nip = {c.nip: c for c in self.contacts if c.nip and nips[c.nip] == 1}
        """A NIP is one civil servant's for life: a row with it is that person, whatever the spelling of the name
        (a NIP two contacts share identifies neither)."""
        self.by_seat: dict[tuple[str, str], list[DbPerson]] = {}
        """The active people of each (unit code, role): whom a row may replace or be a respelling of."""
        for person in self.contacts:
            if person.active:
                self.by_seat.setdefault((self.code(person.unit_id), person.role), []).append(person)

    def code(self, unit_id: int | None) -> str:
        return self.code_by_id.get(unit_id, "") if unit_id is not None else ""

    def who(self, contact: DbPerson) -> str:
        state = "" if contact.active else ", nonaktif"
        return f"{contact.name} ({self.code(contact.unit_id) or 'tanpa unit'}{state})"


def check_aliases(units: dict[str, UnitRow], now: Current, prune: bool, problems: list[RowProblem]) -> None:
    """Every alias names one unit: not another unit's alias or code, in the file or in the database (units the
    file leaves out keep theirs unless pruned); and every parent exists."""
    owners: dict[str, tuple[str, str]] = {}
    for unit in now.units:
        if unit.code not in units and unit.active and not prune:
            owners |= {
                alias: (unit.code, f"unit {unit.code} ({unit.name}) di basis data") for alias in unit.alias_list()
            }
            owners.setdefault(unit.code.lower(), (unit.code, f"sebagai kode unit {unit.code} di basis data"))
    for row in units.values():
        owners.setdefault(row.code.lower(), (row.code, f"sebagai kode unit {row.code} (baris {row.line})"))
    for row in units.values():
        for alias in filter(None, row.aliases.split(",")):
            code, where = owners.setdefault(alias, (row.code, f"unit {row.code} (baris {row.line})"))
            if code != row.code:
                problems.append(RowProblem(row.line, "aliases", f"alias “{alias}” sudah dipakai {where}"))
    for row in units.values():
        if row.parent and row.parent not in units and row.parent not in now.unit_by_code:
            problems.append(
                RowProblem(row.line, "parent_code", f"unit induk {row.parent} tidak ada di berkas maupun basis data")
            )


def match_people(
    rows: list[ContactChange], now: Current, problems: list[RowProblem], notes: list[RowProblem]
) -> dict[int, DbPerson]:
    """The existing contact each row is about, keyed by line: by NIP, phone, Telegram id, or name in the same unit.

    A phone or Telegram id already on record under another name is the same person when the NIP says so, or when
    the row keeps them in the same unit and role (a corrected spelling: shown in the preview with a note, the admin
    decides); anywhere else it is refused: the number would silently pass to someone else."""
    matched: dict[int, DbPerson] = {}
    claimed: dict[int | None, int] = {}
    unknown: list[ContactChange] = []
    for row in rows:
        by_nip = now.by_nip.get(row.nip) if row.nip else None
        by_phone = now.by_phone.get(row.phone) if row.phone else None
        by_telegram = now.by_telegram.get(row.telegram_id) if row.telegram_id else None
        if by_phone is not None and by_telegram is not None and by_phone.id != by_telegram.id:
            problems.append(
                RowProblem(
                    row.line,
                    "telegram_id",
                    f"id Telegram ini milik {now.who(by_telegram)}, nomor HP-nya milik {now.who(by_phone)}",
                )
            )
            continue
        holder = by_phone or by_telegram
        column, value = ("phone", row.phone) if holder is by_phone else ("telegram_id", row.telegram_id)
        if by_nip is not None and holder is not None and holder.id != by_nip.id:
            problems.append(
                RowProblem(row.line, column, f"{value} milik {now.who(holder)}, NIP-nya milik {now.who(by_nip)}")
            )
            continue
        if by_nip is None and holder is not None and not same_person(holder.name, row.name):
            if not _same_seat(holder, row, now):
                problems.append(RowProblem(row.line, column, _taken(value, holder, row, now)))
                continue
            notes.append(
                RowProblem(
                    row.line,
                    "contact_name",
                    f"{value} tercatat atas nama {holder.name}; berkas menulis {row.name} (unit dan peran sama): "
                    f"diperlakukan sebagai perbaikan nama. Jika ini orang lain, pilih Batal dan ganti nomornya",
                )
            )
        holder = by_nip or holder
        unit = now.unit_by_code.get(row.unit)
        contact = holder or (now.by_name.get((name_key(row.name), unit.id)) if unit is not None else None)
        if contact is None:
            if not row.phone and not row.telegram_id:
                unknown.append(row)  # no number to tell who it is: perhaps a person on record by another spelling
            continue
        if contact.id in claimed:
            problems.append(
                RowProblem(
                    row.line, "contact_name", f"orang yang sama dengan baris {claimed[contact.id]} ({contact.name})"
                )
            )
            continue
        claimed[contact.id] = row.line
        matched[row.line] = contact
    _by_name_alone(unknown, now, claimed, matched, notes)
    return matched


def _by_name_alone(
    rows: list[ContactChange],
    now: Current,
    claimed: dict[int | None, int],
    matched: dict[int, DbPerson],
    notes: list[RowProblem],
) -> None:
    """Rows with no number or NIP of anyone on record: the one person of the same unit and role whose name is
    alike and whom no row names (a corrected spelling), else the one person of that very name elsewhere whom no
    row names (a move). Each is said under Perhatian: a name alone is a guess the admin confirms or cancels."""
    if not rows:
        return
    keys: dict[str, list[DbPerson]] = {}
    for person in now.contacts:  # indexed once: a big Pemda's new rows are not each compared with everybody
        if person.active and person.id not in claimed:
            keys.setdefault(name_key(person.name), []).append(person)
    for row in rows:
        wanted = name_key(row.name)
        alike = [
            c
            for c in now.by_seat.get((row.unit, row.role), [])
            if c.id not in claimed and fuzz.WRatio(name_key(c.name), wanted) >= SIMILAR
        ]
        named = [c for c in keys.get(wanted, []) if c.id not in claimed]
        if len(alike) == 1:
            found, how = alike[0], f"dianggap {alike[0].name} ({row.unit}, {row.role}) dengan ejaan nama diperbaiki"
        elif not alike and len(named) == 1:
            found = named[0]
            how = f"dianggap {found.name} yang tercatat di {now.code(found.unit_id) or 'tanpa unit'}, dipindah"
        else:
            continue
        claimed[found.id] = row.line
        matched[row.line] = found
        notes.append(
            RowProblem(
                row.line,
                "contact_name",
                f"{row.name} dikenali dari namanya saja: {how}. Jika ini orang lain, pilih Batal dan isi nomor HP "
                "atau NIP-nya",
            )
        )


def _same_seat(holder: DbPerson, row: ContactChange, now: Current) -> bool:
    """Whether the row keeps the number's holder where they are: active, the same unit and role."""
    return holder.active and now.code(holder.unit_id) == row.unit and holder.role == row.role


def _taken(value: str | None, holder: DbPerson, row: ContactChange, now: Current) -> str:
    """Why a number on record under another name is refused, and how to say it is the same person."""
    text = f"{value} sudah dipakai {now.who(holder)}; satu nomor hanya untuk satu orang"
    if holder.nip:
        return f"{text}. Jika ini orang yang sama dengan nama yang diperbaiki, isi kolom nip dengan NIP-nya"
    where = f"{now.code(holder.unit_id) or 'tanpa unit'}, {holder.role}"
    return (
        f"{text}. Jika ini orang yang sama dengan nama yang diperbaiki, tulis dulu di unit dan peran yang tercatat "
        f"({where}), lalu pindahkan pada impor berikutnya; jika orang lain, ganti nomornya"
    )


def check_tree(units: dict[str, UnitRow], now: Current, prune: bool, problems: list[RowProblem]) -> None:
    """Kelurahan and desa lie under a kecamatan; a kecamatan and an OPD under no kecamatan, kelurahan or desa; and
    no two units share a name (in the file, or with a unit on record the file leaves active)."""
    kinds = {u.code: u.kind for u in now.units} | {row.code: row.kind for row in units.values()}
    for row in units.values():
        parent_kind = kinds.get(row.parent, "") if row.parent else ""
        if not parent_kind:
            continue
        if row.kind in ("kelurahan", "desa") and parent_kind != "kecamatan":
            problems.append(
                RowProblem(
                    row.line,
                    "parent_code",
                    f"{row.kind} harus di bawah kecamatan; {row.parent} adalah {parent_kind}. Tulis kode kecamatannya",
                )
            )
        elif row.kind not in ("kelurahan", "desa") and parent_kind in TERRITORY:
            problems.append(
                RowProblem(
                    row.line,
                    "parent_code",
                    f"{row.kind} tidak dapat berada di bawah {parent_kind} {row.parent}; kosongkan parent_code atau "
                    "tulis unit induk yang benar",
                )
            )
    names: dict[str, str] = {}
    for unit in now.units:
        if unit.active and unit.code not in units and not prune:
            names[" ".join(unit.name.casefold().split())] = f"unit {unit.code} di basis data"
    for row in units.values():
        where = names.setdefault(" ".join(row.name.casefold().split()), f"unit {row.code} (baris {row.line})")
        if not where.startswith(f"unit {row.code} "):
            problems.append(
                RowProblem(row.line, "unit_name", f"nama “{row.name}” sudah dipakai {where}; satu nama satu unit")
            )


def head_rows(units: dict[str, UnitRow], rows: list[ContactChange], now: Current, problems: list[RowProblem]) -> None:
    """One head a unit: a second kepala (a kecamatan's second camat) of a unit in the file is refused."""
    kinds = {u.code: u.kind for u in now.units} | {row.code: row.kind for row in units.values()}
    first: dict[str, ContactChange] = {}
    for row in rows:
        if row.unit not in kinds or row.role != leader_role(kinds[row.unit]):
            continue
        head = first.setdefault(row.unit, row)
        if head is not row:
            problems.append(
                RowProblem(
                    row.line,
                    "role",
                    f"{row.unit} sudah punya {row.role} di baris {head.line} ({head.name}); satu unit hanya satu "
                    f"{row.role}. Jadikan salah satunya operator, atau hapus barisnya",
                )
            )


def replace_heads(plan: RosterPlan, now: Current, matched: dict[int, DbPerson], notes: list[str]) -> None:
    """A unit the file gives a head keeps only that head: the head on record whom no row names is deactivated in
    the same plan (said under Perhatian), as an invite of a new head does."""
    kinds = {u.code: u.kind for u in now.units} | {u.code: u.kind for u in plan.units_new + plan.units_updated}
    named = {c.id for c in matched.values()}
    going = {c.contact_id for c in plan.contacts_deactivated}
    for row in plan.contacts_new + plan.contacts_updated + plan.contacts_moved:
        if row.unit not in kinds or row.role != leader_role(kinds[row.unit]):
            continue
        for person in now.by_seat.get((row.unit, row.role), []):
            if person.id not in going and person.id not in named:
                going.add(person.id)
                gone = ContactChange(0, person.name, person.role, row.unit, None, None, person.nip, person.title)
                plan.contacts_deactivated.append(dataclasses.replace(gone, contact_id=person.id))
                notes.append(
                    f"{person.name} ({row.role} {row.unit}) digantikan oleh {row.name} dan dinonaktifkan: satu unit "
                    f"hanya satu {row.role}; riwayatnya tetap tersimpan."
                )
