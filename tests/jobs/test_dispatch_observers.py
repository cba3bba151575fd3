"""Observers of the dispatcher (broadcast progress and tally) never hold up a send, and still see every row."""

from __future__ import annotations

import asyncio
import itertools

from sqlmodel import col, select

from jobs.broadcasts import BroadcastFinisher
from jobs.dispatcher import Dispatcher
from jobs.observers import Observers
from models.app import Deps
from models.clock import FakeClock
from models.db import Database
from models.messages import Channel
from models.outbound import Outbound
from models.tables import Broadcast, Contact, Outbox
from tests.conftest import ADMIN, console_person
from tests.fakes.sender import FakeSender
from tests.jobs.test_dispatch_batching import seed


class Stuck:
    """An observer whose flush hangs until released (a database under load, an edit waiting for its chat)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.rows: set[int] = set()
        self.flushes = 0
        self.seen_at_flush: list[int] = []

    def seen(self, row: Outbox) -> None:
        assert row.id is not None
        self.rows.add(row.id)

    async def flush(self) -> None:
        self.flushes += 1
        self.seen_at_flush.append(len(self.rows))
        await self.release.wait()


async def test_sends_and_claims_go_on_while_an_observer_hangs(sqlite_db: Database, clock: FakeClock) -> None:
    ids = seed(sqlite_db, clock, 250)  # two and a half batches: the dispatcher must claim again and again
    everything_sent = asyncio.Event()

    def count(_message: Outbound) -> None:
        if len(sender.attempts) == len(ids):
            everything_sent.set()

    sender = FakeSender(Channel.TELEGRAM, count)
    stuck = Stuck()
    dispatcher = Dispatcher(db=sqlite_db, senders={Channel.TELEGRAM: sender}, clock=clock, observers=[stuck])
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run_forever(stop, idle=0.01))

    await asyncio.wait_for(everything_sent.wait(), timeout=20)
    assert stuck.flushes == 1  # its first flush still hangs, and every row went out meanwhile

    stuck.release.set()
    stop.set()
    await asyncio.wait_for(running, timeout=20)
    assert len(sender.sent) == len(ids)
    assert stuck.rows == set(ids)  # every settled row was seen
    assert stuck.seen_at_flush[-1] == len(ids)  # and a last flush came after the last of them


async def test_flushes_come_at_most_every_interval_and_once_more_at_the_end(clock: FakeClock) -> None:
    flushed_at: list[tuple[float, int]] = []

    class Counting:
        rows = 0

        def seen(self, row: Outbox) -> None:
            self.rows += 1

        async def flush(self) -> None:
            flushed_at.append((clock.monotonic(), self.rows))

    observers = Observers([Counting()], clock, interval=2.0)
    finished = asyncio.Event()
    running = asyncio.create_task(observers.run(finished))
    now = clock.now()
    for i in range(30):
        row = Outbox(
            id=i,
            contact_id=1,
            channel="telegram",
            idem_key=f"k{i}",
            kind="reminder",
            text="x",
            next_attempt_at=now,
            created_at=now,
        )
        observers.seen(row)
        for _ in range(3):
            await asyncio.sleep(0)
    finished.set()
    await asyncio.wait_for(running, timeout=5)

    times = [at for at, _ in flushed_at]
    assert 2 <= len(times) < 30
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(times))
    assert flushed_at[-1][1] == 30


async def test_a_broadcast_nobody_can_receive_any_more_still_ends_with_its_tally(sdeps: Deps) -> None:
    admin = console_person(sdeps, ADMIN)
    preview = await admin.text("/siaran dinkes,disdik Rapat koordinasi Senin pukul 09.00.")
    assert "Penerima: 4 orang" in preview
    await admin.say("", payload="/siaran kirim 1")
    with sdeps.db.uow() as uow:  # every recipient leaves before the dispatcher gets to them
        recipients = select(Outbox.contact_id).where(col(Outbox.broadcast_id) == 1)
        for contact in uow.session.exec(select(Contact).where(col(Contact.id).in_(recipients))).all():
            contact.active = False
            uow.session.add(contact)
        uow.commit()
    whatsapp = FakeSender(Channel.WHATSAPP)
    dispatcher = Dispatcher(
        db=sdeps.db, senders={Channel.WHATSAPP: whatsapp}, clock=sdeps.clock, observers=[BroadcastFinisher(sdeps)]
    )

    await dispatcher.drain()

    tally = [m.text for m in whatsapp.to(sdeps, ADMIN)]
    assert tally == ["Siaran #1 selesai.\nTerkirim: 0\nGagal: 4\nTidak terjangkau: 0"]
    with sdeps.db.uow() as uow:
        broadcast = uow.session.get(Broadcast, 1)
        assert broadcast is not None and broadcast.status == "finished"


async def test_pipelined_drain_sends_the_tally_its_observers_queued(sdeps: Deps) -> None:
    admin = console_person(sdeps, ADMIN)
    await admin.say("/siaran dinkes,disdik Rapat koordinasi Senin pukul 09.00.")
    await admin.say("", payload="/siaran kirim 1")
    whatsapp = FakeSender(Channel.WHATSAPP)
    dispatcher = Dispatcher(
        db=sdeps.db, senders={Channel.WHATSAPP: whatsapp}, clock=sdeps.clock, observers=[BroadcastFinisher(sdeps)]
    )

    stats = await dispatcher.drain(pipelined=True)

    assert stats.sent == 5  # four recipients, then the tally to the admin
    assert whatsapp.to(sdeps, ADMIN)[-1].text.startswith("Siaran #1 selesai.\nTerkirim: 4")
