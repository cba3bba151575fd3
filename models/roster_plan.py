"""What a roster import changes: units and contacts new, updated, moved, deactivated, person by person.

`models.roster.plan_roster` computes a `RosterPlan`, `describe()` shows it in Indonesian, `apply_plan` writes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from models.tables import Role


@dataclass(frozen=True, slots=True)
class Change:
    """One field that changes: its key (name, role, unit, phone...), old and new value; `describe` words it."""

    key: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class UnitChange:
    """A unit as the file wants it, and what changes (nothing listed for a new unit)."""

    code: str
    name: str
    kind: str
    aliases: str
    parent: str
    unit_id: int | None = None
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactChange:
    """A person as the file wants them (line: where), and what changes; `old_unit`/`old_role` before a move."""

    line: int
    name: str
    role: str
    unit: str
    phone: str | None
    telegram_id: str | None
    nip: str | None
    """None: the file's NIP is not used (`nip_cut`) and the stored one is kept."""
    title: str
    contact_id: int | None = None
    changes: tuple[Change, ...] = ()
    old_unit: str = ""
    old_role: str = ""
    nip_cut: str = ""
    """The NIP as read from a spreadsheet number cell of more than 15 digits: Excel already cut it, so it is refused."""


@dataclass
class ImportResult:
    """What an import changed."""

    units_created: int = 0
    units_updated: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    unchanged: int = 0
    contacts_moved: int = 0
    units_deactivated: int = 0
    contacts_deactivated: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) written."""
        return any(
            (
                self.units_created,
                self.units_updated,
                self.units_deactivated,
                self.contacts_created,
                self.contacts_updated,
                self.contacts_moved,
                self.contacts_deactivated,
            )
        )

    def summary(self) -> str:
        """One line: the counts."""
        if not self.changed:
            return f"Tidak ada perubahan ({self.unchanged} data unit dan kontak sudah sesuai)."
        units = f"Unit: {self.units_created} baru, {self.units_updated} diperbarui"
        contacts = f"Kontak: {self.contacts_created} baru, {self.contacts_updated} diperbarui"
        if self.contacts_moved:
            contacts += f", {self.contacts_moved} dipindah"
        if self.units_deactivated:
            units += f", {self.units_deactivated} dinonaktifkan"
        if self.contacts_deactivated:
            contacts += f", {self.contacts_deactivated} dinonaktifkan"
        return f"{units}. {contacts}."


@dataclass
class RosterPlan:
    """What importing a roster file would change; computed by `plan_roster`, written by `apply_plan`."""

    prune: bool = False
    units_new: list[UnitChange] = field(default_factory=list)
    units_updated: list[UnitChange] = field(default_factory=list)
    units_deactivated: list[UnitChange] = field(default_factory=list)
    contacts_new: list[ContactChange] = field(default_factory=list)
    contacts_updated: list[ContactChange] = field(default_factory=list)
    contacts_moved: list[ContactChange] = field(default_factory=list)
    contacts_deactivated: list[ContactChange] = field(default_factory=list)
    leaderless: list[str] = field(default_factory=list)
    """Units that have a kepala (a kecamatan: a camat) now and would have none after."""
    notes: list[str] = field(default_factory=list)
    """What the file says that is not taken, and why (a NIP cut short in a spreadsheet number cell)."""
    absent_units: int = 0
    absent_contacts: int = 0
    """Active units and contacts the file does not list (deactivated only with `prune`)."""
    absent_names: list[str] = field(default_factory=list)
    """The first of those contacts, by name and unit, for the preview."""
    unchanged: int = 0
    unit_names: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether applying would write anything."""
        return self.result().changed

    @property
    def fingerprint(self) -> str:
        """A short digest of exactly this plan: the same file over the same data gives the same one. Hashed entry
        by entry, so a plan of 100,000 people is not copied to compute it."""
        digest = hashlib.sha256()
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            entries = value if isinstance(value, list) else [value]
            digest.update(f"{item.name}:{len(entries)}\n".encode())
            for entry in entries:
                plain = dataclasses.astuple(entry) if isinstance(entry, UnitChange | ContactChange) else entry
                digest.update(json.dumps(plain, sort_keys=True, ensure_ascii=False, default=str).encode() + b"\n")
        return digest.hexdigest()[:16]

    def result(self) -> ImportResult:
        """The plan's counts."""
        return ImportResult(
            units_created=len(self.units_new),
            units_updated=len(self.units_updated),
            contacts_created=len(self.contacts_new),
            contacts_updated=len(self.contacts_updated),
            unchanged=self.unchanged,
            contacts_moved=len(self.contacts_moved),
            units_deactivated=len(self.units_deactivated),
            contacts_deactivated=len(self.contacts_deactivated),
        )

    def audit_counts(self) -> dict[str, int]:
        """The plan's counts as the audit log keeps them (the chat's and the command line's imports alike)."""
        result = self.result()
        return {
            "unit_baru": result.units_created,
            "unit_diperbarui": result.units_updated,
            "unit_nonaktif": result.units_deactivated,
            "kontak_baru": result.contacts_created,
            "kontak_diperbarui": result.contacts_updated,
            "kontak_dipindah": result.contacts_moved,
            "kontak_nonaktif": result.contacts_deactivated,
        }

    def describe(self, limit: int | None = None, *, prune_option: str = "--prune") -> str:
        """The plan in Indonesian, person by person (at most `limit` lines a section); `prune_option` names how
        units and contacts missing from the file would be deactivated."""
        lines: list[str] = []
        if not self.changed:
            lines.append(f"Tidak ada perubahan: {self.unchanged} data unit dan kontak di berkas sudah sesuai.")

        def section(title: str, entries: list[str]) -> None:
            if not entries:
                return
            lines.append(f"{title} ({len(entries)}):")
            shown = entries if limit is None else entries[:limit]
            lines.extend(f"  {entry}" for entry in shown)
            if len(entries) > len(shown):
                lines.append(f"  … dan {len(entries) - len(shown)} lainnya")

        section("Unit baru", [f"+ {u.code} {u.name} ({u.kind}{self._under(u)})" for u in self.units_new])
        section("Unit diperbarui", [f"~ {u.code} {u.name}: {_changes(u.changes)}" for u in self.units_updated])
        section("Unit dinonaktifkan", [f"- {u.code} {u.name}" for u in self.units_deactivated])
        section("Kontak baru", [f"+ {c.name}, {self._post(c.role, c.unit)}{_reach(c)}" for c in self.contacts_new])
        section("Kontak dipindah", [self._move(c) for c in self.contacts_moved])
        section("Kontak diperbarui", [f"~ {c.name} ({c.unit}): {_changes(c.changes)}" for c in self.contacts_updated])
        section(
            "Kontak dinonaktifkan", [f"- {c.name}, {self._post(c.role, c.unit)}" for c in self.contacts_deactivated]
        )
        if self.leaderless or self.notes:
            lines.append("Perhatian:")
            lines.extend(f"  ! {text}" for text in self.leaderless + self.notes)
        if not self.prune and (self.absent_units or self.absent_contacts):
            lines.append(
                f"Tidak ada di berkas: {self.absent_units} unit dan {self.absent_contacts} kontak; tetap aktif "
                f"(dengan {prune_option} mereka dinonaktifkan, riwayatnya tetap tersimpan)."
            )
            if self.absent_names:
                more = self.absent_contacts - len(self.absent_names)
                lines.append(
                    f"  Kontak itu: {', '.join(self.absent_names)}{f' dan {more} lainnya' if more > 0 else ''}."
                )
        return "\n".join(lines)

    def _under(self, unit: UnitChange) -> str:
        return f", di bawah {unit.parent}" if unit.parent else ""

    def _post(self, role: str, code: str) -> str:
        return f"{role} {self.unit_names.get(code, code)} ({code})" if code else role

    def _move(self, c: ContactChange) -> str:
        rest = [x for x in c.changes if x.key not in ("unit", "role")]
        tail = f"; {_changes(tuple(rest))}" if rest else ""
        return f"→ {c.name}: {self._post(c.old_role, c.old_unit)} → {self._post(c.role, c.unit)}{tail}"


_LABELS = {
    "name": "nama",
    "kind": "jenis",
    "aliases": "alias",
    "parent": "induk",
    "active": "status",
    "role": "peran",
    "unit": "unit",
    "nip": "NIP",
    "title": "jabatan",
    "phone": "HP",
    "telegram": "Telegram",
}


def _changes(changes: tuple[Change, ...]) -> str:
    return "; ".join(f"{_LABELS[c.key]} “{c.old or '-'}” → “{c.new or '-'}”" for c in changes)


def _reach(c: ContactChange) -> str:
    return "".join(f", {label} {value}" for label, value in (("HP", c.phone), ("Telegram", c.telegram_id)) if value)


def leader_role(kind: str) -> str:
    """Who heads a unit of `kind`: the camat of a kecamatan, the kepala of anything else."""
    return Role.CAMAT.value if kind == "kecamatan" else Role.KEPALA.value


def nip_cut_note(person: ContactChange, stored: str) -> str:
    """Why the NIP of `person`'s row is not used, and what stays stored instead."""
    kept = f"NIP yang tersimpan ({stored}) tidak diubah." if stored else "NIP-nya dibiarkan kosong."
    return (
        f"NIP di baris {person.line} ({person.name}) tersimpan sebagai angka sehingga terpotong (terbaca "
        f"“{person.nip_cut}”); format kolom NIP sebagai Teks lalu isi ulang. {kept}"
    )
