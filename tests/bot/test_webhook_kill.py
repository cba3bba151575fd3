"""`kill -9` the real `sigap run` in Telegram webhook mode while people write; start it again: every message the
webhook accepted (HTTP 200) is answered, once, or at most twice for the few in flight at the kill."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel import col, select

from bot.settings import EXAMPLE_PEMDA, SAMPLE_ROSTER
from bot.wiring import build_calendar
from jobs.sweep import sweep
from models.clock import SystemClock
from models.db import Database
from models.pemda import load_pemda
from models.program_sync import sync_programs
from models.roster import import_roster
from models.tables import Contact, Outbox
from tests.fakes.telegram_api import FakeBotApi

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "556:webhook-kill-token"
SECRET = "kill-test-secret-123"
MEMBERS = 20  # registered people (durable replies through the outbox)
STRANGERS = 12  # unregistered senders (answered again after a crash)
FIRST = 9100


def free_port() -> int:
    """A port free on 127.0.0.1 now (for a `sigap run` started as a child process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_env(url: str, api: FakeBotApi, port: int, token: str, secret: str) -> dict[str, str]:
    """The environment of a child `sigap run` on Telegram in webhook mode against `api`, without WhatsApp."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PTB_TIMEDELTA": "true",
        "SIGAP_DATABASE_URL": url,
        "SIGAP_PEMDA_FILE": "sigap.toml",
        "SIGAP_HTTP_HOST": "127.0.0.1",
        "SIGAP_HTTP_PORT": str(port),
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_WEBHOOK_URL": "https://sigap.example.go.id/telegram",
        "TELEGRAM_WEBHOOK_SECRET": secret,
    }
    env.pop("WHATSAPP_ACCESS_TOKEN", None)
    return env


def _seed(url: str) -> list[int]:
    db = Database(url)
    db.upgrade()
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        people = uow.session.exec(
            select(Contact).where(col(Contact.unit_id).is_not(None)).order_by(col(Contact.id)).limit(MEMBERS)
        ).all()
        for offset, person in enumerate(people):
            person.telegram_user_id = str(FIRST + offset)
            uow.session.add(person)
        uow.commit()
    # The reminders due today (the real clock: `sigap run` sweeps at start) are sent already, so the only messages
    # of the test are the answers it counts, whatever the day and hour it runs.
    pemda = load_pemda(EXAMPLE_PEMDA)
    calendar = build_calendar(pemda, db)
    now = SystemClock().now()
    with db.uow() as uow:
        sync_programs(uow.session, pemda, calendar.local_date(now))
        uow.commit()
    sweep(db, pemda, calendar, now)
    with db.uow() as uow:
        uow.session.execute(update(Outbox).values(status="sent", sent_at=now))
        uow.commit()
    db.dispose()
    return [FIRST + i for i in range(MEMBERS + STRANGERS)]


async def _start(url: str, api: FakeBotApi, port: int, workdir: Path) -> asyncio.subprocess.Process:
    env = webhook_env(url, api, port, TOKEN, SECRET)
    with (workdir / "run.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=workdir, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(300):
            try:
                if (await http.get("/healthz")).status_code in (200, 503):
                    return process
            except httpx.HTTPError:
                pass
            if process.returncode is not None:
                raise AssertionError((workdir / "run.log").read_text())
            await asyncio.sleep(0.05)
    raise AssertionError("sigap run did not start")


async def _post(port: int, update: dict[str, Any]) -> int:
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            response = await http.post(
                "/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=5
            )
        return response.status_code
    except httpx.HTTPError:
        return 0  # the process was killed while answering: not accepted, Telegram would send it again


async def test_kill_9_in_webhook_mode_every_accepted_message_is_answered(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    chats = _seed(url)
    port = free_port()
    async with FakeBotApi(token=TOKEN) as api:
        first = await _start(url, api, port, tmp_path)
        accepted: list[int] = []
        retry: list[dict[str, Any]] = []
        try:
            for index, chat in enumerate(chats):
                update = api.push_message(chat, "/bantuan" if chat < FIRST + MEMBERS else "halo", first_name="Uji")
                if index == len(chats) // 2:
                    os.kill(first.pid, signal.SIGKILL)  # mid-stream: some accepted, some in flight
                status = await _post(port, update)
                if status == 200:
                    accepted.append(chat)
                else:
                    retry.append(update)
        finally:
            if first.returncode is None:
                os.kill(first.pid, signal.SIGKILL)
            await first.wait()
        second = await _start(url, api, port, tmp_path)
        try:
            for update in retry:  # what Telegram does with an update that got no 200
                assert await _post(port, update) == 200
                accepted.append(int(update["message"]["chat"]["id"]))
            assert sorted(accepted) == chats
            await api.wait_for(lambda: all(api.texts_to(chat) for chat in chats), timeout=90)
            await asyncio.sleep(1.0)
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), timeout=30)
    answers = {chat: len(api.texts_to(chat)) for chat in chats}
    assert all(1 <= count <= 2 for count in answers.values()), answers
    assert sum(1 for count in answers.values() if count == 2) <= 3, answers  # only those in flight at the kill
