"""`sigap run` with a Bot API that fails: 502s, 429s and 500s. Every reply and every outbox row still arrives, each
once; a flood in one chat does not hold up another chat, and the flooder is told once to slow down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.runner import run
from bot.settings import SAMPLE_ROSTER, Settings
from models.db import Database
from models.flood import SLOW_DOWN
from models.outbox import OutMessage, enqueue
from models.roster import import_roster
from models.tables import Contact, Outbox, OutboxStatus
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "123:ABC"
FIRST_CHAT = 8100


def _bind(url: str, people: int) -> list[int]:
    """Bind `people` roster contacts to Telegram chats and queue one reminder each; their chat ids."""
    db = Database(url)
    db.upgrade()
    chats: list[int] = []
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        contacts = uow.session.exec(
            select(Contact).where(col(Contact.unit_id).is_not(None)).order_by(col(Contact.id)).limit(people)
        ).all()
        for offset, contact in enumerate(contacts):
            chat = FIRST_CHAT + offset
            contact.telegram_user_id = str(chat)
            contact.preferred_channel = "telegram"
            uow.session.add(contact)
            uow.session.flush()
            enqueue(uow.session, f"test|{chat}", contact, OutMessage(text=f"Pengingat {chat}"), contact.created_at)
            chats.append(chat)
        uow.commit()
    db.dispose()
    return chats


@pytest.fixture
async def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeBotApi, str, list[int]]]:
    url = f"sqlite:///{tmp_path / 'faults.db'}"
    chats = _bind(url, 12)
    async with FakeBotApi(token=TOKEN) as api:
        for name, value in {
            "SIGAP_DATABASE_URL": url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "SIGAP_HTTP_HOST": "127.0.0.1",
            "SIGAP_HTTP_PORT": "0",
            "SIGAP_PEMDA_FILE": "sigap.toml",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        stop = asyncio.Event()
        task = asyncio.create_task(run(Settings(), stop=stop))
        try:
            yield api, url, chats
        finally:
            stop.set()
            assert await asyncio.wait_for(task, timeout=30) == 0


def _rows(url: str) -> list[Outbox]:
    db = Database(url)
    try:
        with db.uow() as uow:
            return list(uow.session.exec(select(Outbox)).all())
    finally:
        db.dispose()


async def test_every_reply_and_every_row_arrives_once_through_502s_429s_and_500s(
    running: tuple[FakeBotApi, str, list[int]],
) -> None:
    api, url, chats = running
    api.fail_next("sendMessage", 502, times=6)
    api.fail_next("sendMessage", 429, retry_after=1, times=3)
    api.fail_next("sendMessage", 500, times=3)
    for chat in chats:
        api.push_message(chat, "/bantuan", first_name="Uji")

    def done() -> bool:
        return all(
            f"Pengingat {chat}" in api.texts_to(chat) and any("Perintah untuk" in t for t in api.texts_to(chat))
            for chat in chats
        )

    await api.wait_for(done, timeout=60)
    await asyncio.sleep(0.5)  # let the last outcomes be written
    for chat in chats:
        texts = api.texts_to(chat)
        assert texts.count(f"Pengingat {chat}") == 1
        assert sum(1 for t in texts if "Perintah untuk" in t) == 1
    rows = _rows(url)
    replies = [r for r in rows if r.kind == "reply"]
    assert len(replies) == len(chats)  # each reply was written with its message's handling...
    assert {r.status for r in rows} == {OutboxStatus.SENT.value}  # ...and every row is settled as sent


async def test_a_flooding_chat_does_not_hold_up_another_and_is_told_once(
    running: tuple[FakeBotApi, str, list[int]],
) -> None:
    api, _url, chats = running
    flooder, other = 9999, chats[0]
    for index in range(40):
        api.push_message(flooder, f"halo {index}", first_name="Banjir")
    api.push_message(other, "/bantuan", first_name="Slamet")
    await api.wait_for(lambda: any("Perintah untuk" in t for t in api.texts_to(other)), timeout=10)
    # the other chat was answered while the flooder's replies (1 message/s per chat) were still going out
    assert len(api.texts_to(flooder)) <= 4
    await api.wait_for(lambda: SLOW_DOWN in api.texts_to(flooder), timeout=30)
    await asyncio.sleep(1.5)
    texts = api.texts_to(flooder)
    assert texts.count(SLOW_DOWN) == 1 and len(texts) <= 9  # a stranger's allowance, then silence
