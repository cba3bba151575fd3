"""APScheduler 3.11 set-up in the Pemda's zone: the sweep at its times, the weekly check-in and its follow-up,
and one catch-up sweep at start-up (after downtime)."""

from __future__ import annotations

import asyncio
import logging
import time

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.wiring import refresh_calendar
from jobs.letters.receipts import run_receipt_escalation
from jobs.sweep import sweep
from models.app import Deps
from models.ladder import LetterHook, SweepResult
from models.meter import NULL_METER, Meter

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 3600  # a sweep missed by less than an hour (busy loop, short pause) still runs, once


async def run_sweep(
    deps: Deps, reason: str, letter_hook: LetterHook | None = None, meter: Meter = NULL_METER
) -> SweepResult | None:
    """One sweep at the clock's now, in a worker thread so the event loop keeps serving chats."""
    at = deps.clock.now()
    started = time.perf_counter()
    try:
        await asyncio.to_thread(refresh_calendar, deps)  # days off added on another instance count here too
        result = await asyncio.to_thread(
            sweep, deps.db, deps.pemda, deps.calendar, at, letter_hook=letter_hook, sends_on=deps.sends_on
        )
    except Exception:
        log.exception("sweep (%s) failed", reason)
        meter.count("sweeps", result="failed")
        return None
    meter.observe("sweep_seconds", time.perf_counter() - started)
    meter.count("sweeps", result="ok")
    meter.count("sweep_queued", result.queued)
    meter.count("sweep_letters", result.letters)
    log.info(
        "sweep (%s): %d messages queued, %d notices, %d queued before, %d unreachable",
        reason,
        result.queued,
        result.notices,
        result.already,
        len(result.unreachable),
    )
    return result


async def refresh_days_off(deps: Deps) -> None:
    """Every minute: the days off as the database has them (an admin's /libur on another instance)."""
    try:
        await asyncio.to_thread(refresh_calendar, deps)
    except Exception:
        log.exception("reloading the days off failed; the previous list stays")


async def run_receipt_check(deps: Deps) -> int:
    """Tell the pimpinan about warning letters still without receipt (idempotent; cheap when nothing is due)."""
    try:
        return await asyncio.to_thread(
            run_receipt_escalation, deps.db, deps.pemda, deps.calendar, deps.clock, deps.sends_on
        )
    except Exception:
        log.exception("receipt check of warning letters failed")
        return 0


def prune_inbox(deps: Deps) -> int:
    """Daily housekeeping: drop handled webhook bodies and old processed-message ids."""
    from handlers.inbox import prune

    with deps.db.uow() as uow:
        removed = prune(uow.session, deps.clock.now())
        uow.commit()
    if removed:
        log.info("inbox housekeeping removed %d old rows", removed)
    return removed


async def run_prune(deps: Deps) -> int:
    """`prune_inbox` in a thread, never raising into the scheduler."""
    try:
        return await asyncio.to_thread(prune_inbox, deps)
    except Exception:
        log.exception("inbox housekeeping failed")
        return 0


def start_scheduler(
    deps: Deps, *, letter_hook: LetterHook | None = None, meter: Meter = NULL_METER
) -> AsyncIOScheduler:
    """Start the scheduler with the Pemda's jobs; must be called with the event loop running."""
    zone = deps.calendar.zone
    scheduler = AsyncIOScheduler(timezone=zone)
    options = {"misfire_grace_time": MISFIRE_GRACE_SECONDS, "coalesce": True, "max_instances": 1}
    for at in deps.pemda.sweep.times:
        scheduler.add_job(
            run_sweep,
            CronTrigger(day_of_week="mon-fri", hour=at.hour, minute=at.minute, timezone=zone),
            args=[deps, f"jadwal {at:%H:%M}", letter_hook, meter],
            id=f"sweep-{at:%H%M}",
            name=f"sapuan {at:%H:%M}",
            **options,
        )
    checkin = deps.pemda.checkin
    if any(p.checkin for p in deps.pemda.programs):
        # Every working weekday: when the check-in weekday is a holiday the sweep moves it to the next working day.
        for label, at in (("checkin", checkin.at), ("checkin-susulan", checkin.followup_at)):
            if at in deps.pemda.sweep.times:
                continue
            scheduler.add_job(
                run_sweep,
                CronTrigger(day_of_week="mon-fri", hour=at.hour, minute=at.minute, timezone=zone),
                args=[deps, label, letter_hook, meter],
                id=f"{label}-{at:%H%M}",
                name=f"{label} {at:%H:%M}",
                **options,
            )
    scheduler.add_job(
        run_receipt_check,
        CronTrigger(minute="5,35", timezone=zone),
        args=[deps],
        id="letter-receipts",
        name="tanda terima surat teguran",
        **options,
    )
    from jobs.digest import run_digest  # the weekly digest with the picture, to the pimpinan and admins

    digest = deps.pemda.digest
    scheduler.add_job(
        run_digest,
        CronTrigger(day_of_week=digest.weekday, hour=digest.at.hour, minute=digest.at.minute, timezone=zone),
        args=[deps],
        id="weekly-digest",
        name="ringkasan mingguan",
        **options,
    )
    scheduler.add_job(
        run_prune,
        CronTrigger(hour=2, minute=30, timezone=zone),
        args=[deps],
        id="inbox-housekeeping",
        name="pembersihan kotak masuk",
        **options,
    )
    from jobs.evidence_reminders import REMIND_AT, run_verifier_reminders  # bukti dukung waiting for verifiers

    scheduler.add_job(
        run_verifier_reminders,
        CronTrigger(day_of_week="mon-fri", hour=REMIND_AT.hour, minute=REMIND_AT.minute, timezone=zone),
        args=[deps],
        id="evidence-reminders",
        name="pengingat verifikator bukti dukung",
        **options,
    )
    scheduler.add_job(
        refresh_days_off,
        CronTrigger(minute="*", timezone=zone),
        args=[deps],
        id="days-off-refresh",
        name="muat ulang hari libur",
        **options,
    )
    from bot.inaproc import feed_from_env, run_daily  # figures from LKPP, daily before the morning sweep

    if (inaproc := feed_from_env()) is not None:
        scheduler.add_job(
            run_daily,
            CronTrigger(hour=6, minute=15, timezone=zone),
            args=[deps, inaproc],
            id="figures-inaproc",
            name="impor angka INAPROC",
            **options,
        )
    scheduler.add_job(
        run_sweep,
        args=[deps, "mulai", letter_hook, meter],
        id="sweep-startup",
        name="sapuan saat mulai",
        misfire_grace_time=None,
    )
    scheduler.start()
    return scheduler
