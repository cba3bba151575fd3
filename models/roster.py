"""Roster import (CSV, XLSX) as a reviewed change.

`models.roster_read` reads the file (`stream_rows` a row at a time, spreadsheet cells as they were typed),
`plan_roster` checks every row against the file and the database and returns the `RosterPlan`: units and contacts
new, updated, moved, deactivated, person by person (`describe()` says it in Indonesian). `apply_plan` writes exactly
that plan, in batches. A file with any problem raises `RosterError` with every problem's line and column, and
nothing is written. The database is read once into dictionaries, so 100,000 rows plan in seconds.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from models.onboarding import distrik_named, misfit
from models.phone import PhoneError, normalize_mobile
from models.roster_match import (
    Current,
    DbPerson,
    UnitRow,
    check_aliases,
    check_tree,
    head_rows,
    match_people,
    name_key,
    replace_heads,
)
from models.roster_plan import Change, ContactChange, ImportResult, RosterPlan, UnitChange, leader_role, nip_cut_note
from models.roster_read import (
    COLUMNS,
    EXCEL_DIGITS,
    NOTES,
    NUMBER_CELLS,
    Progress,
    RosterError,
    Row,
    RowProblem,
    Rows,
    read_bytes,
    read_rows,
    shown_name,
    stream_rows,
)
from models.tables import UNIT_KINDS, Contact, Role, Unit, utcnow

__all__ = [
    "COLUMNS",
    "ImportResult",
    "Progress",
    "RosterError",
    "RosterPlan",
    "Row",
    "RowProblem",
    "Rows",
    "apply_plan",
    "import_roster",
    "plan_roster",
    "read_bytes",
    "read_rows",
    "shown_name",
    "stream_rows",
]

NIP_DIGITS = 18
LIMITS = {"unit_name": 200, "aliases": 200, "contact_name": 120, "jabatan": 200, "telegram_id": 32}
"""The longest text each column may hold (the database's limits)."""
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9\-_.]{1,31}$")
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9\-_.]{1,30}$")
_SCIENTIFIC = re.compile(r"^[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+$")
BATCH = 5_000
ABSENT_NAMED = 10
"""Contacts the file leaves out that the preview names (the rest are counted)."""
"""Rows written per statement when applying."""


# ------------------------------------------------------------------------------------------------ checking


def _digits_problem(line: int, column: str, raw: str) -> RowProblem | None:
    """A number a spreadsheet wrote as '8.129E+10': its last digits are gone."""
    if _SCIENTIFIC.match(raw):
        return RowProblem(
            line,
            column,
            f"“{raw}” tertulis sebagai angka ilmiah, angka-angka di belakangnya sudah hilang. "
            f"Format kolom {column} sebagai Teks, ketik ulang isinya, lalu simpan lagi",
        )
    return None


def _as_text_hint(column: str, row: dict[str, str]) -> str:
    if column in row.get(NUMBER_CELLS, "").split(","):
        return f" (sel ini berisi angka, bukan teks: format kolom {column} sebagai Teks lalu ketik ulang)"
    return ""


def _too_long(line: int, column: str, value: str, problems: list[RowProblem]) -> None:
    """A problem when `value` is longer than its column holds."""
    if len(value) > LIMITS[column]:
        problems.append(
            RowProblem(line, column, f"terlalu panjang: {len(value)} karakter, paling banyak {LIMITS[column]}")
        )


def _read_units_and_contacts(
    rows: Iterable[Row], problems: list[RowProblem], notes: list[RowProblem]
) -> tuple[dict[str, UnitRow], list[ContactChange]]:
    units: dict[str, UnitRow] = {}
    contacts: list[ContactChange] = []
    phones: dict[str, int] = {}
    telegram_ids: dict[str, int] = {}
    named: dict[tuple[str, str], tuple[int, bool]] = {}
    roles = [r.value for r in Role]
    for line, row in rows:
        if row.get(NOTES):
            notes += [RowProblem(0, "", note) for note in row[NOTES].splitlines()]
        code = row.get("unit_code", "").strip().upper()
        name = " ".join(row.get("unit_name", "").split())
        kind = row.get("unit_kind", "").strip().lower()
        parent = row.get("parent_code", "").strip().upper()
        aliases = ",".join(a.strip().lower() for a in row.get("aliases", "").split(",") if a.strip())
        bad = len(problems)
        for column, value in (("unit_name", name), ("aliases", aliases)):
            _too_long(line, column, value, problems)
        if not _CODE.match(code):
            problems.append(
                RowProblem(line, "unit_code", "wajib diisi: huruf besar/angka/tanda -, 2-32 karakter (contoh DINKES)")
            )
        if not name:
            problems.append(RowProblem(line, "unit_name", "wajib diisi"))
        if kind not in UNIT_KINDS:
            problems.append(RowProblem(line, "unit_kind", f"“{kind}” tidak dikenal; pilihan: {', '.join(UNIT_KINDS)}"))
        for alias in filter(None, aliases.split(",")):
            if not _ALIAS.match(alias):
                problems.append(RowProblem(line, "aliases", f"“{alias}” hanya boleh huruf kecil/angka tanpa spasi"))
        if kind in ("kelurahan", "desa") and not parent:
            problems.append(RowProblem(line, "parent_code", f"{kind} wajib punya kecamatan induk"))
        if parent and parent == code:
            problems.append(RowProblem(line, "parent_code", "unit tidak boleh menjadi induk dirinya sendiri"))
        if len(problems) == bad and code:
            seen = units.get(code)
            if seen is None:
                units[code] = UnitRow(line, code, name, kind, parent, aliases)
            elif (seen.name, seen.kind, seen.parent) != (name, kind, parent):
                problems.append(
                    RowProblem(line, "unit_name", f"unit {code} berbeda dengan baris {seen.line} (nama/jenis/induk)")
                )
        contact_name = " ".join(row.get("contact_name", "").split())
        role = row.get("role", "").strip().lower()
        phone_text = row.get("phone", "").strip()
        telegram_text = row.get("telegram_id", "").strip()
        nip = row.get("nip", "").replace(" ", "")
        if not contact_name:
            if role or phone_text or telegram_text:
                problems.append(RowProblem(line, "contact_name", "wajib diisi bila peran/nomor diisi"))
            continue
        title = " ".join(row.get("jabatan", "").split())
        for column, value in (("contact_name", contact_name), ("jabatan", title), ("telegram_id", telegram_text)):
            _too_long(line, column, value, problems)
        if role == Role.KEPALA.value and kind == "kecamatan":  # a camat written as its unit's 'kepala': read, said
            role = Role.CAMAT.value
            head = "kepala distrik" if distrik_named(name) else "kepala kecamatan"
            notes.append(RowProblem(line, "role", f"“kepala” {name} dibaca sebagai camat ({head})"))
        if role not in roles:
            problems.append(RowProblem(line, "role", f"“{role}” tidak dikenal; pilihan: {', '.join(roles)}"))
        elif kind in UNIT_KINDS and (why := misfit(Role(role), name, kind)):
            problems.append(RowProblem(line, "role", why))
        phone: str | None = None
        if phone_text and (problem := _digits_problem(line, "phone", phone_text)):
            problems.append(problem)
        elif phone_text:
            try:
                phone = normalize_mobile(phone_text)
            except PhoneError as exc:
                problems.append(RowProblem(line, "phone", f"“{phone_text}”: {exc}{_as_text_hint('phone', row)}"))
            else:
                if phone in phones:
                    problems.append(RowProblem(line, "phone", f"nomor sama dengan baris {phones[phone]}"))
                phones.setdefault(phone, line)
        if telegram_text and (problem := _digits_problem(line, "telegram_id", telegram_text)):
            problems.append(problem)
        elif telegram_text:
            if not telegram_text.isascii() or not telegram_text.isdigit():
                problems.append(RowProblem(line, "telegram_id", "harus berupa angka (id pengguna Telegram)"))
            elif telegram_text in telegram_ids:
                problems.append(RowProblem(line, "telegram_id", f"sama dengan baris {telegram_ids[telegram_text]}"))
            telegram_ids.setdefault(telegram_text, line)
        cut = ""  # a number cell keeps 15 digits: a longer NIP in one is not used, the stored one is kept
        if nip and _as_text_hint("nip", row) and (_SCIENTIFIC.match(nip) or len(nip) > EXCEL_DIGITS):
            cut = nip
        elif nip and (problem := _digits_problem(line, "nip", nip)):
            problems.append(problem)
        elif nip and (len(nip) != NIP_DIGITS or not nip.isascii() or not nip.isdigit()):
            problems.append(
                RowProblem(line, "nip", f"NIP harus {NIP_DIGITS} angka, tertulis “{nip}”{_as_text_hint('nip', row)}")
            )
        identified = bool(phone_text or telegram_text)
        twin = named.setdefault((name_key(contact_name), code), (line, identified))
        if twin[0] != line and not (identified and twin[1]):
            problems.append(
                RowProblem(
                    line,
                    "contact_name",
                    f"nama dan unit sama dengan baris {twin[0]}; bila memang dua orang, isi nomor HP masing-masing",
                )
            )
        kept = None if cut else nip
        telegram = telegram_text or None
        contacts.append(ContactChange(line, contact_name, role, code, phone, telegram, kept, title, nip_cut=cut))
    return units, contacts


# ---------------------------------------------------------------------------------------------- planning


def plan_roster(session: Session, rows: Iterable[Row], *, prune: bool = False) -> RosterPlan:
    """Check every row against the file and the database; what importing would change. Reads only.

    `rows` may be a list (`read_bytes`) or a stream (`stream_rows`): each row is read once."""
    problems: list[RowProblem] = []
    notes: list[RowProblem] = []
    units, rows_of_people = _read_units_and_contacts(rows, problems, notes)
    now = Current(session)
    check_aliases(units, now, prune, problems)
    check_tree(units, now, prune, problems)
    head_rows(units, rows_of_people, now, problems)
    matched = match_people(rows_of_people, now, problems, notes)
    if problems:
        order = {c: i for i, c in enumerate(COLUMNS)}
        about_file = [note for note in notes if note.line <= 0]  # (its encoding, formulas read empty) may explain them
        raise RosterError([*about_file, *sorted(problems, key=lambda p: (p.line, order.get(p.column, 99)))])
    plan = RosterPlan(prune=prune, notes=[str(note) for note in sorted(notes, key=lambda note: note.line)])
    plan.unit_names = {u.code: u.name for u in now.units} | {u.code: u.name for u in units.values()}
    for row in units.values():
        wanted = UnitChange(row.code, row.name, row.kind, row.aliases, row.parent)
        unit = now.unit_by_code.get(row.code)
        if unit is None:
            plan.units_new.append(wanted)
            continue
        before = {"name": unit.name, "kind": unit.kind, "aliases": unit.aliases, "parent": now.code(unit.parent_id)}
        after = {"name": row.name, "kind": row.kind, "aliases": row.aliases, "parent": row.parent}
        changes = _diff(before | {"active": _state(unit.active)}, after | {"active": _state(True)})
        if changes:
            plan.units_updated.append(dataclasses.replace(wanted, unit_id=unit.id, changes=changes))
        else:
            plan.unchanged += 1
    for person in rows_of_people:
        contact = matched.get(person.line)
        if person.nip_cut:
            plan.notes.append(nip_cut_note(person, contact.nip if contact is not None else ""))
        if contact is None:
            plan.contacts_new.append(person)
            continue
        before = _contact_fields(contact, now)
        after = {
            "name": person.name,
            "role": person.role,
            "unit": person.unit,
            "nip": before["nip"] if person.nip is None else person.nip,
            "title": person.title,
            "phone": person.phone or before["phone"],
            "telegram": person.telegram_id or before["telegram"],
            "active": _state(True),
        }
        changes = _diff(before, after)
        change = dataclasses.replace(
            person, contact_id=contact.id, changes=changes, old_unit=before["unit"], old_role=contact.role
        )
        if {"unit", "role"} & {c.key for c in changes}:
            plan.contacts_moved.append(change)
        elif changes:
            plan.contacts_updated.append(change)
        else:
            plan.unchanged += 1
    absent_units = [u for u in now.units if u.active and u.code not in units]
    seen = {c.id for c in matched.values()}
    absent_contacts = [c for c in now.contacts if c.active and c.id not in seen]
    if prune:
        plan.units_deactivated = [
            UnitChange(u.code, u.name, u.kind, u.aliases, now.code(u.parent_id), u.id) for u in absent_units
        ]
        plan.contacts_deactivated = [
            ContactChange(0, c.name, c.role, now.code(c.unit_id), None, None, c.nip, c.title, c.id)
            for c in absent_contacts
        ]
    replace_heads(plan, now, matched, plan.notes)
    going = {c.contact_id for c in plan.contacts_deactivated}
    absent_contacts = [c for c in absent_contacts if c.id not in going]
    plan.absent_units, plan.absent_contacts = len(absent_units), len(absent_contacts)
    plan.absent_names = [f"{c.name} ({now.code(c.unit_id) or 'tanpa unit'})" for c in absent_contacts[:ABSENT_NAMED]]
    plan.leaderless = _leaderless(plan, now)
    return plan


def _state(active: bool) -> str:
    return "aktif" if active else "nonaktif"


def _diff(before: dict[str, str], after: dict[str, str]) -> tuple[Change, ...]:
    return tuple(Change(key, before[key], value) for key, value in after.items() if before[key] != value)


def _contact_fields(contact: DbPerson, now: Current) -> dict[str, str]:
    return {
        "name": contact.name,
        "role": contact.role,
        "unit": now.code(contact.unit_id),
        "nip": contact.nip,
        "title": contact.title,
        "phone": contact.wa_number or "",
        "telegram": contact.telegram_user_id or "",
        "active": _state(contact.active),
    }


def _leaderless(plan: RosterPlan, now: Current) -> list[str]:
    """Units headed now that applying `plan` would leave without their kepala (camat)."""
    kinds = {u.code: (u.kind, u.active) for u in now.units}
    people: dict[object, tuple[str, str, bool]] = {c.id: (now.code(c.unit_id), c.role, c.active) for c in now.contacts}

    def headed() -> set[str]:
        return {
            code
            for code, role, active in people.values()
            if active and code in kinds and kinds[code][1] and role == leader_role(kinds[code][0])
        }

    before = headed()
    kinds |= {u.code: (u.kind, True) for u in plan.units_new + plan.units_updated}
    kinds |= {u.code: (u.kind, False) for u in plan.units_deactivated}
    for c in plan.contacts_updated + plan.contacts_moved:
        people[c.contact_id] = (c.unit, c.role, True)
    for c in plan.contacts_deactivated:
        people[c.contact_id] = (c.unit, c.role, False)
    people |= {("baru", c.line): (c.unit, c.role, True) for c in plan.contacts_new}
    after = headed()
    return [
        f"{code} ({plan.unit_names.get(code, code)}) tidak lagi punya {leader_role(kinds[code][0])}."
        for code in sorted(before - after)
        if kinds[code][1]
    ]


# ----------------------------------------------------------------------------------------------- applying


def apply_plan(session: Session, plan: RosterPlan) -> ImportResult:
    """Write exactly `plan` (from `plan_roster` in the same transaction): nothing is deleted, only deactivated.

    New units and contacts go in `BATCH` rows a statement; changed ones are loaded a batch at a time and updated
    through the session (objects it already holds stay current). The caller commits, or nothing is kept."""
    session.flush()
    connection = session.connection()
    for units in _batches(plan.units_new):
        connection.execute(
            insert(Unit),
            [{"code": u.code, "name": u.name, "kind": u.kind, "aliases": u.aliases, "active": True} for u in units],
        )
    ids: dict[str, int] = {code: uid for code, uid in session.exec(select(Unit.code, Unit.id)) if uid is not None}
    parents = [{"uid": ids[u.code], "pid": ids[u.parent]} for u in plan.units_new if u.parent]
    set_parent = update(Unit).where(col(Unit.id) == bindparam("uid")).values(parent_id=bindparam("pid"))
    for pairs in _batches(parents):
        connection.execute(set_parent, pairs)
    for unit, wanted in _loaded(session, Unit, plan.units_updated, lambda u: u.unit_id):
        unit.name, unit.kind, unit.aliases, unit.active = wanted.name, wanted.kind, wanted.aliases, True
        unit.parent_id = ids[wanted.parent] if wanted.parent else None
    for unit, _ in _loaded(session, Unit, plan.units_deactivated, lambda u: u.unit_id):
        unit.active = False
    now = utcnow()
    for people in _batches(plan.contacts_new):
        rows = [_contact_values(person, ids) | _NEW_CONTACT | {"created_at": now} for person in people]
        for row in rows:
            row["nip"] = row["nip"] or ""
        for row, person in zip(rows, people, strict=True):
            row["preferred_channel"] = "whatsapp" if person.phone and not person.telegram_id else None
        connection.execute(insert(Contact), rows)
    for contact, person in _loaded(session, Contact, plan.contacts_updated + plan.contacts_moved, _contact_id):
        for key, value in _contact_values(person, ids).items():
            if value is not None or key not in ("wa_number", "telegram_user_id", "nip"):
                setattr(contact, key, value)
        contact.active = True
    for contact, _ in _loaded(session, Contact, plan.contacts_deactivated, _contact_id):
        contact.active = False
    session.flush()
    return plan.result()


_NEW_CONTACT = {"language": "id", "active": True, "unreachable_telegram": False, "unreachable_whatsapp": False}
T = TypeVar("T")
M = TypeVar("M", Unit, Contact)


def _batches(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _contact_id(person: ContactChange) -> int | None:
    return person.contact_id


def _loaded(
    session: Session, model: type[M], wanted: Sequence[T], key: Callable[[T], int | None]
) -> Iterator[tuple[M, T]]:
    """Each wanted change with its row, loaded `BATCH` at a time and flushed after each batch."""
    for batch in _batches(wanted):
        found = {row.id: row for row in session.exec(select(model).where(col(model.id).in_([key(w) for w in batch])))}
        for item in batch:
            row = found.get(key(item))
            if row is None:
                line = item.line if isinstance(item, ContactChange) else 0
                raise RosterError([RowProblem(line, "contact_name", "data ini baru saja dihapus; ulangi impor")])
            yield row, item
            session.add(row)
        session.flush()


def _contact_values(person: ContactChange, ids: dict[str, int]) -> dict[str, Any]:
    return {
        "name": person.name,
        "role": person.role,
        "unit_id": ids[person.unit],
        "nip": person.nip,
        "title": person.title,
        "wa_number": person.phone,
        "telegram_user_id": person.telegram_id,
    }


def import_roster(
    session: Session, path: Path, *, prune: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Plan and apply at once (the sample roster, `--if-empty`, tests); `RosterError` lists every problem."""
    return apply_plan(session, plan_roster(session, stream_rows(path, progress), prune=prune))
