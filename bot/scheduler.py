"""APScheduler 3.11 set-up in the Pemda's zone: the sweep at its times (filled in by the reminder engine)."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from handlers.base import Deps


def start_scheduler(deps: Deps) -> AsyncIOScheduler:
    """Start the scheduler with the Pemda's jobs."""
    scheduler = AsyncIOScheduler(timezone=deps.calendar.zone)
    scheduler.start()
    return scheduler
