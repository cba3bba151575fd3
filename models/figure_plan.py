"""What an import of figures changes, per unit and program, before anything is written.

`plan_figures` matches the export's satkers to units (a confirmed `SatkerMap` by code or name, else a unit whose
name is the same once the Pemda's own name is left off), computes katalog (distinct products, or the sum of
jml_jenis_produk) and P3DN (spend with small businesses ÷ all spend, realised or planned as the Pemda file says),
and compares each figure with the one counting now and with the last import. `FigurePlan.describe` words the
preview: old → new, newly compliant, figures recorded that a newer chat report still outranks, satkers nobody has
mapped (with the closest unit). `apply_figures` writes exactly the figures that change: reports with source "impor",
verified, dated by the export (`observed_at`), and one `FigureImport` with the snapshot. Importing the same data
again writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from models.figure_read import Export, SatkerFigures
from models.fmt import angka, persen, tanggal_pendek
from models.pemda import PemdaConfig, ProgramConfig
from models.periods import period_key
from models.satkers import Unmatched, match_satkers
from models.standing import load_standings
from models.tables import FigureImport, Report, ReportSource, Unit, Verification

KATALOG = "katalog"
P3DN = "p3dn"
CHANNEL = "impor"
"""`Report.channel` of an imported figure (/riwayat shows it as "impor")."""
KIND_WORDS = {"epurchasing": "paket e-purchasing (realisasi belanja)", "rup": "paket RUP (rencana belanja)"}
Outcome = Literal["tulis", "sama", "lama"]
"""A figure is written, the same as the last import (nothing to write), or older than the last import (skipped)."""
MapHint = Callable[[str, str | None], str]
"""How to map a satker (its label, the suggested unit's code or None), in the words of the CLI or the chat."""


@dataclass(frozen=True)
class FigureChange:
    """One unit's figure on one program: the one computed from the export against what counts now."""

    unit_id: int
    unit_code: str
    unit_name: str
    program: ProgramConfig
    period: str
    value: float
    old: float | None
    """The figure counting now (any source), None when the unit has none."""
    old_at: datetime | None
    last_import: float | None
    outcome: Outcome
    wins: bool
    """Whether the imported figure is at least as recent as the one counting now (so it counts once written)."""

    @property
    def written(self) -> bool:
        """Whether applying the plan records this figure."""
        return self.outcome == "tulis"

    @property
    def standing_changed(self) -> bool:
        """Whether the figure that counts for the unit changes."""
        return self.written and self.wins and self.old != self.value

    @property
    def newly_compliant(self) -> bool:
        """Whether the unit meets the program's target because of this figure."""
        target = self.program.target
        return self.standing_changed and self.value >= target and (self.old is None or self.old < target)


@dataclass
class FigurePlan:
    """What importing an export would change; nothing is written until `apply_figures`."""

    source: str
    as_of: datetime
    day: date
    zone: ZoneInfo
    export: Export
    spend: str
    changes: list[FigureChange] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    ignored: list[Unmatched] = field(default_factory=list)
    """Satkers an admin marked as not a unit of ours."""
    automatic: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    previous: tuple[int, datetime] | None = None
    """An earlier import of the same data: its id and when it was imported."""

    @property
    def writes(self) -> list[FigureChange]:
        """The figures applying the plan records."""
        return [c for c in self.changes if c.written]

    @property
    def changed(self) -> bool:
        """Whether applying the plan writes anything."""
        return bool(self.writes)

    @property
    def matched_rows(self) -> int:
        """Rows of satkers that map to a unit."""
        left_out = {u.key for u in (*self.unmatched, *self.ignored)}
        return sum(s.rows for s in self.export.satkers.values() if s.key not in left_out)

    @property
    def fingerprint(self) -> str:
        """Short hash of what the plan writes and leaves out: 'Terapkan' applies only the plan that was shown."""
        shape = [
            self.export.sha256,
            self.as_of.isoformat(),
            self.source,
            sorted((c.unit_id, c.program.key, c.period, c.value) for c in self.writes),
            sorted(u.key for u in self.unmatched),
            sorted(u.key for u in self.ignored),
        ]
        return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]

    def method(self) -> str:
        """How the figures were computed, in one line."""
        columns = self.export.columns
        parts = []
        if self.export.counting == "produk":
            parts.append(f"katalog = jumlah produk berbeda ({columns['produk']}) per unit")
        elif self.export.counting == "jumlah":
            parts.append(f"katalog = jumlah {columns['jumlah_produk']} per paket, dijumlah per unit")
        if any(c.program.key == P3DN for c in self.changes) or self.spend_matches():
            money = columns.get("belanja") or columns.get("pagu", "")
            flag = columns.get("penyedia_ukm") or columns.get("status_ukm") or "UKM"
            parts.append(f"P3DN = {money} ke penyedia UKM ({flag}) ÷ seluruh {money} per unit")
        return "; ".join(parts) + "." if parts else ""

    def spend_matches(self) -> bool:
        """Whether this export's spend is the one P3DN is computed from (realised or planned)."""
        return (self.export.kind == "epurchasing") == (self.spend == "realisasi")

    def describe(self, hint: MapHint, limit: int | None = None) -> str:
        """The preview: what the import would change, in Indonesian."""
        export = self.export
        lines = [
            f"Impor angka “{self.source}” per {tanggal_pendek(self.day)}: {angka(export.rows)} baris "
            f"{KIND_WORDS[export.kind]}."
        ]
        if self.method():
            lines.append(self.method())
        lines += self._skipped_rows()
        lines += self.notes + export.notes
        moved = _by_unit([c for c in self.writes if c.wins and c.old != c.value])
        kept = [c for c in self.writes if not (c.wins and c.old != c.value)]
        if moved:
            lines.append(f"Berubah ({len(moved)} unit, lama → baru):")
            lines += _limited([f"  - {_unit_line(group)}" for group in moved], limit)
        if kept:
            lines.append("Dicatat tanpa mengubah status:")
            lines += _limited([f"  - {self._kept_line(c)}" for c in kept], limit)
        same = sum(1 for c in self.changes if c.outcome == "sama")
        older = sum(1 for c in self.changes if c.outcome == "lama")
        if same:
            lines.append(f"Tidak berubah: {same} angka sama dengan yang sudah tercatat dari impor.")
        if older:
            lines.append(f"Dilewati: {older} angka lebih lama dari impor sebelumnya.")
        lines += self._compliant()
        if self.automatic:
            pairs = ", ".join(f"{label} → {code}" for label, code in self.automatic[: limit or len(self.automatic)])
            more = len(self.automatic) - (limit or len(self.automatic))
            lines.append(
                f"Dicocokkan otomatis karena namanya sama ({len(self.automatic)} satker): {pairs}"
                + (f" dan {more} lainnya." if more > 0 else ".")
            )
        lines += self._unmatched(hint, limit)
        if self.previous is not None:
            number, when = self.previous
            lines.append(
                f"Data yang sama sudah pernah diimpor pada {tanggal_pendek(_local(when, self.zone))} (impor #{number})."
            )
        if not self.changed:
            lines.append("Tidak ada perubahan: semua angka dari ekspor ini sudah tercatat.")
        return "\n".join(lines)

    def outcome(
        self, record: FigureImport | None, hint: MapHint, limit: int | None = None, *, unmatched: bool = True
    ) -> str:
        """What an applied import changed: units whose standing changed, those newly compliant, and (unless not
        `unmatched`) the rows of satkers nobody has mapped."""
        if record is None:
            lines = [f"Impor angka “{self.source}”: tidak ada perubahan; semua angka sudah tercatat."]
        else:
            lines = [
                f"Angka “{self.source}” per {tanggal_pendek(self.day)} diterapkan (impor #{record.id}): "
                f"{len(self.writes)} angka dicatat."
            ]
            moved = _by_unit([c for c in self.writes if c.standing_changed])
            if moved:
                lines.append("Status berubah:")
                lines += _limited([f"  - {_unit_line(group)}" for group in moved], limit)
            else:
                lines.append("Tidak ada status unit yang berubah.")
            lines += self._compliant()
        if unmatched:
            lines += self._unmatched(hint, limit)
        return "\n".join(lines)

    def unmatched_text(self, hint: MapHint, limit: int | None = None) -> str:
        """The satkers nobody has mapped yet and how to map them ('' when there are none)."""
        if not self.unmatched:
            return ""
        return "\n".join([f"Impor angka “{self.source}”:", *self._unmatched(hint, limit)])

    def summary(self) -> str:
        """One line for the import's record."""
        moved = len({c.unit_id for c in self.writes if c.standing_changed})
        fresh = len({c.unit_id for c in self.writes if c.newly_compliant})
        unmatched = sum(u.rows for u in self.unmatched)
        return (
            f"{len(self.writes)} angka dicatat; {moved} unit berubah status; {fresh} unit baru memenuhi target; "
            f"{unmatched} baris belum dikenali"
        )

    def snapshot(self) -> str:
        """The figures computed per unit (changed or not), the satkers left out, and how: JSON."""
        units: dict[str, dict[str, float]] = defaultdict(dict)
        for change in self.changes:
            units[change.unit_code][change.program.key] = change.value
        return json.dumps(
            {
                "sumber": self.source,
                "per": self.as_of.isoformat(),
                "jenis": self.export.kind,
                "katalog": self.export.counting,
                "p3dn": self.spend,
                "kolom": self.export.columns,
                "baris": self.export.rows,
                "unit": dict(sorted(units.items())),
                "belum_dikenali": [{"satker": u.label, "kode": u.code, "baris": u.rows} for u in self.unmatched],
                "diabaikan": [{"satker": u.label, "kode": u.code, "baris": u.rows} for u in self.ignored],
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    def _skipped_rows(self) -> list[str]:
        export = self.export
        parts = [
            f"{export.cancelled} baris paket batal" if export.cancelled else "",
            f"{export.duplicates} baris ganda (paket dan produk sama)" if export.duplicates else "",
            f"{export.other_klpd} baris Pemda lain (kd_klpd)" if export.other_klpd else "",
        ]
        shown = [p for p in parts if p]
        return [f"Dilewati: {', '.join(shown)}."] if shown else []

    def _kept_line(self, change: FigureChange) -> str:
        head = f"{change.unit_code} {change.unit_name}: {change.program.key} {_value(change.program, change.value)}"
        if not change.wins and change.old_at is not None:
            when = tanggal_pendek(_local(change.old_at, self.zone))
            return f"{head} (laporan unit {when}: {_value(change.program, change.old)} lebih baru, tetap berlaku)"
        return f"{head} (sama dengan angka yang berlaku)"

    def _compliant(self) -> list[str]:
        fresh = _by_unit([c for c in self.writes if c.newly_compliant])
        if not fresh:
            return []
        names = ", ".join(f"{g[0].unit_code} ({', '.join(c.program.key for c in g)})" for g in fresh)
        return [f"Baru memenuhi target: {names}"]

    def _unmatched(self, hint: MapHint, limit: int | None) -> list[str]:
        lines: list[str] = []
        if self.unmatched:
            rows = sum(u.rows for u in self.unmatched)
            lines.append(
                f"Satker belum dikenali ({len(self.unmatched)} satker, {angka(rows)} baris belum diimpor). "
                "Petakan sekali; impor berikutnya memakainya:"
            )
            lines += _limited([f"  - {_unmatched_line(u, hint)}" for u in self.unmatched], limit)
        if self.ignored:
            rows = sum(u.rows for u in self.ignored)
            lines.append(f"Diabaikan (bukan unit Pemda): {angka(rows)} baris dari {len(self.ignored)} satker.")
        return lines


def cli_hint(label: str, code: str | None) -> str:
    """'sigap figures map "RSUD SUKAMAKMUR" RSUD': how to map a satker on the command line."""
    quoted = "".join("\\" + ch if ch in '"\\$`' else ch for ch in label)
    if code is None:
        return f'sigap figures map "{quoted}" <KODE_UNIT> (atau --ignore bila bukan unit Pemda)'
    return f'sigap figures map "{quoted}" {code}'


def chat_hint(label: str, code: str | None) -> str:
    """'/angka petakan rsud RSUD SUKAMAKMUR': how an admin maps a satker in chat."""
    if code is None:
        return f"/angka petakan <unit> {label} (atau /angka abaikan {label} bila bukan unit Pemda)"
    return f"/angka petakan {code.lower()} {label}"


def _unmatched_line(item: Unmatched, hint: MapHint) -> str:
    code = f"kode {item.code}, " if item.code and item.code != item.label else ""
    head = f"“{item.label}” ({code}{angka(item.rows)} baris)"
    if item.suggestion is not None:
        unit_code, unit_name = item.suggestion
        return f"{head}, mungkin {unit_code} ({unit_name}): {hint(item.label, unit_code)}"
    return f"{head}: {hint(item.label, None)}"


def _by_unit(changes: Sequence[FigureChange]) -> list[list[FigureChange]]:
    groups: dict[int, list[FigureChange]] = defaultdict(list)
    for change in changes:
        groups[change.unit_id].append(change)
    return sorted(groups.values(), key=lambda g: g[0].unit_code)


def _unit_line(group: Sequence[FigureChange]) -> str:
    parts = []
    for c in group:
        mark = " (baru memenuhi)" if c.newly_compliant else ""
        parts.append(f"{c.program.key} {_value(c.program, c.old)} → {_value(c.program, c.value)}{mark}")
    return f"{group[0].unit_code} {group[0].unit_name}: {' · '.join(parts)}"


def _limited(lines: list[str], limit: int | None) -> list[str]:
    if limit is None or len(lines) <= limit:
        return lines
    return [*lines[:limit], f"  … dan {len(lines) - limit} lainnya"]


def _value(program: ProgramConfig, value: float | None) -> str:
    if value is None:
        return "–"
    return persen(value) if program.measure == "percent" else angka(value)


def _local(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


# --------------------------------------------------------------------------------------------- planning


def figure_programs(pemda: PemdaConfig, export: Export) -> list[ProgramConfig]:
    """The programs this export gives figures for: katalog (a count) from products, P3DN (a percent) from spend
    of the kind the Pemda file names (`[figures] p3dn_spend`)."""
    programs = []
    katalog = pemda.program(KATALOG)
    if katalog is not None and katalog.measure == "count" and export.counting:
        programs.append(katalog)
    p3dn = pemda.program(P3DN)
    realised = pemda.figures.p3dn_spend == "realisasi"
    if p3dn is not None and p3dn.measure == "percent" and (export.kind == "epurchasing") == realised:
        programs.append(p3dn)
    return programs


def plan_figures(
    session: Session, pemda: PemdaConfig, export: Export, *, source: str, as_of: datetime, zone: ZoneInfo
) -> FigurePlan:
    """What importing `export` (the data as of `as_of`) would change; reads the database, writes nothing."""
    day = _local(as_of, zone)
    plan = FigurePlan(source, as_of, day, zone, export, pemda.figures.p3dn_spend)
    units = list(session.exec(select(Unit).where(col(Unit.active).is_(True))).all())
    matching = match_satkers(session, pemda, export, units)
    per_unit = matching.per_unit
    plan.unmatched, plan.ignored, plan.automatic = matching.unmatched, matching.ignored, matching.automatic
    programs = figure_programs(pemda, export)
    if not programs:
        plan.notes.append(_nothing_to_compute(pemda, export))
    previous = session.exec(
        select(FigureImport).where(FigureImport.sha256 == export.sha256).order_by(col(FigureImport.id).desc())
    ).first()
    if previous is not None and previous.id is not None:
        plan.previous = (previous.id, previous.imported_at)
    if not per_unit or not programs:
        return plan
    matched = [u for u in units if u.id in per_unit]
    periods = {p.key: period_key(p.period, day) for p in programs}
    standings = load_standings(session, pemda, matched, day, programs, periods)
    imported = _last_imports(session, list(per_unit), periods)
    for unit in sorted(matched, key=lambda u: u.code):
        assert unit.id is not None
        for program in programs:
            standing = standings.get((unit.id, program.key))
            value = _figure(program, export, per_unit[unit.id])
            if standing is None or value is None:
                continue
            last = imported.get((unit.id, program.key))
            wins = standing.last_report_at is None or as_of >= standing.last_report_at
            counting_is_import = last is not None and (standing.value, standing.last_report_at) == last
            outcome: Outcome = "tulis"
            if last is not None and as_of < last[1]:
                outcome = "lama"
            elif last is not None and last[0] == value and (counting_is_import or not wins):
                outcome = "sama"
            plan.changes.append(
                FigureChange(
                    unit_id=unit.id,
                    unit_code=unit.code,
                    unit_name=unit.name,
                    program=program,
                    period=periods[program.key],
                    value=value,
                    old=standing.value,
                    old_at=standing.last_report_at,
                    last_import=last[0] if last else None,
                    outcome=outcome,
                    wins=wins,
                )
            )
    return plan


def _nothing_to_compute(pemda: PemdaConfig, export: Export) -> str:
    if export.kind == "rup" and pemda.figures.p3dn_spend == "realisasi":
        return (
            "Ekspor RUP berisi rencana belanja, sedangkan P3DN dihitung dari realisasi (berkas Pemda: [figures] "
            'p3dn_spend = "realisasi"), jadi tidak ada angka yang diimpor. Kirim ekspor paket e-purchasing.'
        )
    return "Tidak ada angka katalog atau P3DN yang dapat dihitung dari ekspor ini."


def _figure(program: ProgramConfig, export: Export, satkers: Sequence[SatkerFigures]) -> float | None:
    if program.measure == "count":
        if export.counting == "produk":
            return float(len(set().union(*(s.products for s in satkers))))
        return float(sum(s.product_sum for s in satkers))
    total = sum((s.total for s in satkers), Decimal(0))
    if total <= 0:
        return None
    ukm = sum((s.ukm for s in satkers), Decimal(0))
    return float((ukm * 100 / total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _last_imports(
    session: Session, unit_ids: list[int], periods: dict[str, str]
) -> dict[tuple[int, str], tuple[float, datetime]]:
    """The latest imported figure (value, moment) still counting per (unit id, program key) of `periods`."""
    rows = session.exec(
        select(Report)
        .where(
            Report.source == ReportSource.IMPORT.value,
            col(Report.unit_id).in_(unit_ids),
            col(Report.program_key).in_(list(periods)),
            *_counting(),
        )
        .order_by(_moment().desc(), col(Report.id).desc())
    ).all()
    latest: dict[tuple[int, str], tuple[float, datetime]] = {}
    for report in rows:
        if report.period == periods[report.program_key] and report.value is not None:
            at = report.observed_at or report.created_at
            latest.setdefault((report.unit_id, report.program_key), (float(report.value), at))
    return latest


def _moment() -> ColumnElement[datetime]:
    """The moment a report describes: the export's date for an imported figure, else when it was sent."""
    return func.coalesce(col(Report.observed_at), col(Report.created_at))


def _counting() -> tuple[ColumnElement[bool], ...]:
    """Reports with a figure that neither a verifier rejected nor the reporter withdrew."""
    return (
        col(Report.withdrawn_at).is_(None),
        col(Report.verification) != Verification.REJECTED.value,
        col(Report.value).is_not(None),
    )


# ---------------------------------------------------------------------------------------------- writing


def apply_figures(
    session: Session, plan: FigurePlan, now: datetime, actor_id: int | None = None
) -> FigureImport | None:
    """Write the plan's figures and the import's record; None (and nothing written) when nothing changes."""
    writes = plan.writes
    if not writes:
        return None
    record = FigureImport(
        source=plan.source[:64],
        sha256=plan.export.sha256,
        as_of=plan.as_of,
        imported_at=now,
        imported_by_id=actor_id,
        rows=plan.export.rows,
        matched=plan.matched_rows,
        unmatched=sum(u.rows for u in plan.unmatched),
        summary=plan.summary(),
        snapshot=plan.snapshot(),
    )
    session.add(record)
    session.flush()
    note = f"impor #{record.id} “{plan.source}” per {plan.day.isoformat()}"[:500]
    for change in writes:
        session.add(
            Report(
                unit_id=change.unit_id,
                program_key=change.program.key,
                period=change.period,
                value=change.value,
                note=note,
                reporter_id=actor_id,
                channel=CHANNEL,
                created_at=now,
                verification=Verification.VERIFIED.value,
                source=ReportSource.IMPORT.value,
                observed_at=plan.as_of,
            )
        )
    session.flush()
    return record


def figure_sources(session: Session, unit_id: int, program: ProgramConfig, period: str, zone: ZoneInfo) -> str | None:
    """'impor 3 Des: 12 · laporan unit 5 Des: 15' when the unit has both an imported figure and its own report
    that count (neither withdrawn nor rejected) for the program's period; None otherwise."""
    rows = session.exec(
        select(Report)
        .where(Report.unit_id == unit_id, Report.program_key == program.key, Report.period == period, *_counting())
        .order_by(_moment().desc(), col(Report.id).desc())
    ).all()
    latest: dict[bool, tuple[float | None, datetime]] = {}
    for report in rows:
        latest.setdefault(
            report.source == ReportSource.IMPORT.value, (report.value, report.observed_at or report.created_at)
        )
    if len(latest) < 2:
        return None
    parts = []
    for imported, word in ((True, "impor"), (False, "laporan unit")):
        value, at = latest[imported]
        shown = tanggal_pendek(_local(at, zone)).rsplit(" ", 1)[0]
        parts.append(f"{word} {shown}: {_value(program, value)}")
    return " · ".join(parts)
