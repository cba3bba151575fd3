"""Delivering `Outbound` messages through the Telegram Bot API with python-telegram-bot.

A long text was already cut into one outbox row per chunk when it was queued (`models.outbox`); a text that still
exceeds 4,096 units (a row written before that) is cut here by the same rule.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from models.messages import Attachment, Button, Channel
from models.outbound import (
    AuthFailed,
    Outbound,
    Permanent,
    RateLimited,
    SendError,
    Sent,
    Transient,
    Unreachable,
)
from models.outbox import split_text, units

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
DOCUMENT_MAX_BYTES = 50 * 1024 * 1024
PHOTO_MAX_BYTES = 10 * 1024 * 1024
_GENERIC_MIME = "application/octet-stream"
_UNREACHABLE_BAD_REQUESTS = ("chat not found", "user not found", "peer_id_invalid")


class TelegramSender:
    """Sends one `Outbound` to one Telegram chat; implements the `Sender` protocol."""

    channel: Channel = Channel.TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: Outbound) -> Sent:
        """Deliver `message` and return the id of the last Telegram message sent, or raise a `SendError`."""
        chat_id = _chat_id(message)
        markup = _keyboard(message.buttons)
        text = message.text
        attachment = message.attachment
        if attachment is not None:
            _check_size(attachment)
        chunks = split_text(text, TEXT_LIMIT) if text.strip() else []
        if attachment is None and not chunks:
            raise Permanent(f"outbox {message.outbox_id}: nothing to send (empty text, no attachment)")

        last_id = 0
        if attachment is not None:
            caption = text if text.strip() and units(text) <= CAPTION_LIMIT else None
            if caption is not None:
                chunks = []
            markup_here = None if chunks else markup
            last_id = (await _call(self._send_attachment(chat_id, attachment, caption, markup_here))).message_id
        for index, chunk in enumerate(chunks):
            markup_here = markup if index == len(chunks) - 1 else None
            last_id = await _call(self._send_text(chat_id, chunk, markup_here))
        log.debug("outbox %s delivered to telegram as message %s", message.outbox_id, last_id)
        return Sent(provider_id=str(last_id))

    async def _send_text(self, chat_id: int | str, text: str, markup: InlineKeyboardMarkup | None) -> int:
        """sendMessage through the bot's own request path (its errors, timeouts and redaction), keeping only the
        new message's id: `Bot.send_message` would build a whole `Message` from the answer, about 40 % of a reply's
        sending cost, for the one field Sigap reads."""
        result = await self.bot._post(  # PTB's own request path, without building the answer's objects
            "sendMessage", {"chat_id": chat_id, "text": text, "reply_markup": markup}
        )
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise NetworkError("sendMessage answered without a message id")
        return int(result["message_id"])

    def _send_attachment(
        self,
        chat_id: int | str,
        attachment: Attachment,
        caption: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> Awaitable[Message]:
        upload = InputFile(attachment.content, filename=attachment.filename)
        if attachment.kind == "photo":
            return self.bot.send_photo(chat_id=chat_id, photo=upload, caption=caption, reply_markup=markup)
        if upload.mimetype == _GENERIC_MIME and attachment.mime:
            upload.mimetype = attachment.mime
        return self.bot.send_document(chat_id=chat_id, document=upload, caption=caption, reply_markup=markup)


_T = TypeVar("_T")


async def _call(request: Awaitable[_T]) -> _T:
    try:
        return await request
    except TelegramError as exc:
        raise translate_error(exc) from exc


def translate_error(exc: TelegramError) -> SendError:
    """The `SendError` the dispatcher should see for a python-telegram-bot error."""
    detail = str(exc)
    if isinstance(exc, RetryAfter):
        return RateLimited(_seconds(exc.retry_after), scope="global", detail=detail)
    if isinstance(exc, Forbidden):
        return Unreachable(detail)
    if isinstance(exc, InvalidToken):
        return AuthFailed(detail)
    if isinstance(exc, ChatMigrated):
        return Permanent(f"chat migrated to {exc.new_chat_id}")
    if isinstance(exc, BadRequest):
        if any(marker in detail.lower() for marker in _UNREACHABLE_BAD_REQUESTS):
            return Unreachable(detail)
        return Permanent(detail)
    if isinstance(exc, NetworkError):
        return Transient(detail)
    return Transient(f"{type(exc).__name__}: {detail}")


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_id(message: Outbound) -> int | str:
    if message.channel is not Channel.TELEGRAM:
        raise Permanent(f"outbox {message.outbox_id}: channel {message.channel} is not telegram")
    address = message.address.strip()
    if not address:
        raise Permanent(f"outbox {message.outbox_id}: empty telegram address")
    try:
        return int(address)
    except ValueError:
        if address.startswith("@"):
            return address
        raise Permanent(f"outbox {message.outbox_id}: bad telegram address {address!r}") from None


def _keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    for button in buttons:
        size = len(button.payload.encode("utf-8"))
        if not 1 <= size <= CALLBACK_DATA_LIMIT:
            raise Permanent(
                f"button {button.label!r}: payload is {size} bytes, Telegram allows 1-{CALLBACK_DATA_LIMIT}"
            )
        if not button.label.strip():
            raise Permanent(f"button with payload {button.payload!r} has an empty label")
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(button.label, callback_data=button.payload)] for button in buttons]
    )


def _check_size(attachment: Attachment) -> None:
    limit = PHOTO_MAX_BYTES if attachment.kind == "photo" else DOCUMENT_MAX_BYTES
    if not attachment.content:
        raise Permanent(f"attachment {attachment.filename!r} is empty")
    if len(attachment.content) > limit:
        raise Permanent(
            f"attachment {attachment.filename!r} is {len(attachment.content)} bytes; "
            f"Telegram bots may upload at most {limit} for a {attachment.kind}"
        )
