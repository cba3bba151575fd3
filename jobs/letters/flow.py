"""A warning letter's life after drafting: approval, numbering, delivery, receipt, escalation, restart.

draft (no number) -> approval by an admin (or at once when `letters.require_approval` is false), which numbers
and dates the letter -> sent to the unit's kepala/operator/camat with the PDF and a "Saya sudah menerima" button
-> received. A unit nobody can reach on chat is flagged; its approved letter is handed over on paper and
recorded with `/teguran diantar`, which counts as received. A draft or approved letter may be cancelled (a
numbered one keeps its number); a cancelled letter stops the ladder for its unit and programs until an admin
restarts it. A sent letter with no receipt after `letters.receipt_working_days` working days is reported to the
pimpinan once. Who can be reached is judged on the channels the deployment sends on (`on`, `Deps.sends_on`):
nothing is queued for anyone else, so no message waits forever for a channel that is not set up. The sweep's hook
that drafts and submits letters is `jobs.letters.hook`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from jobs import templates
from jobs.letters.content import format_date_id
from jobs.letters.register import (
    STAGE_LABELS,
    LetterError,
    item_standings,
    letter_items,
    number_letter,
    record_event,
)
from models.calendar import WorkingCalendar
from models.escalation import LETTER_CHANNEL, LETTER_KIND
from models.messages import CHAT_CHANNELS, Button, Channel
from models.outbound import Template
from models.outbox import OutMessage, choose_channel, enqueue
from models.pemda import PemdaConfig
from models.reach import count_reasons, describe
from models.roster_plan import leader_role
from models.tables import UNIT_ROLES, Contact, Letter, LetterDelivery, LetterStatus, Notice, Role, Unit

log = logging.getLogger(__name__)

KIND = LETTER_KIND


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


def active_contacts(session: Session, *roles: str) -> list[Contact]:
    """The active contacts with one of `roles`, by id."""
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
    return active_contacts(session, *roles)


def role_may_approve(pemda: PemdaConfig, role: str) -> bool:
    """Whether people with `role` may approve, cancel and record letters: admins, and pimpinan when the Pemda
    file lists them (the one rule; /bantuan and the command menus show what it allows)."""
    return role == Role.ADMIN.value or (role == Role.PIMPINAN.value and "pimpinan" in pemda.letters.approvers)


def may_approve(pemda: PemdaConfig, contact: Contact) -> bool:
    """Whether `contact` may approve or cancel letters."""
    return role_may_approve(pemda, contact.role)


def unit_recipients(session: Session, unit_id: int) -> list[Contact]:
    """The unit's kepala, operators and camat, who receive its letters."""
    return list(
        session.exec(
            select(Contact)
            .where(Contact.unit_id == unit_id, col(Contact.role).in_(UNIT_ROLES), col(Contact.active).is_(True))
            .order_by(col(Contact.id))
        ).all()
    )


def reachable_recipients(session: Session, unit_id: int, on: Collection[Channel] = CHAT_CHANNELS) -> list[Contact]:
    """The unit's recipients the bot can reach on a channel of `on` (none: the letter must be handed over)."""
    return [c for c in unit_recipients(session, unit_id) if choose_channel(c, on=on) is not None]


def reachable_units(session: Session, unit_ids: Collection[int], on: Collection[Channel] = CHAT_CHANNELS) -> set[int]:
    """Which of `unit_ids` have a recipient the bot can reach on `on` (one query for a list of letters)."""
    stmt = select(Contact).where(
        col(Contact.unit_id).in_(set(unit_ids)), col(Contact.role).in_(UNIT_ROLES), col(Contact.active).is_(True)
    )
    return {
        c.unit_id for c in session.exec(stmt).all() if c.unit_id is not None and choose_channel(c, on=on) is not None
    }


def why_unreached(contacts: Sequence[Contact], on: Collection[Channel]) -> str:
    """Why none of `contacts` can be reached on `on`: '2 hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur'."""
    return describe(count_reasons(contacts, on)) or "belum ada yang terdaftar"


def _no_reach_note(session: Session, letter: Letter, on: Collection[Channel]) -> str:
    """A warning line when nobody of the letter's unit can be reached on chat, else ''."""
    if reachable_recipients(session, letter.unit_id, on):
        return ""
    return (
        "⚠️ Unit ini belum punya kepala/operator/camat yang dapat dihubungi di Sigap: setelah disetujui, surat "
        f"perlu diantar langsung lalu dicatat dengan /teguran diantar {letter.id}.\n"
    )


def lapor_hint(session: Session, letter: Letter) -> str:
    """'/lapor katalog' for a one-program letter, '/lapor' for several."""
    keys = {item.program_key for item in letter_items(session, letter.id)} or {letter.program_key}
    return f"/lapor {next(iter(keys))}" if len(keys) == 1 else "/lapor"


def letter_unit(session: Session, letter: Letter) -> Unit:
    """The unit a letter is addressed to."""
    unit = session.get(Unit, letter.unit_id)
    assert unit is not None
    return unit


def letter_template(pemda: PemdaConfig, letter: Letter, unit: Unit) -> Template:
    """The WhatsApp template a letter message falls back to outside the 24-hour window."""
    return templates.letter(pemda, stage_label(letter), letter.label_number, unit.name)


def perihal(pemda: PemdaConfig, session: Session, letter: Letter) -> str:
    """The programs a letter is about: 'e-Katalog lokal, P3DN/UMKK'."""
    labels = []
    for item in letter_items(session, letter.id):
        program = pemda.program(item.program_key)
        labels.append(program.label if program is not None else item.program_key)
    return ", ".join(dict.fromkeys(labels)) or letter.program_key


def lock_letter(session: Session, letter_id: int) -> Letter:
    """The letter, locked for update on PostgreSQL (two admins tapping at once see each other's decision)."""
    letter = session.get(Letter, letter_id, with_for_update=True, populate_existing=True)
    if letter is None:
        raise Refused(f"Surat dengan id {letter_id} tidak ada di register. Ketik /teguran untuk melihat daftarnya.")
    return letter


def submit(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    letter: Letter,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """After drafting: ask for approval, or deliver at once when the Pemda file says so; returns messages queued."""
    if pemda.letters.require_approval:
        return request_approval(session, pemda, calendar, letter, at, on)
    number_letter(session, pemda, calendar, letter, at)
    letter.status = LetterStatus.APPROVED.value
    letter.approved_at = at
    session.add(letter)
    record_event(session, letter, LetterStatus.APPROVED.value, at, None, "tanpa persetujuan (letters.require_approval)")
    return deliver(session, pemda, calendar, letter, at, on)


def request_approval(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    letter: Letter,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """Send the draft with its PDF to every approver reachable on `on`, with 'Setujui & kirim' and 'Batalkan'."""
    assert letter.id is not None
    unit = letter_unit(session, letter)
    text = (
        f"📄 Rancangan {stage_label(letter)} untuk {unit.name} "
        f"({letter.label_number}; nomor diberikan saat disetujui)\n"
        f"Kekurangan: {letter.summary}\n"
        f"{_no_reach_note(session, letter, on)}"
        "Mohon Bapak/Ibu periksa PDF terlampir, lalu pilih “Setujui & kirim” atau “Batalkan”."
    )
    message = OutMessage(
        text=text,
        kind=KIND,
        buttons=(Button("Setujui & kirim", approve_payload(letter.id)), Button("Batalkan", cancel_payload(letter.id))),
        template=letter_template(pemda, letter, unit),
        attachment_id=letter.pdf_id,
    )
    version = len(letter_items(session, letter.id))
    return _to_approvers(session, pemda, calendar, f"letter:{letter.id}:v{version}", message, at, on)


def _to_approvers(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    key: str,
    message: OutMessage,
    at: datetime,
    on: Collection[Channel],
) -> int:
    """Queue `message` to every approver reachable on `on` at the next working slot; returns how many were queued."""
    queued = 0
    when = calendar.next_slot(at)
    people = approvers(session, pemda)
    for contact in people:
        if enqueue(session, f"{key}:approval:{contact.id}", contact, message, at, not_before=when, on=on):
            queued += 1
    if not queued:
        log.warning("%s: drafted but no approver is reachable (%s); see /teguran", key, why_unreached(people, on))
    return queued


def request_approval_digest(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    letters: Sequence[Letter],
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """One message per approver listing many new drafts, with 'Setujui & kirim semua' and the register."""
    shown = 15
    lines = [f"📄 {len(letters)} rancangan surat teguran menunggu persetujuan Bapak/Ibu:"]
    for letter in letters[:shown]:
        unit = letter_unit(session, letter)
        lost = not reachable_recipients(session, unit.id or 0, on)
        flag = " ⚠️ tanpa penerima di Sigap, antar langsung" if lost else ""
        lines.append(f"• [{letter.id}] {unit.name}: {stage_label(letter)}, {perihal(pemda, session, letter)}{flag}")
    if len(letters) > shown:
        lines.append(f"… dan {len(letters) - shown} lainnya (lihat /teguran).")
    lines.append("PDF tiap rancangan: /teguran <id>. Setujui satu per satu: /teguran setujui <id>.")
    first = letters[0]
    message = OutMessage(
        text="\n".join(lines),
        kind=KIND,
        buttons=(Button("Setujui & kirim semua", "/teguran setujui semua"), Button("Lihat daftar", "/teguran")),
        template=letter_template(pemda, first, letter_unit(session, first)),
    )
    ids = ",".join(str(letter.id) for letter in letters)
    digest = hashlib.sha1(ids.encode(), usedforsecurity=False).hexdigest()[:16]
    return _to_approvers(session, pemda, calendar, f"letter:digest:{digest}", message, at, on)


@dataclass(frozen=True)
class Approval:
    """What approving one letter did: its reply line, and whether it went out on chat or must be handed over."""

    text: str
    letter: Letter
    sent: bool
    dropped: bool = False
    """True when the unit had met every program by the time of approval (the letter was cancelled, not sent)."""


def approve(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    letter_id: int,
    actor: Contact,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> str:
    """Approve a draft: number it, date it, and deliver it on `on`; approving again only says what already happened."""
    return approve_letter(session, pemda, calendar, letter_id, actor, at, on).text


def approve_letter(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    letter_id: int,
    actor: Contact,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> Approval:
    """`approve`, with what happened as data (for mass approval's summary)."""
    if not may_approve(pemda, actor):
        raise Refused("Mohon maaf, hanya admin yang dapat menyetujui surat teguran.")
    letter = lock_letter(session, letter_id)
    if letter.status == LetterStatus.CANCELLED.value:
        raise Refused(f"{stage_label(letter)} {letter.label_number} sudah dibatalkan, jadi tidak dapat disetujui.")
    if letter.status != LetterStatus.DRAFT.value:
        who = session.get(Contact, letter.approved_by_id) if letter.approved_by_id else None
        by = f" oleh {who.name}" if who is not None else ""
        text = (
            f"{stage_label(letter)} nomor {letter.label_number} sudah disetujui{by} sebelumnya "
            f"(status: {STATUS_WORDS[letter.status]}). Tidak ada yang perlu dilakukan lagi."
        )
        return Approval(text, letter, sent=letter.status in (LetterStatus.SENT.value, LetterStatus.RECEIVED.value))
    unit = letter_unit(session, letter)
    dropped = _drop_met_programs(session, pemda, calendar, letter, unit, actor, at)
    if letter.status == LetterStatus.CANCELLED.value:
        text = (
            f"Rancangan {stage_label(letter)} untuk {unit.name} tidak dikirim: unit itu sudah memenuhi semua "
            "kewajibannya. Rancangan dibatalkan tanpa memakai nomor."
        )
        return Approval(text, letter, sent=False, dropped=True)
    try:
        number_letter(session, pemda, calendar, letter, at)
    except LetterError as exc:
        raise Refused(f"Surat belum dapat diberi nomor: {exc}. Mohon periksa berkas Pemda.") from exc
    letter.status = LetterStatus.APPROVED.value
    letter.approved_by_id = actor.id
    letter.approved_at = at
    session.add(letter)
    record_event(session, letter, LetterStatus.APPROVED.value, at, actor.id, f"disetujui oleh {actor.name}")
    queued = deliver(session, pemda, calendar, letter, at, on)
    note = f" ({dropped} tidak dicantumkan karena sudah dipenuhi)" if dropped else ""
    if not queued:
        recipients = unit_recipients(session, unit.id or 0)
        head = leader_role(unit.kind)
        lost = (
            f"{unit.name} belum punya kontak yang dapat dihubungi di Sigap ({why_unreached(recipients, on)})"
            if recipients
            else f"untuk {unit.name} belum ada {head} maupun operator yang terdaftar di Sigap"
        )
        text = (
            f"{stage_label(letter)} nomor {letter.number} disetujui{note}, tetapi {lost}. Mohon ambil PDF-nya "
            f"(/teguran {letter.id}), antar langsung, lalu catat dengan /teguran diantar {letter.id}."
        )
        return Approval(text, letter, sent=False)
    names = ", ".join(c.name for c in reachable_recipients(session, unit.id or 0, on))
    text = (
        f"✅ {stage_label(letter)} nomor {letter.number} disetujui{note} dan dikirim ke {unit.name} ({names}). "
        "Bapak/Ibu akan diberi tahu bila tanda terima belum masuk."
    )
    return Approval(text, letter, sent=True)


def _drop_met_programs(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    letter: Letter,
    unit: Unit,
    actor: Contact,
    at: datetime,
) -> str:
    """Before numbering: leave out programs the unit has met since the draft; cancel when none is left.

    Returns the labels left out ('' when none), so the approver is told (nothing changes silently).
    """
    items = letter_items(session, letter.id)
    standings = item_standings(session, pemda, unit, items, calendar.local_date(at))
    met = {(s.program.key, s.period) for s in standings if s.compliant}
    if not met:
        return ""
    for item in items:
        if (item.program_key, item.period) in met:
            session.delete(item)
    session.flush()
    labels = ", ".join(p.label for key, _period in sorted(met) if (p := pemda.program(key)) is not None)
    if len(met) == len(items):
        letter.status = LetterStatus.CANCELLED.value
        letter.cancel_reason = "unit sudah memenuhi sebelum surat disetujui"
        session.add(letter)
        record_event(session, letter, LetterStatus.CANCELLED.value, at, actor.id, letter.cancel_reason)
        return labels
    remaining = letter_items(session, letter.id)
    letter.program_key, letter.period = remaining[0].program_key, remaining[0].period
    record_event(
        session, letter, LetterStatus.DRAFT.value, at, actor.id, f"tidak dicantumkan (sudah dipenuhi): {labels}"
    )
    return labels


def deliver(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    letter: Letter,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """Queue the PDF with a 'Saya sudah menerima' button to the unit's kepala, operators and camat reachable on `on`;
    none reachable: nothing is queued and the letter stays approved, for hand delivery."""
    assert letter.id is not None
    unit = letter_unit(session, letter)
    deadline = letter.new_deadline or calendar.add_working_days(
        calendar.local_date(at), pemda.letters.new_deadline_working_days
    )
    text = (
        f"📄 {stage_label(letter)} untuk {unit.name}\n"
        f"Nomor: {letter.label_number}\n"
        f"Kekurangan: {letter.summary}\n"
        f"Mohon Bapak/Ibu membaca surat terlampir dan memenuhi kekurangannya paling lambat "
        f"{format_date_id(deadline)}, lalu melaporkannya dengan {lapor_hint(session, letter)}.\n"
        "Setelah menerima surat ini, mohon tekan “Saya sudah menerima”."
    )
    message = OutMessage(
        text=text,
        kind=KIND,
        buttons=(Button("Saya sudah menerima", receipt_payload(letter.id)),),
        template=letter_template(pemda, letter, unit),
        attachment_id=letter.pdf_id,
    )
    queued = 0
    when = calendar.next_slot(at)
    recipients = unit_recipients(session, unit.id or 0)
    for contact in recipients:
        if enqueue(session, f"letter:{letter.id}:deliver:{contact.id}", contact, message, at, not_before=when, on=on):
            queued += 1
    if queued:
        letter.status = LetterStatus.SENT.value
        letter.sent_at = at
        letter.delivery = LetterDelivery.CHAT.value
        session.add(letter)
        record_event(session, letter, LetterStatus.SENT.value, at, None, f"dikirim ke {queued} penerima")
    else:
        why = why_unreached(recipients, on)
        log.warning("letter %s approved but %s has no reachable contact (%s)", letter.id, unit.code, why)
    return queued


def cancel(session: Session, pemda: PemdaConfig, letter_id: int, actor: Contact, at: datetime, reason: str = "") -> str:
    """Cancel a draft or approved letter; a numbered one stays in the register under its number, marked cancelled."""
    if not may_approve(pemda, actor):
        raise Refused("Mohon maaf, hanya admin yang dapat membatalkan surat teguran.")
    letter = lock_letter(session, letter_id)
    if letter.status == LetterStatus.CANCELLED.value:
        return f"{stage_label(letter)} {letter.label_number} memang sudah dibatalkan."
    if letter.status in (LetterStatus.SENT.value, LetterStatus.RECEIVED.value):
        how = "diantar langsung ke" if letter.delivery == LetterDelivery.HAND.value else "dikirim ke"
        raise Refused(
            f"{stage_label(letter)} nomor {letter.number} sudah {how} unitnya, jadi tidak dapat dibatalkan lagi."
        )
    letter.status = LetterStatus.CANCELLED.value
    letter.cancel_reason = reason[:300]
    session.add(letter)
    note = f"dibatalkan oleh {actor.name}" + (f": {reason}" if reason else "")
    record_event(session, letter, LetterStatus.CANCELLED.value, at, actor.id, note)
    kept = (
        f"Nomor {letter.number} tetap tercatat di register dengan status dibatalkan."
        if letter.number
        else "Belum ada nomor yang terpakai."
    )
    return (
        f"{stage_label(letter)} {letter.label_number} untuk {letter_unit(session, letter).name} dibatalkan. {kept}\n"
        "Tangga teguran unit itu untuk program tersebut berhenti; bila perlu dilanjutkan, kirim "
        f"/teguran ulang {letter.id}."
    )


def hand_deliver(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letter_id: int, actor: Contact, at: datetime
) -> tuple[str, bool]:
    """Record that an approved letter was handed over on paper: it counts as received (and as delivered).
    Returns the reply and whether it was recorded now (False: it already was, nothing changed)."""
    if not may_approve(pemda, actor):
        raise Refused("Mohon maaf, hanya admin yang dapat mencatat surat yang diantar langsung.")
    letter = lock_letter(session, letter_id)
    if letter.status == LetterStatus.DRAFT.value:
        raise Refused(
            f"{stage_label(letter)} {letter.label_number} belum disetujui, jadi belum bernomor. "
            f"Setujui dulu: /teguran setujui {letter.id}, lalu antar dan catat."
        )
    if letter.status == LetterStatus.CANCELLED.value:
        raise Refused(f"{stage_label(letter)} {letter.label_number} sudah dibatalkan; tidak ada yang diantar.")
    if letter.status == LetterStatus.RECEIVED.value:
        how = "diantar langsung" if letter.delivery == LetterDelivery.HAND.value else "diterima lewat Sigap"
        done = f"{stage_label(letter)} nomor {letter.number} sudah tercatat {how}. Tidak ada yang perlu dilakukan lagi."
        return done, False
    letter.status = LetterStatus.RECEIVED.value
    letter.delivery = LetterDelivery.HAND.value
    letter.received_at = at
    letter.sent_at = letter.sent_at or at
    session.add(letter)
    record_event(
        session, letter, LetterStatus.RECEIVED.value, at, actor.id, f"diantar langsung, dicatat oleh {actor.name}"
    )
    unit = letter_unit(session, letter)
    return (
        f"✅ {stage_label(letter)} nomor {letter.number} untuk {unit.name} tercatat diantar langsung pada "
        f"{format_date_id(calendar.local_date(at))}. Tenggat baru dalam surat: "
        f"{format_date_id(letter.new_deadline) if letter.new_deadline else '-'}."
    ), True


def restart(session: Session, pemda: PemdaConfig, letter_id: int, actor: Contact, at: datetime) -> str:
    """Restart the ladder after a cancelled letter: the next sweep may draft that stage again if still behind."""
    if not may_approve(pemda, actor):
        raise Refused("Mohon maaf, hanya admin yang dapat memulai ulang tangga teguran.")
    letter = lock_letter(session, letter_id)
    if letter.status != LetterStatus.CANCELLED.value:
        raise Refused(
            f"{stage_label(letter)} {letter.label_number} tidak dibatalkan, jadi tangganya tidak berhenti. "
            "Mulai ulang hanya untuk surat yang dibatalkan."
        )
    if letter.restarted_at is not None:
        return f"Tangga teguran setelah {stage_label(letter)} {letter.label_number} sudah dimulai ulang sebelumnya."
    letter.restarted_at = at
    letter.restarted_by_id = actor.id
    session.add(letter)
    for item in letter_items(session, letter.id):  # the sweep's ledger forgets the stage, so it may be drafted again
        session.execute(
            delete(Notice).where(
                col(Notice.unit_id) == item.unit_id,
                col(Notice.program_key) == item.program_key,
                col(Notice.period) == item.period,
                col(Notice.stage).like(f"%:{item.stage}"),
                col(Notice.channel) == LETTER_CHANNEL,
            )
        )
    record_event(session, letter, "restarted", at, actor.id, f"tangga dimulai ulang oleh {actor.name}")
    return (
        f"Tangga teguran {letter_unit(session, letter).name} ({perihal(pemda, session, letter)}) dimulai ulang. "
        f"Bila unit itu masih belum memenuhi, sapuan berikutnya merancang {stage_label(letter)} yang baru "
        "untuk disetujui."
    )


def approve_all(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    upto: int,
    actor: Contact,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> tuple[str, list[int]]:
    """Approve every draft with id up to `upto` (the set the approver was shown); say what went where.
    Returns the reply and the ids of the letters approved (numbered; not those cancelled as already met)."""
    ids = [
        i
        for i in session.exec(
            select(Letter.id)
            .where(Letter.status == LetterStatus.DRAFT.value, col(Letter.id) <= upto)
            .order_by(col(Letter.id))
        ).all()
        if i is not None
    ]
    if not ids:
        return "Tidak ada rancangan yang menunggu persetujuan (mungkin sudah disetujui admin lain).", []
    results = [approve_letter(session, pemda, calendar, letter_id, actor, at, on) for letter_id in ids]
    numbered = [r for r in results if not r.dropped]
    sent = [r for r in numbered if r.sent]
    by_hand = [r for r in numbered if not r.sent]
    lines = [f"✅ {len(numbered)} surat teguran disetujui dan diberi nomor; {len(sent)} dikirim lewat Sigap."]
    if by_hand:
        lines.append(f"⚠️ {len(by_hand)} unit tidak dapat dihubungi di Sigap; mohon antar suratnya langsung:")
        for result in by_hand[:20]:
            lines.append(
                f"• [{result.letter.id}] {letter_unit(session, result.letter).name} – nomor {result.letter.number}"
            )
        if len(by_hand) > 20:
            lines.append(f"… dan {len(by_hand) - 20} lainnya (lihat /teguran).")
        lines.append("PDF: /teguran <id>. Setelah diantar: /teguran diantar <id>.")
    dropped = [r for r in results if r.dropped]
    if dropped:
        lines.append(f"{len(dropped)} rancangan dibatalkan tanpa nomor karena unitnya sudah memenuhi.")
    lines.append("Bapak/Ibu akan diberi tahu bila tanda terima belum masuk.")
    return "\n".join(lines), [r.letter.id for r in numbered if r.letter.id is not None]


def drafts_summary(
    session: Session, upto: int | None = None, on: Collection[Channel] = CHAT_CHANNELS
) -> tuple[int, int, str, int]:
    """(number of drafts, highest draft id, '20 Teguran I, 3 Teguran II', how many of them go by hand: their unit
    has no recipient reachable on `on`) for the mass-approval question."""
    stmt = select(Letter.id, Letter.stage, Letter.unit_id).where(Letter.status == LetterStatus.DRAFT.value)
    if upto is not None:
        stmt = stmt.where(col(Letter.id) <= upto)
    rows = session.exec(stmt).all()
    counts: dict[str, int] = {}
    for _id, stage, _unit in rows:
        counts[stage] = counts.get(stage, 0) + 1
    parts = ", ".join(f"{counts[k]} {STAGE_LABELS[k]}" for k in sorted(counts) if k in STAGE_LABELS)
    reachable = reachable_units(session, {unit for _i, _s, unit in rows}, on) if rows else set()
    by_hand = sum(1 for _i, _s, unit in rows if unit not in reachable)
    return len(rows), max((i for i, _s, _u in rows if i is not None), default=0), parts, by_hand


STATUS_WORDS = {
    LetterStatus.DRAFT.value: "rancangan, menunggu persetujuan",
    LetterStatus.APPROVED.value: "disetujui, belum terkirim",
    LetterStatus.SENT.value: "terkirim, menunggu tanda terima",
    LetterStatus.RECEIVED.value: "sudah diterima",
    LetterStatus.CANCELLED.value: "dibatalkan",
}
