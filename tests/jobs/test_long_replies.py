"""A long reply goes out chunk by chunk, one outbox row each, and a failure resumes at the failed chunk.

Against the fake Bot API with the real python-telegram-bot `Bot`, `TelegramSender`, `Dispatcher` and rate limiter
(fake clock), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select
from telegram import Bot

from bot.telegram.sender import TelegramSender
from jobs.dispatcher import Dispatcher
from jobs.ratelimit import RateLimiter, RateRules
from models.clock import FakeClock
from models.db import Database
from models.messages import Button, Channel, Reply
from models.outbound import Outbound, Sent
from models.outbox import REPLY_GRACE, TEXT_LIMIT, OutMessage, enqueue, queue_replies, units
from models.tables import Contact, Outbox
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "777:long-reply-token"
CHAT = 31337
DONE = Button("Selesai", "/selesai")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def sender(api: FakeBotApi) -> AsyncIterator[TelegramSender]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        yield TelegramSender(bot)


class FailingAt:
    """The real sender, with the fake Bot API told to fail the `at`-th send (1-based) with `status`."""

    channel = Channel.TELEGRAM

    def __init__(self, sender: TelegramSender, api: FakeBotApi, at: int, status: int) -> None:
        self.sender, self.api, self.at, self.status = sender, api, at, status
        self.calls = 0

    async def send(self, message: Outbound) -> Sent:
        self.calls += 1
        if self.calls == self.at:
            self.api.fail_next("sendMessage", self.status, retry_after=4)
        return await self.sender.send(message)


def long_text(lines: int = 660) -> str:
    """A /rekap-like table of about 20 messages: numbered lines of 130 characters."""
    return "\n".join(f"{n:04d} ❌ BK{n:05d} Kelurahan Uji Coba {n} — katalog 3/10 · p3dn 35 % · inovasi 0/1 {'·' * 40}"
                     for n in range(lines))  # fmt: skip


def person(db: Database) -> Contact:
    with db.uow() as uow:
        contact = Contact(name="Kepala Uji", role="kepala", telegram_user_id=str(CHAT), preferred_channel="telegram")
        uow.session.add(contact)
        uow.commit()
        return contact


@pytest.mark.parametrize("status", [429, 500])
async def test_a_twenty_chunk_reply_resumes_at_the_failed_chunk(
    db: Database, api: FakeBotApi, sender: TelegramSender, status: int
) -> None:
    clock = FakeClock()
    text = long_text()
    contact = person(db)
    with db.uow() as uow:
        replies = queue_replies(uow.session, contact, Channel.TELEGRAM, "upd-1", [Reply(text, (DONE,))], clock.now())
        uow.commit()
    chunks = [reply.text for reply in replies]
    assert len(chunks) == 20 and "\n".join(chunks) == text  # cut between lines, nothing lost
    assert all(units(chunk) <= TEXT_LIMIT for chunk in chunks)
    assert [reply.buttons for reply in replies] == [()] * 19 + [(DONE,)]
    flaky = FailingAt(sender, api, at=5, status=status)
    limiter = RateLimiter(RateRules.telegram(), clock=clock)
    dispatcher = Dispatcher(db=db, senders={Channel.TELEGRAM: flaky}, clock=clock, limiters={Channel.TELEGRAM: limiter})
    clock.advance(REPLY_GRACE)  # the adapter did not send them (a crash, say): the dispatcher does

    await dispatcher.drain()

    assert api.texts_to(CHAT) == chunks[:4]  # chunk 5 failed; 6 to 20 wait for it
    clock.advance(timedelta(seconds=4))
    await dispatcher.drain()

    assert api.texts_to(CHAT) == chunks  # each chunk once, in order: resumed at 5, not restarted at 1
    assert [record.buttons for record in api.sent_to(CHAT)] == [[]] * 19 + [[("Selesai", "/selesai")]]
    with db.uow() as uow:
        rows = uow.session.exec(select(Outbox).order_by(col(Outbox.id))).all()
    assert [row.status for row in rows] == ["sent"] * 20
    assert [row.attempts for row in rows] == [1] * 4 + [2 if status == 500 else 1] + [1] * 15


async def test_the_replies_to_one_message_go_out_in_the_order_written(
    sqlite_db: Database, api: FakeBotApi, sender: TelegramSender
) -> None:
    clock = FakeClock()
    contact = person(sqlite_db)
    with sqlite_db.uow() as uow:
        queue_replies(
            uow.session, contact, Channel.TELEGRAM, "upd-2", [Reply("satu"), Reply("dua"), Reply("tiga")], clock.now()
        )
        uow.commit()
    flaky = FailingAt(sender, api, at=1, status=429)
    dispatcher = Dispatcher(db=sqlite_db, senders={Channel.TELEGRAM: flaky}, clock=clock)
    clock.advance(REPLY_GRACE)

    await dispatcher.drain()
    assert api.texts_to(CHAT) == []  # "dua" and "tiga" wait for "satu"
    clock.advance(timedelta(seconds=4))
    await dispatcher.drain()

    assert api.texts_to(CHAT) == ["satu", "dua", "tiga"]


async def test_a_long_queued_message_is_chunked_like_a_reply(
    sqlite_db: Database, api: FakeBotApi, sender: TelegramSender
) -> None:
    """Broadcasts, letters and alerts queue through the same encoder: a long text becomes chunk rows there too."""
    clock = FakeClock()
    contact = person(sqlite_db)
    text = long_text(100)
    with sqlite_db.uow() as uow:
        first = enqueue(uow.session, "siaran:9:1", contact, OutMessage(text, "broadcast", (DONE,)), clock.now())
        again = enqueue(uow.session, "siaran:9:1", contact, OutMessage(text, "broadcast", (DONE,)), clock.now())
        uow.commit()
        keys = uow.session.exec(select(Outbox.idem_key).order_by(col(Outbox.id))).all()
    assert first is not None and again is not None and first.id == again.id  # the same key queues nothing twice
    assert keys == ["siaran:9:1", "siaran:9:1#2", "siaran:9:1#3"]

    await Dispatcher(db=sqlite_db, senders={Channel.TELEGRAM: sender}, clock=clock).drain()

    assert "\n".join(api.texts_to(CHAT)) == text
    assert api.last_to(CHAT).buttons == [("Selesai", "/selesai")]
