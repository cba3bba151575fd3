"""Logging that keeps secrets at every level: no token, secret, phone number or message text in any log line.

Every configured secret (bot token, webhook and app secrets, access tokens, the database password) and every
phone number is masked in each record's message, arguments and traceback, whatever logger wrote it. The chat
libraries log whole updates (with people's messages) at DEBUG: they stay at INFO even when `SIGAP_LOG_LEVEL`
is DEBUG, unless `SIGAP_LOG_MESSAGE_TEXTS=true` is set on purpose for a debugging session (secrets and phone
numbers are masked even then).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings import Settings

MASK = "***"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER = "sigap"
"""The name of the root handler a `sigap` command logs through (`configure_logging`, `log_to_file`)."""
CONSOLE_LOG = Path("sigap-console.log")
"""Where the console chat writes its log lines (in the working directory, beside sigap.db and sigap-files)."""
LIBRARIES = ("telegram", "httpx", "httpcore", "uvicorn", "apscheduler", "alembic", "sqlalchemy", "hpack")
"""Third-party loggers that log request bodies, URLs or updates at DEBUG."""
_PHONE = re.compile(r"(?<![\d])(?:\+?62|0)8\d{6,12}(?![\d])")
_SIGN_IN = re.compile(r"(/dasbor/masuk/)[A-Za-z0-9_-]+")
"""A dashboard sign-in link's token (a URL in a library's log line): masked like a secret."""


def mask_phones(text: str) -> str:
    """'+6281290003333' -> '+62812*****333': enough to tell people apart in a log, not to call them."""

    def hide(match: re.Match[str]) -> str:
        digits = match.group(0)
        return digits[:5] + "*" * max(len(digits) - 8, 3) + digits[-3:]

    return _PHONE.sub(hide, text)


class SecretFilter(logging.Filter):
    """Masks secrets and phone numbers in a record (message, arguments, traceback, stack); never drops it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= 6:
                forms.update({secret, quote(secret, safe="")})
        self._forms = tuple(sorted(forms, key=len, reverse=True))

    def clean(self, text: str) -> str:
        """`text` with every secret and phone number masked."""
        for form in self._forms:
            text = text.replace(form, MASK)
        return mask_phones(_SIGN_IN.sub(rf"\g<1>{MASK}", text))

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite `record` in place."""
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!s} {record.args!r}"
        cleaned = self.clean(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings, and the database password."""
    values = [
        field.get_secret_value()
        for field in (
            settings.telegram_bot_token,
            settings.telegram_webhook_secret,
            settings.whatsapp_access_token,
            settings.whatsapp_app_secret,
            settings.whatsapp_verify_token,
            settings.metrics_token,
            settings.inaproc_token,
        )
        if field is not None
    ]
    try:
        password = make_url(settings.database_url).password
    except ArgumentError:
        password = None
    if password:
        values.append(str(password))
    return values


def configure_logging(settings: Settings, stream: TextIO | None = None) -> SecretFilter:
    """Set up the root logger once for a `sigap` command; returns the filter (tests)."""
    root = logging.getLogger()
    level = logging.getLevelName(settings.log_level.upper())
    handler = logging.StreamHandler(stream)
    handler.name = HANDLER
    handler.setFormatter(logging.Formatter(FORMAT))
    redactor = SecretFilter(secrets_of(settings))
    handler.addFilter(redactor)
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    floor = logging.DEBUG if settings.log_message_texts else logging.INFO
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(max(floor, root.level))
    for quiet in ("alembic", "httpx", "apscheduler", "sqlalchemy", "matplotlib", "PIL"):
        logging.getLogger(quiet).setLevel(max(logging.WARNING, root.level))
    return redactor


def log_to_file(path: Path = CONSOLE_LOG) -> Path | None:
    """Write the log lines to `path` instead of the terminal, masked as before: in the console chat the person typing
    sees only the conversation, not English log lines. Returns the file's absolute path; None when it cannot be
    opened (the terminal then shows errors only)."""
    root = logging.getLogger()
    path = path.resolve()
    ours = [h for h in root.handlers if h.name == HANDLER]
    if any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path for h in ours):
        return path
    try:
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        for old in ours:
            old.setLevel(logging.ERROR)
        return None
    handler.name = HANDLER
    handler.setFormatter(ours[0].formatter if ours and ours[0].formatter else logging.Formatter(FORMAT))
    for old in ours:
        for kept in old.filters:
            handler.addFilter(kept)
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    return path
