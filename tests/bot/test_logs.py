"""Logs keep secrets at every level: no token, secret, phone number or message text, DEBUG included."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import LIBRARIES, configure_logging, mask_phones
from bot.settings import Settings

TOKEN = "987654:AAH-sigap_Secret-token"
WEBHOOK_SECRET = "webhook-secret-value-42"
APP_SECRET = "meta-app-secret-9f8e7d"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in (*LIBRARIES, "matplotlib", "PIL")}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def _settings(**extra: object) -> Settings:
    values: dict[str, object] = {
        "SIGAP_LOG_LEVEL": "DEBUG",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "SIGAP_DATABASE_URL": "postgresql://sigap:db-password-77@127.0.0.1:5432/sigap",
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_debug_logs_mask_secrets_and_phone_numbers_and_keep_message_texts_out(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging(_settings(), out)
    logging.getLogger("telegram.ext.Updater").debug("update: {'text': 'Rahasia rapat besok', 'from': 6281290003333}")
    logging.getLogger("bot.whatsapp").debug("POST %s with secret %s", f"https://x/bot{TOKEN}/send", WEBHOOK_SECRET)
    logging.getLogger("sigap").info("reply to 081290003333 and +6281290004444 failed; app secret %s", APP_SECRET)
    try:
        raise RuntimeError(f"connect failed: postgresql://sigap:db-password-77@db/sigap token={TOKEN}")
    except RuntimeError:
        logging.getLogger("sigap").exception("database down")
    text = out.getvalue()
    for secret in (TOKEN, WEBHOOK_SECRET, APP_SECRET, "db-password-77", "81290003333", "81290004444"):
        assert secret not in text
    assert "Rahasia rapat besok" not in text  # library DEBUG (whole updates) stays off
    assert "reply to 08129****333" in text and "database down" in text and "RuntimeError" in text


def test_message_texts_only_behind_the_switch(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging(_settings(SIGAP_LOG_MESSAGE_TEXTS="true"), out)
    logging.getLogger("telegram.ext.Updater").debug("update text=%s from %s", "Rapat jam 9", "+6281290003333")
    text = out.getvalue()
    assert "Rapat jam 9" in text and "81290003333" not in text


def test_phone_masking_leaves_other_numbers() -> None:
    assert mask_phones("nomor 0812-9000 dan id 123456789 dan +6281290003333") == (
        "nomor 0812-9000 dan id 123456789 dan +6281******333"
    )


def test_chart_libraries_chatter_stays_out_of_the_console(restore_logging: None) -> None:
    """matplotlib's 'generated new fontManager' (INFO) showed up in the console chat between the replies."""
    out = io.StringIO()
    configure_logging(_settings(SIGAP_LOG_LEVEL="INFO"), out)
    logging.getLogger("matplotlib.font_manager").info("generated new fontManager")
    logging.getLogger("PIL.PngImagePlugin").info("STREAM b'IHDR'")
    logging.getLogger("matplotlib.font_manager").warning("font family not found")
    text = out.getvalue()
    assert "fontManager" not in text and "IHDR" not in text and "font family not found" in text
