"""The dispatcher's batched database work and the limiter's permits: fewer transactions, same guarantees."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from jobs.dispatcher import Dispatcher
from jobs.ratelimit import RateLimiter, RateRules
from models.clock import FakeClock
from models.db import Database
from models.messages import Channel
from models.outbound import Transient
from models.outbox import OutMessage, enqueue, status_counts
from models.tables import Contact, Outbox, OutboxStatus
from tests.fakes.sender import FakeSender
from tests.jobs.test_dispatcher import fail_times


def seed(db: Database, clock: FakeClock, count: int) -> list[int]:
    """`count` contacts on Telegram with one queued reminder each; returns the outbox ids."""
    with db.uow() as uow:
        contacts = [Contact(name=f"Kepala {i}", role="kepala", telegram_user_id=str(9000 + i)) for i in range(count)]
        uow.session.add_all(contacts)
        uow.session.flush()
        rows = [
            enqueue(uow.session, f"b:{i}", c, OutMessage(text=f"Pengingat {i}"), clock.now())
            for i, c in enumerate(contacts)
        ]
        uow.commit()
    return [r.id for r in rows if r is not None and r.id is not None]


def row_of(db: Database, row_id: int) -> Outbox:
    with db.uow() as uow:
        row = uow.session.get(Outbox, row_id)
    assert row is not None
    return row


def count_commits(db: Database) -> list[int]:
    """A counter of committed transactions on `db`'s engine (one list item per commit)."""
    commits: list[int] = []

    def on_commit(_connection: Any) -> None:
        commits.append(1)

    event.listen(db.engine, "commit", on_commit)
    return commits


async def test_a_batch_is_loaded_and_settled_in_a_few_transactions(db: Database, clock: FakeClock) -> None:
    ids = seed(db, clock, 60)
    sender = FakeSender(Channel.TELEGRAM)
    commits = count_commits(db)

    stats = await Dispatcher(db=db, senders={Channel.TELEGRAM: sender}, clock=clock, batch=60).drain()

    assert stats.sent == 60
    assert len(commits) <= 6, len(commits)  # claim + a few outcome batches, not two per message
    assert sorted(m.outbox_id for m in sender.sent) == ids
    rows = [row_of(db, i) for i in ids]
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    assert all(r.provider_id == f"telegram-{r.id}" and r.claimed_until is None for r in rows)


async def test_observers_see_the_outcome_already_committed(db: Database, clock: FakeClock) -> None:
    ids = seed(db, clock, 5)
    seen: list[tuple[int, str, str]] = []

    class Observer:
        def seen(self, row: Outbox) -> None:
            assert row.id is not None
            seen.append((row.id, row.status, row_of(db, row.id).status))  # another connection reads it

        async def flush(self) -> None:
            return None

    d = Dispatcher(
        db=db, senders={Channel.TELEGRAM: FakeSender(Channel.TELEGRAM)}, clock=clock, observers=[Observer()]
    )
    await d.drain()

    assert sorted(seen) == [(i, "sent", "sent") for i in ids]


async def test_outcomes_written_together_keep_each_rows_lease(db: Database, clock: FakeClock) -> None:
    first, second = seed(db, clock, 2)
    slow = Dispatcher(db=db, senders={Channel.TELEGRAM: FakeSender(Channel.TELEGRAM)}, clock=clock)
    [stale] = slow.claim(limit=1)
    clock.advance(slow.lease + timedelta(seconds=1))
    other = Dispatcher(db=db, senders={Channel.TELEGRAM: FakeSender(Channel.TELEGRAM)}, clock=clock)
    assert [c.row_id for c in other.claim(limit=1)] == [first]  # the expired lease is taken over
    [fresh] = slow.claim(limit=1)
    assert fresh.row_id == second

    writer = slow._writer
    values = slow._settle_values(OutboxStatus.SENT, provider_id="late", attempts=1)
    outcomes = [writer.submit(stale, dict(values)), writer.submit(fresh, dict(values))]
    writer.flush()

    assert [await f for f in outcomes] == [False, True]
    assert (row_of(db, first).status, row_of(db, first).provider_id) == ("sending", None)  # the new owner's
    assert (row_of(db, second).status, row_of(db, second).provider_id) == ("sent", "late")


async def test_rows_stay_claimed_until_their_outcome_is_committed(sqlite_db: Database, clock: FakeClock) -> None:
    seed(sqlite_db, clock, 3)
    d = Dispatcher(
        db=sqlite_db,
        senders={Channel.TELEGRAM: FakeSender(Channel.TELEGRAM)},
        clock=clock,
        write_interval=3600.0,
        write_batch=100,
    )
    before_commit: list[dict[str, int]] = []
    flush = d._writer.flush

    def spy() -> None:
        with sqlite_db.uow() as uow:
            before_commit.append(status_counts(uow.session))
        flush()

    d._writer.flush = spy  # type: ignore[method-assign]
    await d.drain()

    assert before_commit[0] == {"sending": 3}  # sent, but not yet settled: a kill -9 here repeats only these
    with sqlite_db.uow() as uow:
        assert status_counts(uow.session) == {"sent": 3}


async def test_a_failed_send_gives_its_permit_back(db: Database, clock: FakeClock) -> None:
    ids = seed(db, clock, 2)
    sender = FakeSender(Channel.TELEGRAM, fail_times(lambda: Transient("502 Bad Gateway"), 1))
    limiter = RateLimiter(RateRules(global_per_second=1, recipient_interval=None, group_per_minute=None), clock=clock)
    d = Dispatcher(
        db=db,
        senders={Channel.TELEGRAM: sender},
        clock=clock,
        limiters={Channel.TELEGRAM: limiter},
        backoff_base=60.0,  # the retry is not due again within this drain (1-2 s would be, now and then)
    )

    async with asyncio.timeout(10):
        stats = await d.drain()

    assert (stats.sent, stats.retried) == (1, 1)
    assert sorted(row_of(db, i).status for i in ids) == ["pending", "sent"]


async def test_a_held_send_counts_until_its_answer() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        RateRules(global_per_second=1, recipient_interval=None, group_per_minute=None, margin=0), clock=clock
    )
    permit = await limiter.permit("a")
    waiting = asyncio.create_task(limiter.permit("b"))
    for _ in range(20):  # fake time runs on while the first send is still in flight
        await asyncio.sleep(0)
    assert not waiting.done()

    answered = clock.monotonic()
    permit.done()
    second = await asyncio.wait_for(waiting, timeout=5)

    assert clock.monotonic() >= answered + 1.0  # one per second, counted from the first send's answer
    second.done()
    second.done()  # idempotent
    assert await limiter.acquire("c") >= 0.0
