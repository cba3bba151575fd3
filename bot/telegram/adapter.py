"""Telegram updates in, the core's replies out: a thin translation between python-telegram-bot and the handlers.

Only private chats are served; a command typed in a group gets a one-line hint, anything else there is
ignored. Every button tap is answered (`answer_callback_query`), whatever happened while handling it.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections import deque
from collections.abc import Sequence
from typing import Any

from telegram import Bot, Message, Update
from telegram.constants import ChatType
from telegram.error import NetworkError, TelegramError
from telegram.ext import CallbackContext

from bot.replies import settle_reply
from bot.telegram.menu import CommandMenus
from bot.telegram.sender import TelegramSender
from handlers import inbox
from handlers.core import handle
from jobs.broadcasts import remember_progress_message
from jobs.ratelimit import RateLimiter
from models.app import Deps
from models.files import FileTooLarge, FileUnavailable
from models.messages import Channel, Incoming, Reply
from models.outbound import Outbound, RateLimited, SendError, Sent, direct_reply

log = logging.getLogger(__name__)

MAX_REPLY_WAIT = 60.0
"""Longest Telegram `retry_after` (seconds) a direct reply waits out; longer ones drop the reply."""
MAX_QUEUED_PER_CHAT = 100
"""Updates of one chat waiting at most; a chat sending more (a flood) loses the surplus."""
PRIVATE_ONLY = "Mohon maaf, Sigap hanya melayani percakapan pribadi. Silakan kirim pesan langsung ke {bot}."


def to_incoming(update: Update) -> Incoming | None:
    """The core's message for a private text, document, photo or button tap; None for anything else."""
    query = update.callback_query
    if query is not None:
        message = query.message
        if message is None or message.chat.type != ChatType.PRIVATE or query.data is None:
            return None
        return Incoming(
            channel=Channel.TELEGRAM,
            address=str(query.from_user.id),
            payload=query.data,
            display_name=query.from_user.full_name,
            message_id=str(message.message_id),
        )
    message = update.message
    if message is None or message.from_user is None or message.chat.type != ChatType.PRIVATE:
        return None
    document_name = document_ref = None
    if message.document is not None:
        document_name = message.document.file_name or "dokumen"
        document_ref = message.document.file_id
    elif message.photo:
        document_name = "foto.jpg"
        document_ref = message.photo[-1].file_id
    return Incoming(
        channel=Channel.TELEGRAM,
        address=str(message.from_user.id),
        text=message.text or message.caption or "",
        display_name=message.from_user.full_name,
        message_id=str(message.message_id),
        at=message.date,
        document_name=document_name,
        document_ref=document_ref,
    )


class TelegramFiles:
    """`FileSource` for Telegram: a document's or photo's file_id through getFile, then the file download."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def fetch(self, ref: str, *, max_bytes: int) -> tuple[bytes, str]:
        """The file's bytes and MIME type (guessed from its path); `FileTooLarge` before downloading when
        Telegram reports the size, `FileUnavailable` when getFile or the download fails."""
        try:
            file = await self.bot.get_file(ref)
            if file.file_size is not None and file.file_size > max_bytes:
                raise FileTooLarge(max_bytes, file.file_size)
            content = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            if "too big" in str(exc).lower():
                raise FileTooLarge(max_bytes) from None
            log.warning("telegram file not fetched: %s", type(exc).__name__)
            raise FileUnavailable(type(exc).__name__) from None
        if len(content) > max_bytes:
            raise FileTooLarge(max_bytes, len(content))
        return content, mimetypes.guess_type(file.file_path or "")[0] or ""


def _group_command(message: Message | None) -> bool:
    return (
        message is not None
        and message.chat.type != ChatType.PRIVATE
        and message.chat.type != ChatType.CHANNEL
        and (message.text or "").startswith("/")
    )


class TelegramAdapter:
    """Routes every private update to `handlers.core.handle` and sends the replies."""

    def __init__(
        self,
        deps: Deps,
        sender: TelegramSender,
        limiter: RateLimiter | None,
        menus: CommandMenus | None,
        *,
        inbox: bool = False,
    ) -> None:
        self.deps = deps
        self.sender = sender
        self.limiter = limiter
        self.menus = menus
        self.inbox = inbox
        """Webhook mode: every update was written to the inbox first; mark its row done (or failed) here."""
        self._chats: dict[int, deque[Update]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    def key(self, update: Update) -> str:
        """The update's dedupe key (the core's InboundSeen and the inbox): `<bot id>:<update_id>`."""
        return f"{self.sender.bot.id}:{update.update_id}"

    async def on_update(self, update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
        """The one handler: queue the update on its chat's line; the chat's worker handles it in order.

        Each chat has its own worker, so a chat whose replies wait for the 1 message/s per chat limit (a flood)
        never holds up another chat, and never takes the application's update slots while it waits.
        """
        chat = update.effective_chat
        key = chat.id if chat is not None else 0
        line = self._chats.get(key)
        if line is not None:
            if len(line) >= MAX_QUEUED_PER_CHAT:
                log.warning("telegram update %s dropped: its chat has %d waiting", update.update_id, len(line))
                if self.inbox:
                    await self._settle(update, None)
                return
            line.append(update)
            return
        self._chats[key] = line = deque([update])
        worker = asyncio.create_task(self._work(key, line), name=f"telegram-chat-{key}")
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _work(self, key: int, line: deque[Update]) -> None:
        """Handle one chat's updates in the order they came, until none is left."""
        try:
            while line:
                update = line[0]
                try:
                    await self._one(update)
                except Exception as exc:
                    log.error(
                        "telegram update %s failed: %s",
                        update.update_id,
                        type(exc).__name__,
                        exc_info=(type(exc), exc, exc.__traceback__),
                    )
                finally:
                    line.popleft()
        finally:
            self._chats.pop(key, None)

    async def drain(self, grace: float = 30.0) -> None:
        """Wait (at most `grace` s) until every queued update was handled: a clean stop answers what arrived."""
        if self._workers:
            await asyncio.wait(set(self._workers), timeout=grace)

    async def _one(self, update: Update) -> None:
        error: str | None = None
        try:
            await self._process(update)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            query = update.callback_query
            if query is not None:
                try:
                    await query.answer()
                except TelegramError as exc:
                    log.warning("callback query of update %s not answered: %s", update.update_id, exc)
            if self.inbox:
                await self._settle(update, error)

    async def _settle(self, update: Update, error: str | None) -> None:
        """Mark the update's inbox row done, or count a failed attempt (handled again at the next start)."""
        key = self.key(update)

        def write() -> None:
            with self.deps.db.uow() as uow:
                row = inbox.find(uow.session, Channel.TELEGRAM.value, key)
                if row is None or row.id is None:
                    return
                now = self.deps.clock.now()
                if error is None:
                    inbox.mark_done(uow.session, row.id, now)
                else:
                    inbox.mark_failed(uow.session, row.id, error, now)
                uow.commit()

        try:
            await asyncio.to_thread(write)
        except Exception as exc:  # the row stays pending: handled again (answered once, the core dedupes) later
            log.error("telegram inbox row of update %s not updated: %s", update.update_id, type(exc).__name__)

    async def _process(self, update: Update) -> None:
        incoming = to_incoming(update)
        if incoming is None:
            if _group_command(update.message):
                assert update.message is not None
                username = self.sender.bot.username
                await self.deliver(
                    update.message.chat.id,
                    [Reply(PRIVATE_ONLY.format(bot=f"@{username}" if username else "bot ini"))],
                    group=True,
                )
            return
        replies = await handle(self.deps, incoming, dedupe_key=self.key(update))
        if not replies:
            return
        await self.deliver(int(incoming.address), replies)
        if incoming.command == "start" and self.menus is not None:
            await self.menus.refresh(incoming.address)

    async def deliver(self, chat_id: int, replies: Sequence[Reply], *, group: bool = False) -> None:
        """Send `replies` in order (text split at 4,096, buttons, files); note where a broadcast's progress shows.

        A durable reply's row is marked sent; when a send fails, it and the rest go to the dispatcher (in order).
        """
        address = str(chat_id)
        for index, reply in enumerate(replies):
            if self.limiter is not None:
                await self.limiter.acquire(address, is_group=group)
            outbound = direct_reply(Channel.TELEGRAM, address, reply)
            try:
                sent = await self._send(outbound, group=group)
            except SendError as exc:
                log.warning("reply not delivered to a telegram chat: %s: %s", type(exc).__name__, exc)
                for left in replies[index:]:
                    await settle_reply(self.deps, left, error=f"{type(exc).__name__}: {exc}")
                return
            await settle_reply(self.deps, reply, provider_id=sent.provider_id)
            broadcast_id = reply.broadcast_id
            if broadcast_id is not None:
                with self.deps.db.uow() as uow:
                    if remember_progress_message(
                        uow.session, broadcast_id, Channel.TELEGRAM, address, sent.provider_id
                    ):
                        uow.commit()

    async def _send(self, outbound: Outbound, *, group: bool) -> Sent:
        """Send once; on 429 tell the shared limiter (the dispatcher waits too), wait `retry_after` and retry once.

        A wait longer than `MAX_REPLY_WAIT` is not worth holding the person's update for: the reply is dropped.
        """
        try:
            return await self.sender.send(outbound)
        except RateLimited as exc:
            if self.limiter is not None:
                self.limiter.penalize(exc.retry_after, outbound.address if exc.scope == "recipient" else None)
            if exc.retry_after > MAX_REPLY_WAIT:
                raise
            if self.limiter is not None:
                await self.limiter.acquire(outbound.address, is_group=group)
            else:
                await self.deps.clock.sleep(exc.retry_after)
            return await self.sender.send(outbound)

    async def on_error(self, update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        """The one global error handler: log first (update id and error only: no token, no personal data)."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(error, NetworkError):
            log.warning("telegram network error (update %s): %s", update_id, error)
            return
        log.error(
            "telegram update %s failed: %s",
            update_id,
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__) if error is not None else None,
        )
