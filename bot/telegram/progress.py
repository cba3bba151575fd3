"""A dispatcher observer that keeps an admin's broadcast confirmation up to date ("Terkirim 120/560").

It never holds up a send: `seen` only notes which broadcasts moved; `flush` (called by the dispatcher off the send
path, at most every `Dispatcher.observe_interval` seconds while sending) reads their standing in a worker thread,
closes those with nothing left (the tally goes to the author through the outbox) and edits each one's progress
message once, through the channel's limiter with the admin's chat as the recipient: the edit takes one slot of the
bot's rate like any message, and waits only for its own chat.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.error import BadRequest, RetryAfter, TelegramError

from jobs.broadcasts import finish_if_done
from jobs.ratelimit import RateLimiter
from models.app import Deps
from models.messages import Channel
from models.tables import Broadcast, BroadcastStatus, Outbox
from models.tally import progress_text, tally

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Shown:
    """One progress message to edit: where, and the text it should show now."""

    broadcast_id: int
    chat_id: int
    message_id: int
    text: str


class BroadcastProgress:
    """`Dispatcher` observer: finishes broadcasts and edits their Telegram progress message."""

    def __init__(self, deps: Deps, bot: Bot, limiter: RateLimiter | None = None) -> None:
        self.deps = deps
        self.bot = bot
        self.limiter = limiter
        self._moved: set[int] = set()
        self._shown: dict[int, str] = {}
        """The text last shown per broadcast (the same text is not sent again, the final one only once)."""

    def seen(self, row: Outbox) -> None:
        """Note the row's broadcast (rows outside a broadcast are ignored)."""
        if row.broadcast_id is not None:
            self._moved.add(row.broadcast_id)

    async def flush(self) -> None:
        """Close the broadcasts that moved and are done; edit the progress message of each."""
        if not self._moved:
            return
        moved, self._moved = sorted(self._moved), set()
        for shown in await asyncio.to_thread(self._standing, moved):
            if self._shown.get(shown.broadcast_id) != shown.text:
                self._shown[shown.broadcast_id] = shown.text
                await self._edit(shown)

    def _standing(self, broadcast_ids: list[int]) -> list[_Shown]:
        """In a worker thread: close the finished broadcasts; the progress text of each shown on Telegram.

        A broadcast another observer closed first (the finisher, another instance) gets its final text too.
        """
        shown: list[_Shown] = []
        finished = False
        with self.deps.db.uow() as uow:
            for broadcast_id in broadcast_ids:
                broadcast = uow.session.get(Broadcast, broadcast_id)
                if broadcast is None or broadcast.status not in (BroadcastStatus.SENDING, BroadcastStatus.FINISHED):
                    continue
                place = _place(broadcast)
                final = None
                done = broadcast.status == BroadcastStatus.FINISHED
                if not done:
                    final = finish_if_done(
                        uow.session, self.deps.pemda, broadcast_id, self.deps.clock.now(), self.deps.sends_on
                    )
                    done = final is not None
                if final is not None:
                    finished = True
                    log.info(
                        "broadcast %s finished: %d sent, %d failed, %d unreachable",
                        broadcast_id,
                        final.sent,
                        final.failed,
                        final.unreachable,
                    )
                if place is not None:
                    current = final if final is not None else tally(uow.session, broadcast_id)
                    shown.append(_Shown(broadcast_id, *place, progress_text(broadcast_id, current, finished=done)))
            if finished:
                uow.commit()
        return shown

    async def _edit(self, shown: _Shown) -> None:
        chat = str(shown.chat_id)
        permit = await self.limiter.permit(chat) if self.limiter is not None else None
        try:
            await self.bot.edit_message_text(shown.text, chat_id=shown.chat_id, message_id=shown.message_id)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.warning("progress of broadcast %s not shown: %s", shown.broadcast_id, exc)
        except RetryAfter as exc:
            seconds = exc.retry_after if isinstance(exc.retry_after, float | int) else exc.retry_after.total_seconds()
            if self.limiter is not None:
                self.limiter.penalize(float(seconds), chat)
        except TelegramError as exc:
            log.warning("progress of broadcast %s not shown: %s", shown.broadcast_id, exc)
        finally:
            if permit is not None:
                permit.done()


def _place(broadcast: Broadcast) -> tuple[int, int] | None:
    """The Telegram chat and message showing the broadcast's progress, if it was started on Telegram."""
    if broadcast.channel != Channel.TELEGRAM.value or not broadcast.progress_chat or not broadcast.progress_message_id:
        return None
    try:
        return int(broadcast.progress_chat), int(broadcast.progress_message_id)
    except ValueError:
        return None
