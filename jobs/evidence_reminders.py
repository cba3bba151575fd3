"""The verifiers' daily reminder: evidence (bukti dukung) waiting too long for a verdict.

Once a working day (`REMIND_AT`, in the Pemda's zone) each verifier gets one message listing, per program, the items
they may decide on that have waited more than `[evidence] remind_after_working_days` working days, and every waiting
item of a program whose deadline has passed: those units are held back from warnings and letters until the verifier
decides (`models.standing.Standing.awaiting`), so the verifier is reminded instead. Each item's `reminded_at` is
stamped; the outbox key (verifier and day) makes a second run on the same day queue nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, time

from sqlmodel import Session

from jobs import templates
from models.app import Deps
from models.calendar import WorkingCalendar
from models.db import Database
from models.evidence import load_verifiers, waiting_queue
from models.fmt import tanggal_pendek
from models.messages import CHAT_CHANNELS, Button, Channel
from models.outbox import OutMessage, enqueue
from models.pemda import PemdaConfig
from models.tables import Contact, Evidence

log = logging.getLogger(__name__)

REMIND_AT = time(9, 30)
"""When the reminder runs on working days (local time)."""


def remind_verifiers(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """Queue today's reminder for every verifier with items overdue, on a channel of `on`; how many verifiers were
    reminded (an item stays unstamped until one of its verifiers is reached)."""
    if not calendar.is_working_time(at):
        return 0
    today = calendar.local_date(at)
    days = pemda.evidence.remind_after_working_days
    verifiers = load_verifiers(session, pemda)
    due: dict[int, list[tuple[Evidence, bool]]] = defaultdict(list)
    people: dict[int, Contact] = {}
    for evidence, _report in waiting_queue(session):
        program = pemda.program(evidence.program_key)
        if program is None:
            continue
        late = program.deadline_of(evidence.period) < today
        if not late and calendar.working_days_between(calendar.local_date(evidence.uploaded_at), today) < days:
            continue
        for person in verifiers.eligible(evidence.program_key, evidence.unit_id, evidence.uploaded_by_id):
            assert person.id is not None
            due[person.id].append((evidence, late))
            people[person.id] = person
    reminded = 0
    stamped: set[int] = set()
    for person_id, items in due.items():
        person = people[person_id]
        text, summary = _wording(pemda, calendar, person, items, days)
        message = OutMessage(
            text=text,
            kind="evidence",
            buttons=(Button("Buka antrean", "/verifikasi"),),
            template=templates.reminder(pemda, person.name[:60], summary),
        )
        if enqueue(session, f"bukti-ingat:{person_id}:{today.isoformat()}", person, message, at, on=on) is not None:
            reminded += 1
            stamped.update(e.id for e, _late in items if e.id is not None)
    for evidence, _report in waiting_queue(session):
        if evidence.id in stamped:
            evidence.reminded_at = at
            session.add(evidence)
    return reminded


def _wording(
    pemda: PemdaConfig, calendar: WorkingCalendar, person: Contact, items: list[tuple[Evidence, bool]], days: int
) -> tuple[str, str]:
    """The reminder's text and its one-line summary (the WhatsApp template's parameter)."""
    per_program: dict[str, list[Evidence]] = defaultdict(list)
    for evidence, _late in items:
        per_program[evidence.program_key].append(evidence)
    lines = [f"Yth. Bapak/Ibu {person.name},", "🔎 Bukti dukung menunggu verifikasi Bapak/Ibu:"]
    for key, group in per_program.items():
        program = pemda.program(key)
        oldest = min(e.uploaded_at for e in group)
        label = program.label if program is not None else key
        lines.append(f"• {label}: {len(group)} bukti, terlama dikirim {tanggal_pendek(calendar.local_date(oldest))}.")
    held = sum(1 for _e, late in items if late)
    if held:
        lines.append(
            f"{held} di antaranya untuk program yang batas waktunya sudah lewat: unitnya ditahan dari peringatan "
            "dan surat teguran sampai Bapak/Ibu memutuskan."
        )
    lines.append(f"Bukti yang menunggu lebih dari {days} hari kerja diingatkan setiap hari. Ketik /verifikasi.")
    summary = f"{len(items)} bukti dukung menunggu verifikasi Bapak/Ibu; ketik /verifikasi"
    return "\n".join(lines), summary


def run_verifier_reminders_once(
    db: Database, pemda: PemdaConfig, calendar: WorkingCalendar, at: datetime, on: Collection[Channel] = CHAT_CHANNELS
) -> int:
    """`remind_verifiers` in its own unit of work."""
    with db.uow() as uow:
        count = remind_verifiers(uow.session, pemda, calendar, at, on)
        uow.commit()
    if count:
        log.info("evidence waiting: %d verifier(s) reminded", count)
    return count


async def run_verifier_reminders(deps: Deps) -> int:
    """The scheduled job: the day's reminder in a worker thread, never raising into the scheduler."""
    try:
        return await asyncio.to_thread(
            run_verifier_reminders_once, deps.db, deps.pemda, deps.calendar, deps.clock.now(), deps.sends_on
        )
    except Exception:
        log.exception("reminding verifiers of waiting evidence failed")
        return 0
