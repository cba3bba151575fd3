"""The weekly digest for the pimpinan and admins: one message with the picture, through the outbox, once a week.

Each program's Pemda total and its change since last week, the five units furthest behind, the units that improved
most, a pace warning when the projection falls short of the target within `[digest] warn_weeks` of the deadline, the
warning letters issued and receipts outstanding, and the evidence waiting for a verifier. The picture is
`models.charts`' overview. Idempotent per ISO week and person (the outbox key), so a second run queues nothing.
Only people reachable on the channels the deployment sends on (`Deps.sends_on`) get it; the others are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from jobs import templates
from models.app import Deps
from models.calendar import WorkingCalendar
from models.charts import overview_spec, render, unit_label
from models.checkins import iso_week
from models.clock import ensure_utc
from models.db import Database
from models.fmt import angka, persen, tanggal
from models.leaders import (
    ProgramView,
    UnitLike,
    active_units,
    dispensations,
    figure_text,
    load_views,
    overall_scores,
    pace_known,
    pace_text,
    short_value,
    signed,
)
from models.messages import CHAT_CHANNELS, Button, Channel
from models.onboarding import digest_line
from models.outbox import OutMessage, choose_channel, enqueue, store_file
from models.pemda import PemdaConfig
from models.standing import collector_paused
from models.tables import Contact, Evidence, EvidenceStatus, Letter, LetterStatus, Outbox, Role

log = logging.getLogger(__name__)

KIND = "digest"
BEHIND_SHOWN = 5
IMPROVED_SHOWN = 3
MAX_TEXT = 3900
"""The digest's text stays within one chat message (4,096 characters)."""
ISSUED = (LetterStatus.APPROVED.value, LetterStatus.SENT.value, LetterStatus.RECEIVED.value)


@dataclass(frozen=True)
class Digest:
    """What the digest says and shows (the same for every reader but the greeting)."""

    week: str
    body: str
    summary: str
    """One line for the WhatsApp template outside the 24-hour window."""
    png: bytes
    filename: str


def _names(units: Mapping[int, UnitLike], pairs: list[tuple[int, str]]) -> str:
    return ", ".join(f"{unit_label(units.get(uid))} {text}" for uid, text in pairs)


def program_block(
    view: ProgramView, units: Mapping[int, UnitLike], warn_weeks: int, exempt: Collection[tuple[int, str]] = ()
) -> list[str]:
    """The lines of one program: total and change, pace warning, furthest behind, most improved."""
    program = view.program
    lines = [f"• {program.label}: {figure_text(program, view.now)}, {view.change_words()}."]
    pace = view.pace
    soon = pace_known(view) and pace.days_left <= warn_weeks * 7
    if soon and pace.short:
        text = pace_text(program, pace)
        lines.append(f"  ⚠️ {text[0].upper()}{text[1:]}.")
        if program.measure == "count":
            short = sum(1 for uid in view.standings if (p := view.unit_pace(uid)) is not None and p.short)
            if short:
                lines.append(f"  {short} unit diperkirakan belum mencapai target unitnya.")
    behind = view.behind(exempt)[:BEHIND_SHOWN]
    if behind:
        lines.append(f"  Paling tertinggal: {_names(units, [(s.unit_id, short_value(s)) for s in behind])}.")
    grown = sorted(((c, uid) for uid, c in view.unit_change.items() if c > 0), key=lambda x: (-x[0], x[1]))
    if grown:
        top = [(uid, signed(round(c, 1))) for c, uid in grown[:IMPROVED_SHOWN]]
        lines.append(f"  Naik terbanyak: {_names(units, top)}.")
    return lines


def _letters_line(session: Session, today: date) -> str:
    week_start = today - timedelta(days=6)
    issued = session.exec(
        select(func.count())
        .select_from(Letter)
        .where(col(Letter.status).in_(ISSUED), col(Letter.letter_date) >= week_start)
    ).one()
    open_receipts = session.exec(
        select(func.count())
        .select_from(Letter)
        .where(Letter.status == LetterStatus.SENT.value, col(Letter.received_at).is_(None))
    ).one()
    drafts = session.exec(
        select(func.count()).select_from(Letter).where(Letter.status == LetterStatus.DRAFT.value)
    ).one()
    if not (issued or open_receipts or drafts):
        return "Surat teguran: tidak ada yang terbit minggu ini dan tidak ada tanda terima yang ditunggu."
    parts = [f"{issued} terbit minggu ini", f"{open_receipts} belum ada tanda terima"]
    if drafts:
        parts.append(f"{drafts} rancangan menunggu persetujuan (/teguran)")
    return "Surat teguran: " + "; ".join(parts) + "."


def _evidence_line(session: Session, calendar: WorkingCalendar, today: date) -> str:
    count, oldest = session.exec(
        select(func.count(), func.min(Evidence.uploaded_at)).where(Evidence.status == EvidenceStatus.WAITING.value)
    ).one()
    if not count:
        return "Bukti dukung menunggu verifikasi: tidak ada."
    days = (today - calendar.local_date(ensure_utc(oldest))).days if oldest is not None else 0
    age = f", yang terlama {days} hari" if days > 0 else ""
    return f"Bukti dukung menunggu verifikasi: {count} berkas{age}."


def _short_total(view: ProgramView) -> str:
    """'320/500 (+30)', '31,8 % (+1,5 poin)' for the one-line summary."""
    change = signed(round(view.change, 1))
    if view.program.measure == "percent":
        return f"{persen(round(view.now.value, 1))} ({change} poin)"
    return f"{angka(view.now.value)}/{angka(view.now.goal)} ({change})"


def build_digest(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, at: datetime) -> Digest:
    """The digest of the week containing `at`, over every active unit."""
    with collector_paused():  # some 100,000 small objects for a Pemda of 30,000 units
        return _build(session, pemda, calendar, at)


def _build(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, at: datetime) -> Digest:
    today = calendar.local_date(at)
    units = active_units(session)
    by_id = {u.id: u for u in units if u.id is not None}
    views = load_views(session, pemda, units, today)
    scope = pemda.pemda.short_name
    lines = [f"📊 Ringkasan mingguan Sigap — {scope}", tanggal(today), ""]
    exempt = dispensations(session, views)
    for view in views:
        lines.extend(program_block(view, by_id, pemda.digest.warn_weeks, exempt))
    lines += ["", _letters_line(session, today), _evidence_line(session, calendar, today)]
    onboarding = digest_line(session, pemda, units)  # until every unit has a registered head
    if onboarding is not None:
        lines.append(onboarding)
    lines.append("Rincian: /rekap · peringkat: /peringkat · gambar per program: /grafik katalog · Excel: /ekspor")
    body = "\n".join(lines)
    if len(body) > MAX_TEXT:
        body = body[: MAX_TEXT - 1].rsplit("\n", 1)[0] + "\n…"
    overall = overall_scores(s for view in views for s in view.standings.values())
    chart = render(overview_spec(views, overall, by_id, scope, today))
    summary = "; ".join(f"{v.program.label} {_short_total(v)}" for v in views)
    week = iso_week(today)
    return Digest(week, body, f"Ringkasan mingguan {scope}: {summary}", chart.png, f"ringkasan-{week}.png")


def recipients(session: Session) -> list[Contact]:
    """The active pimpinan and admins, pimpinan first."""
    rows = session.exec(
        select(Contact)
        .where(col(Contact.active).is_(True), col(Contact.role).in_((Role.PIMPINAN.value, Role.ADMIN.value)))
        .order_by(col(Contact.role).desc(), col(Contact.id))
    ).all()
    return list(rows)


def queue_digest(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    at: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """Queue this week's digest for every pimpinan and admin reachable on `on` and not yet given it; returns the rows
    queued (nothing is built when nobody is left to give it to)."""
    week = iso_week(calendar.local_date(at))
    keys = {person.id: f"digest|{week}|{person.id}" for person in recipients(session)}
    sent = set(session.exec(select(Outbox.idem_key).where(col(Outbox.idem_key).in_(list(keys.values())))).all())
    due = [person for person in recipients(session) if keys[person.id] not in sent]
    people = [person for person in due if choose_channel(person, on=on) is not None]
    if len(people) < len(due):
        log.warning(
            "weekly digest: %d pimpinan/admin cannot be reached now (see /takterjangkau)", len(due) - len(people)
        )
    if not people:
        return 0
    digest = build_digest(session, pemda, calendar, at)
    file_id = store_file(session, digest.filename, "image/png", digest.png, at)
    template = templates.broadcast(pemda, digest.summary[:900])
    buttons = (Button("Lihat peringkat", "/peringkat"), Button("Rekap", "/rekap"))
    queued = 0
    for person in people:
        text = f"Yth. Bapak/Ibu {person.name},\n{digest.body}"
        message = OutMessage(text=text, kind=KIND, buttons=buttons, template=template, attachment_id=file_id)
        if enqueue(session, keys[person.id], person, message, at, on=on) is not None:
            queued += 1
    return queued


def send_weekly_digest(
    db: Database, pemda: PemdaConfig, calendar: WorkingCalendar, at: datetime, on: Collection[Channel] = CHAT_CHANNELS
) -> int:
    """One scheduled digest in its own unit of work, to the people reachable on `on`; returns the rows queued (0 when
    already sent this week, or nobody can be reached)."""
    with db.uow() as uow:
        count = queue_digest(uow.session, pemda, calendar, ensure_utc(at), on)
        uow.commit()
    if count:
        log.info("weekly digest queued for %d people", count)
    return count


def run_digest(deps: Deps) -> int:
    """The scheduler's digest job: never raises into the scheduler."""
    if not deps.pemda.digest.enabled:
        return 0
    try:
        return send_weekly_digest(deps.db, deps.pemda, deps.calendar, deps.clock.now(), deps.sends_on)
    except Exception:
        log.exception("weekly digest failed")
        return 0
