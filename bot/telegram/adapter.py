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
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy import update as sql_update
from sqlmodel import Session, col
from telegram import Bot, Message, Update
from telegram.constants import ChatType
from telegram.error import NetworkError, TelegramError
from telegram.ext import CallbackContext

from bot.replies import GroupCommit, Statement, settle_reply
from bot.telegram.menu import CommandMenus
from bot.telegram.sender import TelegramSender
from handlers import inbox
from handlers.core import handle
from jobs.broadcasts import remember_progress_message
from jobs.ratelimit import RateLimiter
from models.app import Deps, call_on
from models.files import FileTooLarge, FileUnavailable
from models.messages import Channel, Incoming, Reply
from models.outbound import Outbound, RateLimited, SendError, Sent, direct_reply
from models.outbox import MARK_REPLIES_SENT, MARK_REPLY_SENT, mark_reply_sent, reply_sent_values
from models.tables import InboundMessage

log = logging.getLogger(__name__)

MAX_REPLY_WAIT = 60.0
"""Longest Telegram `retry_after` (seconds) a direct reply waits out; longer ones drop the reply."""
MAX_QUEUED_PER_CHAT = 100
"""Updates of one chat waiting at most; a chat sending more (a flood) loses the surplus."""
STOP_GRACE = 3.0
"""Seconds a stop lets the chats finish what they are handling (`sigap run` stops within 10 s of SIGTERM)."""
SETTLE_LINGER = 0.05
"""Seconds a sent reply's row may wait to be marked sent, so that it goes with other chats' writes in one commit
(the dispatcher leaves it alone for `models.outbox.REPLY_GRACE`, 45 s)."""
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


_INBOX_DONE = (
    sql_update(InboundMessage)
    .where(
        col(InboundMessage.channel) == bindparam("inbox_channel"),
        col(InboundMessage.key) == bindparam("inbox_key"),
        col(InboundMessage.processed_at).is_(None),
    )
    .values(processed_at=bindparam("done_at"))
)
"""An update's inbox row marked handled, by its key (one indexed statement, no look-up first)."""
_INBOX_ALL_DONE = text(
    "UPDATE inbound_message SET processed_at = done.done_at "
    "FROM unnest(CAST(:inbox_channel AS varchar[]), CAST(:inbox_key AS varchar[]), CAST(:done_at AS timestamptz[])) "
    "AS done(channel, key, done_at) "
    "WHERE inbound_message.channel = done.channel AND inbound_message.key = done.key "
    "AND inbound_message.processed_at IS NULL"
)
"""`_INBOX_DONE` of many updates at once on PostgreSQL: each value an array (`Statement.many`)."""


def _inbox_done(key: str, now: datetime) -> dict[str, Any]:
    """`_INBOX_DONE`'s values for the update with `key`."""
    return {"inbox_channel": Channel.TELEGRAM.value, "inbox_key": key, "done_at": now}


def _record_sent(session: Session, sent: Sequence[tuple[Reply, str, str]], now: datetime) -> None:
    """Mark the rows of replies that went out (reply, message id, chat) sent; note where a broadcast's confirmation
    shows (its progress is edited there)."""
    for reply, provider_id, address in sent:
        if reply.outbox_id is not None:
            mark_reply_sent(session, reply.outbox_id, provider_id, now)
        if reply.broadcast_id is not None:
            remember_progress_message(session, reply.broadcast_id, Channel.TELEGRAM, address, provider_id)


class TelegramFiles:
    """`FileSource` for Telegram: a document's or photo's file_id through getFile, then the file download.

    The bot's HTTP client belongs to the loop the channel runs on (the one it was built on); a handler on a
    handling thread has the download done there.
    """

    def __init__(self, bot: Bot, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.bot = bot
        self.loop = loop or asyncio.get_running_loop()

    async def fetch(self, ref: str, *, max_bytes: int) -> tuple[bytes, str]:
        """The file's bytes and MIME type (guessed from its path); `FileTooLarge` before downloading when
        Telegram reports the size, `FileUnavailable` when getFile or the download fails."""
        return await call_on(self.loop, self._fetch(ref, max_bytes))

    async def _fetch(self, ref: str, max_bytes: int) -> tuple[bytes, str]:
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
        writes: GroupCommit | None = None,
    ) -> None:
        self.deps = deps
        self.sender = sender
        self.limiter = limiter
        self.menus = menus
        self.inbox = inbox
        """Webhook mode: every update was written to the inbox first; mark its row done (or failed) here."""
        self.writes = writes or GroupCommit(deps.db)
        """Where replies are marked sent and inbox rows done: many chats' in one transaction."""
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

    async def drain(self, grace: float = STOP_GRACE) -> None:
        """Wait (at most `grace` s) until every queued update was handled: a clean stop answers what arrived.

        Then the chats still at work are cancelled: their updates stay pending in the inbox (webhook mode) and are
        handled at the next start (a handler already running finishes or is abandoned on its thread; its replies,
        written to the outbox, are sent by the dispatcher; the core never answers a message twice).
        """
        if not self._workers:
            return
        _done, left = await asyncio.wait(set(self._workers), timeout=grace)
        if left:
            log.warning("telegram: %d chats still at work when stopping; left for the next start", len(left))
            for worker in left:
                worker.cancel()
            await asyncio.wait(left)

    async def _one(self, update: Update) -> None:
        try:
            sent = await self._process(update)
        except Exception as exc:
            await self._finish(update, f"{type(exc).__name__}: {exc}", ())
            raise
        await self._finish(update, None, sent)

    async def _finish(self, update: Update, error: str | None, sent: Sequence[tuple[Reply, str, str]]) -> None:
        """Answer a button tap (whatever happened while handling it); settle the replies and the inbox row."""
        query = update.callback_query
        if query is not None:
            try:
                await query.answer()
            except TelegramError as exc:
                log.warning("callback query of update %s not answered: %s", update.update_id, exc)
        if sent or self.inbox:
            await self._settle(update, error, sent)

    async def _settle(self, update: Update, error: str | None, sent: Sequence[tuple[Reply, str, str]] = ()) -> None:
        """Together, off the loop: the last reply's row marked sent (and where a broadcast's progress shows), and
        the update's inbox row marked done, or a failed attempt counted (handled again at the next start)."""
        key = self.key(update)
        if error is None and all(reply.broadcast_id is None for reply, _id, _chat in sent):  # the usual case
            now = self.deps.clock.now()
            statements = [
                Statement(MARK_REPLY_SENT, reply_sent_values(reply.outbox_id, provider_id, now), many=MARK_REPLIES_SENT)
                for reply, provider_id, _chat in sent
                if reply.outbox_id is not None
            ]
            if self.inbox:
                statements.append(Statement(_INBOX_DONE, _inbox_done(key, now), many=_INBOX_ALL_DONE))
            try:
                await self.writes.execute(statements, linger=SETTLE_LINGER)
            except Exception as exc:  # the rows stay pending: sent again by the dispatcher; the update handled again
                log.error("telegram update %s not settled: %s", update.update_id, type(exc).__name__)
            return

        def write(session: Session) -> None:
            now = self.deps.clock.now()
            _record_sent(session, sent, now)
            if self.inbox and error is None:
                session.connection().execute(_INBOX_DONE, _inbox_done(key, now))
            elif self.inbox:
                row = inbox.find(session, Channel.TELEGRAM.value, key)
                if row is not None and row.id is not None:
                    inbox.mark_failed(session, row.id, error or "", now)

        try:
            await self.writes.write(write)
        except Exception as exc:  # the rows stay pending: sent again by the dispatcher; the update handled again
            log.error("telegram update %s not settled: %s", update.update_id, type(exc).__name__)

    async def _process(self, update: Update) -> list[tuple[Reply, str, str]]:
        """Handle the update and send its replies; the last reply that went out, for `_settle` to mark."""
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
            return []
        replies = await handle(self.deps, incoming, dedupe_key=self.key(update))
        if not replies:
            return []
        sent: list[tuple[Reply, str, str]] = []
        try:
            await self.deliver(int(incoming.address), replies, last=sent)
        except asyncio.CancelledError:  # stopping: the update stays pending; what went out is still marked
            if sent:
                await asyncio.to_thread(self._write_sent, sent)  # not through `writes`: it may be stopping too
            raise
        if incoming.command == "start" and self.menus is not None:
            try:
                await self.menus.refresh(incoming.address)
            except Exception as exc:  # the replies went out: a menu not refreshed now is set at the next change
                log.warning("telegram command menu not refreshed: %s", type(exc).__name__)
        return sent

    async def deliver(
        self,
        chat_id: int,
        replies: Sequence[Reply],
        *,
        group: bool = False,
        last: list[tuple[Reply, str, str]] | None = None,
    ) -> None:
        """Send `replies` in order (text split at 4,096, buttons, files); note where a broadcast's progress shows.

        A durable reply's row is marked sent as soon as it went, so a long reply cut short goes on from the part
        not sent; the last one is left in `last` when given, for the caller to mark with its own write (a
        broadcast's confirmation never: its progress edits need to know where it is at once). When a send fails,
        it and the rest go to the dispatcher (in order).
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
            if reply.outbox_id is None and reply.broadcast_id is None:
                continue
            if last is not None and index == len(replies) - 1 and reply.broadcast_id is None:
                last.append((reply, sent.provider_id, address))
            else:
                await self._mark_sent([(reply, sent.provider_id, address)])

    async def _mark_sent(self, sent: Sequence[tuple[Reply, str, str]]) -> None:
        try:
            await self.writes.write(lambda session: _record_sent(session, sent, self.deps.clock.now()))
        except Exception as exc:  # the row stays pending: the dispatcher sends it after the grace period
            log.error("telegram reply rows not settled: %s", type(exc).__name__)

    def _write_sent(self, sent: Sequence[tuple[Reply, str, str]]) -> None:
        try:
            with self.deps.db.uow() as uow:
                _record_sent(uow.session, sent, self.deps.clock.now())
                uow.commit()
        except Exception as exc:  # the row stays pending: the dispatcher sends it after the grace period
            log.error("telegram reply rows not settled: %s", type(exc).__name__)

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
