"""`sigap run`: the configured channels, or the console when none is configured."""

from __future__ import annotations

import logging

from bot.settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings, *, console_as: str = "") -> int:
    """Run the bot until interrupted."""
    from bot.cli import _console

    if not settings.telegram_enabled and not settings.whatsapp_enabled:
        log.info("no channel configured: opening the console chat")
        return await _console(settings, console_as)
    raise SystemExit("Kanal Telegram/WhatsApp belum tersedia di versi ini.")
