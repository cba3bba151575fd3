"""`sigap run` as deployed: Telegram long polling, the scheduler, the HTTP server and the outbox dispatcher together."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import select

from bot.runner import run
from bot.settings import SAMPLE_ROSTER, Settings
from models.db import Database
from models.outbox import OutMessage, enqueue
from models.roster import import_roster
from models.tables import Contact, Outbox
from tests.conftest import KEPALA_DINKES
from tests.fakes.telegram_api import FakeBotApi

USER = 7001


async def test_run_answers_on_telegram_and_sends_the_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    db = Database(url)
    db.upgrade()
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        kepala = uow.session.exec(select(Contact).where(Contact.name == KEPALA_DINKES)).one()
        kepala.telegram_user_id = str(USER)
        kepala.preferred_channel = "telegram"
        uow.session.add(kepala)
        uow.session.flush()
        enqueue(uow.session, "test|hello", kepala, OutMessage(text="Pesan dari antrean."), kepala.created_at)
        uow.commit()
    db.dispose()
    async with FakeBotApi(token="123:ABC") as api:
        for name, value in {
            "SIGAP_DATABASE_URL": url,
            "TELEGRAM_BOT_TOKEN": "123:ABC",
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
            await api.wait_for(lambda: "Pesan dari antrean." in api.texts_to(USER), timeout=20)
            api.push_message(USER, "/status", first_name="Slamet")
            await api.wait_for(lambda: any("Dinas Kesehatan (DINKES)" in t for t in api.texts_to(USER)), timeout=20)
            assert api.commands_for() != []  # the default command menu was set
        finally:
            stop.set()
            assert await asyncio.wait_for(task, timeout=20) == 0
    db = Database(url)
    with db.uow() as uow:
        row = uow.session.exec(select(Outbox).where(Outbox.idem_key == "test|hello")).one()
        assert row.status == "sent" and row.provider_id
    db.dispose()


async def test_run_stops_cleanly_with_an_error_when_the_dispatcher_dies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from jobs.dispatcher import Dispatcher

    async def broken(self: Dispatcher, stop: asyncio.Event, idle: float = 1.0) -> None:
        raise RuntimeError("dispatcher bug")

    url = f"sqlite:///{tmp_path / 'run.db'}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    monkeypatch.setattr(Dispatcher, "run_forever", broken)
    async with FakeBotApi(token="123:ABC") as api:
        for name, value in {
            "SIGAP_DATABASE_URL": url,
            "TELEGRAM_BOT_TOKEN": "123:ABC",
            "TELEGRAM_API_BASE_URL": api.base_url,
            "SIGAP_PEMDA_FILE": "sigap.toml",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        code = await asyncio.wait_for(run(Settings()), timeout=20)  # no stop event: it must end on its own
        assert code == 1
        assert "dispatcher" in caplog.text and "RuntimeError" in caplog.text
        calls = len(api.calls)
        await asyncio.sleep(0)
        assert not [c for c in api.calls[calls:] if c.method == "getUpdates"]  # polling was stopped
