"""Keeping the bot token out of logs: httpx logs every request URL, and the URL holds the token."""

from __future__ import annotations

import logging
from urllib.parse import quote

REDACTED = "***"
_LOGGERS = ("httpx", "telegram")


class RedactTokenFilter(logging.Filter):
    """Replaces the bot token in a record's message, arguments and traceback with `***`."""

    def __init__(self, token: str) -> None:
        super().__init__()
        if not token:
            raise ValueError("token must not be empty")
        self.token = token
        self._forms = tuple({token, quote(token, safe="")})

    def redact(self, text: str) -> str:
        """`text` with every form of the token replaced."""
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text

    def _contains(self, text: str) -> bool:
        return any(form in text for form in self._forms)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact `record` in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!s} {record.args!r}"
        if self._contains(message):
            record.msg = self.redact(message)
            record.args = None
        if record.exc_info and not record.exc_text:
            formatted = logging.Formatter().formatException(record.exc_info)
            if self._contains(formatted):
                record.exc_text = self.redact(formatted)
        elif record.exc_text and self._contains(record.exc_text):
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info and self._contains(record.stack_info):
            record.stack_info = self.redact(record.stack_info)
        return True


def install_redaction(token: str) -> RedactTokenFilter:
    """Add a `RedactTokenFilter` for `token` to the root handlers and the httpx and telegram loggers."""
    redactor = RedactTokenFilter(token)
    for target in _targets():
        if not any(isinstance(f, RedactTokenFilter) and f.token == token for f in target.filters):
            target.addFilter(redactor)
    return redactor


def uninstall_redaction(redactor: RedactTokenFilter) -> None:
    """Remove filters for `redactor`'s token from everywhere `install_redaction` put them."""
    for target in _targets():
        for existing in list(target.filters):
            if isinstance(existing, RedactTokenFilter) and existing.token == redactor.token:
                target.removeFilter(existing)


def _targets() -> list[logging.Filterer]:
    targets: list[logging.Filterer] = list(logging.getLogger().handlers)
    targets.extend(logging.getLogger(name) for name in _LOGGERS)
    return targets
