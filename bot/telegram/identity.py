"""Who the bot is on Telegram, for command-line tools that need its username (invite deep links)."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.settings import Settings
from bot.telegram.logging import install_redaction, uninstall_redaction
from bot.telegram.runtime import file_base_url

log = logging.getLogger(__name__)


async def fetch_username(settings: Settings) -> str | None:
    """The bot's username from getMe; None (with a warning) when Telegram cannot be reached."""
    if settings.telegram_bot_token is None:
        return None
    token = settings.telegram_bot_token.get_secret_value()
    redactor = install_redaction(token)
    try:
        async with Bot(
            token, base_url=settings.telegram_api_base_url, base_file_url=file_base_url(settings.telegram_api_base_url)
        ) as bot:
            return bot.username
    except InvalidToken:  # its text quotes the token
        log.warning("TELEGRAM_BOT_TOKEN ditolak Telegram; tautan undangan Telegram tidak dibuat")
        return None
    except TelegramError as exc:
        log.warning("Telegram tidak dapat dihubungi untuk membuat tautan undangan: %s", exc)
        return None
    finally:
        uninstall_redaction(redactor)
