"""Two instances on one PostgreSQL database: one sender per channel at a time, a crash is taken over within
seconds, and a day off added on one instance keeps the other's sweep quiet."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.scheduler import run_sweep
from bot.wiring import build_calendar
from jobs.channel_locks import ChannelLocks
from jobs.dispatcher import Dispatcher
from models.app import Deps
from models.clock import FakeClock, SystemClock
from models.db import Database
from models.messages import Channel
from models.outbox import OutMessage, enqueue
from models.tables import Contact, Outbox, OutboxStatus
from tests.conftest import ADMIN, build_test_deps, console_person, make_database
from tests.fakes.sender import FakeSender

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Database]:
    """A migrated PostgreSQL database (two instances are a PostgreSQL deployment)."""
    yield from make_database("postgres", tmp_path)


def _queue(deps: Deps, count: int) -> None:
    with deps.db.uow() as uow:
        contacts = uow.session.exec(select(Contact).where(col(Contact.wa_number).is_not(None))).all()[:count]
        for contact in contacts:
            enqueue(uow.session, f"n|{contact.id}", contact, OutMessage(text="Halo"), datetime.now().astimezone())
        uow.commit()


def _instance(url: str, sender: FakeSender) -> Dispatcher:
    db = Database(url)
    return Dispatcher(
        db=db,
        senders={Channel.WHATSAPP: sender},
        clock=SystemClock(),
        locks=ChannelLocks(db, [Channel.WHATSAPP]),
        lock_interval=0.05,
    )


async def test_one_instance_sends_per_channel_and_a_crash_is_taken_over(pg: Database) -> None:
    deps = build_test_deps(pg, FakeClock(datetime.now().astimezone()))
    first, second = FakeSender(), FakeSender()
    a, b = _instance(pg.url, first), _instance(pg.url, second)
    try:
        a.refresh_locks()  # A starts first and takes the channel
        b.refresh_locks()
        assert a.locks is not None and b.locks is not None
        assert a.locks.held == {Channel.WHATSAPP} and b.locks.held == set()
        _queue(deps, 20)
        assert b.claim() == []  # B stands by: the platform's limit holds for the deployment
        claimed = a.claim(5)  # A takes rows... and dies before sending them
        assert len(claimed) == 5
        a.locks.release()  # its connection ends: the lock is free
        stop = asyncio.Event()
        runner = asyncio.create_task(b.run_forever(stop, idle=0.05))
        for _ in range(200):
            with pg.uow() as uow:
                left = uow.session.exec(
                    select(Outbox).where(col(Outbox.status) != OutboxStatus.SENT.value)
                ).all()
            if not left:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await runner
        # B took over within moments: every row sent once, the 5 A had claimed included, none by A
        assert first.sent == [] and len(second.sent) == 20
        assert len({m.outbox_id for m in second.sent}) == 20
    finally:
        for dispatcher in (a, b):
            if dispatcher.locks is not None:
                dispatcher.locks.release()
            dispatcher.db.dispose()


async def test_a_day_off_added_on_one_instance_quiets_the_other(pg: Database) -> None:
    tuesday = date(2026, 12, 8)  # H-7 of 15 December: reminders are due
    at = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)  # 08:30 WIB
    clock = FakeClock(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    one = build_test_deps(pg, clock)
    other_db = Database(pg.url)
    try:
        other = Deps(db=other_db, pemda=one.pemda, clock=clock, calendar=build_calendar(one.pemda, other_db))
        reply = await console_person(one, ADMIN).text(f"/libur tambah {tuesday.isoformat()} Rapat kerja daerah")
        assert "Rapat kerja daerah" in reply
        assert other.calendar.is_working_day(tuesday)  # the other instance has not looked yet
        clock.set(at)
        result = await run_sweep(other, "uji")
        assert result is not None and not result.working and result.queued == 0
        assert not other.calendar.is_working_day(tuesday)
        with pg.uow() as uow:
            assert uow.session.exec(select(Outbox)).all() == []
    finally:
        other_db.dispose()
