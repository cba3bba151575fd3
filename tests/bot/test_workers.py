"""`SIGAP_WORKERS`: chat messages handled in worker processes answer exactly as `sigap run` itself would, a worker
that dies loses no message, flood control still counts each sender, and `sigap run` stops its workers with itself."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import col, select

from bot.settings import EXAMPLE_PEMDA, SAMPLE_ROSTER, Settings
from bot.wiring import build_calendar
from bot.workers import MessageWorkers, WorkerGuard
from handlers.core import handle, handle_here
from handlers.registration import TOO_MANY_CODES
from models.app import Deps
from models.clock import SystemClock
from models.db import Database
from models.flood import CODE_TRIES, MEMBER, SLOW_DOWN, FloodGuard
from models.messages import Channel, Incoming
from models.pemda import load_pemda
from models.program_sync import sync_programs
from models.roster import import_roster
from models.tables import Contact, Report
from tests.bot.test_webhook_kill import _post, _seed, _start, free_port
from tests.fakes.telegram_api import FakeBotApi

CHAT = 7_100_001
OTHER = 7_100_002


def _deps(db: Database) -> Deps:
    """The sample kabupaten on `db` with the real clock (the workers run on it), two people on Telegram."""
    pemda = load_pemda(EXAMPLE_PEMDA)
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        people = uow.session.exec(
            select(Contact).where(col(Contact.unit_id).is_not(None)).order_by(col(Contact.id)).limit(2)
        ).all()
        for person, chat in zip(people, (CHAT, OTHER), strict=True):
            person.telegram_user_id = str(chat)
            uow.session.add(person)
        uow.commit()
    calendar = build_calendar(pemda, db)
    clock = SystemClock()
    with db.uow() as uow:
        sync_programs(uow.session, pemda, calendar.local_date(clock.now()))
        uow.commit()
    return Deps(db=db, pemda=pemda, clock=clock, calendar=calendar, telegram_username="sigap_test_bot")


@pytest.fixture
async def workers(db: Database) -> AsyncIterator[MessageWorkers]:
    """Two worker processes over `db` (SQLite and PostgreSQL), stopped after the test."""
    deps = _deps(db)
    settings = Settings(database_url=db.url, pemda_file=EXAMPLE_PEMDA)
    pool = MessageWorkers(deps, settings, 2)
    await pool.start()
    deps.workers = pool
    try:
        yield pool
    finally:
        await pool.stop()


def _message(chat: int, text: str, number: int) -> Incoming:
    return Incoming(Channel.TELEGRAM, str(chat), text=text, display_name="Uji", message_id=str(number))


async def _until(check: Callable[[], bool], seconds: float) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_a_worker_answers_as_sigap_run_would_and_records_the_report(workers: MessageWorkers) -> None:
    deps = workers.deps
    assert len(workers.pids) == 2 and all(pid != os.getpid() for pid in workers.pids)
    [here] = await handle_here(deps, _message(CHAT, "/status", 1), "t:1")
    [there] = await workers.handle(_message(CHAT, "/status", 2), "t:2")
    assert there.text == here.text and there.text.startswith("Status per")
    assert there.outbox_id is not None and there.outbox_id != here.outbox_id  # written to the outbox, as at home

    [recorded] = await workers.handle(_message(CHAT, "/lapor katalog 7", 3), "t:3")
    assert recorded.text.startswith("Tercatat")
    with deps.db.uow() as uow:
        report = uow.session.exec(select(Report).where(Report.program_key == "katalog")).one()
    assert report.value == 7

    assert await workers.handle(_message(CHAT, "/lapor katalog 7", 3), "t:3") == []  # the same update again
    [stranger] = await workers.handle(_message(555, "halo", 4), "t:4")
    assert "belum terdaftar" in stranger.text


async def test_a_worker_that_dies_loses_no_message_and_is_started_again(workers: MessageWorkers) -> None:
    before = set(workers.pids)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    await _until(lambda: not any(_alive(pid) for pid in before), 10)
    answers = await asyncio.gather(
        workers.handle(_message(CHAT, "/status", 1), "k:1"), workers.handle(_message(OTHER, "/status", 2), "k:2")
    )
    assert [len(replies) for replies in answers] == [1, 1]
    assert all(replies[0].text.startswith("Status per") for replies in answers)
    await _until(lambda: len(workers.pids) == 2, 60)
    assert len(workers.pids) == 2 and not before & set(workers.pids)
    [again] = await workers.handle(_message(CHAT, "/status", 3), "k:3")
    assert again.text.startswith("Status per")


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_stop_signal_to_the_whole_group_leaves_the_workers_to_sigap_run(workers: MessageWorkers) -> None:
    pids = workers.pids
    for pid in pids:  # systemd's SIGTERM reaches every process of the service
        os.kill(pid, signal.SIGTERM)
    await asyncio.sleep(0.3)
    assert workers.pids == pids and all(_alive(pid) for pid in pids)  # they finish what sigap run gives them
    [reply] = await workers.handle(_message(CHAT, "/status", 1), "s:1")
    assert reply.text.startswith("Status per")
    await workers.stop()  # sigap run's own stop ends them
    await _until(lambda: not any(_alive(pid) for pid in pids), 10)
    assert not any(_alive(pid) for pid in pids)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_flood_control_counts_every_message_of_a_sender_in_its_worker(workers: MessageWorkers) -> None:
    answers = [await workers.handle(_message(CHAT, "/bantuan", n), f"f:{n}") for n in range(MEMBER.messages + 2)]
    assert all(len(replies) == 1 and replies[0].text != SLOW_DOWN for replies in answers[: MEMBER.messages])
    assert [r.text for r in answers[MEMBER.messages]] == [SLOW_DOWN]
    assert answers[-1] == []  # muted: no answer, no work
    [other] = await workers.handle(_message(OTHER, "/bantuan", 99), "f:99")  # another sender is not muted
    assert other.text != SLOW_DOWN


def _photo(chat: int, caption: str, number: int) -> Incoming:
    """A photo (handled by `sigap run` itself: its file is fetched over the channel's connection)."""
    return Incoming(
        Channel.TELEGRAM,
        str(chat),
        text=caption,
        display_name="Uji",
        message_id=str(number),
        document_name="foto.jpg",
        document_ref=f"photo-{number}",
    )


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_files_handled_by_sigap_run_count_against_the_allowance_the_worker_keeps(
    workers: MessageWorkers,
) -> None:
    deps = workers.deps
    here = FloodGuard(deps.clock)
    deps.guard = WorkerGuard(workers, here, asyncio.get_running_loop())
    for n in range(MEMBER.messages):  # text: handled, and counted, in the sender's worker
        [reply] = await handle(deps, _message(CHAT, "/bantuan", n), dedupe_key=f"g:{n}")
        assert reply.text != SLOW_DOWN
    # A photo is handled here, but counted where the text was: the allowance is spent, not doubled.
    assert [r.text for r in await handle(deps, _photo(CHAT, "", 100), dedupe_key="g:100")] == [SLOW_DOWN]
    assert await handle(deps, _message(CHAT, "/bantuan", 101), dedupe_key="g:101") == []  # muted in the worker
    assert deps.guard.muted(Channel.TELEGRAM.value, str(CHAT))  # the next file is ignored before any database work
    assert not here.muted(Channel.TELEGRAM.value, str(CHAT))  # nothing was counted twice here
    [other] = await handle(deps, _photo(OTHER, "", 102), dedupe_key="g:102")  # another sender is not muted
    assert other.text != SLOW_DOWN


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_invite_codes_tried_in_captions_and_in_text_count_together(workers: MessageWorkers) -> None:
    deps = workers.deps
    deps.guard = WorkerGuard(workers, FloodGuard(deps.clock), asyncio.get_running_loop())
    stranger = 7_100_999
    tries = [_message(stranger, "/start ZZZZZZZ2", n) for n in range(CODE_TRIES.messages - 1)]
    tries += [_photo(stranger, "/start ZZZZZZZ3", 50), _photo(stranger, "/start ZZZZZZZ4", 51)]  # handled here
    for n, attempt in enumerate(tries):
        [reply] = await handle(deps, attempt, dedupe_key=f"c:{n}")
        assert "tidak dikenal" in reply.text
    [blocked] = await handle(deps, _message(stranger, "/start ZZZZZZZ5", 60), dedupe_key="c:60")
    assert blocked.text == TOO_MANY_CODES


async def test_flood_control_is_counted_here_while_the_sender_s_worker_cannot_answer(
    workers: MessageWorkers,
) -> None:
    deps = workers.deps
    here = FloodGuard(deps.clock)
    deps.guard = guard = WorkerGuard(workers, here, asyncio.get_running_loop())
    await workers.stop()  # no worker answers: files are still counted, by this process
    for n in range(MEMBER.messages):
        [reply] = await handle(deps, _photo(CHAT, "", n), dedupe_key=f"d:{n}")
        assert reply.text != SLOW_DOWN
    assert [r.text for r in await handle(deps, _photo(CHAT, "", 99), dedupe_key="d:99")] == [SLOW_DOWN]
    assert here.muted(Channel.TELEGRAM.value, str(CHAT)) and guard.muted(Channel.TELEGRAM.value, str(CHAT))


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_slow_command_in_a_worker_does_not_hold_up_its_other_chats(db: Database) -> None:
    deps = _deps(db)
    pool = MessageWorkers(deps, Settings(database_url=db.url, pemda_file=EXAMPLE_PEMDA), 1)  # both chats here
    await pool.start()
    try:
        with deps.db.uow() as uow:
            contact_id = uow.session.exec(select(Contact.id).where(Contact.telegram_user_id == str(CHAT))).one()
        [asked] = await pool.handle(_message(CHAT, "/lapor katalog 900", 1), "w:1")  # "Yakin?": a question open
        assert asked.text.startswith("Yakin?")
        blocker = create_engine(db.url)
        with blocker.connect() as held:
            held.execute(text("SELECT 1 FROM chatstate WHERE contact_id = :id FOR UPDATE"), {"id": contact_id})
            slow = asyncio.create_task(pool.handle(_message(CHAT, "/lapor katalog 7", 2), "w:2"))  # waits on it
            await asyncio.sleep(0.5)
            assert not slow.done()
            started = time.monotonic()
            other_chat = pool.handle(_message(OTHER, "/status", 3), "w:3")  # the same worker, another chat
            [other] = await asyncio.wait_for(other_chat, timeout=10)
            assert other.text.startswith("Status per") and time.monotonic() - started < 5 and not slow.done()
            held.rollback()
        [recorded] = await asyncio.wait_for(slow, timeout=30)
        assert recorded.text.startswith("Tercatat")
        blocker.dispose()
    finally:
        await pool.stop()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


async def test_sigap_run_with_workers_answers_everyone_and_stops_them_with_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGAP_WORKERS", "2")
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    chats = _seed(url)  # 20 registered people, then 12 strangers
    port = free_port()
    async with FakeBotApi(token="556:webhook-kill-token") as api:
        process = await _start(url, api, port, tmp_path)
        try:
            workers = _children(process.pid)
            assert len(workers) >= 2, (tmp_path / "run.log").read_text()
            for chat in chats:
                update = api.push_message(chat, "/status" if chat < chats[20] else "halo", first_name="Uji")
                assert await _post(port, update) == 200
            await api.wait_for(lambda: all(api.texts_to(chat) for chat in chats), timeout=60)
        finally:
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0 and time.monotonic() - started < 10
    assert all(api.texts_to(chat)[0].startswith("Status per") for chat in chats[:20])
    assert all(len(api.texts_to(chat)) == 1 for chat in chats)
    assert not [pid for pid in workers if _alive(pid)]
    log = (tmp_path / "run.log").read_text()
    assert "2 worker processes handle chat messages" in log
    assert "[sigap-worker-1] " in log and "[sigap-worker-2] " in log  # each worker's lines say whose they are
