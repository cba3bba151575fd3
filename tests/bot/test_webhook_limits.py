"""Webhook endpoints refuse oversized posts before reading them whole, on both channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.http import MAX_BODY_BYTES, HttpServer, build_app
from bot.settings import Settings
from bot.telegram.runtime import SECRET_HEADER, telegram_runtime
from bot.whatsapp.runtime import build_whatsapp
from bot.whatsapp.webhook import SIGNATURE_HEADER
from models.app import Deps
from models.tables import InboundSeen
from tests.fakes.graph_api import encode, make_text_message, sign
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "777001:AAE-limits_Token"
SECRET = "rahasia_webhook-2026"
APP_SECRET = "app-secret-limits"
SLAMET = "+6281290001098"


async def _chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _padded(payload: dict[str, Any], total: int) -> bytes:
    payload = {**payload, "padding": "x" * total}
    return encode(payload)


@pytest.fixture
async def servers(sdeps: Deps) -> AsyncIterator[tuple[str, FakeBotApi, Deps]]:
    async with FakeBotApi(token=TOKEN) as api:
        settings = Settings(
            _env_file=None,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=api.base_url,
            TELEGRAM_WEBHOOK_URL="https://sigap.example.go.id/telegram",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            WHATSAPP_ACCESS_TOKEN="EAAG-limits",
            WHATSAPP_PHONE_NUMBER_ID="1055",
            WHATSAPP_APP_SECRET=APP_SECRET,
            WHATSAPP_API_BASE_URL="http://127.0.0.1:9/unused",
        )
        telegram = await telegram_runtime(settings, sdeps)
        whatsapp = build_whatsapp(settings, sdeps).runtime()
        await telegram.start()
        server = HttpServer(build_app([*telegram.routes, *whatsapp.routes]), "127.0.0.1", 0)
        await server.start()
        try:
            yield f"http://127.0.0.1:{server.port}", api, sdeps
        finally:
            await server.stop()
            await whatsapp.stop()
            await telegram.stop()


def _nothing_processed(deps: Deps, api: FakeBotApi) -> None:
    with deps.db.uow() as uow:
        assert uow.session.exec(select(InboundSeen)).first() is None
    assert api.sent == []


async def test_oversized_telegram_posts_are_refused(servers: tuple[str, FakeBotApi, Deps]) -> None:
    url, api, deps = servers
    update = api.push_message(5001, "/bantuan")
    body = _padded(update, MAX_BODY_BYTES)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        headers = {SECRET_HEADER: SECRET, "content-type": "application/json"}
        declared = await http.post("/telegram", content=body, headers=headers)
        streamed = await http.post("/telegram", content=_chunks(body), headers=headers)
        assert (declared.status_code, streamed.status_code) == (413, 413)
        assert "content-length" not in streamed.request.headers
    _nothing_processed(deps, api)


async def test_oversized_whatsapp_posts_are_refused_even_when_signed(servers: tuple[str, FakeBotApi, Deps]) -> None:
    url, api, deps = servers
    body = _padded(make_text_message(SLAMET, "/bantuan", "wamid.big"), MAX_BODY_BYTES)
    headers = {SIGNATURE_HEADER: sign(APP_SECRET, body), "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        declared = await http.post("/whatsapp", content=body, headers=headers)
        streamed = await http.post("/whatsapp", content=_chunks(body), headers=headers)
        assert (declared.status_code, streamed.status_code) == (413, 413)
    _nothing_processed(deps, api)
