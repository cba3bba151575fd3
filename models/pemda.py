"""The Pemda file (TOML): who the Pemda is, its programs, ladder, calendar and letters."""

from __future__ import annotations

import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.pemda_check import Clock, location, message
from models.periods import deadline_for

MeasureKind = Literal["count", "percent", "checklist", "submission"]
StageKind = Literal["pengingat", "peringatan", "teguran1", "teguran2"]
Audience = Literal["unit", "admin", "pimpinan"]


class PemdaFileError(Exception):
    """The Pemda file is missing or wrong; the message names the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PemdaInfo(_Strict):
    """Who the Pemda is and where it works."""

    name: str = Field(min_length=3)
    short_name: str = Field(min_length=3)
    head_title: str = "Bupati"
    place: str = Field(min_length=2)
    timezone: str = "Asia/Jakarta"
    work_start: Clock = time(8, 0)
    work_end: Clock = time(16, 0)

    @property
    def region(self) -> str:
        """The region's own name: `short_name` without 'Kabupaten'/'Kota' ('Sukamakmur', 'Teluk Damai')."""
        region = self.short_name.strip()
        for prefix in ("Kabupaten ", "Kab. ", "Kota ", "Provinsi "):
            if region.lower().startswith(prefix.lower()):
                return region[len(prefix) :].strip()
        return region

    @property
    def head(self) -> str:
        """The head of the region by title and region: 'Bupati Sukamakmur', 'Wali Kota Teluk Damai' (from
        `short_name` without 'Kabupaten'/'Kota'; `place` is only the town where letters are dated)."""
        return f"{self.head_title} {self.region}".strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("zona waktu tidak dikenal; pakai Asia/Jakarta, Asia/Makassar atau Asia/Jayapura") from exc
        return value

    @model_validator(mode="after")
    def _hours_in_order(self) -> PemdaInfo:
        if self.work_start >= self.work_end:
            raise ValueError(
                f'work_start ("{self.work_start:%H:%M}") harus sebelum work_end ("{self.work_end:%H:%M}"), '
                'misalnya work_start = "08:00" dan work_end = "16:00"'
            )
        return self


class Letterhead(_Strict):
    """Kop surat."""

    office: str
    address: str
    contact_line: str = ""
    logo: str = ""


class Signatory(_Strict):
    """Who signs the letters."""

    title: str
    name: str
    nip: str = ""
    rank: str = ""


class LettersConfig(_Strict):
    """How warning letters are numbered, approved and followed up."""

    number_format: str = "{klasifikasi}/{nomor}/{kode_unit}/{tahun}"
    klasifikasi: str = "000.8.3.3"
    unit_code: str = "ORG"
    require_approval: bool = True
    approvers: list[Literal["admin", "pimpinan"]] = ["admin"]
    receipt_working_days: int = Field(default=2, ge=1, le=30)
    new_deadline_working_days: int = Field(default=7, ge=1, le=60)
    tembusan_teguran1: list[str] = ["Sekretaris Daerah", "Inspektur"]
    tembusan_teguran2: list[str] | None = None
    """Copies of a Teguran II; unset: the head of the region (`PemdaInfo.head`: "Wali Kota Teluk Damai (sebagai
    laporan)"), the Sekretaris Daerah and the Inspektur (`tembusan_of`)."""
    follow_up_days: int = Field(default=45, ge=0, le=180)
    """Days after a period's last letter rung during which its letters are still followed up (Teguran II)."""
    per: Literal["unit", "program"] = "unit"
    """'unit': one letter per unit and stage listing every program it is behind on; 'program': one per program."""
    dasar: list[str] = []
    """The legal basis printed under 'Dasar' in every letter (each program may add its own)."""


class Stage(_Strict):
    """One rung of the escalation ladder: days from the deadline, what kind, who hears."""

    offset_days: int = Field(ge=-90, le=90)
    kind: StageKind
    recipients: list[Audience] = ["unit"]

    @property
    def key(self) -> str:
        """'H-7', 'H+1', ..."""
        return f"H{self.offset_days:+d}" if self.offset_days else "H"


DEFAULT_LADDER: tuple[Stage, ...] = (
    Stage(offset_days=-14, kind="pengingat"),
    Stage(offset_days=-7, kind="pengingat"),
    Stage(offset_days=-3, kind="pengingat"),
    Stage(offset_days=-1, kind="pengingat"),
    Stage(offset_days=1, kind="peringatan", recipients=["unit", "admin"]),
    Stage(offset_days=7, kind="teguran1", recipients=["unit", "admin", "pimpinan"]),
    Stage(offset_days=14, kind="teguran2", recipients=["unit", "admin", "pimpinan"]),
)


class ChecklistEntry(_Strict):
    """One MCP-style indicator and the unit that answers for it."""

    area: str
    code: str = Field(min_length=1, max_length=32)
    title: str
    unit: str


class Verifier(_Strict):
    """Who checks a program's evidence: people with `role`, of the unit `unit` (a code) when given."""

    role: Literal["admin", "pimpinan", "kepala", "operator"] = "admin"
    unit: str = ""


class ProgramConfig(_Strict):
    """One obligation: how it is measured, its target, period and deadline."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    title: str
    short_title: str = ""
    aliases: list[str] = []
    measure: MeasureKind
    target: float = Field(default=1, ge=0)
    total_target: float | None = Field(default=None, ge=0)
    unit_label: str = ""
    period: Literal["year", "quarter", "month"] = "year"
    deadline: str = Field(default="12-15", pattern=r"^(\d{2}-\d{2}|\+\d{1,3})$")
    deadlines: dict[str, date] = {}
    applies_to: list[str] = []
    ladder: list[Stage] | None = None
    checklist: list[ChecklistEntry] = []
    checkin: bool = False
    dasar: list[str] = []
    """The legal basis of this program, printed under 'Dasar' in its warning letters."""
    verification: Literal["required", "optional"] = "optional"
    """'required': only figures and items a verifier accepted count for compliance and letters."""
    verifier: Verifier = Verifier()

    @model_validator(mode="after")
    def _consistent(self) -> ProgramConfig:
        if self.measure == "percent" and self.target > 100:
            raise ValueError("target persentase tidak boleh di atas 100")
        if self.measure == "checklist" and not self.checklist:
            raise ValueError("program checklist butuh daftar 'checklist' berisi indikator")
        if self.measure != "checklist" and self.checklist:
            raise ValueError("'checklist' hanya untuk measure = \"checklist\"")
        codes = [entry.code for entry in self.checklist]
        if len(codes) != len(set(codes)):
            raise ValueError("kode indikator checklist ada yang ganda")
        if not self.deadline.startswith("+"):
            month, day = (int(p) for p in self.deadline.split("-"))
            try:
                date(2024, month, day)
            except ValueError as exc:
                raise ValueError(f"deadline {self.deadline!r} bukan tanggal BB-HH yang sah") from exc
        return self

    @property
    def label(self) -> str:
        """The short name shown in chat."""
        return self.short_title or self.title

    def deadline_of(self, period: str) -> date:
        """The deadline of one period of this program."""
        return deadline_for(period, self.deadline, self.deadlines)

    def applies(self, unit_kind: str) -> bool:
        """Whether units of this kind answer for this program (checklists: only units named in it)."""
        if self.applies_to:
            return unit_kind in self.applies_to
        return unit_kind not in ("kelurahan", "desa")


class CheckinConfig(_Strict):
    """The weekly check-in that asks for fresh figures."""

    weekday: Literal["mon", "tue", "wed", "thu", "fri"] = "mon"
    at: Clock = time(9, 0)
    followup_at: Clock = time(13, 0)
    stale_days: int = Field(default=7, ge=1, le=60)


class SweepConfig(_Strict):
    """When the sweep runs."""

    times: list[Clock] = [time(8, 0), time(13, 0)]


class ExtraDayOff(_Strict):
    """A day off on top of national holidays."""

    date: date
    reason: str


class WhatsAppTemplates(_Strict):
    """Names of the approved WhatsApp templates (see docs/whatsapp-templates.md)."""

    reminder: str = "sigap_pengingat"
    warning: str = "sigap_peringatan"
    letter: str = "sigap_surat_teguran"
    checkin: str = "sigap_minta_data"
    broadcast: str = "sigap_pengumuman"


class EvidenceConfig(_Strict):
    """Evidence files (bukti dukung): how big they may be and when verifiers are reminded."""

    max_mb: float = Field(default=20, gt=0, le=100)
    remind_after_working_days: int = Field(default=2, ge=1, le=30)


class FiguresConfig(_Strict):
    """Figures imported from LKPP exports or the INAPROC API: how columns are named and how P3DN is computed."""

    p3dn_spend: Literal["realisasi", "rencana"] = "realisasi"
    """P3DN share from realised spend (e-purchasing packages) or planned spend (RUP packages)."""
    kode_klpd: str = ""
    """The Pemda's code at LKPP (for the INAPROC API)."""
    fields: dict[str, list[str]] = {}
    """Column names per meaning, e.g. satker = ["nama_satker", "satker"]; merged over the built-in names."""


class DigestConfig(_Strict):
    """The weekly digest to the pimpinan and admins: totals, trend, pace warnings and the picture."""

    enabled: bool = True
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    at: Clock = time(7, 30)
    warn_weeks: int = Field(default=8, ge=0, le=52)
    """Pace warnings start this many weeks before a deadline."""


class PemdaConfig(_Strict):
    """The whole Pemda file."""

    pemda: PemdaInfo
    letterhead: Letterhead
    signatory: Signatory
    letters: LettersConfig = LettersConfig()
    ladder: list[Stage] = list(DEFAULT_LADDER)
    checkin: CheckinConfig = CheckinConfig()
    sweep: SweepConfig = SweepConfig()
    holidays: list[ExtraDayOff] = []
    whatsapp_templates: WhatsAppTemplates = WhatsAppTemplates()
    evidence: EvidenceConfig = EvidenceConfig()
    figures: FiguresConfig = FiguresConfig()
    digest: DigestConfig = DigestConfig()
    programs: Annotated[list[ProgramConfig], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_programs(self) -> PemdaConfig:
        keys = [p.key for p in self.programs]
        if len(keys) != len(set(keys)):
            raise ValueError("ada kunci program yang ganda")
        return self

    def program(self, key_or_alias: str) -> ProgramConfig | None:
        """The program named by its key or one of its aliases (case-insensitive)."""
        wanted = key_or_alias.strip().lower()
        for program in self.programs:
            if wanted == program.key or wanted in (a.lower() for a in program.aliases):
                return program
        return None

    def tembusan_of(self, stage: str) -> list[str]:
        """Who gets a copy of a letter of `stage` ('teguran1' or 'teguran2'), as the file says or by default."""
        letters = self.letters
        if stage == "teguran1":
            return list(letters.tembusan_teguran1)
        if letters.tembusan_teguran2 is not None:
            return list(letters.tembusan_teguran2)
        return [f"{self.pemda.head} (sebagai laporan)", "Sekretaris Daerah", "Inspektur"]

    def ladder_of(self, program: ProgramConfig) -> list[Stage]:
        """The program's own ladder, or the Pemda's."""
        return list(program.ladder) if program.ladder is not None else list(self.ladder)


def parse_pemda(text: str, source: str = "sigap.toml") -> PemdaConfig:
    """Parse and check Pemda TOML text; errors (in Bahasa Indonesia) name the key, the problem and the right form."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PemdaFileError(f"{source}: bukan TOML yang sah: {exc}") from exc
    try:
        return PemdaConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{source}: isi tidak valid ({exc.error_count()} masalah):"]
        for error in exc.errors():
            where = location(tuple(p for p in error["loc"] if not str(p).startswith("function-")))
            lines.append(f"  - {where}: {message(PemdaConfig, error)}")
        raise PemdaFileError("\n".join(lines)) from None


def load_pemda(path: Path) -> PemdaConfig:
    """Read the Pemda file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PemdaFileError(f"Berkas Pemda tidak ditemukan: {path}") from None
    return parse_pemda(text, source=path.name)
