"""The work pages: the letter register (/dasbor/surat) with approval, the verification queue (/dasbor/verifikasi)
with Sah / Tolak, and the status export (/dasbor/ekspor.xlsx).

Every action is the chat's own function with plain arguments: `handlers.verifikasi.decide` (the verdict, the
sender told through the outbox, the audit), `jobs.letters.flow.approve` / `cancel` (numbering, delivery), and
`models.status_book.status_workbook` (the same XLSX as /ekspor). Plain functions of a session, run in the threadpool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from bot.web.auth import Forbidden, audit
from bot.web.pages_common import LEADERS, Pager, Scope, local_time, page_number, paginate
from bot.web.pages_unit import LetterLine, letter_lines, may_see_letter
from handlers.verifikasi import MIN_REASON, Audit, decide, told
from jobs.letters import flow
from jobs.letters.register import STAGE_LABELS
from models.app import Deps, UserError
from models.evidence import describe, load_verifiers, waiting_queue
from models.filecheck import KINDS, kind_label, size_text
from models.scope import Viewer
from models.status_book import status_workbook
from models.tables import Contact, Evidence, EvidenceStatus, Letter, LetterItem, LetterStatus, Report, Unit

LETTER_STATUSES = (
    LetterStatus.DRAFT.value,
    LetterStatus.APPROVED.value,
    LetterStatus.SENT.value,
    LetterStatus.RECEIVED.value,
    LetterStatus.CANCELLED.value,
)
QUEUE_SHOWN = 50
"""Items of the verification queue on one page (oldest first); the rest follow once these are decided."""


def recorder(session: Session, viewer: Viewer) -> Audit:
    """The audit log of the dashboard (channel "web") as the core's `Audit`."""

    def record(action: str, target: str = "", **detail: Any) -> None:
        audit(session, viewer, action, target, **detail)

    return record


def me_of(session: Session, viewer: Viewer) -> Contact:
    """The signed-in person's contact row."""
    contact = session.get(Contact, viewer.contact_id)
    if contact is None:
        raise Forbidden()
    return contact


# -- the letter register ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LetterFilters:
    """The register's filters as asked (only known values kept)."""

    status: str
    stage: str
    unit: str
    program: str


@dataclass(frozen=True)
class Register:
    """Everything /dasbor/surat shows."""

    rows: list[LetterLine]
    pager: Pager
    filters: LetterFilters
    statuses: list[tuple[str, str]]
    stages: list[tuple[str, str]]
    programs: list[tuple[str, str]]
    may_approve: bool
    notice: str
    tone: str


def _filters(deps: Deps, params: QueryParams) -> LetterFilters:
    status = params.get("status", "")
    stage = params.get("tahap", "")
    program = params.get("program", "")
    return LetterFilters(
        status if status in LETTER_STATUSES else "",
        stage if stage in STAGE_LABELS else "",
        params.get("unit", "").strip().upper()[:32],
        program if deps.pemda.program(program) is not None and program else "",
    )


def _letters(chosen: LetterFilters, scope: Scope) -> SelectOfScalar[Letter]:
    query = select(Letter)
    if not scope.whole:
        query = query.where(col(Letter.unit_id).in_([u.id for u in scope.units if u.id is not None]))
    if chosen.status:
        query = query.where(col(Letter.status) == chosen.status)
    if chosen.stage:
        query = query.where(col(Letter.stage) == chosen.stage)
    if chosen.unit:
        query = query.join(Unit, col(Unit.id) == col(Letter.unit_id)).where(col(Unit.code) == chosen.unit)
    if chosen.program:
        items = select(LetterItem.letter_id).where(col(LetterItem.program_key) == chosen.program)
        query = query.where(col(Letter.id).in_(items))
    return query.order_by(col(Letter.id).desc())


def register(
    session: Session, deps: Deps, scope: Scope, params: QueryParams, notice: str = "", tone: str = "ok"
) -> Register:
    """The letters the person may see (admin and pimpinan: all; a camat: the kecamatan's, no drafts), filtered by
    status, stage, unit and program, newest first, 100 to a page."""
    viewer = scope.viewer
    chosen = _filters(deps, params)
    units = scope.by_id()
    letters = [
        letter
        for letter in session.exec(_letters(chosen, scope)).all()
        if may_see_letter(session, viewer, letter, units.get(letter.unit_id))
    ]
    shown, pager = paginate(letters, page_number(params), params)
    approver = flow.may_approve(deps.pemda, me_of(session, viewer))
    if not notice and (wanted := params.get("surat", "")).isdigit() and len(wanted) < 10:
        notice = _letter_state(session, viewer, int(wanted))
    return Register(
        letter_lines(session, deps, shown, units),
        pager,
        chosen,
        [
            (s, flow.STATUS_WORDS[s])
            for s in LETTER_STATUSES
            if viewer.role.value in LEADERS or s != LetterStatus.DRAFT.value
        ],
        [(key, f"Surat {label}") for key, label in STAGE_LABELS.items()],
        [(p.key, p.label) for p in deps.pemda.programs],
        approver,
        notice,
        tone,
    )


def _letter_state(session: Session, viewer: Viewer, letter_id: int) -> str:
    """The confirmation line after an action on a letter: where it stands now."""
    letter = session.get(Letter, letter_id)
    if letter is None or not may_see_letter(session, viewer, letter):
        return ""
    unit = session.get(Unit, letter.unit_id)
    name = unit.name if unit is not None else ""
    return f"{flow.stage_label(letter)} {letter.label_number} untuk {name}: {flow.STATUS_WORDS[letter.status]}."


def act_on_letter(session: Session, deps: Deps, viewer: Viewer, letter_id: int, action: str, reason: str) -> str:
    """Approve, cancel, or record the hand delivery of one letter as chat's /teguran does (same functions, same
    audit); the reply's words.
    Not an approver: 403; a letter the person cannot see: 404; a step the letter's state refuses: `flow.Refused`."""
    me = me_of(session, viewer)
    if not flow.may_approve(deps.pemda, me):
        raise Forbidden(
            "Hanya admin (dan pimpinan bila ditetapkan berkas Pemda) yang dapat menyetujui, membatalkan, atau "
            "mencatat pengantaran surat teguran."
        )
    letter = session.get(Letter, letter_id)
    if letter is None or not may_see_letter(session, viewer, letter):
        raise HTTPException(404)
    now = deps.clock.now()
    unit = session.get(Unit, letter.unit_id)
    code = unit.code if unit is not None else ""  # so `/jejak <unit>` finds the letter's actions
    if action == "setujui":
        text = flow.approve(session, deps.pemda, deps.calendar, letter_id, me, now, deps.sends_on)
        audit(session, viewer, "letter.approved", str(letter_id), unit=code)
        return text
    if action == "diantar":
        text, recorded = flow.hand_deliver(session, deps.pemda, deps.calendar, letter_id, me, now)
        if recorded:  # a repeat changes nothing, so it leaves no second row in /jejak
            audit(session, viewer, "letter.hand_delivered", str(letter_id), unit=code)
        return text
    reason = " ".join(reason.split())[:200]
    text = flow.cancel(session, deps.pemda, letter_id, me, now, reason)
    audit(session, viewer, "letter.cancelled", str(letter_id), unit=code, reason=reason)
    return text


# -- the verification queue ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """One piece of evidence waiting for the person's verdict."""

    id: int
    unit: Unit | None
    what: str
    sender: str
    sent: str
    filename: str
    file: str


@dataclass(frozen=True)
class Queue:
    """Everything /dasbor/verifikasi shows."""

    items: list[QueueItem]
    total: int
    notice: str
    tone: str
    min_reason: int


def queue(session: Session, deps: Deps, viewer: Viewer, params: QueryParams, error: str = "") -> Queue:
    """The evidence the person may decide on, oldest first (the chat's /verifikasi list), and after a verdict the
    line that confirms it (`?putusan=<id>`)."""
    me = me_of(session, viewer)
    verifiers = load_verifiers(session, deps.pemda)
    mine = [(e, r) for e, r in waiting_queue(session) if verifiers.may_decide(me, e)]
    units = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_({e.unit_id for e, _r in mine})))}
    senders = {e.uploaded_by_id for e, _r in mine if e.uploaded_by_id is not None}
    names = dict(session.exec(select(Contact.id, Contact.name).where(col(Contact.id).in_(senders))).all())
    items = [
        QueueItem(
            evidence.id or 0,
            units.get(evidence.unit_id),
            describe(session, deps.pemda, evidence, report),
            names.get(evidence.uploaded_by_id, "–") if evidence.uploaded_by_id else "–",
            local_time(deps, evidence.uploaded_at),
            evidence.filename,
            f"{_kind(evidence)}, {size_text(evidence.size)}",
        )
        for evidence, report in mine[:QUEUE_SHOWN]
    ]
    notice, tone = (error, "bad") if error else (_verdict_line(session, deps, me, params), "ok")
    return Queue(items, len(mine), notice, tone, MIN_REASON)


def _kind(evidence: Evidence) -> str:
    kind = next((k for k in KINDS if evidence.filename.endswith("." + k)), "pdf")
    return kind_label(kind)


def _verdict_line(session: Session, deps: Deps, me: Contact, params: QueryParams) -> str:
    """'Bukti #12 dinyatakan sah: Dinas … – …. Eko Hidayat diberi tahu.' for a verdict `me` just took."""
    wanted = params.get("putusan", "")
    if not (wanted.isdigit() and len(wanted) < 10):
        return ""
    evidence = session.get(Evidence, int(wanted))
    if evidence is None or evidence.verifier_id != me.id or evidence.status == EvidenceStatus.WAITING.value:
        return ""
    report = session.get(Report, evidence.report_id)
    unit = session.get(Unit, evidence.unit_id)
    word = "dinyatakan sah" if evidence.status == EvidenceStatus.ACCEPTED.value else "ditolak"
    what = describe(session, deps.pemda, evidence, report)
    line = f"Bukti #{evidence.id} {word}: {unit.name if unit is not None else ''} – {what}."
    people = told(session, evidence)
    if people:
        line += f" {', '.join(people)} diberi tahu lewat Sigap."
    return line


TAKEN = 200
"""`verdict`'s status when the verdict was taken (otherwise 400: no reason given; 409: already decided)."""


def verdict(
    session: Session, deps: Deps, viewer: Viewer, evidence_id: int, choice: str, reason: str
) -> tuple[int, str]:
    """Take the verdict the person chose ('sah', or 'tolak' with a reason) with the chat's `decide`: (`TAKEN`, the
    words), or 400 and what to write (no reason), or 409 and why not (decided already, withdrawn)."""
    me = me_of(session, viewer)
    if choice not in ("sah", "tolak"):
        return 400, "Pilih Sah atau Tolak."
    reason = " ".join(reason.split())
    if choice == "tolak" and len(reason) < MIN_REASON:
        return 400, (
            f"Mohon tulis alasan penolakan bukti #{evidence_id} dan apa yang perlu dikirim ulang, misalnya: "
            "“Dokumen belum ditandatangani; kirim versi yang sudah ditandatangani.”"
        )
    if session.get(Evidence, evidence_id) is None:
        raise HTTPException(404)
    verifiers = load_verifiers(session, deps.pemda)
    try:
        decision = decide(
            session, deps.pemda, verifiers, me, evidence_id, accepted=choice == "sah", reason=reason[:480],
            now=deps.clock.now(), audit=recorder(session, viewer), on=deps.sends_on,
        )  # fmt: skip
    except UserError as exc:
        raise Forbidden(str(exc)) from None
    return (TAKEN if decision.taken else 409), decision.text


# -- the export --------------------------------------------------------------------------------------------------


def export(session: Session, deps: Deps, scope: Scope, today: date) -> tuple[str, bytes]:
    """The status workbook of the person's units (the same as /ekspor), audited like /ekspor; its name and bytes."""
    name = f"status-sigap-{today.isoformat()}.xlsx"
    content = status_workbook(session, deps.pemda, scope.units, today, scope.name, calendar=deps.calendar)
    audit(session, scope.viewer, "status.export", name)
    return name, content
