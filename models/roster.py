"""Roster import (CSV, XLSX) as a reviewed change.

`read_rows`/`read_bytes` read the file (spreadsheet cells as they were typed), `plan_roster` checks every row
against the file and the database and returns the `RosterPlan`: units and contacts new, updated, moved, deactivated,
person by person (`describe()` says it in Indonesian). `apply_plan` writes exactly that plan. A file with any problem
raises `RosterError` with every problem's line and column, and nothing is written.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from models.phone import PhoneError, normalize_mobile
from models.roster_plan import Change, ContactChange, ImportResult, RosterPlan, UnitChange, leader_role
from models.tables import UNIT_KINDS, Contact, Role, Unit

__all__ = [
    "COLUMNS",
    "ImportResult",
    "RosterError",
    "RosterPlan",
    "RowProblem",
    "Rows",
    "apply_plan",
    "import_roster",
    "plan_roster",
    "read_bytes",
    "read_rows",
]

COLUMNS = (
    "unit_code",
    "unit_name",
    "unit_kind",
    "parent_code",
    "aliases",
    "contact_name",
    "role",
    "phone",
    "telegram_id",
    "nip",
    "jabatan",
)
REQUIRED = ("unit_code", "unit_name", "unit_kind")
NUMBER_CELLS = "_angka"
"""Row key listing the phone/nip/telegram_id cells a spreadsheet held as numbers (comma-separated column names)."""
NIP_DIGITS = 18
EXCEL_DIGITS = 15
"""Significant digits a spreadsheet number keeps (Excel turns 198001012005011234 into 198001012005011000)."""
_DIGIT_COLUMNS = ("phone", "telegram_id", "nip")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9\-_.]{1,31}$")
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9\-_.]{1,30}$")
_SCIENTIFIC = re.compile(r"^[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+$")
_TITLES = frozenset({"h", "hj", "dr", "drs", "dra", "ir", "prof", "kh"})

Rows = list[tuple[int, dict[str, str]]]
"""(line number, row) pairs; the header is line 1."""


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong in the file, where a person can find it."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"baris {self.line}, kolom {self.column}: {self.reason}" if self.line > 0 else self.reason


class RosterError(Exception):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} masalah di berkas roster")
        self.problems = problems


# ------------------------------------------------------------------------------------------------- reading


def read_rows(path: Path) -> Rows:
    """The rows of a CSV or XLSX file on disk."""
    return read_bytes(path.name, path.read_bytes())


def read_bytes(name: str, content: bytes) -> Rows:
    """The rows of a CSV or XLSX file's content; `name` (its file name) decides how it is read."""
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _xlsx_table(content)
    elif suffix in (".csv", ".txt"):
        table = _csv_table(content)
    else:
        raise RosterError(
            [RowProblem(0, "-", f"Jenis berkas {suffix or '(tanpa akhiran)'} tidak didukung; pakai .xlsx atau .csv.")]
        )
    if not table:
        raise RosterError([RowProblem(1, "-", "berkas kosong")])
    header = [_text(h).lower() for h in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RosterError([RowProblem(1, c, "kolom wajib tidak ada di baris judul") for c in missing])
    rows: Rows = []
    for line, values in enumerate(table[1:], start=2):
        row: dict[str, str] = {}
        numbers: list[str] = []
        for column, value in zip(header, values, strict=False):
            if column not in COLUMNS or column in row:
                continue
            row[column] = _cell(column, value)
            if column in _DIGIT_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
                numbers.append(column)
        if any(row.values()):
            if numbers:
                row[NUMBER_CELLS] = ",".join(numbers)
            rows.append((line, row))
    return rows


def _xlsx_table(content: bytes) -> list[list[object]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
        finally:
            workbook.close()
    except Exception as exc:  # a damaged or disguised file: openpyxl raises many kinds
        raise RosterError(
            [
                RowProblem(
                    0, "-", "Berkas .xlsx tidak dapat dibaca. Simpan ulang dari Excel sebagai .xlsx, lalu kirim lagi."
                )
            ]
        ) from exc


def _csv_table(content: bytes) -> list[list[object]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")  # Excel's "CSV" on Windows
    if "\x00" in text:
        raise RosterError(
            [RowProblem(0, "-", "Berkas .csv tidak dapat dibaca (bukan teks). Simpan ulang sebagai CSV.")]
        )
    lines = text.splitlines()
    try:
        dialect: type[csv.Dialect] | csv.Dialect = (
            csv.Sniffer().sniff(lines[0], delimiters=",;\t") if lines else csv.excel
        )
    except csv.Error:
        dialect = csv.excel
    return [list(row) for row in csv.reader(io.StringIO(text), dialect)]


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _cell(column: str, value: object) -> str:
    """A cell as its text; numbers in phone/NIP/Telegram columns as their digits (Excel drops a phone's 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, datetime | date | time):
            return value.isoformat()
        return _text(value)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return repr(value)
        shortest = Decimal(repr(value))
        if len(shortest.normalize().as_tuple().digits) > EXCEL_DIGITS:
            return repr(value)  # more digits than a spreadsheet number holds: some of them are wrong
        digits = format(shortest, "f")  # 1.98001012005011e+17 -> '198001012005011000', as Excel shows it
    else:
        digits = str(value)
    if column == "phone" and digits.startswith("8"):
        digits = "0" + digits
    return digits


# ------------------------------------------------------------------------------------------------ checking


@dataclass
class _UnitRow:
    line: int
    code: str
    name: str
    kind: str
    parent: str
    aliases: str


def _name_key(name: str) -> str:
    words = [w.strip(".").casefold() for w in name.split(",")[0].split()]
    return " ".join(w for w in words if w and w not in _TITLES)


def same_person(a: str, b: str) -> bool:
    """Whether two spellings name the same person: titles and degrees aside, equal, or a small typo fix."""
    ka, kb = _name_key(a), _name_key(b)
    if ka == kb or set(ka.split()) <= set(kb.split()) or set(kb.split()) <= set(ka.split()):
        return bool(ka and kb)
    same_first = ka.split()[:1] == kb.split()[:1]
    return same_first and SequenceMatcher(None, ka, kb).ratio() >= 0.85


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


def _read_units_and_contacts(
    rows: Rows, problems: list[RowProblem], notes: list[RowProblem]
) -> tuple[dict[str, _UnitRow], list[ContactChange]]:
    units: dict[str, _UnitRow] = {}
    contacts: list[ContactChange] = []
    phones: dict[str, int] = {}
    telegram_ids: dict[str, int] = {}
    named: dict[tuple[str, str], tuple[int, bool]] = {}
    roles = [r.value for r in Role]
    for line, row in rows:
        code = row.get("unit_code", "").strip().upper()
        name = " ".join(row.get("unit_name", "").split())
        kind = row.get("unit_kind", "").strip().lower()
        parent = row.get("parent_code", "").strip().upper()
        aliases = ",".join(a.strip().lower() for a in row.get("aliases", "").split(",") if a.strip())
        bad = len(problems)
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
                units[code] = _UnitRow(line, code, name, kind, parent, aliases)
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
        if role not in roles:
            problems.append(RowProblem(line, "role", f"“{role}” tidak dikenal; pilihan: {', '.join(roles)}"))
        elif role == Role.CAMAT and kind != "kecamatan":
            problems.append(RowProblem(line, "role", "peran camat hanya untuk unit kecamatan"))
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
        if nip and (problem := _digits_problem(line, "nip", nip)):
            problems.append(problem)
        elif nip and (len(nip) != NIP_DIGITS or not nip.isascii() or not nip.isdigit()):
            problems.append(
                RowProblem(line, "nip", f"NIP harus {NIP_DIGITS} angka, tertulis “{nip}”{_as_text_hint('nip', row)}")
            )
        elif nip and _as_text_hint("nip", row):
            notes.append(
                RowProblem(
                    line,
                    "nip",
                    f"{contact_name}: NIP {nip} terbaca dari sel angka, dan Excel hanya menyimpan {EXCEL_DIGITS} "
                    "angka; periksa angka terakhirnya (lebih aman: format kolom nip sebagai Teks)",
                )
            )
        identified = bool(phone_text or telegram_text)
        twin = named.setdefault((_name_key(contact_name), code), (line, identified))
        if twin[0] != line and not (identified and twin[1]):
            problems.append(
                RowProblem(
                    line,
                    "contact_name",
                    f"nama dan unit sama dengan baris {twin[0]}; bila memang dua orang, isi nomor HP masing-masing",
                )
            )
        title = " ".join(row.get("jabatan", "").split())
        contacts.append(ContactChange(line, contact_name, role, code, phone, telegram_text or None, nip, title))
    return units, contacts


class _Current:
    """The database's units and contacts, looked up every way the plan needs."""

    def __init__(self, session: Session) -> None:
        self.units = list(session.exec(select(Unit)).all())
        self.contacts = list(session.exec(select(Contact)).all())
        self.unit_by_code = {u.code: u for u in self.units}
        self.code_by_id = {u.id: u.code for u in self.units}
        self.by_phone = {c.wa_number: c for c in self.contacts if c.wa_number}
        self.by_telegram = {c.telegram_user_id: c for c in self.contacts if c.telegram_user_id}
        self.by_name = {(_name_key(c.name), c.unit_id): c for c in self.contacts}

    def code(self, unit_id: int | None) -> str:
        return self.code_by_id.get(unit_id, "") if unit_id is not None else ""

    def who(self, contact: Contact) -> str:
        state = "" if contact.active else ", nonaktif"
        return f"{contact.name} ({self.code(contact.unit_id) or 'tanpa unit'}{state})"


def _check_aliases(units: dict[str, _UnitRow], now: _Current, prune: bool, problems: list[RowProblem]) -> None:
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


def _match(rows: list[ContactChange], now: _Current, problems: list[RowProblem]) -> dict[int, Contact]:
    """The existing contact each row is about (by phone, Telegram id, or name in the same unit), keyed by line."""
    matched: dict[int, Contact] = {}
    claimed: dict[int | None, int] = {}
    for row in rows:
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
        if holder is not None and not same_person(holder.name, row.name):
            column, value = ("phone", row.phone) if holder is by_phone else ("telegram_id", row.telegram_id)
            problems.append(
                RowProblem(
                    row.line,
                    column,
                    f"{value} sudah dipakai {now.who(holder)}; satu nomor hanya untuk satu orang, periksa lagi",
                )
            )
            continue
        unit = now.unit_by_code.get(row.unit)
        contact = holder or (now.by_name.get((_name_key(row.name), unit.id)) if unit is not None else None)
        if contact is None:
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
    return matched


# ---------------------------------------------------------------------------------------------- planning


def plan_roster(session: Session, rows: Rows, *, prune: bool = False) -> RosterPlan:
    """Check every row against the file and the database; what importing would change. Reads only."""
    problems: list[RowProblem] = []
    notes: list[RowProblem] = []
    units, rows_of_people = _read_units_and_contacts(rows, problems, notes)
    now = _Current(session)
    _check_aliases(units, now, prune, problems)
    matched = _match(rows_of_people, now, problems)
    if problems:
        order = {c: i for i, c in enumerate(COLUMNS)}
        raise RosterError(sorted(problems, key=lambda p: (p.line, order.get(p.column, 99))))
    plan = RosterPlan(prune=prune, notes=[str(note) for note in notes])
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
        if contact is None:
            plan.contacts_new.append(person)
            continue
        before = _contact_fields(contact, now)
        after = {
            "name": person.name,
            "role": person.role,
            "unit": person.unit,
            "nip": person.nip,
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
    plan.absent_units, plan.absent_contacts = len(absent_units), len(absent_contacts)
    if prune:
        plan.units_deactivated = [
            UnitChange(u.code, u.name, u.kind, u.aliases, now.code(u.parent_id), u.id) for u in absent_units
        ]
        plan.contacts_deactivated = [
            ContactChange(0, c.name, c.role, now.code(c.unit_id), None, None, c.nip, c.title, c.id)
            for c in absent_contacts
        ]
    plan.leaderless = _leaderless(plan, now)
    return plan


def _state(active: bool) -> str:
    return "aktif" if active else "nonaktif"


def _diff(before: dict[str, str], after: dict[str, str]) -> tuple[Change, ...]:
    return tuple(Change(key, before[key], value) for key, value in after.items() if before[key] != value)


def _contact_fields(contact: Contact, now: _Current) -> dict[str, str]:
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


def _leaderless(plan: RosterPlan, now: _Current) -> list[str]:
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
    """Write exactly `plan` (from `plan_roster` in the same transaction): nothing is deleted, only deactivated."""
    by_code = {u.code: u for u in session.exec(select(Unit)).all()}
    for wanted in plan.units_new:
        by_code[wanted.code] = Unit(code=wanted.code, name=wanted.name, kind=wanted.kind, aliases=wanted.aliases)
        session.add(by_code[wanted.code])
    for wanted in plan.units_updated:
        unit = by_code[wanted.code]
        unit.name, unit.kind, unit.aliases, unit.active = wanted.name, wanted.kind, wanted.aliases, True
        session.add(unit)
    session.flush()
    for wanted in plan.units_new + plan.units_updated:
        by_code[wanted.code].parent_id = by_code[wanted.parent].id if wanted.parent else None
    for wanted in plan.units_deactivated:
        by_code[wanted.code].active = False
        session.add(by_code[wanted.code])
    for person in plan.contacts_new:
        channel = "whatsapp" if person.phone and not person.telegram_id else None
        session.add(Contact(preferred_channel=channel, **_contact_values(person, by_code)))
    for person in plan.contacts_updated + plan.contacts_moved:
        contact = session.get(Contact, person.contact_id)
        if contact is None:
            raise RosterError([RowProblem(person.line, "contact_name", "kontak ini baru saja dihapus; ulangi impor")])
        values = _contact_values(person, by_code)
        for key, value in values.items():
            if value is not None or key not in ("wa_number", "telegram_user_id"):
                setattr(contact, key, value)
        contact.active = True
        session.add(contact)
    for person in plan.contacts_deactivated:
        gone = session.get(Contact, person.contact_id)
        if gone is not None:
            gone.active = False
            session.add(gone)
    session.flush()
    return plan.result()


def _contact_values(person: ContactChange, by_code: dict[str, Unit]) -> dict[str, Any]:
    return {
        "name": person.name,
        "role": person.role,
        "unit_id": by_code[person.unit].id,
        "nip": person.nip,
        "title": person.title,
        "wa_number": person.phone,
        "telegram_user_id": person.telegram_id,
    }


def import_roster(session: Session, path: Path, *, prune: bool = False) -> ImportResult:
    """Plan and apply at once (the sample roster, `--if-empty`, tests); `RosterError` lists every problem."""
    return apply_plan(session, plan_roster(session, read_rows(path), prune=prune))
