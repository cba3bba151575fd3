"""The Telegram edge under stress: a rejected token, an unreachable Bot API, 429 on a direct reply, huge posts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import Settings
from bot.telegram.runtime import TelegramConfigError, telegram_runtime
from models.app import Deps
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "777001:AAE-edge_Token-secret"


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


def settings_for(base_url: str, token: str = TOKEN) -> Settings:
    return Settings(_env_file=None, TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_BASE_URL=base_url)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_rejected_token_is_named_without_showing_it(api: FakeBotApi, sdeps: Deps) -> None:
    wrong = "777001:AAE-revoked_Token-secret"
    with pytest.raises(TelegramConfigError, match="TELEGRAM_BOT_TOKEN") as caught:
        await telegram_runtime(settings_for(api.base_url, wrong), sdeps)
    assert wrong not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_an_unreachable_bot_api_is_named(sdeps: Deps) -> None:
    base = f"http://127.0.0.1:{free_port()}/bot"
    with pytest.raises(TelegramConfigError, match="TELEGRAM_API_BASE_URL") as caught:
        await telegram_runtime(settings_for(base), sdeps)
    assert TOKEN not in str(caught.value)


async def test_sigap_run_with_a_revoked_token_prints_no_token(
    api: FakeBotApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "777001:AAE-revoked_Token-secret"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGAP_DATABASE_URL", f"sqlite:///{tmp_path / 'run.db'}")
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", wrong)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    assert main(["db", "upgrade"]) == 0
    assert await asyncio.to_thread(main, ["run"]) == 2
    captured = capsys.readouterr()
    assert "TELEGRAM_BOT_TOKEN" in captured.err
    assert wrong not in captured.err + captured.out and "Traceback" not in captured.err


async def test_invite_link_lookup_with_a_revoked_token_logs_no_token(
    api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.telegram.identity import fetch_username

    wrong = "777001:AAE-revoked_Token-secret"
    assert await fetch_username(settings_for(api.base_url, wrong)) is None
    assert "TELEGRAM_BOT_TOKEN" in caplog.text and wrong not in caplog.text


async def test_a_direct_reply_hit_by_429_waits_retry_after_and_goes_out(api: FakeBotApi, sdeps: Deps) -> None:
    from telegram import Bot

    from bot.telegram.adapter import TelegramAdapter
    from bot.telegram.sender import TelegramSender
    from jobs.ratelimit import RateLimiter, RateRules
    from models.clock import FakeClock
    from models.messages import Reply

    clock = sdeps.clock
    assert isinstance(clock, FakeClock)
    limiter = RateLimiter(RateRules.telegram(), clock=clock)
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        adapter = TelegramAdapter(sdeps, TelegramSender(bot), limiter, None)
        api.fail_next("sendMessage", 429, retry_after=7)
        start = clock.monotonic()
        await adapter.deliver(6001, [Reply("Laporan diterima.")])
        assert api.texts_to(6001) == ["Laporan diterima."]
        assert clock.monotonic() - start >= 7  # Telegram's retry_after was honoured, for every send
        api.fail_next("sendMessage", 429, retry_after=3600)
        await adapter.deliver(6001, [Reply("Kedua.")])
        assert api.texts_to(6001) == ["Laporan diterima."]  # an hour is too long for a reply: dropped, logged
        assert limiter.reserve("6002") > 3000  # ...but the dispatcher's sends wait for it too
