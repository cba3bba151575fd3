"""Messages are handled off the event loop: a slow command never holds up another chat's reply or the outbox."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import event, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import handlers.core as core
from bot.replies import GroupCommit, Statement
from handlers import inbox
from handlers.base import Ctx
from jobs.dispatcher import Dispatcher
from models.app import Deps, HandlingThreads
from models.messages import Channel, Incoming, Reply
from models.outbox import OutMessage, enqueue
from models.tables import Contact, InboundSeen, Report
from tests.bot.test_telegram_e2e import (
    ADMIN_ID,
    CAMAT_ID,
    KEPALA_ID,
    TOKEN,
    set_contact,
    start_harness,
    stop_harness,
)
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES
from tests.fakes.telegram_api import FakeBotApi


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


def queue_reminder(deps: Deps, name: str, text: str) -> None:
    with deps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
        enqueue(uow.session, f"test|{name}", contact, OutMessage(text=text), deps.clock.now())
        uow.commit()


def slow_rekap(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """/rekap blocks its handling thread until released (a Pemda-wide export taking its time); (started, release)."""
    started, release = threading.Event(), threading.Event()
    route = core._route

    async def slow(ctx: Ctx) -> list[Reply]:
        if ctx.incoming.command == "rekap":
            started.set()
            release.wait(timeout=30)
        return await route(ctx)

    monkeypatch.setattr(core, "_route", slow)
    return started, release


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_a_slow_command_holds_up_neither_another_chat_nor_the_dispatcher(
    api: FakeBotApi, deps: Deps, monkeypatch: pytest.MonkeyPatch, webhook: bool
) -> None:
    set_contact(deps, ADMIN, telegram_user_id=str(ADMIN_ID))
    set_contact(deps, KEPALA_DINKES, telegram_user_id=str(KEPALA_ID))
    set_contact(deps, CAMAT_SUKAMAKMUR, telegram_user_id=str(CAMAT_ID), preferred_channel="telegram")
    queue_reminder(deps, CAMAT_SUKAMAKMUR, "Pengingat: laporan katalog ditunggu.")
    started, release = slow_rekap(monkeypatch)
    harness = await start_harness(api, deps, webhook=webhook)
    try:
        await harness.deliver(api.push_message(ADMIN_ID, "/rekap"))
        await api.wait_for(started.is_set, timeout=5)

        assert "Dinas Kesehatan (DINKES)" in await harness.say(KEPALA_ID, "/status")
        dispatcher = Dispatcher(db=deps.db, senders={Channel.TELEGRAM: harness.runtime.sender}, clock=deps.clock)
        assert (await dispatcher.drain()).sent == 1
        assert api.texts_to(CAMAT_ID) == ["Pengingat: laporan katalog ditunggu."]
        assert api.texts_to(ADMIN_ID) == []  # /rekap is still being worked on

        release.set()
        await api.wait_for(lambda: any(t.startswith("Rekap") for t in api.texts_to(ADMIN_ID)), timeout=10)
    finally:
        release.set()
        await stop_harness(harness)


async def test_one_chat_is_answered_in_order_while_others_go_ahead(
    api: FakeBotApi, deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_contact(deps, ADMIN, telegram_user_id=str(ADMIN_ID))
    set_contact(deps, KEPALA_DINKES, telegram_user_id=str(KEPALA_ID))
    started, release = slow_rekap(monkeypatch)
    harness = await start_harness(api, deps, webhook=False)
    try:
        api.push_message(ADMIN_ID, "/rekap")
        api.push_message(ADMIN_ID, "/bantuan")  # waits for the admin's /rekap: one chat, one message at a time
        await api.wait_for(started.is_set, timeout=5)
        assert "Dinas Kesehatan (DINKES)" in await harness.say(KEPALA_ID, "/status")
        assert api.texts_to(ADMIN_ID) == []
        release.set()
        await api.wait_for(lambda: any("/lapor" in t for t in api.texts_to(ADMIN_ID)), timeout=10)
        texts = api.texts_to(ADMIN_ID)
        assert texts[0].startswith("Rekap") and "/lapor" in texts[-1]  # /rekap (in parts), then /bantuan
    finally:
        release.set()
        await stop_harness(harness)


async def test_a_message_delivered_twice_at_once_is_handled_once(deps: Deps) -> None:
    set_contact(deps, KEPALA_DINKES, telegram_user_id=str(KEPALA_ID))
    incoming = Incoming(channel=Channel.TELEGRAM, address=str(KEPALA_ID), text="/lapor katalog 12", message_id="7")
    first, second = await asyncio.gather(
        core.handle(deps, incoming, dedupe_key="777:1"), core.handle(deps, incoming, dedupe_key="777:1")
    )
    assert sorted([len(first), len(second)]) == [0, 1]  # one answer; the other delivery sees it handled
    with deps.db.uow() as uow:
        assert len(uow.session.exec(select(InboundSeen)).all()) == 1
        assert len(uow.session.exec(select(Report)).all()) == 1  # the report was recorded once


async def test_handling_threads_start_as_needed_and_end_when_idle() -> None:
    threads = HandlingThreads(size=2, idle=0.0, name="test-handling")
    gate = threading.Event()

    async def wait_for_gate() -> str:
        gate.wait(timeout=10)
        return threading.current_thread().name

    async def who() -> str:
        return threading.current_thread().name

    first = asyncio.ensure_future(threads.run(wait_for_gate))
    await asyncio.sleep(0)  # the task submits its work
    second = await threads.run(who)  # the first one's thread is busy: a second thread answers at once
    gate.set()
    assert await first != second and threading.current_thread().name not in (second, await first)

    async def broken() -> None:
        raise ValueError("kaput")

    with pytest.raises(ValueError, match="kaput"):
        await threads.run(broken)  # a handler's exception comes back to the caller
    assert threads.pending == 0
    for thread in threading.enumerate():
        if thread.name.startswith("test-handling-"):
            thread.join(timeout=5)  # idle 0: a thread ends as soon as nothing waits for it
    assert not [t for t in threading.enumerate() if t.name.startswith("test-handling-")]


async def test_small_writes_of_many_chats_share_one_commit(deps: Deps) -> None:
    commits: list[int] = []
    event.listen(deps.db.engine, "commit", lambda _conn: commits.append(1))
    writes = GroupCommit(deps.db)

    def seen(key: str) -> Callable[[Session], str]:
        def write(session: Session) -> str:
            session.add(InboundSeen(channel="telegram", key=key, at=deps.clock.now()))
            return key

        return write

    keys = [f"777:{n}" for n in range(20)]
    assert await asyncio.gather(*(writes.write(seen(key)) for key in keys)) == keys
    assert len(commits) <= 2  # the first alone (nothing to wait for), the 19 that came meanwhile together
    with deps.db.uow() as uow:
        assert sorted(s.key for s in uow.session.exec(select(InboundSeen)).all()) == sorted(keys)


async def test_a_write_that_fails_fails_alone(deps: Deps) -> None:
    writes = GroupCommit(deps.db)

    def seen(key: str) -> Callable[[Session], None]:
        def write(session: Session) -> None:
            session.add(InboundSeen(channel="telegram", key=key, at=deps.clock.now()))

        return write

    def broken(session: Session) -> None:
        raise ValueError("kaput")

    results = await asyncio.gather(
        writes.write(seen("777:1")), writes.write(seen("777:2")), writes.write(broken), writes.write(seen("777:3")),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0] is None and results[1] is None and isinstance(results[2], ValueError) and results[3] is None
    with deps.db.uow() as uow:
        assert sorted(s.key for s in uow.session.exec(select(InboundSeen)).all()) == ["777:1", "777:2", "777:3"]


async def test_the_same_statement_of_many_chats_goes_once_and_a_bad_one_fails_alone(deps: Deps) -> None:
    executions: list[str] = []
    event.listen(deps.db.engine, "before_cursor_execute", lambda *args: executions.append(args[2]))
    writes = GroupCommit(deps.db)
    mark = insert(InboundSeen)

    def seen(key: str) -> list[Statement]:
        return [Statement(mark, {"channel": "telegram", "key": key, "at": deps.clock.now()})]

    keys = [f"888:{n}" for n in range(20)]
    await writes.execute(seen("888:first"))  # alone: nothing to wait for
    executions.clear()
    await asyncio.gather(*(writes.execute(seen(key)) for key in keys))
    assert len([sql for sql in executions if "inboundseen" in sql.lower()]) == 1  # the 20 together: one executemany
    with deps.db.uow() as uow:
        stored = {s.key for s in uow.session.exec(select(InboundSeen)).all()}
    assert set(keys) <= stored

    results = await asyncio.gather(
        writes.execute(seen("888:a")), writes.execute(seen("888:0")), writes.execute(seen("888:b")),
        return_exceptions=True,
    )  # fmt: skip  # "888:0" is there already: the batch is undone, then each on its own
    assert results[0] is None and isinstance(results[1], IntegrityError) and results[2] is None
    with deps.db.uow() as uow:
        assert {"888:a", "888:b"} <= {s.key for s in uow.session.exec(select(InboundSeen)).all()}


async def test_webhook_bodies_arriving_together_are_stored_by_one_insert_and_a_redelivery_is_told(deps: Deps) -> None:
    executions: list[str] = []
    event.listen(deps.db.engine, "before_cursor_execute", lambda *args: executions.append(args[2]))
    writes = GroupCommit(deps.db)
    store = inbox.store_statement(deps.db.engine.dialect.name)

    def body(update_id: int) -> Statement:
        values = inbox.store_values("telegram", f"999:{update_id}", f'{{"update_id": {update_id}}}', deps.clock.now())
        return Statement(store, values, inbox.STORED)

    assert await writes.insert(body(0))  # alone: nothing to wait for
    executions.clear()
    # 30 bodies at once, two of them delivered again by Telegram (0 stored before, 5 twice in this burst)
    fresh = await asyncio.gather(*(writes.insert(body(n)) for n in [*range(1, 29), 0, 5]))
    assert fresh == [True] * 28 + [False, False]
    assert len([sql for sql in executions if "into inbound_message" in sql.lower()]) == 1  # one multi-row INSERT
    with deps.db.uow() as uow:
        stored = inbox.pending(uow.session, "telegram")
    assert sorted(int(m.key.split(":")[1]) for m in stored) == list(range(29))  # each once


async def test_a_write_that_may_linger_goes_with_the_next_commit_or_alone_after_the_linger(deps: Deps) -> None:
    commits: list[int] = []
    event.listen(deps.db.engine, "commit", lambda _conn: commits.append(1))
    writes = GroupCommit(deps.db)
    mark = insert(InboundSeen)

    def seen(key: str) -> list[Statement]:
        return [Statement(mark, {"channel": "telegram", "key": key, "at": deps.clock.now()})]

    lingering = [asyncio.create_task(writes.execute(seen(f"999:{n}"), linger=60)) for n in range(5)]
    await asyncio.sleep(0)
    assert commits == [] and not any(task.done() for task in lingering)  # no transaction of their own yet
    await writes.execute(seen("999:now"))  # a write someone waits for: the five go with it
    await asyncio.gather(*lingering)
    assert len(commits) == 1

    started = asyncio.get_running_loop().time()
    await writes.execute(seen("999:alone"), linger=0.05)  # nothing else comes: it goes alone after the linger
    assert asyncio.get_running_loop().time() - started >= 0.05 and len(commits) == 2
    with deps.db.uow() as uow:
        stored = {s.key for s in uow.session.exec(select(InboundSeen)).all()}
    assert {"999:now", "999:alone", *(f"999:{n}" for n in range(5))} <= stored


async def test_replies_of_many_chats_are_marked_sent_in_one_statement(deps: Deps) -> None:
    from models.outbox import MARK_REPLIES_SENT, MARK_REPLY_SENT, reply_sent_values
    from models.tables import Outbox

    with deps.db.uow() as uow:
        ids = []
        for n, contact in enumerate(uow.session.exec(select(Contact).limit(6)).all()):
            row = enqueue(uow.session, f"bulk|{n}", contact, OutMessage(text=f"balasan {n}"), deps.clock.now())
            assert row is not None and row.id is not None
            ids.append(row.id)
        taken = uow.session.get(Outbox, ids[-1])
        assert taken is not None
        taken.status = "sending"  # the dispatcher took this one meanwhile: left to it
        uow.commit()
    executions: list[str] = []
    event.listen(deps.db.engine, "before_cursor_execute", lambda *args: executions.append(args[2]))
    writes = GroupCommit(deps.db)
    await writes.execute([Statement(MARK_REPLY_SENT, reply_sent_values(ids[0], "m-0", deps.clock.now()))])
    executions.clear()
    marks = [
        [Statement(MARK_REPLY_SENT, reply_sent_values(i, f"m-{n}", deps.clock.now()), many=MARK_REPLIES_SENT)]
        for n, i in enumerate(ids[1:], 1)
    ]
    await asyncio.gather(*(writes.execute(mark) for mark in marks))
    assert len([sql for sql in executions if "outbox" in sql.lower()]) == 1
    with deps.db.uow() as uow:
        rows = {r.id: r for r in uow.session.exec(select(Outbox).where(col(Outbox.id).in_(ids))).all()}
    assert [(rows[i].status, rows[i].provider_id) for i in ids[:-1]] == [("sent", f"m-{n}") for n in range(5)]
    assert all(rows[i].sent_at == deps.clock.now() and rows[i].attempts == 1 for i in ids[:-1])
    assert rows[ids[-1]].status == "sending" and not rows[ids[-1]].provider_id


async def test_updates_of_many_chats_are_marked_done_in_one_statement(deps: Deps) -> None:
    from bot.telegram.adapter import _INBOX_ALL_DONE, _INBOX_DONE, _inbox_done
    from models.tables import InboundMessage

    keys = [f"9{n}" for n in range(5)]
    with deps.db.uow() as uow:
        for key in [*keys, "other"]:
            inbox.store(uow.session, "telegram", key, "{}", deps.clock.now())
        uow.commit()
    writes = GroupCommit(deps.db)
    done = [[Statement(_INBOX_DONE, _inbox_done(key, deps.clock.now()), many=_INBOX_ALL_DONE)] for key in keys]
    await asyncio.gather(*(writes.execute(statements) for statements in done))
    with deps.db.uow() as uow:
        rows = {r.key: r.processed_at for r in uow.session.exec(select(InboundMessage)).all()}
    assert {key: at for key, at in rows.items() if at is not None} == dict.fromkeys(keys, deps.clock.now())
