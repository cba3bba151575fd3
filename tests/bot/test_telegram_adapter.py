"""The Telegram adapter's pieces against the fake Bot API: translation, replies, errors, broadcast progress."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import col, select
from telegram import Bot, Update

from bot.telegram.adapter import TelegramAdapter, to_incoming
from bot.telegram.progress import BroadcastProgress
from bot.telegram.runtime import telegram_runtime
from bot.telegram.sender import TelegramSender
from jobs.broadcasts import BroadcastFinisher
from models.app import Deps
from models.messages import Attachment, Button, Channel, Reply
from models.tables import Broadcast, Outbox, OutboxStatus
from tests.bot.test_telegram_e2e import ADMIN_ID, TOKEN, make_settings
from tests.conftest import ADMIN, console_person, set_contact
from tests.fakes.telegram_api import FakeBotApi

CHAT = 6001


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as real_bot:
        yield real_bot


def _update(api: FakeBotApi, raw: dict[str, Any], bot: Bot) -> Update:
    update = Update.de_json(raw, bot)
    assert update is not None
    return update


async def test_documents_photos_and_buttons_become_incoming_messages(api: FakeBotApi, bot: Bot) -> None:
    document = _update(api, api.push_document(CHAT, "bukti.pdf", b"%PDF-1.4", caption="bukti mcp 1.1"), bot)
    incoming = to_incoming(document)
    assert incoming is not None
    assert (incoming.channel, incoming.address, incoming.text) == (Channel.TELEGRAM, str(CHAT), "bukti mcp 1.1")
    assert incoming.document_name == "bukti.pdf" and incoming.document_ref
    await bot.send_message(CHAT, "pilih")
    tap = to_incoming(_update(api, api.push_callback(CHAT, "/lapor katalog", first_name="Slamet"), bot))
    assert tap is not None and tap.payload == "/lapor katalog" and tap.body == "/lapor katalog"
    assert tap.display_name == "Slamet"
    text = to_incoming(_update(api, api.push_message(CHAT, "/status", first_name="Sri", last_name="Wahyuni"), bot))
    assert text is not None and text.command == "status" and text.display_name == "Sri Wahyuni"


async def test_replies_are_split_at_4096_with_buttons_last_and_files_uploaded(
    api: FakeBotApi, bot: Bot, sdeps: Deps
) -> None:
    adapter = TelegramAdapter(sdeps, TelegramSender(bot), None, None)
    long_text = "\n".join(f"{i:03d} Dinas Contoh Kabupaten Sukamakmur — e-Katalog 0 dari 10 produk" for i in range(120))
    pdf = Attachment("teguran.pdf", b"%PDF-1.4 isi surat", "document", "application/pdf")
    await adapter.deliver(
        CHAT,
        [Reply(long_text, (Button("Lapor sekarang", "/lapor katalog"),)), Reply("Surat terlampir.", attachment=pdf)],
    )
    records = api.sent_to(CHAT)
    assert [r.method for r in records] == ["sendMessage", "sendMessage", "sendDocument"]
    assert all(len(str(r.text)) <= 4096 for r in records)
    assert "\n".join(str(r.text) for r in records[:2]) == long_text
    assert records[0].buttons == [] and records[1].buttons == [("Lapor sekarang", "/lapor katalog")]
    assert records[2].filename == "teguran.pdf" and records[2].content == pdf.content
    assert records[2].text == "Surat terlampir."


async def test_a_failing_update_is_logged_without_the_token_and_the_tap_is_still_answered(
    api: FakeBotApi, sdeps: Deps, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> list[Reply]:
        raise RuntimeError(f"database down while calling {api.base_url}{TOKEN}/sendMessage")

    set_contact(sdeps, ADMIN, telegram_user_id=str(ADMIN_ID))
    runtime = await telegram_runtime(make_settings(api, webhook=False), sdeps)
    await runtime.start()
    try:
        monkeypatch.setattr("bot.telegram.adapter.handle", broken)
        message = await _bot_message(api)
        api.push_callback(ADMIN_ID, "/lapor katalog", message_id=message)
        await api.wait_for(lambda: len(api.callback_answers) == 1, timeout=5)
        await api.wait_for(lambda: "failed: RuntimeError" in caplog.text, timeout=5)
    finally:
        await runtime.stop()
    assert "telegram update" in caplog.text
    assert TOKEN not in caplog.text


async def _bot_message(api: FakeBotApi) -> int:
    async with Bot(TOKEN, base_url=api.base_url) as bot:
        sent = await bot.send_message(ADMIN_ID, "Program mana?")
    return sent.message_id


async def _broadcast_shown_on_telegram(deps: Deps, bot: Bot) -> list[Outbox]:
    """An admin's broadcast to the 10 camat, its confirmation shown in ADMIN_ID's chat; returns its rows."""
    admin = console_person(deps, ADMIN)
    await admin.say("/siaran kecamatan Rapat camat hari Kamis.")
    await admin.say("/siaran kirim 1")
    shown = await bot.send_message(ADMIN_ID, "Siaran #1 dikirim ke 10 penerima.\nKemajuan: Terkirim 0/10")
    with deps.db.uow() as uow:
        broadcast = uow.session.get(Broadcast, 1)
        assert broadcast is not None
        broadcast.channel, broadcast.progress_chat = "telegram", str(ADMIN_ID)
        broadcast.progress_message_id = str(shown.message_id)
        uow.session.add(broadcast)
        rows = list(uow.session.exec(select(Outbox).where(Outbox.broadcast_id == 1).order_by(col(Outbox.id))).all())
        uow.commit()
    assert len(rows) == 10
    return rows


def _mark_sent(deps: Deps, rows: list[Outbox]) -> None:
    with deps.db.uow() as uow:
        for row in rows:
            fresh = uow.session.get(Outbox, row.id)
            assert fresh is not None
            fresh.status = OutboxStatus.SENT.value
            uow.session.add(fresh)
        uow.commit()


def _edits(api: FakeBotApi) -> list[str]:
    return [str(r.text) for r in api.sent_to(ADMIN_ID) if r.method == "editMessageText"]


async def test_progress_is_edited_once_per_flush_when_it_moved_then_finished(
    api: FakeBotApi, bot: Bot, sdeps: Deps
) -> None:
    deps = sdeps
    rows = await _broadcast_shown_on_telegram(deps, bot)
    progress = BroadcastProgress(deps, bot)

    def edits() -> list[str]:
        return _edits(api)

    def settle(batch: list[Outbox]) -> None:
        _mark_sent(deps, batch)
        for row in batch:
            progress.seen(row)  # the dispatcher's note after each row: no database, no Bot API

    settle(rows[:1])
    assert edits() == []
    await progress.flush()
    settle(rows[1:5])
    await progress.flush()
    await progress.flush()  # nothing moved since: no edit
    progress.seen(rows[0])
    await progress.flush()  # a row seen again, the count unchanged: no edit either
    settle(rows[5:])
    await progress.flush()
    assert edits() == [
        "Siaran #1 dikirim ke 10 penerima.\nKemajuan: Terkirim 1/10",
        "Siaran #1 dikirim ke 10 penerima.\nKemajuan: Terkirim 5/10",
        "Siaran #1 dikirim ke 10 penerima.\nKemajuan: Terkirim 10/10\nSelesai.",
    ]
    progress.seen(rows[0])
    await progress.flush()
    assert len(edits()) == 3
    with deps.db.uow() as uow:
        assert uow.session.get(Broadcast, 1).status == "finished"  # type: ignore[union-attr]
        assert uow.session.exec(select(Outbox).where(Outbox.idem_key == "broadcast|1|hasil")).one()


async def test_the_final_progress_shows_even_when_the_finisher_closed_the_broadcast_first(
    api: FakeBotApi, bot: Bot, sdeps: Deps
) -> None:
    rows = await _broadcast_shown_on_telegram(sdeps, bot)
    progress, finisher = BroadcastProgress(sdeps, bot), BroadcastFinisher(sdeps)
    _mark_sent(sdeps, rows[:9])
    for row in rows[:9]:
        progress.seen(row)
    await progress.flush()
    _mark_sent(sdeps, rows[9:])
    finisher.seen(rows[9])  # the last row: the finisher's flush happens to come first
    await finisher.flush()
    progress.seen(rows[9])
    await progress.flush()

    assert _edits(api) == [
        "Siaran #1 dikirim ke 10 penerima.\nKemajuan: Terkirim 9/10",
        "Siaran #1 dikirim ke 10 penerima.\nKemajuan: Terkirim 10/10\nSelesai.",
    ]
    with sdeps.db.uow() as uow:
        assert len(uow.session.exec(select(Outbox).where(Outbox.idem_key == "broadcast|1|hasil")).all()) == 1
