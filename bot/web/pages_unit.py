"""A unit's page (/dasbor/unit/{code}) and the files it links to (evidence, letters), each checked against scope.

The standing is /status's (`load_standings`, `nilai`, `state_of`, the pause words), the history /riwayat's
(`report_text`, `report_state`), the letters the register's (`jobs.letters`). A unit the person may not see is a 404,
and so is every file of it: the page never tells that it exists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from bot.web.pages_common import (
    LEADERS,
    STATE_TONES,
    STATE_WORDS,
    Pager,
    local_day,
    local_time,
    page_number,
    paginate,
    visible_unit,
)
from bot.web.pages_overview import marks_of
from handlers.base import sub_units
from handlers.riwayat import CHANNEL_WORDS, report_state, report_text
from handlers.status import state_of
from jobs.letters import flow
from jobs.letters.export import DELIVERY_WORDS
from jobs.letters.settled import settled_letters
from models.app import Deps
from models.evidence import load_verifiers, status_word
from models.figure_plan import figure_sources
from models.filecheck import size_text
from models.fmt import nilai, nilai_singkat, periode, sisa_hari, tanggal, tanggal_pendek
from models.ladder import PAUSE_DISPENSASI
from models.messages import Channel
from models.onboarding import role_label
from models.phone import mask_phone
from models.scope import Viewer
from models.standing import load_standings
from models.tables import (
    AuditLog,
    Contact,
    Evidence,
    Letter,
    LetterItem,
    LetterStatus,
    Pause,
    Report,
    Role,
    StoredFile,
    Unit,
)

REPORTS = 50
"""Reports per page of a unit's history (newest first)."""
ROLE_ORDER = {"kepala": 0, "camat": 0, "operator": 1, "admin": 2, "pimpinan": 3}
ROLES = frozenset(role.value for role in Role)
INLINE = frozenset({"application/pdf", "image/png", "image/jpeg"})
"""Evidence shown in the browser itself (checked by content when it was sent); anything else is downloaded."""


@dataclass(frozen=True)
class ProgramLine:
    """One program of the unit, as /status says it."""

    label: str
    value: str
    deadline: str
    state: str
    tone: str
    note: str
    source: str


@dataclass(frozen=True)
class SubUnit:
    """A kelurahan/desa under a kecamatan: its link and a short value per program."""

    unit: Unit
    parts: list[tuple[str, str, str]]
    """(program key, short value, colour class)."""


@dataclass(frozen=True)
class EvidenceLink:
    """One evidence file of a report."""

    id: int
    filename: str
    size: str
    status: str
    reason: str


@dataclass(frozen=True)
class ReportLine:
    """One report of the unit's history."""

    id: int
    what: str
    who: str
    when: str
    channel: str
    state: str
    evidence: list[EvidenceLink]


@dataclass(frozen=True)
class LetterLine:
    """One warning letter of a unit (also a row of the register)."""

    id: int
    number: str
    stage: str
    status: str
    draft: bool
    cancellable: bool
    delivery: str
    day: str
    unit: Unit
    programs: str
    has_pdf: bool
    has_docx: bool
    note: str = ""
    """For a letter not yet delivered: that it need not go out any more (the unit met or was dispensed), or that
    nobody in Sigap receives it (to be handed over), as /teguran says."""
    deliverable: bool = False
    """Approved or sent, not yet received, and still owed: its hand delivery may be recorded (/teguran diantar)."""


@dataclass(frozen=True)
class PauseLine:
    """A dispensation or a /proses pause of the unit."""

    kind: str
    program: str
    period: str
    until: str
    reason: str
    who: str
    when: str
    state: str


@dataclass(frozen=True)
class Person:
    """A contact of the unit and how the bot reaches them."""

    name: str
    role: str
    title: str
    telegram: str
    whatsapp: str
    last_seen: str


@dataclass(frozen=True)
class UnitPage:
    """Everything /dasbor/unit/{code} shows."""

    unit: Unit
    parent: Unit | None
    today: str
    programs: list[ProgramLine]
    subunits: list[SubUnit]
    reports: list[ReportLine]
    report_pager: Pager
    letters: list[LetterLine]
    pauses: list[PauseLine]
    people: list[Person]


def may_see_letter(session: Session, viewer: Viewer, letter: Letter, unit: Unit | None = None) -> bool:
    """Whether `viewer` may see a letter: of a unit they see; a draft (not yet approved) only admin and pimpinan."""
    unit = unit or session.get(Unit, letter.unit_id)
    if unit is None or not viewer.sees(session, unit):
        return False
    return letter.status != LetterStatus.DRAFT.value or viewer.role.value in LEADERS


def letter_lines(session: Session, deps: Deps, letters: list[Letter], units: dict[int, Unit]) -> list[LetterLine]:
    """The register's words for `letters` (their programs read in one query)."""
    ids = [letter.id for letter in letters if letter.id is not None]
    programs: dict[int, list[str]] = defaultdict(list)
    if ids:
        for item in session.exec(select(LetterItem).where(col(LetterItem.letter_id).in_(ids))).all():
            program = deps.pemda.program(item.program_key)
            programs[item.letter_id].append(program.label if program is not None else item.program_key)
    waiting = [letter for letter in letters if letter.status in (LetterStatus.DRAFT.value, LetterStatus.APPROVED.value)]
    today = deps.calendar.local_date(deps.clock.now())
    done = settled_letters(session, deps.pemda, deps.calendar, waiting, today) if waiting else {}
    reached = flow.reachable_units(session, {w.unit_id for w in waiting}, deps.sends_on) if waiting else set()
    lines = []
    for letter in letters:
        unit = units.get(letter.unit_id) or session.get(Unit, letter.unit_id)
        if unit is None or letter.id is None:
            continue
        day = letter.letter_date or deps.calendar.local_date(letter.created_at)
        open_ = letter.status in (LetterStatus.DRAFT.value, LetterStatus.APPROVED.value)
        note = ""
        if letter.id in done:
            note = done[letter.id]
        elif open_ and letter.unit_id not in reached:
            note = f"tanpa penerima di Sigap: antar langsung, lalu catat (di chat: /teguran diantar {letter.id})"
        owed = letter.status in (LetterStatus.APPROVED.value, LetterStatus.SENT.value) and letter.id not in done
        lines.append(
            LetterLine(
                letter.id,
                letter.label_number,
                flow.stage_label(letter),
                flow.STATUS_WORDS.get(letter.status, letter.status),
                letter.status == LetterStatus.DRAFT.value,
                open_,
                DELIVERY_WORDS.get(letter.delivery, letter.delivery),
                tanggal_pendek(day),
                unit,
                ", ".join(programs.get(letter.id, [])) or letter.program_key,
                letter.pdf_id is not None,
                letter.docx_id is not None,
                note,
                owed,
            )
        )
    return lines


def _programs(session: Session, deps: Deps, viewer: Viewer, unit: Unit, today: date) -> list[ProgramLine]:
    standings = load_standings(session, deps.pemda, [unit], today)
    marks = marks_of(session, deps, today, standings).marks
    lines = []
    for (uid, key), standing in standings.items():
        mark = marks.get((uid, key))
        state = state_of(standing, mark, today)
        source = ""
        if viewer.role is Role.ADMIN and standing.program.measure in ("count", "percent"):
            source = figure_sources(session, uid, standing.program, standing.period, deps.calendar.zone) or ""
        lines.append(
            ProgramLine(
                standing.program.label,
                nilai(standing),
                f"{tanggal(standing.deadline)} ({sisa_hari(standing.deadline, today)})",
                STATE_WORDS[state],
                STATE_TONES[state],
                mark.text(standing) if mark is not None else "",
                source,
            )
        )
    return lines


def _subunits(session: Session, deps: Deps, unit: Unit, today: date) -> list[SubUnit]:
    subs = sub_units(session, unit) if unit.kind == "kecamatan" else []
    if not subs:
        return []
    standings = load_standings(session, deps.pemda, subs, today)
    marks = marks_of(session, deps, today, standings).marks
    found = []
    for sub in subs:
        parts = []
        for (uid, key), standing in standings.items():
            if uid == sub.id:
                state = state_of(standing, marks.get((uid, key)), today)
                parts.append((key, nilai_singkat(standing), STATE_TONES[state]))
        found.append(SubUnit(sub, parts))
    return found


def _reports(session: Session, deps: Deps, unit: Unit, params: QueryParams) -> tuple[list[ReportLine], Pager]:
    ids = list(session.exec(select(Report.id).where(Report.unit_id == unit.id).order_by(col(Report.id).desc())).all())
    page_ids, pager = paginate(ids, page_number(params, "laporan"), params, REPORTS, "laporan")
    wanted = [i for i in page_ids if i is not None]
    if not wanted:
        return [], pager
    reports = session.exec(select(Report).where(col(Report.id).in_(wanted)).order_by(col(Report.id).desc())).all()
    files: dict[int, list[Evidence]] = defaultdict(list)
    for evidence in session.exec(select(Evidence).where(col(Evidence.report_id).in_(wanted))).all():
        files[evidence.report_id].append(evidence)
    people = {r.reporter_id for r in reports if r.reporter_id is not None}
    names = dict(session.exec(select(Contact.id, Contact.name).where(col(Contact.id).in_(people))).all())
    by_id = {r.id: r for r in reports}
    lines = []
    for report in reports:
        assert report.id is not None
        links = [
            EvidenceLink(e.id or 0, e.filename, size_text(e.size), status_word(e, by_id.get(e.report_id)), e.reason)
            for e in sorted(files.get(report.id, []), key=lambda e: e.id or 0)
        ]
        lines.append(
            ReportLine(
                report.id,
                report_text(deps.pemda, report),
                names.get(report.reporter_id, "sistem") if report.reporter_id else "sistem",
                local_time(deps, report.created_at),
                CHANNEL_WORDS.get(report.channel, report.channel),
                report_state(report),
                links,
            )
        )
    return lines, pager


def _pauses(session: Session, deps: Deps, unit: Unit, today: date) -> list[PauseLine]:
    rows = session.exec(select(Pause).where(Pause.unit_id == unit.id).order_by(col(Pause.id).desc()).limit(50)).all()
    people = {r.created_by_id for r in rows if r.created_by_id is not None}
    names = dict(session.exec(select(Contact.id, Contact.name).where(col(Contact.id).in_(people))).all())
    lines = []
    for row in rows:
        program = deps.pemda.program(row.program_key)
        if row.revoked_at is not None:
            state = f"dicabut {local_day(deps, row.revoked_at)}"
        elif row.kind != PAUSE_DISPENSASI and row.until is not None and row.until < today:
            state = "sudah berakhir"
        else:
            state = "berlaku"
        lines.append(
            PauseLine(
                "Dispensasi" if row.kind == PAUSE_DISPENSASI else "Sedang diproses",
                program.label if program is not None else row.program_key,
                periode(row.period),
                tanggal_pendek(row.until) if row.until is not None else "–",
                row.reason or "–",
                names.get(row.created_by_id, "–") if row.created_by_id else "–",
                local_day(deps, row.created_at),
                state,
            )
        )
    return lines


def _channel_state(address: str | None, blocked: bool, channel: Channel, deps: Deps) -> str:
    """How the bot reaches a person on `channel`, as `models.reach` decides: an address on a channel this
    deployment does not send on is not "terjangkau"."""
    if not address:
        return "belum terhubung" if channel is Channel.TELEGRAM else "tidak ada nomor"
    if channel not in deps.sends_on:
        return f"belum dapat dipakai ({CHANNEL_WORDS[channel.value]} belum diatur)"
    if blocked:
        return "tidak terjangkau (memblokir bot)"
    return "terjangkau"


def _people(session: Session, deps: Deps, viewer: Viewer, unit: Unit) -> list[Person]:
    contacts = session.exec(select(Contact).where(Contact.unit_id == unit.id, col(Contact.active).is_(True))).all()
    ids = [c.id for c in contacts if c.id is not None]
    seen: dict[int, datetime] = {}
    if ids:
        for query in (
            select(Report.reporter_id, func.max(Report.created_at))
            .where(col(Report.reporter_id).in_(ids))
            .group_by(col(Report.reporter_id)),
            select(AuditLog.actor_id, func.max(AuditLog.at))
            .where(col(AuditLog.actor_id).in_(ids))
            .group_by(col(AuditLog.actor_id)),
        ):
            for contact_id, at in session.exec(query).all():
                if contact_id is not None and at is not None:
                    seen[contact_id] = max(seen.get(contact_id, at), at)
    people = []
    for contact in sorted(contacts, key=lambda c: (ROLE_ORDER.get(c.role, 9), c.name)):
        last = [t for t in (seen.get(contact.id or 0), contact.wa_last_inbound_at) if t is not None]
        number = contact.wa_number or ""
        shown = number if viewer.role is Role.ADMIN else mask_phone(number) if number else ""
        whatsapp = _channel_state(contact.wa_number, contact.unreachable_whatsapp, Channel.WHATSAPP, deps)
        people.append(
            Person(
                contact.name,
                role_label(Role(contact.role), unit) if contact.role in ROLES else contact.role,
                contact.title,
                _channel_state(contact.telegram_user_id, contact.unreachable_telegram, Channel.TELEGRAM, deps),
                f"{whatsapp} · {shown}" if shown else whatsapp,
                local_time(deps, max(last)) if last else "belum pernah",
            )
        )
    return people


def unit_page(session: Session, deps: Deps, viewer: Viewer, code: str, today: date, params: QueryParams) -> UnitPage:
    """The unit's page, when `viewer` may see the unit (404 otherwise)."""
    unit = visible_unit(session, viewer, code)
    parent = session.get(Unit, unit.parent_id) if unit.parent_id is not None else None
    if parent is not None and not viewer.sees(session, parent):
        parent = None
    reports, pager = _reports(session, deps, unit, params)
    letters = [
        letter
        for letter in session.exec(
            select(Letter).where(Letter.unit_id == unit.id).order_by(col(Letter.id).desc()).limit(50)
        ).all()
        if may_see_letter(session, viewer, letter, unit)
    ]
    return UnitPage(
        unit,
        parent,
        tanggal(today),
        _programs(session, deps, viewer, unit, today),
        _subunits(session, deps, unit, today),
        reports,
        pager,
        letter_lines(session, deps, letters, {unit.id or 0: unit}),
        _pauses(session, deps, unit, today),
        _people(session, deps, viewer, unit),
    )


# -- files ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """A file to send: its name, type, bytes, and whether the browser may show it itself."""

    filename: str
    mime: str
    content: bytes
    inline: bool = False


def evidence_file(session: Session, deps: Deps, viewer: Viewer, evidence_id: int) -> Download:
    """An evidence file, for a person who sees its unit or may decide on it (a verifier); 404 for anyone else."""
    evidence = session.get(Evidence, evidence_id)
    unit = session.get(Unit, evidence.unit_id) if evidence is not None else None
    if evidence is None or unit is None:
        raise HTTPException(404)
    if not viewer.sees(session, unit):
        me = session.get(Contact, viewer.contact_id)
        if me is None or not load_verifiers(session, deps.pemda).may_decide(me, evidence):
            raise HTTPException(404)
    stored = session.get(StoredFile, evidence.file_id)
    if stored is None:
        raise HTTPException(404)
    return Download(evidence.filename, evidence.mime, stored.content, evidence.mime in INLINE)


def letter_file(session: Session, viewer: Viewer, letter_id: int, kind: str) -> Download:
    """A letter's PDF or DOCX, for a person who may see the letter (`may_see_letter`); 404 otherwise."""
    letter = session.get(Letter, letter_id)
    if letter is None or kind not in ("pdf", "docx") or not may_see_letter(session, viewer, letter):
        raise HTTPException(404)
    stored = session.get(StoredFile, letter.pdf_id if kind == "pdf" else letter.docx_id)
    if stored is None:
        raise HTTPException(404)
    return Download(stored.filename, stored.mime, stored.content, kind == "pdf")
