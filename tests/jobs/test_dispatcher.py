"""The outbox dispatcher against a scripted fake sender and a fake clock: every failure path, on both databases."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from jobs.dispatcher import Dispatcher
from jobs.outcomes import Claim, DispatchStats
from jobs.ratelimit import RateLimiter, RateRules
from models.clock import FakeClock
from models.db import Database
from models.messages import Channel
from models.outbound import (
    AuthFailed,
    Outbound,
    Permanent,
    RateLimited,
    SendError,
    Template,
    Transient,
    Unreachable,
    WindowClosed,
)
from models.outbox import OutMessage, enqueue, latest_dead, status_counts
from models.tables import Contact, Outbox, OutboxStatus
from tests.conftest import make_database
from tests.fakes.sender import FakeSender, Script


def fail_times(error: Callable[[], BaseException], times: int) -> Script:
    """Raise `error()` on the first `times` sends, then succeed."""
    left = [times]

    def script(message: Outbound) -> BaseException | None:
        if left[0] > 0:
            left[0] -= 1
            return error()
        return None

    return script


def add_contact(
    db: Database, name: str, *, tg: str | None = None, wa: str | None = None, preferred: str | None = None
) -> Contact:
    with db.uow() as uow:
        contact = Contact(name=name, role="kepala", telegram_user_id=tg, wa_number=wa, preferred_channel=preferred)
        uow.session.add(contact)
        uow.commit()
        return contact


def queue(db: Database, clock: FakeClock, contact: Contact, key: str, message: OutMessage | None = None) -> int:
    with db.uow() as uow:
        row = enqueue(uow.session, key, contact, message or OutMessage(text=f"Pengingat {key}"), clock.now())
        uow.commit()
    assert row is not None and row.id is not None
    return row.id


def row_of(db: Database, row_id: int) -> Outbox:
    with db.uow() as uow:
        row = uow.session.get(Outbox, row_id)
    assert row is not None
    return row


def contact_of(db: Database, contact_id: int | None) -> Contact:
    with db.uow() as uow:
        contact = uow.session.get(Contact, contact_id)
    assert contact is not None
    return contact


def dispatcher(db: Database, clock: FakeClock, *senders: FakeSender, **kwargs: object) -> Dispatcher:
    return Dispatcher(db=db, senders={s.channel: s for s in senders}, clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_sends_and_records_the_provider_id(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    row_id = queue(db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM)

    stats = await dispatcher(db, clock, sender).drain()

    assert stats.sent == 1
    assert [m.address for m in sender.sent] == ["1001"]
    row = row_of(db, row_id)
    assert (row.status, row.provider_id, row.attempts, row.sent_at) == ("sent", f"telegram-{row_id}", 1, clock.now())


async def test_enqueue_is_idempotent(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    first = queue(db, clock, contact, "program:unit:2026:h-7:1:telegram")
    second = queue(db, clock, contact, "program:unit:2026:h-7:1:telegram", OutMessage(text="lain"))
    sender = FakeSender(Channel.TELEGRAM)

    await dispatcher(db, clock, sender).drain()

    assert first == second
    assert status_counts_of(db) == {"sent": 1}
    assert [m.text for m in sender.sent] == ["Pengingat program:unit:2026:h-7:1:telegram"]


def status_counts_of(db: Database) -> dict[str, int]:
    with db.uow() as uow:
        return status_counts(uow.session)


async def test_429_waits_retry_after_and_is_not_an_attempt(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    row_id = queue(db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM, fail_times(lambda: RateLimited(7), 1))
    limiter = RateLimiter(RateRules.telegram(), clock=clock)
    d = dispatcher(db, clock, sender, limiters={Channel.TELEGRAM: limiter})

    await d.drain()
    row = row_of(db, row_id)
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=7)
    assert "rate limited" in row.last_error

    clock.advance(6)
    assert (await d.drain()).claimed == 0  # not before retry_after
    clock.advance(1)
    await d.drain()

    row = row_of(db, row_id)
    assert (row.status, row.attempts) == ("sent", 1)
    assert len(sender.attempts) == 2


async def test_429_pauses_the_whole_limiter(sqlite_db: Database, clock: FakeClock) -> None:
    limiter = RateLimiter(RateRules.telegram(), clock=clock)
    contact = add_contact(sqlite_db, "Slamet", tg="1001")
    queue(sqlite_db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM, fail_times(lambda: RateLimited(9), 1))

    await dispatcher(sqlite_db, clock, sender, limiters={Channel.TELEGRAM: limiter}).drain()

    assert await limiter.acquire("2002") >= 9  # another chat waits for retry_after too


async def test_403_marks_unreachable_and_falls_back_to_whatsapp(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001", wa="6281234567890", preferred="telegram")
    row_id = queue(db, clock, contact, "k1")
    telegram = FakeSender(Channel.TELEGRAM, lambda m: Unreachable("Forbidden: bot was blocked by the user"))
    whatsapp = FakeSender(Channel.WHATSAPP)

    await dispatcher(db, clock, telegram, whatsapp).drain()

    assert contact_of(db, contact.id).unreachable_telegram
    row = row_of(db, row_id)
    assert (row.status, row.channel) == ("sent", "whatsapp")
    assert [m.address for m in whatsapp.sent] == ["6281234567890"]
    # The next message goes straight to WhatsApp.
    second = queue(db, clock, contact_of(db, contact.id), "k2")
    await dispatcher(db, clock, telegram, whatsapp).drain()
    assert row_of(db, second).channel == "whatsapp"
    assert len(telegram.attempts) == 1


async def test_403_without_another_channel_fails_the_row(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    first = queue(db, clock, contact, "k1")
    second = queue(db, clock, contact, "k2")
    telegram = FakeSender(Channel.TELEGRAM, lambda m: Unreachable("Forbidden: bot was blocked by the user"))

    await dispatcher(db, clock, telegram, concurrency=1).drain()

    assert contact_of(db, contact.id).unreachable_telegram
    for row_id in (first, second):
        row = row_of(db, row_id)
        assert row.status == "failed"
        assert "tidak terjangkau (telegram)" in row.last_error
    assert len(telegram.attempts) == 1  # the second row is not tried against a blocked chat


async def test_403_falls_back_only_to_a_channel_this_dispatcher_sends_on(db: Database, clock: FakeClock) -> None:
    """A Telegram-only deployment: the person also has a WhatsApp number, but a row moved there would wait forever
    (nothing sends it, and /healthz would call Sigap stuck). The row fails as unreachable instead."""
    contact = add_contact(db, "Slamet", tg="1001", wa="6281234567890", preferred="telegram")
    row_id = queue(db, clock, contact, "k1")
    telegram = FakeSender(Channel.TELEGRAM, lambda m: Unreachable("Forbidden: bot was blocked by the user"))

    stats = await dispatcher(db, clock, telegram).drain()

    assert contact_of(db, contact.id).unreachable_telegram
    row = row_of(db, row_id)
    assert (row.status, row.channel, row.failure) == ("failed", "telegram", "unreachable")
    assert "tidak terjangkau (telegram)" in row.last_error
    assert stats.failed == 1 and stats.retried == 0


@pytest.mark.parametrize(
    "error", [lambda: Transient("502 Bad Gateway"), lambda: TimeoutError("timed out")], ids=["5xx", "timeout"]
)
async def test_transient_errors_back_off_then_die(
    db: Database, clock: FakeClock, error: Callable[[], BaseException]
) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    row_id = queue(db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM, lambda m: error())
    d = dispatcher(db, clock, sender, max_attempts=5)

    delays = []
    for attempt in range(1, 5):
        await d.drain()
        row = row_of(db, row_id)
        assert (row.status, row.attempts) == ("pending", attempt)
        delay = (row.next_attempt_at - clock.now()).total_seconds()
        assert 2.0 ** (attempt - 1) <= delay <= 2.0**attempt  # base 2 s, doubling, equal jitter
        delays.append(delay)
        clock.advance(delay)
    assert delays == sorted(delays)
    await d.drain()

    row = row_of(db, row_id)
    assert (row.status, row.attempts) == ("dead", 5)
    assert row.last_error.startswith("gagal 5 kali:")
    assert ("502" in row.last_error) or ("timed out" in row.last_error)
    assert len(sender.attempts) == 5
    with db.uow() as uow:
        assert [r.id for r in latest_dead(uow.session)] == [row_id]


async def test_transient_then_success(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    row_id = queue(db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM, fail_times(lambda: Transient("500"), 1))
    d = dispatcher(db, clock, sender)
    await d.drain()
    clock.advance(60)
    await d.drain()
    assert (row_of(db, row_id).status, row_of(db, row_id).attempts) == ("sent", 2)


async def test_permanent_error_marks_dead_with_reason(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    row_id = queue(db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM, lambda m: Permanent("Bad Request: message is too long"))

    stats = await dispatcher(db, clock, sender).drain()

    row = row_of(db, row_id)
    assert (stats.dead, row.status, row.last_error) == (1, "dead", "Bad Request: message is too long")
    assert len(sender.attempts) == 1


async def test_auth_failure_pauses_the_channel_once(db: Database, clock: FakeClock) -> None:
    alerts: list[tuple[Channel, str]] = []

    async def on_auth_failed(channel: Channel, detail: str) -> None:
        alerts.append((channel, detail))

    ids = [queue(db, clock, add_contact(db, f"Kepala {i}", tg=str(1000 + i)), f"k{i}") for i in range(3)]
    wa_row = queue(db, clock, add_contact(db, "Camat", wa="6281200000001"), "wa")
    telegram = FakeSender(Channel.TELEGRAM, lambda m: AuthFailed("Unauthorized"))
    whatsapp = FakeSender(Channel.WHATSAPP)
    d = dispatcher(db, clock, telegram, whatsapp, on_auth_failed=on_auth_failed)

    await d.drain()
    clock.advance(3600)
    await d.drain()

    assert d.paused == {Channel.TELEGRAM}
    assert alerts == [(Channel.TELEGRAM, "Unauthorized")]
    for row_id in ids:
        assert (row_of(db, row_id).status, row_of(db, row_id).attempts) == ("pending", 0)
    assert len(telegram.attempts) <= 3  # nothing more after the pause
    assert row_of(db, wa_row).status == "sent"


async def test_window_closed_is_retried_as_template(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", wa="6281234567890")
    with db.uow() as uow:
        fresh = uow.session.get(Contact, contact.id)
        assert fresh is not None
        fresh.wa_last_inbound_at = clock.now() - timedelta(hours=1)  # our data says the window is open
        uow.session.add(fresh)
        uow.commit()
        contact = fresh
    message = OutMessage(text="Pengingat", template=Template("sigap_pengingat", ("Dinkes", "12 Desember")))
    row_id = queue(db, clock, contact, "k1", message)
    whatsapp = FakeSender(Channel.WHATSAPP, lambda m: WindowClosed("131047") if m.template is None else None)

    await dispatcher(db, clock, whatsapp).drain()

    assert [m.template for m in whatsapp.attempts] == [None, Template("sigap_pengingat", ("Dinkes", "12 Desember"))]
    row = row_of(db, row_id)
    assert (row.status, row.use_template, row.attempts) == ("sent", True, 1)


async def test_window_closed_without_template_is_dead(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", wa="6281234567890")
    row_id = queue(db, clock, contact, "k1")
    whatsapp = FakeSender(Channel.WHATSAPP, lambda m: WindowClosed("131047"))
    await dispatcher(db, clock, whatsapp).drain()
    row = row_of(db, row_id)
    assert row.status == "dead"
    assert "jendela 24 jam" in row.last_error


async def test_unexpected_sender_bug_is_retried_not_lost(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    row_id = queue(db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM, fail_times(lambda: KeyError("oops"), 1))
    d = dispatcher(db, clock, sender)
    await d.drain()
    assert (row_of(db, row_id).status, row_of(db, row_id).attempts) == ("pending", 1)
    clock.advance(60)
    await d.drain()
    assert row_of(db, row_id).status == "sent"


async def test_inactive_contact_is_not_messaged(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    row_id = queue(db, clock, contact, "k1")
    with db.uow() as uow:
        fresh = uow.session.get(Contact, contact.id)
        assert fresh is not None
        fresh.active = False
        uow.session.add(fresh)
        uow.commit()
    sender = FakeSender(Channel.TELEGRAM)
    await dispatcher(db, clock, sender).drain()
    assert row_of(db, row_id).status == "failed"
    assert sender.attempts == []


async def test_recover_releases_rows_left_in_flight(sqlite_db: Database, clock: FakeClock) -> None:
    contact = add_contact(sqlite_db, "Slamet", tg="1001")
    row_id = queue(sqlite_db, clock, contact, "k1")
    crashed = dispatcher(sqlite_db, clock, FakeSender(Channel.TELEGRAM))
    assert [c.row_id for c in crashed.claim()] == [row_id]  # claimed, then the process "dies"

    sender = FakeSender(Channel.TELEGRAM)
    restarted = dispatcher(sqlite_db, clock, sender)
    assert (await restarted.drain()).claimed == 0  # the lease still runs
    assert restarted.recover() == 1
    await restarted.drain()
    assert row_of(sqlite_db, row_id).status == "sent"


async def test_expired_lease_is_taken_over_and_the_old_owner_cannot_overwrite(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    row_id = queue(db, clock, contact, "k1")
    slow = dispatcher(db, clock, FakeSender(Channel.TELEGRAM))
    [stale] = slow.claim()

    clock.advance(slow.lease + timedelta(seconds=1))
    sender = FakeSender(Channel.TELEGRAM)
    await dispatcher(db, clock, sender).drain()
    assert row_of(db, row_id).status == "sent"

    with db.uow() as uow:  # the old owner wakes up and settles the row it no longer holds
        assert not slow._update(uow.session, stale, slow._settle_values(OutboxStatus.DEAD, error="late"))
        uow.commit()
    assert row_of(db, row_id).status == "sent"


async def test_a_stale_claim_is_not_sent(db: Database, clock: FakeClock) -> None:
    contact = add_contact(db, "Slamet", tg="1001")
    queue(db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM)
    slow = dispatcher(db, clock, sender)
    [stale] = slow.claim()
    clock.advance(slow.lease + timedelta(seconds=1))
    other = dispatcher(db, clock, FakeSender(Channel.TELEGRAM))
    assert len(other.claim()) == 1

    stats = DispatchStats()
    await slow._guarded(stale, stats, asyncio.Semaphore(1))

    assert sender.attempts == []
    assert stats.sent == 0


@pytest.fixture
def pg_db(tmp_path: Path) -> Iterator[Database]:
    yield from make_database("postgres", tmp_path)


@pytest.mark.postgres
def test_two_dispatchers_on_postgres_send_each_row_once(pg_db: Database, clock: FakeClock) -> None:
    contacts = []
    with pg_db.uow() as uow:
        for i in range(200):
            contact = Contact(name=f"Kepala {i}", role="kepala", telegram_user_id=str(5000 + i))
            uow.session.add(contact)
            contacts.append(contact)
        uow.commit()
    for i, contact in enumerate(contacts):
        queue(pg_db, clock, contact, f"key-{i}")
    sender = FakeSender(Channel.TELEGRAM)
    start = threading.Barrier(2)

    def run(url: str) -> int:
        database = Database(url)  # its own engine and connections, like another process
        try:
            d = Dispatcher(db=database, senders={Channel.TELEGRAM: sender}, clock=clock, batch=7, concurrency=4)
            start.wait()
            return asyncio.run(d.drain()).sent
        finally:
            database.dispose()

    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(run, [pg_db.url, pg_db.url]))

    ids = [m.outbox_id for m in sender.sent]
    assert len(ids) == 200
    assert len(set(ids)) == 200
    assert sum(counts) == 200
    assert all(c > 0 for c in counts), counts  # both really took part
    with pg_db.uow() as uow:
        statuses = set(uow.session.exec(select(Outbox.status).where(col(Outbox.id).in_(ids))).all())
    assert statuses == {"sent"}


def test_send_error_hierarchy_is_what_the_dispatcher_expects() -> None:
    for cls in (RateLimited, Unreachable, WindowClosed, AuthFailed, Transient, Permanent):
        assert issubclass(cls, SendError)


async def test_claims_take_at_most_a_batch_and_never_the_same_row(db: Database, clock: FakeClock) -> None:
    with db.uow() as uow:
        contacts = [Contact(name=f"K{i}", role="kepala", telegram_user_id=str(7000 + i)) for i in range(20)]
        uow.session.add_all(contacts)
        uow.commit()
    for i, contact in enumerate(contacts):
        queue(db, clock, contact, f"key-{i}")
    first = dispatcher(db, clock, FakeSender(Channel.TELEGRAM), batch=7)
    second = dispatcher(db, clock, FakeSender(Channel.TELEGRAM), batch=7)

    a, b, c = first.claim(), second.claim(), first.claim(limit=100)

    ids = [x.row_id for x in a + b + c]
    assert (len(a), len(b), len(c)) == (7, 7, 6)
    assert len(set(ids)) == 20
    assert second.claim() == []


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "in-rounds"])
async def test_claims_are_made_off_the_event_loop(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, pipelined: bool
) -> None:
    """A slow claim (a busy database) holds the dispatcher, not the loop: other chats are still answered meanwhile."""
    contact = add_contact(db, "Slamet", tg="1001")
    queue(db, clock, contact, "k1")
    sender = FakeSender(Channel.TELEGRAM)
    d = dispatcher(db, clock, sender)
    claiming, release = threading.Event(), threading.Event()
    claim = d.claim

    def slow_claim(limit: int | None = None) -> list[Claim]:
        claiming.set()
        release.wait(10)
        return claim(limit)

    monkeypatch.setattr(d, "claim", slow_claim)
    drained = asyncio.create_task(d.drain(pipelined=pipelined))  # `sigap run`, `sigap dispatch`; and in rounds
    await asyncio.to_thread(claiming.wait, 10)
    ticks = 0
    for _ in range(5):  # the loop runs while the claim waits
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 5 and not drained.done() and sender.sent == []
    release.set()
    assert (await drained).sent == 1
