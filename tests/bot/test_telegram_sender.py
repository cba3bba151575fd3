"""TelegramSender driving the real python-telegram-bot `Bot` against the fake Bot API server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.ext import (
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.telegram.logging import install_redaction, uninstall_redaction
from bot.telegram.sender import TelegramSender
from models.messages import Attachment, Button, Channel
from models.outbound import (
    AuthFailed,
    Outbound,
    Permanent,
    RateLimited,
    Sender,
    SendError,
    Transient,
    Unreachable,
)
from models.outbox import split_text, units
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "987654:AAH-sigap_Test-token"
CHAT = 4242
PDF = b"%PDF-1.4\r\n" + bytes(range(256)) + b"\r\n--not-a-boundary\r\n\x00\r\n%%EOF"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1))


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as real_bot:
        yield real_bot


@pytest.fixture
def sender(bot: Bot) -> TelegramSender:
    return TelegramSender(bot)


def outbound(
    text: str = "Halo",
    *,
    address: str = str(CHAT),
    buttons: tuple[Button, ...] = (),
    attachment: Attachment | None = None,
) -> Outbound:
    return Outbound(
        outbox_id=1,
        channel=Channel.TELEGRAM,
        address=address,
        text=text,
        buttons=buttons,
        attachment=attachment,
    )


def test_sender_satisfies_protocol(sender: TelegramSender) -> None:
    as_protocol: Sender = sender
    assert as_protocol.channel is Channel.TELEGRAM


async def test_plain_text(api: FakeBotApi, sender: TelegramSender) -> None:
    first = await sender.send(outbound("Halo Budi, laporan bulan ini belum masuk."))
    second = await sender.send(outbound("Pengingat kedua"))

    assert api.texts_to(CHAT) == ["Halo Budi, laporan bulan ini belum masuk.", "Pengingat kedua"]
    records = api.sent_to(CHAT)
    assert [record.method for record in records] == ["sendMessage", "sendMessage"]
    assert records[0].reply_markup is None
    assert first.provider_id == str(records[0].message_id)
    assert int(second.provider_id) == int(first.provider_id) + 1


async def test_long_text_is_split_at_line_breaks(api: FakeBotApi, sender: TelegramSender) -> None:
    lines = [f"Baris {n}: OPD belum mengirim laporan kepatuhan triwulan, mohon ditindaklanjuti." for n in range(160)]
    text = "\n".join(lines)
    buttons = (Button("Sudah", "/done 1"),)

    sent = await sender.send(outbound(text, buttons=buttons))

    records = api.sent_to(CHAT)
    chunks = [record.text or "" for record in records]
    assert len(records) > 1
    assert all(units(chunk) <= 4096 for chunk in chunks)
    assert "\n".join(chunks) == text
    assert all(chunk.startswith("Baris ") and chunk.endswith("ditindaklanjuti.") for chunk in chunks)
    assert [record.buttons for record in records] == [[]] * (len(records) - 1) + [[("Sudah", "/done 1")]]
    assert sent.provider_id == str(records[-1].message_id)


def test_split_text_short_text_is_one_chunk() -> None:
    assert split_text("satu\ndua") == ["satu\ndua"]


def test_split_text_long_line_breaks_between_words() -> None:
    text = " ".join(f"kata{n}" for n in range(400))

    chunks = split_text(text, limit=100)

    assert all(len(chunk) <= 100 for chunk in chunks)
    assert " ".join(chunks) == text


def test_split_text_cuts_only_a_word_longer_than_the_limit() -> None:
    url = "https://contoh.go.id/" + "a" * 250

    chunks = split_text(f"lihat\n{url}\nselesai", limit=100)

    assert chunks == ["lihat", url[:100], url[100:200], url[200:] + "\nselesai"]


def test_split_text_counts_emoji_as_two_units() -> None:
    chunks = split_text("\n".join(["🔔" * 24] * 4), limit=100)

    assert [len(chunk) for chunk in chunks] == [24 + 1 + 24, 24 + 1 + 24]
    assert all(units(chunk) <= 100 for chunk in chunks)


def test_split_text_drops_blank_chunks() -> None:
    assert split_text("a" * 10 + "\n" * 30 + "b" * 10, limit=12) == ["a" * 10, "b" * 10]


async def test_buttons_become_inline_keyboard(api: FakeBotApi, sender: TelegramSender) -> None:
    buttons = (Button("Sudah kirim", "/done 17"), Button("Tunda 1 hari", "/snooze 17 1"))

    await sender.send(outbound("Laporan 17 jatuh tempo besok.", buttons=buttons))

    record = api.last_to(CHAT)
    assert record.keyboard == [
        [{"text": "Sudah kirim", "callback_data": "/done 17"}],
        [{"text": "Tunda 1 hari", "callback_data": "/snooze 17 1"}],
    ]


async def test_oversized_payload_is_permanent_and_nothing_is_sent(api: FakeBotApi, sender: TelegramSender) -> None:
    with pytest.raises(Permanent, match="64"):
        await sender.send(outbound("x", buttons=(Button("Pilih", "é" * 33),)))

    assert api.sent == []
    assert [call.method for call in api.calls] == ["getMe"]


async def test_document_bytes_round_trip(api: FakeBotApi, bot: Bot, sender: TelegramSender) -> None:
    attachment = Attachment("Rekap Kepatuhan Mei.pdf", PDF)

    sent = await sender.send(outbound("Rekap terlampir", attachment=attachment))

    record = api.last_to(CHAT)
    assert record.method == "sendDocument"
    assert record.filename == "Rekap Kepatuhan Mei.pdf"
    assert record.mime_type == "application/pdf"
    assert record.content == PDF
    assert record.text == "Rekap terlampir"
    assert sent.provider_id == str(record.message_id)
    assert record.file_id is not None
    downloaded = await (await bot.get_file(record.file_id)).download_as_bytearray()
    assert bytes(downloaded) == PDF


async def test_document_with_long_text_sends_text_separately(api: FakeBotApi, sender: TelegramSender) -> None:
    text = "Rincian: " + "laporan belum lengkap. " * 60
    buttons = (Button("Sudah", "/done 3"),)

    sent = await sender.send(outbound(text, buttons=buttons, attachment=Attachment("rekap.pdf", PDF)))

    document, message = api.sent_to(CHAT)
    assert (document.method, document.text, document.buttons) == ("sendDocument", None, [])
    assert (message.method, message.text, message.buttons) == ("sendMessage", text, [("Sudah", "/done 3")])
    assert sent.provider_id == str(message.message_id)


async def test_photo(api: FakeBotApi, sender: TelegramSender) -> None:
    attachment = Attachment("grafik.png", PNG, kind="photo", mime="image/png")

    await sender.send(outbound("Grafik kepatuhan", attachment=attachment))

    record = api.last_to(CHAT)
    assert (record.method, record.filename, record.content, record.text) == (
        "sendPhoto",
        "grafik.png",
        PNG,
        "Grafik kepatuhan",
    )


async def test_429_becomes_rate_limited(api: FakeBotApi, sender: TelegramSender) -> None:
    api.fail_next("sendMessage", status=429, retry_after=3)

    with pytest.raises(RateLimited) as caught:
        await sender.send(outbound())

    assert caught.value.retry_after == 3.0
    assert caught.value.scope == "global"
    assert api.count_429 == 1
    await sender.send(outbound("lagi"))
    assert api.texts_to(CHAT) == ["lagi"]


async def test_global_rate_limit_answers_429(api: FakeBotApi, sender: TelegramSender) -> None:
    api.limit_global(per_second=2)
    await sender.send(outbound("satu"))
    await sender.send(outbound("dua"))

    with pytest.raises(RateLimited) as caught:
        await sender.send(outbound("tiga"))

    assert caught.value.retry_after >= 1
    assert api.count_429 == 1
    assert api.texts_to(CHAT) == ["satu", "dua"]


async def test_blocked_chat_is_unreachable(api: FakeBotApi, sender: TelegramSender) -> None:
    api.block_chat(CHAT)

    with pytest.raises(Unreachable, match="blocked"):
        await sender.send(outbound())

    await sender.send(outbound("ke orang lain", address="5151"))
    assert api.texts_to(5151) == ["ke orang lain"]


@pytest.mark.parametrize(
    ("status", "description", "expected"),
    [
        (403, None, Unreachable),
        (500, None, Transient),
        (502, None, Transient),
        (401, None, AuthFailed),
        (400, "Bad Request: can't parse entities", Permanent),
        (400, "Bad Request: chat not found", Unreachable),
    ],
)
async def test_http_errors_map_to_send_errors(
    api: FakeBotApi,
    sender: TelegramSender,
    status: int,
    description: str | None,
    expected: type[SendError],
) -> None:
    api.fail_next("sendMessage", status=status, description=description)

    with pytest.raises(expected):
        await sender.send(outbound())


async def test_token_is_redacted_from_logs(
    api: FakeBotApi, sender: TelegramSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    await sender.send(outbound("sebelum"))
    assert any(TOKEN in record.getMessage() for record in caplog.records)
    caplog.clear()

    redactor = install_redaction(TOKEN)
    try:
        await sender.send(outbound("sesudah"))
        logging.getLogger("telegram.ext.Updater").warning("polling with %s failed", f"bot{TOKEN}")
    finally:
        uninstall_redaction(redactor)

    messages = [record.getMessage() for record in caplog.records]
    assert any("HTTP Request: POST" in message and "/bot***/sendMessage" in message for message in messages)
    assert "polling with bot*** failed" in messages
    assert TOKEN not in caplog.text


@asynccontextmanager
async def polling(
    api: FakeBotApi, *handlers: BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]
) -> AsyncIterator[None]:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .get_updates_read_timeout(2)
        .job_queue(None)
        .build()
    )
    for handler in handlers:
        app.add_handler(handler)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=timedelta(seconds=10))
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()


async def test_application_long_polling_answers_a_command(api: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_user is not None
        await update.effective_message.reply_text(f"Halo {update.effective_user.first_name}")

    async with polling(api, CommandHandler("start", start)):
        await api.wait_for(lambda: api.long_polls_waiting > 0)
        api.push_message(777, "/start", first_name="Sari")
        await api.wait_for(lambda: api.texts_to(777) == ["Halo Sari"])

    assert api.pending_updates == []


async def test_application_receives_button_taps(api: FakeBotApi, sender: TelegramSender) -> None:
    async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Dicatat")
        await query.edit_message_text(f"Tercatat: {query.data}")

    await sender.send(outbound("Sudah kirim laporan?", address="777", buttons=(Button("Sudah", "/done 9"),)))
    async with polling(api, CallbackQueryHandler(tapped)):
        api.push_callback(777, "/done 9")
        await api.wait_for(lambda: api.texts_to(777)[-1:] == ["Tercatat: /done 9"])

    assert api.callback_answers[0]["text"] == "Dicatat"
    edit = api.last_to(777)
    assert (edit.method, edit.message_id) == ("editMessageText", api.sent_to(777)[0].message_id)


async def test_fake_records_commands_per_scope(api: FakeBotApi, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Mulai")])
    await bot.set_my_commands([BotCommand("rekap", "Rekap OPD")], scope=BotCommandScopeChat(CHAT))

    assert api.commands_for() == [{"command": "start", "description": "Mulai"}]
    assert api.commands_for({"type": "chat", "chat_id": CHAT}) == [{"command": "rekap", "description": "Rekap OPD"}]
    await bot.delete_my_commands(scope=BotCommandScopeChat(CHAT))
    assert api.commands_for({"type": "chat", "chat_id": CHAT}) == []


async def test_fake_get_updates_honours_offset(api: FakeBotApi, bot: Bot) -> None:
    api.push_message(1, "satu")
    api.push_message(1, "dua")

    updates = await bot.get_updates(timeout=0)
    assert [update.message.text for update in updates if update.message] == ["satu", "dua"]
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert api.pending_updates == []


async def test_fake_accepts_json_and_form_bodies(api: FakeBotApi) -> None:
    async with httpx.AsyncClient(base_url=f"{api.base_url}{TOKEN}") as client:
        as_json = await client.post("/sendMessage", json={"chat_id": CHAT, "text": "123"})
        as_form = await client.post("/sendMessage", data={"chat_id": str(CHAT), "text": "true"})
        wrong = await client.post(f"{api.url}/botnope/getMe")

    assert [as_json.json()["result"]["message_id"], as_form.json()["result"]["message_id"]] == [1, 2]
    assert api.texts_to(CHAT) == ["123", "true"]
    assert (wrong.status_code, wrong.json()["ok"]) == (401, False)
