"""SIGTERM stops the real `sigap run` within 10 s whatever is running, with exit code 0, and loses nothing.

While it runs: a handler stuck in its work (a command that would take minutes), the start-up sweep stuck in its
thread (a scheduler job), and the dispatcher waiting on the rate limiter for a queue of reminders. Both stuck
parts are fakes loaded by a small launcher in front of the real command line.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlmodel import col, select

from bot.settings import SAMPLE_ROSTER
from models.db import Database
from models.outbox import OutMessage, enqueue
from models.roster import import_roster
from models.tables import Contact, InboundMessage, Outbox
from tests.bot.test_webhook_kill import free_port, webhook_env
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "557:stop-test-token"
SECRET = "stop-test-secret-123"
SLOW, QUICK, REMINDED = 9301, 9302, 9303
REMINDERS = 30
"""Queued for one person: at Telegram's 1 message/s per chat the dispatcher waits on the limiter for most."""

LAUNCHER = '''
import sys
import threading
from pathlib import Path

import bot.scheduler
import handlers.core

marks = Path(sys.argv[1])
route = handlers.core._route


async def slow_route(ctx):
    if ctx.incoming.command == "lambat":  # stands in for an export that takes minutes
        (marks / "handler").touch()
        threading.Event().wait()
    return await route(ctx)


def slow_sweep(*args, **kwargs):  # stands in for a sweep that takes minutes
    (marks / "sweep").touch()
    threading.Event().wait()


handlers.core._route = slow_route
bot.scheduler.sweep = slow_sweep

from bot.cli import main

sys.exit(main(["run"]))
'''


def _seed(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        people = uow.session.exec(
            select(Contact).where(col(Contact.unit_id).is_not(None)).order_by(col(Contact.id)).limit(3)
        ).all()
        for person, chat in zip(people, (SLOW, QUICK, REMINDED), strict=True):
            person.telegram_user_id = str(chat)
            person.preferred_channel = "telegram"
            uow.session.add(person)
        uow.session.flush()
        for number in range(REMINDERS):
            message = OutMessage(text=f"Pengingat uji {number}.")
            enqueue(uow.session, f"stop-test|{number}", people[2], message, people[2].created_at)
        uow.commit()
    db.dispose()


async def _post(http: httpx.AsyncClient, api: FakeBotApi, chat: int, text: str) -> None:
    update = api.push_message(chat, text, first_name="Uji")
    response = await http.post("/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 200


def _output(log: Path) -> str:
    return log.read_text(errors="replace")


async def _until(check: Callable[[], bool], process: asyncio.subprocess.Process, log: Path) -> None:
    """Poll the running process's effects until `check` holds (30 s at most)."""
    deadline = time.monotonic() + 30
    while not check():
        if process.returncode is not None or time.monotonic() > deadline:
            raise AssertionError(_output(log))
        await asyncio.sleep(0.05)


async def _serving(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code in (200, 503)
    except httpx.HTTPError:
        return False


async def test_sigterm_stops_sigap_run_within_10_s_while_work_is_stuck_and_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    _seed(url)
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "launch.py").write_text(LAUNCHER)
    port = free_port()
    log = tmp_path / "run.log"
    async with FakeBotApi(token=TOKEN) as api:
        env = webhook_env(url, api, port, TOKEN, SECRET)
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(tmp_path / "launch.py"), str(marks),
                cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

                serving = False
                while not serving:
                    await _until(lambda: True, process, log)  # fails at once if the process ended
                    serving = await _serving(http)
                await _until((marks / "sweep").exists, process, log)  # the start-up sweep is stuck in its thread
                await _post(http, api, SLOW, "/lambat")
                await _until((marks / "handler").exists, process, log)
                await _post(http, api, QUICK, "/bantuan")
                await _until(lambda: bool(api.texts_to(QUICK)), process, log)  # answered while /lambat is stuck
                await _until(lambda: bool(api.texts_to(REMINDED)), process, log)  # the dispatcher at work

                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), timeout=15)
                elapsed = time.monotonic() - started
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert code == 0, _output(log)
        assert elapsed <= 10.0, (elapsed, _output(log))
        delivered = len(api.texts_to(REMINDED))
        assert api.texts_to(SLOW) == []
    db = Database(url)
    with db.uow() as uow:
        rows = uow.session.exec(select(Outbox).where(col(Outbox.idem_key).startswith("stop-test|"))).all()
        slow = uow.session.exec(select(InboundMessage).where(col(InboundMessage.payload).contains("/lambat"))).one()
    db.dispose()
    assert delivered < REMINDERS  # the limiter held the rest back when the signal came
    assert sorted(r.status for r in rows if r.status == "sent") == ["sent"] * delivered
    assert all(r.status in ("pending", "sending") for r in rows if r.status != "sent")  # sent at the next start
    assert slow.processed_at is None and slow.attempts == 0  # /lambat is handled again at the next start
