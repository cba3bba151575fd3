"""Incoming webhook messages survive a crash: written before the 200, handled again at the next start, answered once."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

import bot.whatsapp.runtime as wa_runtime
from bot.channels import ChannelRuntime
from bot.http import HttpServer, build_app
from bot.settings import Settings
from bot.telegram.adapter import TelegramAdapter
from bot.telegram.runtime import SECRET_HEADER, telegram_runtime
from bot.whatsapp.runtime import WhatsAppChannel, build_whatsapp
from handlers import inbox
from handlers.base import NOT_REGISTERED
from models.app import Deps
from models.clock import FakeClock
from models.messages import Incoming, Reply
from models.tables import InboundMessage
from tests.fakes.graph_api import FakeGraphApi, encode, make_text_message, sign
from tests.fakes.telegram_api import FakeBotApi

WA_TOKEN = "EAAG-durable-token-123456"
PHONE_ID = "1055"
APP_SECRET = "app-secret-durable"
SLAMET = "+6281290001098"  # Kepala Dinas Kesehatan (sample roster)

TG_TOKEN = "777002:AAE-sigap_durable-Token"
TG_SECRET = "rahasia_durable-2026"
STRANGER_ID = 5999


def inbox_rows(deps: Deps, channel: str) -> list[InboundMessage]:
    with deps.db.uow() as uow:
        return list(
            uow.session.exec(
                select(InboundMessage).where(InboundMessage.channel == channel).order_by(col(InboundMessage.id))
            ).all()
        )


# ---------------------------------------------------------------------------------------------- WhatsApp


@pytest.fixture
async def graph(clock: FakeClock) -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi(WA_TOKEN, PHONE_ID, now=clock.now()) as fake:
        yield fake


class WhatsAppProcess:
    """One `sigap run` of the WhatsApp channel: runtime started, webhook served on 127.0.0.1."""

    def __init__(self, deps: Deps, graph: FakeGraphApi) -> None:
        settings = Settings(
            _env_file=None,
            WHATSAPP_ACCESS_TOKEN=WA_TOKEN,
            WHATSAPP_PHONE_NUMBER_ID=PHONE_ID,
            WHATSAPP_APP_SECRET=APP_SECRET,
            WHATSAPP_VERIFY_TOKEN="verify",
            WHATSAPP_API_BASE_URL=graph.base_url,
            WHATSAPP_API_VERSION="v21.0",
        )
        self.channel: WhatsAppChannel = build_whatsapp(settings, deps)
        self.runtime: ChannelRuntime = self.channel.runtime()
        self.server = HttpServer(build_app(self.runtime.routes), "127.0.0.1", 0)

    async def __aenter__(self) -> WhatsAppProcess:
        await self.runtime.start()
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()
        await self.runtime.stop()

    async def post(self, body: bytes, signature: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.server.port}") as http:
            response = await http.post("/whatsapp", content=body, headers=headers)
        return response.status_code


async def test_whatsapp_message_whose_handling_failed_is_answered_once_after_a_restart(
    deps: Deps, graph: FakeGraphApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_handle = wa_runtime.handle
    calls = 0

    async def fails_once(deps: Deps, incoming: Incoming, *, dedupe_key: str | None = None) -> list[Reply]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away mid-message")
        return await real_handle(deps, incoming, dedupe_key=dedupe_key)

    monkeypatch.setattr(wa_runtime, "handle", fails_once)
    body = encode(make_text_message(SLAMET, "/bantuan", "wamid.durable-1", at=deps.clock.now()))

    async with WhatsAppProcess(deps, graph) as first:
        assert await first.post(body, sign(APP_SECRET, body)) == 200
        await first.channel.idle()
    [row] = inbox_rows(deps, "whatsapp")
    assert row.key == hashlib.sha256(body).hexdigest() and row.payload == body.decode()
    assert row.processed_at is None and row.attempts == 1 and "RuntimeError" in row.last_error
    assert graph.sent_to(SLAMET) == []

    async with WhatsAppProcess(deps, graph) as second:
        await second.channel.idle()
    [row] = inbox_rows(deps, "whatsapp")
    assert row.processed_at is not None
    assert len(graph.sent_to(SLAMET)) == 1
    assert "/lapor" in graph.texts_to(SLAMET)[0]


async def test_whatsapp_batch_stored_but_not_handled_before_a_crash_is_answered_at_the_next_start(
    deps: Deps, graph: FakeGraphApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash_before_handling(self: WhatsAppChannel, message_id: int, batch: object) -> None:
        return None  # the process dies right after the 200: nothing handled, nothing marked

    body = encode(make_text_message(SLAMET, "/bantuan", "wamid.durable-2", at=deps.clock.now()))
    with monkeypatch.context() as patch:
        patch.setattr(WhatsAppChannel, "process_stored", crash_before_handling)
        async with WhatsAppProcess(deps, graph) as first:
            assert await first.post(body, sign(APP_SECRET, body)) == 200
            await first.channel.idle()
    [row] = inbox_rows(deps, "whatsapp")
    assert row.processed_at is None and row.attempts == 0
    assert graph.sent_to(SLAMET) == []

    async with WhatsAppProcess(deps, graph) as second:
        await second.channel.idle()
    assert len(graph.sent_to(SLAMET)) == 1
    assert all(r.processed_at is not None for r in inbox_rows(deps, "whatsapp"))


async def test_whatsapp_redelivered_body_is_stored_once_and_answered_once(deps: Deps, graph: FakeGraphApi) -> None:
    body = encode(make_text_message(SLAMET, "/bantuan", "wamid.durable-3", at=deps.clock.now()))
    async with WhatsAppProcess(deps, graph) as process:
        assert await process.post(body, sign(APP_SECRET, body)) == 200
        await process.channel.idle()
        assert await process.post(body, sign(APP_SECRET, body)) == 200
        await process.channel.idle()
    assert len(inbox_rows(deps, "whatsapp")) == 1
    assert len(graph.sent_to(SLAMET)) == 1


async def test_whatsapp_unsigned_or_badly_signed_posts_store_nothing(deps: Deps, graph: FakeGraphApi) -> None:
    body = encode(make_text_message(SLAMET, "/bantuan", "wamid.durable-4", at=deps.clock.now()))
    async with WhatsAppProcess(deps, graph) as process:
        assert await process.post(body, None) == 401
        assert await process.post(body, sign("not-the-secret", body)) == 403
        await process.channel.idle()
    assert inbox_rows(deps, "whatsapp") == []
    assert graph.sent_to(SLAMET) == []


async def test_whatsapp_answers_500_when_the_body_cannot_be_stored(
    deps: Deps, graph: FakeGraphApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("disk full")

    monkeypatch.setattr(inbox, "store", refuse)
    body = encode(make_text_message(SLAMET, "/bantuan", "wamid.durable-5", at=deps.clock.now()))
    async with WhatsAppProcess(deps, graph) as process:
        assert await process.post(body, sign(APP_SECRET, body)) == 500  # Meta retries a non-200
        await process.channel.idle()
    assert graph.sent_to(SLAMET) == []


# ---------------------------------------------------------------------------------------------- Telegram


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TG_TOKEN) as fake:
        yield fake


class TelegramProcess:
    """One `sigap run` of the Telegram channel in webhook mode, served on 127.0.0.1."""

    def __init__(self, deps: Deps, api: FakeBotApi) -> None:
        self.deps = deps
        self.api = api
        self.runtime: ChannelRuntime | None = None
        self.server: HttpServer | None = None

    async def __aenter__(self) -> TelegramProcess:
        settings = Settings(
            _env_file=None,
            TELEGRAM_BOT_TOKEN=TG_TOKEN,
            TELEGRAM_API_BASE_URL=self.api.base_url,
            TELEGRAM_WEBHOOK_URL="https://sigap.example.go.id/telegram",
            TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
        )
        self.runtime = await telegram_runtime(settings, self.deps)
        await self.runtime.start()
        self.server = HttpServer(build_app(self.runtime.routes), "127.0.0.1", 0)
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None and self.runtime is not None
        await self.server.stop()
        await self.runtime.stop()  # python-telegram-bot handles every queued update before it stops

    async def post(self, update: dict[str, Any], secret: str | None = TG_SECRET) -> int:
        assert self.server is not None
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.server.port}") as http:
            response = await http.post("/telegram", json=update, headers=headers)
        return response.status_code


async def test_telegram_update_stored_but_not_handled_before_a_crash_is_answered_at_the_next_start(
    deps: Deps, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached = asyncio.Event()

    async def crash_before_handling(self: TelegramAdapter, update: object, context: object) -> None:
        reached.set()  # the process dies here: the update was taken off the queue, never handled, never marked

    update = api.push_message(STRANGER_ID, "halo")
    with monkeypatch.context() as patch:
        patch.setattr(TelegramAdapter, "on_update", crash_before_handling)
        async with TelegramProcess(deps, api) as first:
            assert await first.post(update) == 200
            await asyncio.wait_for(reached.wait(), timeout=5)
    [row] = inbox_rows(deps, "telegram")
    assert row.key == f"777002:{update['update_id']}" and row.processed_at is None
    assert api.sent_to(STRANGER_ID) == []

    async with TelegramProcess(deps, api):
        await api.wait_for(lambda: len(api.sent_to(STRANGER_ID)) >= 1, timeout=5)
    assert api.texts_to(STRANGER_ID) == [NOT_REGISTERED]
    [row] = inbox_rows(deps, "telegram")
    assert row.processed_at is not None and row.attempts == 0


async def test_telegram_redelivered_update_is_stored_once_and_answered_once(deps: Deps, api: FakeBotApi) -> None:
    update = api.push_message(STRANGER_ID, "halo")
    async with TelegramProcess(deps, api) as process:
        assert await process.post(update) == 200
        await api.wait_for(lambda: len(api.sent_to(STRANGER_ID)) >= 1, timeout=5)
        assert await process.post(update) == 200
    assert api.texts_to(STRANGER_ID) == [NOT_REGISTERED]
    [row] = inbox_rows(deps, "telegram")
    assert row.processed_at is not None


async def test_telegram_posts_without_the_secret_store_nothing(deps: Deps, api: FakeBotApi) -> None:
    update = api.push_message(STRANGER_ID, "halo")
    async with TelegramProcess(deps, api) as process:
        assert await process.post(update, secret=None) == 403
        assert await process.post(update, secret="tebakan-salah") == 403
    assert inbox_rows(deps, "telegram") == []
    assert api.sent_to(STRANGER_ID) == []


async def test_telegram_update_whose_handling_keeps_failing_is_set_aside_after_five_attempts(
    deps: Deps, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: TelegramAdapter, update: object) -> None:
        raise RuntimeError("bug in a handler")

    monkeypatch.setattr(TelegramAdapter, "_process", broken)
    update = api.push_message(STRANGER_ID, "halo")
    async with TelegramProcess(deps, api) as process:
        assert await process.post(update) == 200
    for _restart in range(inbox.MAX_ATTEMPTS - 1):
        [row] = inbox_rows(deps, "telegram")
        assert row.processed_at is None
        async with TelegramProcess(deps, api):
            pass
    [row] = inbox_rows(deps, "telegram")
    assert row.attempts == inbox.MAX_ATTEMPTS and row.processed_at is not None
    assert "RuntimeError" in row.last_error
    async with TelegramProcess(deps, api):
        pass
    assert inbox_rows(deps, "telegram")[0].attempts == inbox.MAX_ATTEMPTS  # not tried again
