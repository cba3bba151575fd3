"""The Bot API requests over aiohttp (bot/telegram/aio_request.py), driven by the real python-telegram-bot `Bot`
against the fake Bot API: what Telegram receives is what the bot meant, and failures reach the sender as PTB's
errors (so the dispatcher retries, waits or gives up as before)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.telegram.aio_request import AiohttpRequest
from bot.telegram.sender import TelegramSender
from models.messages import Attachment, Button, Channel
from models.outbound import Outbound, RateLimited, Transient
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "987654:AAH-sigap_Test-token"
CHAT = 4242
PDF = b"%PDF-1.4\r\n" + bytes(range(256)) + b"\r\n--not-a-boundary\r\n\x00\r\n%%EOF"


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    request = AiohttpRequest(4)
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url, request=request) as real_bot:
        yield real_bot


async def test_text_buttons_and_a_document_arrive_as_sent(api: FakeBotApi, bot: Bot) -> None:
    text = "Yth. Kepala Dinas Kesehatan,\nmohon kirim angka e-Katalog 🙏 (target 10 & 40 %)"
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya, catat", callback_data="/lapor katalog 12 ya")]])
    await bot.send_message(CHAT, text, reply_markup=markup)
    name = "Surat Teguran I – Dinas Kesehatan “2026”.pdf"
    await bot.send_document(CHAT, PDF, filename=name, caption="Surat teguran")

    message, document = api.sent_to(CHAT)
    assert (message.text, message.buttons) == (text, [("Ya, catat", "/lapor katalog 12 ya")])
    assert (document.method, document.filename, document.content) == ("sendDocument", name, PDF)


async def test_a_message_without_a_file_goes_as_one_json_body_with_its_values_typed(api: FakeBotApi, bot: Bot) -> None:
    text = "Mohon kirim angka: 1.000 produk? 100% & “40 %” / ok=ya #1 🙏"
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="/lapor katalog 1000 ya")]])
    await bot.send_message(CHAT, text, reply_markup=markup, disable_notification=True)
    [call] = [c for c in api.calls if c.method == "sendMessage"]
    assert call.content_type.startswith("application/json")
    assert call.params["chat_id"] == CHAT and call.params["text"] == text
    assert call.params["disable_notification"] is True
    button = {"text": "Ya", "callback_data": "/lapor katalog 1000 ya"}
    assert call.params["reply_markup"] == {"inline_keyboard": [[button]]}
    await bot.send_document(CHAT, PDF, filename="surat.pdf")
    assert api.calls[-1].content_type.startswith("multipart/form-data")  # a file still goes as a form


async def test_many_at_once_share_the_pool_and_all_arrive(api: FakeBotApi, bot: Bot) -> None:
    await asyncio.gather(*(bot.send_message(chat, f"pesan {chat}") for chat in range(1, 41)))
    assert sorted(str(r.chat_id) for r in api.sent) == sorted(str(chat) for chat in range(1, 41))


async def test_a_file_is_downloaded_by_its_id(api: FakeBotApi, bot: Bot) -> None:
    file_id = api.add_file("bukti.pdf", PDF, "application/pdf")
    file = await bot.get_file(file_id)
    assert bytes(await file.download_as_bytearray()) == PDF


async def test_errors_of_the_api_reach_the_sender_as_before(api: FakeBotApi, bot: Bot) -> None:
    sender = TelegramSender(bot)
    api.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter):
        await bot.send_message(CHAT, "halo")
    api.fail_next("sendMessage", 429, retry_after=7)
    outbound = Outbound(outbox_id=1, channel=Channel.TELEGRAM, address=str(CHAT), text="halo")
    with pytest.raises(RateLimited):
        await sender.send(outbound)
    api.fail_next("sendDocument", 502)
    attachment = Attachment("surat.pdf", PDF)
    with pytest.raises(Transient):
        await sender.send(Outbound(2, Channel.TELEGRAM, str(CHAT), "surat", (Button("OK", "/ok"),), attachment))


async def test_an_unreachable_server_is_a_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nobody listens there
    request = AiohttpRequest(2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/sendMessage")
    finally:
        await request.shutdown()
    assert not isinstance(raised.value, TimedOut)
    assert "aiohttp.ClientConnectorError" in str(raised.value)


async def test_a_server_that_never_answers_times_out() -> None:
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # takes the request, never answers
        await done.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = AiohttpRequest(2, read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()
        done.set()
        server.close()
        await server.wait_closed()


async def test_it_refuses_to_work_before_initialize_and_opens_again_after_shutdown(api: FakeBotApi) -> None:
    request = AiohttpRequest(2)
    url = f"{api.base_url}{TOKEN}/getMe"
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(url)
    await request.initialize()
    await request.shutdown()
    await request.initialize()
    try:
        me = await request.post(url)
        assert isinstance(me, dict) and me["username"]
    finally:
        await request.shutdown()
