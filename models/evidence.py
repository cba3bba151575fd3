"""Evidence (bukti dukung) in the database: files kept once by their SHA-256, who verifies which program, the queue.

Files live in the database (`StoredFile`, the same store as the letters): one backup (`pg_dump`) holds them, a file
and the report it supports are written in one transaction (nothing half-stored), and there is no second store to
secure or to keep in step; the size cap (`[evidence] max_mb`) keeps the table reasonable.

A program's verifier is named in the Pemda file (`verifier = { role, unit }`). Nobody decides on evidence of their own
unit or on a file they sent themselves; when no named verifier is left for an item, the admins stand in.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from models.fmt import angka
from models.pemda import PemdaConfig, ProgramConfig
from models.tables import (
    ROLE_LABELS,
    ChecklistItem,
    Contact,
    Evidence,
    EvidenceStatus,
    Report,
    Role,
    StoredFile,
    Unit,
)

STATUS_WORDS = {
    EvidenceStatus.WAITING.value: "menunggu verifikasi",
    EvidenceStatus.ACCEPTED.value: "sah",
    EvidenceStatus.REJECTED.value: "ditolak",
}
WITHDRAWN = "ditarik"
"""How evidence whose report was withdrawn (or replaced by a newer file) is shown."""


def store_blob(session: Session, content: bytes, filename: str, mime: str, now: datetime) -> tuple[int, str]:
    """The id of the stored file holding exactly `content` (kept once per SHA-256, whatever its name), and the hash."""
    digest = hashlib.sha256(content).hexdigest()
    found = session.exec(select(StoredFile.id).where(StoredFile.sha256 == digest).order_by(col(StoredFile.id))).first()
    if found is not None:
        return found, digest
    row = StoredFile(filename=filename[:200], mime=mime[:100], sha256=digest, content=content, created_at=now)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id, digest


@dataclass
class Verifiers:
    """Who may decide on the evidence of each program: the people the Pemda file names, and the admins."""

    named: dict[str, list[Contact]] = field(default_factory=dict)
    admins: list[Contact] = field(default_factory=list)

    def eligible(self, program_key: str, unit_id: int, uploader_id: int | None) -> list[Contact]:
        """The people who may decide on an item of `unit_id`: the program's verifiers outside that unit, or else the
        admins outside it (else any admin); never the person who sent the file."""
        named = [c for c in self.named.get(program_key, []) if c.unit_id != unit_id and c.id != uploader_id]
        if named:
            return named
        outside = [c for c in self.admins if c.unit_id != unit_id and c.id != uploader_id]
        return outside or [c for c in self.admins if c.id != uploader_id]

    def may_decide(self, contact: Contact, evidence: Evidence) -> bool:
        """Whether `contact` may accept or reject `evidence`."""
        return any(
            c.id == contact.id for c in self.eligible(evidence.program_key, evidence.unit_id, evidence.uploaded_by_id)
        )

    def is_verifier(self, contact: Contact) -> bool:
        """Whether `contact` verifies some program (named, or an admin)."""
        return contact.role == Role.ADMIN.value or any(
            any(c.id == contact.id for c in people) for people in self.named.values()
        )


def verifier_roles(pemda: PemdaConfig) -> frozenset[Role]:
    """The roles someone verifying evidence may have under the Pemda file: the programs' `verifier` roles and admin
    (admins stand in)."""
    return frozenset({Role.ADMIN} | {Role(program.verifier.role) for program in pemda.programs})


def load_verifiers(session: Session, pemda: PemdaConfig) -> Verifiers:
    """The active people matching each program's `verifier` (role, and unit code when given), and the admins."""
    # Only the people who can be verifiers are read (admins, the named roles of the named units), whatever the roster's
    # size: a Pemda of 30,000 units has some 30,000 contacts, and a /verifikasi should not load them all.
    specs = [program.verifier for program in pemda.programs]
    named = {spec.unit.upper() for spec in specs if spec.unit}  # unit codes are kept in capitals
    picks: list[ColumnElement[bool]] = [
        col(Contact.role).in_({Role.ADMIN.value} | {spec.role for spec in specs if not spec.unit})
    ]
    if named:  # the named units by the code's index, then their people
        picks.append(col(Unit.code).in_(named) & col(Contact.role).in_({s.role for s in specs if s.unit}))
    found_rows: dict[int, tuple[Contact, str]] = {}
    for pick in picks:
        for contact, code in session.exec(
            select(Contact, Unit.code)
            .join(Unit, col(Unit.id) == col(Contact.unit_id))
            .where(col(Contact.active).is_(True), col(Unit.active).is_(True), pick)
        ).all():
            found_rows[contact.id or 0] = (contact, code)
    rows = [found_rows[key] for key in sorted(found_rows)]
    contacts = [contact for contact, _code in rows]
    codes = {contact.unit_id: code.upper() for contact, code in rows}
    found = Verifiers(admins=[c for c in contacts if c.role == Role.ADMIN.value and c.unit_id in codes])
    for program in pemda.programs:
        spec = program.verifier
        found.named[program.key] = [
            c
            for c in contacts
            if c.role == spec.role and c.unit_id in codes and (not spec.unit or codes[c.unit_id] == spec.unit.upper())
        ]
    return found


def verifier_label(session: Session, program: ProgramConfig, unit_id: int | None = None) -> str:
    """Who verifies `program` (for evidence of the unit `unit_id`), in words: 'Inspektorat Daerah', 'admin Sigap',
    'Kepala OPD Bappeda'. The verifying unit's own evidence goes to the admins (`Verifiers.eligible`): said so."""
    spec = program.verifier
    unit = session.exec(select(Unit).where(Unit.code == spec.unit.upper())).first() if spec.unit else None
    if unit is None:
        return "admin Sigap" if spec.role == Role.ADMIN.value else f"{ROLE_LABELS[Role(spec.role)]} yang ditunjuk"
    if unit_id is not None and unit.id == unit_id:
        return f"admin Sigap (bukti {unit.name} sendiri tidak diverifikasi oleh unitnya)"
    return unit.name


def waiting_queue(session: Session) -> list[tuple[Evidence, Report]]:
    """Evidence waiting for a verdict whose report still stands, oldest first."""
    rows = session.exec(
        select(Evidence, Report)
        .join(Report, col(Report.id) == col(Evidence.report_id))
        .where(Evidence.status == EvidenceStatus.WAITING.value, col(Report.withdrawn_at).is_(None))
        .order_by(col(Evidence.uploaded_at), col(Evidence.id))
    ).all()
    return [(evidence, report) for evidence, report in rows]


def status_word(evidence: Evidence, report: Report | None) -> str:
    """'menunggu verifikasi', 'sah', 'ditolak' or 'ditarik' (the report was withdrawn or replaced by a newer file)."""
    if evidence.status == EvidenceStatus.WAITING.value and report is not None and report.withdrawn_at is not None:
        return WITHDRAWN
    return STATUS_WORDS.get(evidence.status, evidence.status)


def rejections(session: Session, unit_id: int, program_key: str, period: str) -> dict[str | None, str]:
    """The verifier's reason for each target (an MCP indicator code; None for the program itself) whose latest
    evidence was rejected."""
    latest: dict[str | None, Evidence] = {}
    for evidence in session.exec(
        select(Evidence)
        .where(Evidence.unit_id == unit_id, Evidence.program_key == program_key, Evidence.period == period)
        .order_by(col(Evidence.id))
    ).all():
        latest[evidence.item_code] = evidence
    return {code: e.reason for code, e in latest.items() if e.status == EvidenceStatus.REJECTED.value}


def describe(session: Session, pemda: PemdaConfig, evidence: Evidence, report: Report | None) -> str:
    """What the evidence is for, in words: 'MCP KPK indikator 2.1 (Rencana umum …)', 'Inovasi daerah “Judul”',
    'e-Katalog lokal: 12 produk'."""
    program = pemda.program(evidence.program_key)
    label = program.label if program is not None else evidence.program_key
    if evidence.item_code:
        item = session.exec(
            select(ChecklistItem).where(
                ChecklistItem.program_key == evidence.program_key,
                ChecklistItem.period == evidence.period,
                ChecklistItem.code == evidence.item_code,
            )
        ).first()
        title = f" ({item.title})" if item is not None else ""
        return f"{label} indikator {evidence.item_code}{title}"
    if report is not None and report.title:
        return f"{label} “{report.title}”"
    if report is not None and report.value is not None and program is not None:
        if program.measure == "percent":
            return f"{label}: {angka(report.value)} %"
        return f"{label}: {angka(report.value)} {program.unit_label}".rstrip()
    return label


def caption_for(evidence: Evidence, report: Report | None) -> str:
    """The words that send a new file for the same target: 'mcp 2.1', 'inovasi Judul', 'katalog'."""
    if evidence.item_code:
        return f"{evidence.program_key} {evidence.item_code}"
    if report is not None and report.title:
        return f"{evidence.program_key} {report.title}"
    return evidence.program_key


def same_target(session: Session, evidence: Evidence, *, title: str | None) -> Sequence[tuple[Evidence, Report]]:
    """Earlier evidence of the same unit, program, period and target (indicator or innovation title), newest first."""
    stmt = (
        select(Evidence, Report)
        .join(Report, col(Report.id) == col(Evidence.report_id))
        .where(
            Evidence.unit_id == evidence.unit_id,
            Evidence.program_key == evidence.program_key,
            Evidence.period == evidence.period,
        )
        .order_by(col(Evidence.id).desc())
    )
    if evidence.item_code is not None:
        stmt = stmt.where(Evidence.item_code == evidence.item_code)
    rows = session.exec(stmt).all()
    if title is not None:
        wanted = title_key(title)
        return [(e, r) for e, r in rows if title_key(r.title or "") == wanted]
    return [(e, r) for e, r in rows]


def title_key(title: str) -> str:
    """A title compared without case, spaces or punctuation (as /lapor compares innovation titles)."""
    return "".join(c for c in unicodedata.normalize("NFKC", title).casefold() if c.isalnum())


MAX_TITLE = 200
"""The longest innovation title recorded, in characters (the column holds 300)."""


def title_too_long(title: str) -> str | None:
    """Why `title` is refused as too long ('Judul terlalu pendek' is the handlers' own), or None."""
    if len(title) <= MAX_TITLE:
        return None
    return (
        f"Judul terlalu panjang: {angka(len(title))} karakter, paling banyak {angka(MAX_TITLE)}. "
        "Mohon kirim judul yang lebih singkat; uraiannya dapat dilampirkan sebagai bukti dukung."
    )
