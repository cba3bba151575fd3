"""Roster import (CSV, XLSX): every bad row reported; nothing written unless the whole file is good."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from models.phone import PhoneError, normalize_phone
from models.tables import UNIT_KINDS, Contact, Role, Unit

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
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9\-_.]{1,31}$")
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9\-_.]{1,30}$")


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong in the file, where a person can find it."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"baris {self.line}, kolom {self.column}: {self.reason}"


class RosterError(Exception):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} masalah di berkas roster")
        self.problems = problems


@dataclass
class ImportResult:
    """What an import changed."""

    units_created: int = 0
    units_updated: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return any((self.units_created, self.units_updated, self.contacts_created, self.contacts_updated))

    def summary(self) -> str:
        """One line for the command line."""
        if not self.changed:
            return f"Tidak ada perubahan ({self.unchanged} data unit dan kontak sudah sesuai)."
        return (
            f"Unit: {self.units_created} baru, {self.units_updated} diperbarui. "
            f"Kontak: {self.contacts_created} baru, {self.contacts_updated} diperbarui."
        )


@dataclass
class _UnitRow:
    line: int
    code: str
    name: str
    kind: str
    parent: str
    aliases: str


@dataclass
class _ContactRow:
    line: int
    unit_code: str
    name: str
    role: str
    phone: str | None
    telegram_id: str | None
    nip: str
    title: str


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs from a CSV or XLSX file, header on line 1."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = [["" if v is None else str(v).strip() for v in row] for row in sheet.iter_rows(values_only=True)]
        workbook.close()
    elif suffix in (".csv", ".txt"):
        text = path.read_text(encoding="utf-8-sig")
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t") if text.strip() else csv.excel
        rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]
    else:
        raise RosterError(
            [RowProblem(0, "-", f"jenis berkas {suffix or '(tanpa akhiran)'} tidak didukung; pakai .csv atau .xlsx")]
        )
    if not rows:
        raise RosterError([RowProblem(1, "-", "berkas kosong")])
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RosterError([RowProblem(1, c, "kolom wajib tidak ada di baris judul") for c in missing])
    result = []
    for index, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        result.append((index, {h: (row[i] if i < len(row) else "") for i, h in enumerate(header) if h}))
    return result


def _validate(
    rows: list[tuple[int, dict[str, str]]], session: Session
) -> tuple[dict[str, _UnitRow], list[_ContactRow]]:
    problems: list[RowProblem] = []
    units: dict[str, _UnitRow] = {}
    contacts: list[_ContactRow] = []
    phones: dict[str, int] = {}
    telegram_ids: dict[str, int] = {}
    known_codes = {u.code for u in session.exec(select(Unit)).all()}
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
        role_text = row.get("role", "").strip().lower()
        phone_text = row.get("phone", "").strip()
        telegram_text = row.get("telegram_id", "").strip()
        if not contact_name:
            if role_text or phone_text or telegram_text:
                problems.append(RowProblem(line, "contact_name", "wajib diisi bila peran/nomor diisi"))
            continue
        if role_text not in {r.value for r in Role}:
            problems.append(
                RowProblem(line, "role", f"“{role_text}” tidak dikenal; pilihan: {', '.join(r.value for r in Role)}")
            )
        elif role_text == Role.CAMAT and kind != "kecamatan":
            problems.append(RowProblem(line, "role", "peran camat hanya untuk unit kecamatan"))
        phone: str | None = None
        if phone_text:
            try:
                phone = normalize_phone(phone_text)
            except PhoneError as exc:
                problems.append(RowProblem(line, "phone", f"“{phone_text}”: {exc}"))
            else:
                if phone in phones:
                    problems.append(RowProblem(line, "phone", f"nomor sama dengan baris {phones[phone]}"))
                phones.setdefault(phone, line)
        if telegram_text:
            if not telegram_text.isdigit():
                problems.append(RowProblem(line, "telegram_id", "harus berupa angka (id pengguna Telegram)"))
            elif telegram_text in telegram_ids:
                problems.append(RowProblem(line, "telegram_id", f"sama dengan baris {telegram_ids[telegram_text]}"))
            telegram_ids.setdefault(telegram_text, line)
        contacts.append(
            _ContactRow(
                line,
                code,
                contact_name,
                role_text,
                phone,
                telegram_text or None,
                row.get("nip", "").replace(" ", ""),
                " ".join(row.get("jabatan", "").split()),
            )
        )
    for unit in units.values():
        if unit.parent and unit.parent not in units and unit.parent not in known_codes:
            problems.append(
                RowProblem(unit.line, "parent_code", f"unit induk {unit.parent} tidak ada di berkas maupun basis data")
            )
    if problems:
        raise RosterError(
            sorted(problems, key=lambda p: (p.line, COLUMNS.index(p.column) if p.column in COLUMNS else 99))
        )
    return units, contacts


def import_roster(session: Session, path: Path) -> ImportResult:
    """Validate the whole file, then upsert units (by code) and contacts (by phone, Telegram id, or name+unit)."""
    units, contacts = _validate(read_rows(path), session)
    result = ImportResult()
    by_code = {u.code: u for u in session.exec(select(Unit)).all()}
    created: set[str] = set()
    for row in units.values():
        unit = by_code.get(row.code)
        if unit is None:
            unit = Unit(code=row.code, name=row.name, kind=row.kind, aliases=row.aliases)
            session.add(unit)
            by_code[row.code] = unit
            created.add(row.code)
            result.units_created += 1
        elif (unit.name, unit.kind, unit.aliases, unit.active) != (row.name, row.kind, row.aliases, True):
            unit.name, unit.kind, unit.aliases, unit.active = row.name, row.kind, row.aliases, True
            session.add(unit)
            result.units_updated += 1
        else:
            result.unchanged += 1
    session.flush()
    for row in units.values():
        unit = by_code[row.code]
        parent_id = by_code[row.parent].id if row.parent else None
        if unit.parent_id != parent_id:
            unit.parent_id = parent_id
            session.add(unit)
            if row.code not in created:
                result.units_updated += 1
    existing = session.exec(select(Contact)).all()
    by_phone = {c.wa_number: c for c in existing if c.wa_number}
    by_telegram = {c.telegram_user_id: c for c in existing if c.telegram_user_id}
    by_name = {(c.name.lower(), c.unit_id): c for c in existing}
    for crow in contacts:
        unit = by_code[crow.unit_code]
        contact = (
            (by_phone.get(crow.phone) if crow.phone else None)
            or (by_telegram.get(crow.telegram_id) if crow.telegram_id else None)
            or by_name.get((crow.name.lower(), unit.id))
        )
        wanted = {
            "name": crow.name,
            "role": crow.role,
            "unit_id": unit.id,
            "nip": crow.nip,
            "title": crow.title,
            "wa_number": crow.phone,
            "telegram_user_id": crow.telegram_id,
        }
        if contact is None:
            contact = Contact.model_validate(
                wanted | {"preferred_channel": "whatsapp" if crow.phone and not crow.telegram_id else None}
            )
            session.add(contact)
            result.contacts_created += 1
        else:
            if crow.phone is None:
                wanted.pop("wa_number")
            if crow.telegram_id is None:
                wanted.pop("telegram_user_id")
            if all(getattr(contact, k) == v for k, v in wanted.items()):
                result.unchanged += 1
                continue
            for key, value in wanted.items():
                setattr(contact, key, value)
            session.add(contact)
            result.contacts_updated += 1
    session.flush()
    return result
