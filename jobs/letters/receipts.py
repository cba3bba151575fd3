"""Receipts of warning letters: the unit confirms it received a letter; missing receipts go to the pimpinan."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, col, select

from jobs.letters.content import format_date_id
from jobs.letters.flow import (
    KIND,
    Refused,
    active_contacts,
    approvers,
    lapor_hint,
    letter_template,
    letter_unit,
    lock_letter,
    perihal,
    stage_label,
    why_unreached,
)
from jobs.letters.register import record_event
from models.calendar import WorkingCalendar
from models.clock import Clock
from models.db import Database
from models.messages import CHAT_CHANNELS, Channel, full_stop
from models.outbox import OutMessage, enqueue
from models.pemda import PemdaConfig
from models.tables import UNIT_ROLES, Contact, Letter, LetterStatus, Role

log = logging.getLogger(__name__)


def receive(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    letter_id: int,
    contact: Contact,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> str:
    """Record that a person of the addressed unit received the letter; its approver (else every approver) is told
    on a channel of `on`."""
    letter = lock_letter(session, letter_id)
    unit = letter_unit(session, letter)
    if contact.unit_id != letter.unit_id or contact.role not in UNIT_ROLES:  # (whose letter it is stays unsaid)
        raise Refused(
            f"Mohon maaf, surat dengan id {letter_id} tidak ditujukan kepada unit Bapak/Ibu, jadi tanda terimanya "
            "tidak dapat dicatat dari sini. Surat untuk unit Bapak/Ibu datang sebagai pesan surat teguran: tekan "
            "“Saya sudah menerima” pada pesan itu, atau ketik /terima dengan id yang tertulis di pesan itu."
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
                template=letter_template(pemda, letter, unit),
            ),
            at,
            on=on,
        )
    return (
        f"Terima kasih, Bapak/Ibu {full_stop(contact.name)} Tanda terima {stage_label(letter)} nomor {letter.number} "
        f"sudah tercatat. Mohon penuhi kekurangannya dan laporkan dengan {lapor_hint(session, letter)}."
    )


def receipt_due_at(calendar: WorkingCalendar, sent_at: datetime, working_days: int) -> datetime:
    """When a missing receipt is reported: `working_days` working days after sending, at the same time of day."""
    local = sent_at.astimezone(calendar.zone)
    day = calendar.add_working_days(local.date(), working_days)
    return calendar.at_local(day, local.time().replace(tzinfo=None))


def escalate_receipts(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """Tell the pimpinan reachable on `on` about each sent letter still without receipt after the allowed working
    days; once each (a letter none of them could be told about is still marked escalated, and the register says so)."""
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
    leaders = active_contacts(session, Role.PIMPINAN.value)
    escalated = 0
    for letter in session.exec(stmt).all():
        assert letter.sent_at is not None and letter.id is not None
        if at < receipt_due_at(calendar, letter.sent_at, days):
            continue
        unit = letter_unit(session, letter)
        sent_day = format_date_id(calendar.local_date(letter.sent_at))
        text = (
            f"⚠️ {stage_label(letter)} nomor {letter.number} untuk {unit.name} ({perihal(pemda, session, letter)}) "
            f"dikirim {sent_day}, tetapi sampai {days} hari kerja belum ada tanda terima dari unit tersebut.\n"
            f"Kekurangan: {letter.summary}\n"
            "Mohon arahan Bapak/Ibu kepada pimpinan unit tersebut."
        )
        message = OutMessage(
            text=text, kind=KIND, template=letter_template(pemda, letter, unit), attachment_id=letter.pdf_id
        )
        when = calendar.next_slot(at)
        told = 0
        for leader in leaders:
            key = f"letter:{letter.id}:receipt-escalation:{leader.id}"
            if enqueue(session, key, leader, message, at, not_before=when, on=on) is not None:
                told += 1
        letter.receipt_escalated_at = at
        session.add(letter)
        if told:
            note = f"belum ada tanda terima; {told} pimpinan diberi tahu"
        else:
            note = f"belum ada tanda terima; tidak ada pimpinan yang dapat dihubungi ({why_unreached(leaders, on)})"
            log.warning(
                "letter %s has no receipt and no pimpinan can be told (%s)", letter.id, why_unreached(leaders, on)
            )
        record_event(session, letter, "escalated", at, None, note)
        escalated += 1
    return escalated


def run_receipt_escalation(
    db: Database, pemda: PemdaConfig, calendar: WorkingCalendar, clock: Clock, on: Collection[Channel] = CHAT_CHANNELS
) -> int:
    """One scheduled round of `escalate_receipts` in its own unit of work; returns letters escalated."""
    with db.uow() as uow:
        count = escalate_receipts(uow.session, pemda, calendar, clock.now(), on)
        uow.commit()
    if count:
        log.info("missing receipts of %d letter(s) reported to the pimpinan", count)
    return count
