"""A warning letter's life after drafting: approval, delivery through the outbox, receipt, and escalation.

draft -> (approval by an admin, or at once when `letters.require_approval` is false) -> approved -> sent to the
unit's kepala/operator/camat with the PDF and a "Saya sudah menerima" button -> received. A draft or approved
letter may be cancelled; it keeps its number in the register. A sent letter with no receipt after
`letters.receipt_working_days` working days is reported to the pimpinan once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from jobs import templates
from jobs.letters.content import format_date_id
from jobs.letters.register import STAGE_LABELS, draft_letter, find_letter, record_event
from models.calendar import WorkingCalendar
from models.clock import Clock
from models.db import Database
from models.ladder import TEGURAN_KINDS
from models.messages import Button
from models.outbound import Template
from models.outbox import OutMessage, enqueue
from models.pemda import PemdaConfig, Stage
from models.standing import Standing
from models.tables import UNIT_ROLES, Contact, Letter, LetterStatus, Role, Unit

log = logging.getLogger(__name__)

KIND = "letter"


class Refused(Exception):
    """A person asked for something the letter's state or their role does not allow; the message says why."""


def approve_payload(letter_id: int) -> str:
    """The button payload that approves a letter."""
    return f"/teguran setujui {letter_id}"


def cancel_payload(letter_id: int) -> str:
    """The button payload that cancels a letter."""
    return f"/teguran batal {letter_id}"


def receipt_payload(letter_id: int) -> str:
    """The button payload a recipient taps to confirm receipt."""
    return f"/terima {letter_id}"


def stage_label(letter: Letter) -> str:
    """'Surat Teguran I'."""
    return f"Surat {STAGE_LABELS.get(letter.stage, letter.stage)}"


def _active(session: Session, *roles: str) -> list[Contact]:
    return list(
        session.exec(
            select(Contact).where(col(Contact.role).in_(roles), col(Contact.active).is_(True)).order_by(col(Contact.id))
        ).all()
    )


def approvers(session: Session, pemda: PemdaConfig) -> list[Contact]:
    """Who is asked to approve: every admin, and the pimpinan when the Pemda file lists them."""
    roles = [Role.ADMIN.value]
    if "pimpinan" in pemda.letters.approvers:
        roles.append(Role.PIMPINAN.value)
    return _active(session, *roles)


def may_approve(pemda: PemdaConfig, contact: Contact) -> bool:
    """Whether `contact` may approve or cancel letters."""
    return contact.role == Role.ADMIN.value or (
        contact.role == Role.PIMPINAN.value and "pimpinan" in pemda.letters.approvers
    )


def unit_recipients(session: Session, unit_id: int) -> list[Contact]:
    """The unit's kepala, operators and camat, who receive its letters."""
    return list(
        session.exec(
            select(Contact)
            .where(Contact.unit_id == unit_id, col(Contact.role).in_(UNIT_ROLES), col(Contact.active).is_(True))
            .order_by(col(Contact.id))
        ).all()
    )


def _unit(session: Session, letter: Letter) -> Unit:
    unit = session.get(Unit, letter.unit_id)
    assert unit is not None
    return unit


def _template(pemda: PemdaConfig, letter: Letter, unit: Unit) -> Template:
    return templates.letter(pemda, stage_label(letter), letter.number, unit.name)


def _perihal(pemda: PemdaConfig, letter: Letter) -> str:
    program = pemda.program(letter.program_key)
    return program.label if program is not None else letter.program_key


def lock_letter(session: Session, letter_id: int) -> Letter:
    """The letter, locked for update on PostgreSQL (two admins tapping at once see each other's decision)."""
    letter = session.get(Letter, letter_id, with_for_update=True, populate_existing=True)
    if letter is None:
        raise Refused(f"Surat dengan id {letter_id} tidak ada di register. Ketik /teguran untuk melihat daftarnya.")
    return letter


def submit(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letter: Letter, at: datetime) -> int:
    """After drafting: ask for approval, or deliver at once when the Pemda file says so; returns messages queued."""
    if pemda.letters.require_approval:
        return request_approval(session, pemda, calendar, letter, at)
    letter.status = LetterStatus.APPROVED.value
    letter.approved_at = at
    session.add(letter)
    record_event(session, letter, LetterStatus.APPROVED.value, at, None, "tanpa persetujuan (letters.require_approval)")
    return deliver(session, pemda, calendar, letter, at)


def request_approval(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letter: Letter, at: datetime
) -> int:
    """Send the draft with its PDF to every approver, with 'Setujui & kirim' and 'Batalkan' buttons."""
    assert letter.id is not None
    unit = _unit(session, letter)
    text = (
        f"📄 Rancangan {stage_label(letter)} untuk {unit.name}\n"
        f"Nomor: {letter.number}\n"
        f"Kekurangan: {letter.summary}\n"
        "Mohon Bapak/Ibu periksa PDF terlampir, lalu pilih “Setujui & kirim” atau “Batalkan”."
    )
    message = OutMessage(
        text=text,
        kind=KIND,
        buttons=(Button("Setujui & kirim", approve_payload(letter.id)), Button("Batalkan", cancel_payload(letter.id))),
        template=_template(pemda, letter, unit),
        attachment_id=letter.pdf_id,
    )
    return _to_approvers(session, pemda, calendar, f"letter:{letter.id}", message, at)


def _to_approvers(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, key: str, message: OutMessage, at: datetime
) -> int:
    """Queue `message` to every approver at the next working slot; returns how many were queued."""
    queued = 0
    when = calendar.next_slot(at)
    for contact in approvers(session, pemda):
        if enqueue(session, f"{key}:approval:{contact.id}", contact, message, at, not_before=when):
            queued += 1
    if not queued:
        log.warning("%s: drafted but no approver is reachable", key)
    return queued


def request_approval_digest(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letters: Sequence[Letter], at: datetime
) -> int:
    """One message per approver listing many new drafts, with 'Setujui & kirim semua' and the register."""
    shown = 15
    lines = [f"📄 {len(letters)} rancangan surat teguran menunggu persetujuan Bapak/Ibu:"]
    for letter in letters[:shown]:
        unit = _unit(session, letter)
        lines.append(f"• {letter.number} – {unit.name}: {stage_label(letter)}, {letter.program_key}")
    if len(letters) > shown:
        lines.append(f"… dan {len(letters) - shown} lainnya (lihat /teguran).")
    lines.append("PDF tiap surat: /teguran <nomor>. Setujui satu per satu: /teguran setujui <id>.")
    first = letters[0]
    message = OutMessage(
        text="\n".join(lines),
        kind=KIND,
        buttons=(Button("Setujui & kirim semua", "/teguran setujui semua"), Button("Lihat daftar", "/teguran")),
        template=_template(pemda, first, _unit(session, first)),
    )
    ids = ",".join(str(letter.id) for letter in letters)
    digest = hashlib.sha1(ids.encode(), usedforsecurity=False).hexdigest()[:16]
    return _to_approvers(session, pemda, calendar, f"letter:digest:{digest}", message, at)


def approve(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letter_id: int, actor: Contact, at: datetime
) -> str:
    """Approve a draft and deliver it; approving again only says what already happened."""
    if not may_approve(pemda, actor):
        raise Refused("Mohon maaf, hanya admin yang dapat menyetujui surat teguran.")
    letter = lock_letter(session, letter_id)
    if letter.status == LetterStatus.CANCELLED.value:
        raise Refused(f"{stage_label(letter)} nomor {letter.number} sudah dibatalkan, jadi tidak dapat disetujui.")
    if letter.status != LetterStatus.DRAFT.value:
        who = session.get(Contact, letter.approved_by_id) if letter.approved_by_id else None
        by = f" oleh {who.name}" if who is not None else ""
        return (
            f"{stage_label(letter)} nomor {letter.number} sudah disetujui{by} sebelumnya "
            f"(status: {STATUS_WORDS[letter.status]}). Tidak ada yang perlu dilakukan lagi."
        )
    letter.status = LetterStatus.APPROVED.value
    letter.approved_by_id = actor.id
    letter.approved_at = at
    session.add(letter)
    record_event(session, letter, LetterStatus.APPROVED.value, at, actor.id, f"disetujui oleh {actor.name}")
    queued = deliver(session, pemda, calendar, letter, at)
    unit = _unit(session, letter)
    if not queued:
        return (
            f"{stage_label(letter)} nomor {letter.number} disetujui, tetapi {unit.name} belum punya kontak yang "
            "dapat dihubungi di Sigap. Mohon undang kepala unitnya (/undang), lalu kirim surat secara manual."
        )
    names = ", ".join(c.name for c in unit_recipients(session, unit.id or 0))
    return (
        f"✅ {stage_label(letter)} nomor {letter.number} disetujui dan dikirim ke {unit.name} ({names}). "
        "Bapak/Ibu akan diberi tahu bila tanda terima belum masuk."
    )


def deliver(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letter: Letter, at: datetime) -> int:
    """Queue the PDF with a 'Saya sudah menerima' button to the unit's kepala, operators and camat."""
    assert letter.id is not None
    unit = _unit(session, letter)
    drafted = calendar.local_date(letter.created_at)
    deadline = calendar.add_working_days(drafted, pemda.letters.new_deadline_working_days)
    text = (
        f"📄 {stage_label(letter)} untuk {unit.name}\n"
        f"Nomor: {letter.number}\n"
        f"Kekurangan: {letter.summary}\n"
        f"Mohon Bapak/Ibu membaca surat terlampir dan memenuhi kekurangannya paling lambat "
        f"{format_date_id(deadline)}, lalu melaporkannya dengan /lapor {letter.program_key}.\n"
        "Setelah menerima surat ini, mohon tekan “Saya sudah menerima”."
    )
    message = OutMessage(
        text=text,
        kind=KIND,
        buttons=(Button("Saya sudah menerima", receipt_payload(letter.id)),),
        template=_template(pemda, letter, unit),
        attachment_id=letter.pdf_id,
    )
    queued = 0
    when = calendar.next_slot(at)
    for contact in unit_recipients(session, unit.id or 0):
        if enqueue(session, f"letter:{letter.id}:deliver:{contact.id}", contact, message, at, not_before=when):
            queued += 1
    if queued:
        letter.status = LetterStatus.SENT.value
        letter.sent_at = at
        session.add(letter)
        record_event(session, letter, LetterStatus.SENT.value, at, None, f"dikirim ke {queued} penerima")
    else:
        log.warning("letter %s approved but %s has no reachable contact", letter.id, unit.code)
    return queued


def cancel(session: Session, pemda: PemdaConfig, letter_id: int, actor: Contact, at: datetime, reason: str = "") -> str:
    """Cancel a draft or approved letter; it stays in the register under its number, marked cancelled."""
    if not may_approve(pemda, actor):
        raise Refused("Mohon maaf, hanya admin yang dapat membatalkan surat teguran.")
    letter = lock_letter(session, letter_id)
    if letter.status == LetterStatus.CANCELLED.value:
        return f"{stage_label(letter)} nomor {letter.number} memang sudah dibatalkan."
    if letter.status in (LetterStatus.SENT.value, LetterStatus.RECEIVED.value):
        raise Refused(
            f"{stage_label(letter)} nomor {letter.number} sudah dikirim ke unitnya, jadi tidak dapat dibatalkan lagi."
        )
    letter.status = LetterStatus.CANCELLED.value
    session.add(letter)
    note = f"dibatalkan oleh {actor.name}" + (f": {reason}" if reason else "")
    record_event(session, letter, LetterStatus.CANCELLED.value, at, actor.id, note)
    return (
        f"{stage_label(letter)} nomor {letter.number} dibatalkan. Nomornya tetap tercatat di register "
        "dengan status dibatalkan."
    )


def receive(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letter_id: int, contact: Contact, at: datetime
) -> str:
    """Record that a person of the addressed unit received the letter."""
    letter = lock_letter(session, letter_id)
    unit = _unit(session, letter)
    if contact.unit_id != letter.unit_id or contact.role not in UNIT_ROLES:
        raise Refused(
            f"Mohon maaf, surat ini ditujukan kepada {unit.name}; tanda terima hanya dapat diberikan oleh "
            "kepala atau operator unit tersebut."
        )
    if letter.status == LetterStatus.RECEIVED.value:
        who = session.get(Contact, letter.received_by_id) if letter.received_by_id else None
        name = f" atas nama {who.name}" if who is not None else ""
        when = f" pada {format_date_id(calendar.local_date(letter.received_at))}" if letter.received_at else ""
        return f"Tanda terima surat ini sudah tercatat{name}{when}. Terima kasih."
    if letter.status != LetterStatus.SENT.value:
        raise Refused(f"{stage_label(letter)} nomor {letter.number} belum dikirim, jadi belum dapat diterima.")
    letter.status = LetterStatus.RECEIVED.value
    letter.received_by_id = contact.id
    letter.received_at = at
    session.add(letter)
    record_event(session, letter, LetterStatus.RECEIVED.value, at, contact.id, f"diterima oleh {contact.name}")
    approver = session.get(Contact, letter.approved_by_id) if letter.approved_by_id is not None else None
    for person in [approver] if approver is not None else approvers(session, pemda):
        enqueue(
            session,
            f"letter:{letter.id}:received:{person.id}",
            person,
            OutMessage(
                text=f"📬 {stage_label(letter)} nomor {letter.number} telah diterima oleh {contact.name} "
                f"({unit.name}).",
                kind=KIND,
                template=_template(pemda, letter, unit),
            ),
            at,
        )
    return (
        f"Terima kasih, Bapak/Ibu {contact.name}. Tanda terima {stage_label(letter)} nomor {letter.number} "
        f"sudah tercatat. Mohon penuhi kekurangannya dan laporkan dengan /lapor {letter.program_key}."
    )


def receipt_due_at(calendar: WorkingCalendar, sent_at: datetime, working_days: int) -> datetime:
    """When a missing receipt is reported: `working_days` working days after sending, at the same time of day."""
    local = sent_at.astimezone(calendar.zone)
    day = calendar.add_working_days(local.date(), working_days)
    return calendar.at_local(day, local.time().replace(tzinfo=None))


def escalate_receipts(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, at: datetime) -> int:
    """Tell the pimpinan about each sent letter still without receipt after the allowed working days; once each."""
    stmt = (
        select(Letter)
        .where(Letter.status == LetterStatus.SENT.value)
        .where(col(Letter.received_at).is_(None), col(Letter.receipt_escalated_at).is_(None))
        .where(col(Letter.sent_at).is_not(None))
        .order_by(col(Letter.id))
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    days = pemda.letters.receipt_working_days
    leaders = _active(session, Role.PIMPINAN.value)
    escalated = 0
    for letter in session.exec(stmt).all():
        assert letter.sent_at is not None and letter.id is not None
        if at < receipt_due_at(calendar, letter.sent_at, days):
            continue
        unit = _unit(session, letter)
        sent_day = format_date_id(calendar.local_date(letter.sent_at))
        text = (
            f"⚠️ {stage_label(letter)} nomor {letter.number} untuk {unit.name} ({_perihal(pemda, letter)}) "
            f"dikirim {sent_day}, tetapi sampai {days} hari kerja belum ada tanda terima dari unit tersebut.\n"
            f"Kekurangan: {letter.summary}\n"
            "Mohon arahan Bapak/Ibu kepada pimpinan unit tersebut."
        )
        message = OutMessage(text=text, kind=KIND, template=_template(pemda, letter, unit), attachment_id=letter.pdf_id)
        when = calendar.next_slot(at)
        for leader in leaders:
            enqueue(session, f"letter:{letter.id}:receipt-escalation:{leader.id}", leader, message, at, not_before=when)
        letter.receipt_escalated_at = at
        session.add(letter)
        record_event(
            session, letter, "escalated", at, None, f"belum ada tanda terima; {len(leaders)} pimpinan diberi tahu"
        )
        escalated += 1
    return escalated


def run_receipt_escalation(db: Database, pemda: PemdaConfig, calendar: WorkingCalendar, clock: Clock) -> int:
    """One scheduled round of `escalate_receipts` in its own unit of work; returns letters escalated."""
    with db.uow() as uow:
        count = escalate_receipts(uow.session, pemda, calendar, clock.now())
        uow.commit()
    if count:
        log.info("missing receipts of %d letter(s) reported to the pimpinan", count)
    return count


DIGEST_FROM = 4
"""From this many new drafts in one sweep, approvers get one message listing them instead of one PDF each."""


class SweepLetterHook:
    """The sweep's hook for teguran stages: draft the letter, then ask for approval (or deliver at once)."""

    def __init__(self, pemda: PemdaConfig, calendar: WorkingCalendar) -> None:
        self.pemda = pemda
        self.calendar = calendar
        self._drafted: dict[int, list[Letter]] = {}
        """Drafts awaiting an approval request, per sweep transaction (by session), so a rolled-back sweep's
        drafts are never announced."""

    def __call__(self, session: Session, unit: Unit, standing: Standing, stage: Stage, at: datetime) -> bool:
        """Handle a teguran stage of `unit` on `standing`; True when the letter took the place of a warning."""
        if stage.kind not in TEGURAN_KINDS or standing.compliant or unit.id is None:
            return False
        if find_letter(session, unit.id, standing.program.key, standing.period, stage.kind) is not None:
            return True
        letter = draft_letter(session, self.pemda, self.calendar, unit, standing, stage, at)
        if self.pemda.letters.require_approval:
            self._drafted.setdefault(id(session), []).append(letter)
        else:
            submit(session, self.pemda, self.calendar, letter, at)
        return True

    def after_sweep(self, session: Session, at: datetime) -> None:
        """Ask for approval of this sweep's drafts: one message each, or one list when there are many."""
        drafted = self._drafted.pop(id(session), [])
        self._drafted.clear()
        if len(drafted) < DIGEST_FROM:
            for letter in drafted:
                request_approval(session, self.pemda, self.calendar, letter, at)
        elif drafted:
            request_approval_digest(session, self.pemda, self.calendar, drafted, at)


def make_letter_hook(pemda: PemdaConfig, calendar: WorkingCalendar) -> SweepLetterHook:
    """The sweep's hook for teguran stages."""
    return SweepLetterHook(pemda, calendar)


STATUS_WORDS = {
    LetterStatus.DRAFT.value: "menunggu persetujuan",
    LetterStatus.APPROVED.value: "disetujui, belum terkirim",
    LetterStatus.SENT.value: "terkirim, menunggu tanda terima",
    LetterStatus.RECEIVED.value: "sudah diterima",
    LetterStatus.CANCELLED.value: "dibatalkan",
}

