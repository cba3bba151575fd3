"""Build the long-lived dependencies once, at start-up (never at import)."""

from __future__ import annotations

import logging
from datetime import date

from sqlmodel import select

from bot.settings import Settings
from models.app import Deps
from models.calendar import WorkingCalendar
from models.clock import Clock, SystemClock
from models.db import Database
from models.pemda import PemdaConfig, load_pemda
from models.program_sync import sync_programs
from models.tables import DayOff

log = logging.getLogger(__name__)


def days_off(pemda: PemdaConfig, db: Database) -> dict[date, str]:
    """The extra days off: the Pemda file's and those admins added with /libur (stored in the database)."""
    extra = {h.date: h.reason for h in pemda.holidays}
    with db.uow() as uow:
        for day_off in uow.session.exec(select(DayOff)).all():
            extra[day_off.day] = day_off.reason
    return extra


def build_calendar(pemda: PemdaConfig, db: Database) -> WorkingCalendar:
    """The working calendar: national holidays, the Pemda file's extra days, and admin-added days off."""
    return WorkingCalendar(pemda.pemda.timezone, pemda.pemda.work_start, pemda.pemda.work_end, days_off(pemda, db))


def refresh_calendar(deps: Deps) -> None:
    """Re-read the days off from the database, so a /libur on another instance counts here too."""
    deps.calendar.replace_days_off(days_off(deps.pemda, deps.db))


def build_deps(
    settings: Settings, *, clock: Clock | None = None, db: Database | None = None, sync: bool = True
) -> Deps:
    """Database, Pemda file, clock and calendar, with programs mirrored into the database (`sync`; a worker
    process of `sigap run`, which did it already, passes False)."""
    pemda = load_pemda(settings.pemda_path())
    db = db or Database(settings.database_url)
    clock = clock or SystemClock()
    calendar = build_calendar(pemda, db)
    if sync:
        with db.uow() as uow:
            for warning in sync_programs(uow.session, pemda, calendar.local_date(clock.now())):
                log.warning("%s", warning)
            uow.commit()
    return Deps(
        db=db,
        pemda=pemda,
        clock=clock,
        calendar=calendar,
        whatsapp_number=settings.whatsapp_display_number or None,
        sends_on=settings.sends_on,
        invite_days=settings.invite_days,
        public_url=settings.dashboard_url(),
    )
