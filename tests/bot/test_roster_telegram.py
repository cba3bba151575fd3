"""The roster by chat through the real python-telegram-bot Application against the fake Bot API: an admin sends a
CSV document, the preview arrives with Terapkan / Batal, Terapkan applies it. And the channels' file sources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select

from bot.channels import ChannelRuntime
from bot.settings import SAMPLE_ROSTER, Settings
from bot.telegram.adapter import TelegramFiles
from bot.telegram.runtime import telegram_runtime
from bot.whatsapp.runtime import build_whatsapp
from models.app import Deps
from models.files import FileTooLarge, FileUnavailable
from models.messages import Channel
from models.tables import Contact, Unit
from tests.conftest import ADMIN, KEPALA_DINKES
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi, SentRecord

TOKEN = "777002:AAE-sigap_roster-Token"
ADMIN_ID, KEPALA_ID = 9101, 5101


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def runtime(api: FakeBotApi, sdeps: Deps) -> AsyncIterator[ChannelRuntime]:
    with sdeps.db.uow() as uow:
        for name, user_id in ((ADMIN, ADMIN_ID), (KEPALA_DINKES, KEPALA_ID)):
            contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
            contact.telegram_user_id = str(user_id)
            uow.session.add(contact)
        uow.commit()
    values: dict[str, Any] = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": api.base_url}
    started = await telegram_runtime(Settings(_env_file=None, **values), sdeps)  # type: ignore[call-arg]
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def next_reply(api: FakeBotApi, chat_id: int, before: int) -> SentRecord:
    await api.wait_for(lambda: len(api.sent_to(chat_id)) > before, timeout=5)
    return api.sent_to(chat_id)[before]


def unit_of(deps: Deps, name: str) -> str:
    with deps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
        unit = uow.session.get(Unit, contact.unit_id)
    assert unit is not None
    return unit.code


async def test_admin_sends_a_csv_sees_the_preview_and_applies_it(
    api: FakeBotApi, sdeps: Deps, runtime: ChannelRuntime
) -> None:
    moved = SAMPLE_ROSTER.read_text(encoding="utf-8").replace(
        'DINKES,Dinas Kesehatan,dinas,,"dinkes,kesehatan",Slamet Santoso,kepala',
        'DISDIK,Dinas Pendidikan,dinas,,"disdik,pendidikan",Slamet Santoso,operator',
    )
    api.push_document(ADMIN_ID, "roster baru.csv", moved.encode(), mime_type="text/csv", first_name="Rina")
    preview = await next_reply(api, ADMIN_ID, 0)
    assert str(preview.text).startswith("Pratinjau roster roster baru.csv (belum ada yang disimpan):")
    assert "→ Slamet Santoso: kepala Dinas Kesehatan (DINKES) → operator Dinas Pendidikan (DISDIK)" in str(preview.text)
    assert [label for label, _ in preview.buttons] == ["Terapkan", "Batal"]
    assert unit_of(sdeps, KEPALA_DINKES) == "DINKES"

    answered = len(api.callback_answers)
    api.push_callback(ADMIN_ID, preview.buttons[0][1], message_id=preview.message_id)
    done = await next_reply(api, ADMIN_ID, 1)
    assert str(done.text).startswith("Roster roster baru.csv sudah diterapkan.")
    assert "1 dipindah" in str(done.text)
    await api.wait_for(lambda: len(api.callback_answers) > answered, timeout=5)
    assert unit_of(sdeps, KEPALA_DINKES) == "DISDIK"

    api.push_document(KEPALA_ID, "roster.xlsx", b"PK", first_name="Slamet")
    refused = await next_reply(api, KEPALA_ID, 0)
    assert str(refused.text).startswith("Mohon maaf, roster unit dan kontak hanya dapat diubah oleh admin Sigap.")


async def test_the_telegram_file_source_checks_size_and_availability(api: FakeBotApi) -> None:
    from telegram import Bot

    file_id = api.add_file("roster.csv", b"unit_code\n", "text/csv")
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        files = TelegramFiles(bot)
        assert await files.fetch(file_id, max_bytes=100) == (b"unit_code\n", "text/csv")
        with pytest.raises(FileTooLarge):
            await files.fetch(file_id, max_bytes=5)
        with pytest.raises(FileUnavailable):
            await files.fetch("tidak-ada", max_bytes=100)


async def test_the_whatsapp_file_source_downloads_a_sent_document(sdeps: Deps) -> None:
    async with FakeGraphApi("EAAG-roster-token", "1055") as graph:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            WHATSAPP_ACCESS_TOKEN="EAAG-roster-token",
            WHATSAPP_PHONE_NUMBER_ID="1055",
            WHATSAPP_APP_SECRET="rahasia",
            WHATSAPP_VERIFY_TOKEN="verify",
            WHATSAPP_API_BASE_URL=graph.base_url,
        )
        channel = build_whatsapp(settings, sdeps)
        try:
            media_id = await channel.client.upload_media(b"unit_code\n", "text/csv", "roster.csv")
            files = sdeps.files[Channel.WHATSAPP]
            assert await files.fetch(media_id, max_bytes=100) == (b"unit_code\n", "text/csv")
            with pytest.raises(FileTooLarge):
                await files.fetch(media_id, max_bytes=5)
            with pytest.raises(FileUnavailable):
                await files.fetch("media-tidak-ada", max_bytes=100)
        finally:
            await channel.stop()
