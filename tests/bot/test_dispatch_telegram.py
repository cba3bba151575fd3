"""The real TelegramSender and python-telegram-bot `Bot` behind the dispatcher, against the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.limits import limiter_for
from bot.settings import Settings
from bot.telegram.sender import TelegramSender
from jobs.dispatcher import Dispatcher
from jobs.ratelimit import RateLimiter, RateRules
from models.clock import FakeClock, SystemClock
from models.db import Database
from models.messages import Channel
from models.outbox import OutMessage, enqueue
from models.tables import Contact, Outbox
from tests.fakes.sender import FakeSender
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "777:dispatch-test-token"


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def sender(api: FakeBotApi) -> AsyncIterator[TelegramSender]:
    request = HTTPXRequest(connection_pool_size=32)
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url, request=request) as bot:
        yield TelegramSender(bot)


def add_contacts(db: Database, count: int) -> list[Contact]:
    with db.uow() as uow:
        contacts = [
            Contact(
                name=f"Kepala {i}",
                role="kepala",
                telegram_user_id=str(20_000 + i),
                preferred_channel="telegram",
            )
            for i in range(count)
        ]
        uow.session.add_all(contacts)
        uow.commit()
    return contacts


def queue_all(db: Database, contacts: list[Contact], now_clock: FakeClock | SystemClock) -> list[int]:
    ids = []
    with db.uow() as uow:
        for contact in contacts:
            row = enqueue(
                uow.session, f"t:{contact.id}", contact, OutMessage(text=f"Yth. {contact.name}"), now_clock.now()
            )
            assert row is not None and row.id is not None
            ids.append(row.id)
        uow.commit()
    return ids


def row_of(db: Database, row_id: int) -> Outbox:
    with db.uow() as uow:
        row = uow.session.get(Outbox, row_id)
    assert row is not None
    return row


async def test_fan_out_stays_under_the_global_limit(
    sqlite_db: Database, api: FakeBotApi, sender: TelegramSender
) -> None:
    api.limit_global(60)  # 100 messages cannot fit in one second: without pacing the fake answers 429
    clock = SystemClock()
    # Configured at exactly the platform's limit. The fake shares this event loop, so on a busy machine
    # requests reach it late and bunched; the dispatcher's permits count every send from its release until
    # its answer, the whole span in which the fake can count it, so no second of the fake's sees more than 60.
    settings = Settings(TELEGRAM_RATE_GLOBAL=60)  # type: ignore[call-arg]
    ids = queue_all(sqlite_db, add_contacts(sqlite_db, 100), clock)
    dispatcher = Dispatcher(
        db=sqlite_db,
        senders={Channel.TELEGRAM: sender},
        clock=clock,
        limiters={Channel.TELEGRAM: limiter_for(Channel.TELEGRAM, settings, clock)},
        concurrency=32,
    )

    stats = await dispatcher.drain()

    assert (stats.sent, api.count_429) == (100, 0)
    assert len({record.chat_id for record in api.sent}) == 100
    times = sorted(record.at for record in api.sent)
    assert max(sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times)) <= 60
    assert all(row_of(sqlite_db, i).status == "sent" and row_of(sqlite_db, i).provider_id for i in ids)


async def test_a_429_is_honoured_then_sent(sqlite_db: Database, api: FakeBotApi, sender: TelegramSender) -> None:
    clock = FakeClock()
    [row_id] = queue_all(sqlite_db, add_contacts(sqlite_db, 1), clock)
    api.fail_next("sendMessage", 429, retry_after=4)
    limiter = RateLimiter(RateRules.telegram(), clock=clock)
    dispatcher = Dispatcher(
        db=sqlite_db, senders={Channel.TELEGRAM: sender}, clock=clock, limiters={Channel.TELEGRAM: limiter}
    )

    await dispatcher.drain()
    row = row_of(sqlite_db, row_id)
    assert (row.status, row.attempts, api.count_429, api.sent) == ("pending", 0, 1, [])
    assert row.next_attempt_at == clock.now() + timedelta(seconds=4)

    clock.advance(4)
    await dispatcher.drain()

    row = row_of(sqlite_db, row_id)
    assert (row.status, row.attempts) == ("sent", 1)
    assert [record.text for record in api.sent] == ["Yth. Kepala 0"]
    assert row.provider_id == str(api.sent[0].message_id)


async def test_a_blocked_chat_marks_the_contact_unreachable(
    sqlite_db: Database, api: FakeBotApi, sender: TelegramSender
) -> None:
    clock = FakeClock()
    alone, with_wa = add_contacts(sqlite_db, 1), add_contacts_wa(sqlite_db)
    ids = queue_all(sqlite_db, alone + with_wa, clock)
    for contact in alone + with_wa:
        api.block_chat(int(contact.telegram_user_id or 0))
    whatsapp = FakeSender(Channel.WHATSAPP)
    dispatcher = Dispatcher(db=sqlite_db, senders={Channel.TELEGRAM: sender, Channel.WHATSAPP: whatsapp}, clock=clock)

    await dispatcher.drain()

    with sqlite_db.uow() as uow:
        assert all(uow.session.get(Contact, c.id).unreachable_telegram for c in alone + with_wa)  # type: ignore[union-attr]
    failed, moved = row_of(sqlite_db, ids[0]), row_of(sqlite_db, ids[1])
    assert failed.status == "failed"
    assert "tidak terjangkau (telegram)" in failed.last_error
    assert (moved.status, moved.channel) == ("sent", "whatsapp")
    assert [m.address for m in whatsapp.sent] == ["6281299999999"]
    assert api.sent == []


def add_contacts_wa(db: Database) -> list[Contact]:
    with db.uow() as uow:
        contact = Contact(
            name="Camat",
            role="camat",
            telegram_user_id="30001",
            wa_number="6281299999999",
            preferred_channel="telegram",
        )
        uow.session.add(contact)
        uow.commit()
    return [contact]
