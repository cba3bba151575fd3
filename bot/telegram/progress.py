"""A dispatcher observer that keeps an admin's broadcast confirmation up to date ("Terkirim 120/560").

After every outbox row of a broadcast: close the broadcast when nothing is left (the tally goes to its author
through the outbox) and edit the one progress message in place, at most every `interval` seconds per
broadcast plus a final edit.
"""

from __future__ import annotations

import asyncio
import logging
import math

from telegram import Bot
from telegram.error import BadRequest, RetryAfter, TelegramError

from jobs.broadcasts import finish_if_done
from jobs.ratelimit import RateLimiter
from models.app import Deps
from models.messages import Channel
from models.tables import Broadcast, BroadcastStatus, Outbox
from models.tally import Tally, progress_text, tally

log = logging.getLogger(__name__)

INTERVAL = 2.0


class BroadcastProgress:
    """`Dispatcher` observer: finishes broadcasts and edits their Telegram progress message."""

    def __init__(self, deps: Deps, bot: Bot, limiter: RateLimiter | None = None, *, interval: float = INTERVAL) -> None:
        self.deps = deps
        self.bot = bot
        self.limiter = limiter
        self.interval = interval
        self._last_edit: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def __call__(self, row: Outbox) -> None:
        """Called by the dispatcher after each row; rows outside a broadcast are ignored."""
        broadcast_id = row.broadcast_id
        if broadcast_id is None:
            return
        lock = self._locks.setdefault(broadcast_id, asyncio.Lock())
        async with lock:
            await self._update(broadcast_id)

    async def _update(self, broadcast_id: int) -> None:
        clock = self.deps.clock
        with self.deps.db.uow() as uow:
            broadcast = uow.session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
                return
            place = _place(broadcast)
            final = finish_if_done(uow.session, self.deps.pemda, broadcast_id, clock.now())
            if final is not None:
                uow.commit()
                current: Tally = final
            else:
                due = clock.monotonic() - self._last_edit.get(broadcast_id, -math.inf) >= self.interval
                if place is None or not due:
                    return
                current = tally(uow.session, broadcast_id)
        if final is not None:
            self._last_edit.pop(broadcast_id, None)
            self._locks.pop(broadcast_id, None)
            log.info(
                "broadcast %s finished: %d sent, %d failed, %d unreachable",
                broadcast_id,
                final.sent,
                final.failed,
                final.unreachable,
            )
        else:
            self._last_edit[broadcast_id] = clock.monotonic()
        if place is not None:
            await self._edit(place, progress_text(broadcast_id, current, finished=final is not None), broadcast_id)

    async def _edit(self, place: tuple[int, int], text: str, broadcast_id: int) -> None:
        chat_id, message_id = place
        if self.limiter is not None:
            await self.limiter.acquire(str(chat_id))
        try:
            await self.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.warning("progress of broadcast %s not shown: %s", broadcast_id, exc)
        except RetryAfter as exc:
            seconds = exc.retry_after if isinstance(exc.retry_after, float | int) else exc.retry_after.total_seconds()
            if self.limiter is not None:
                self.limiter.penalize(float(seconds), str(chat_id))
        except TelegramError as exc:
            log.warning("progress of broadcast %s not shown: %s", broadcast_id, exc)


def _place(broadcast: Broadcast) -> tuple[int, int] | None:
    """The Telegram chat and message showing the broadcast's progress, if it was started on Telegram."""
    if broadcast.channel != Channel.TELEGRAM.value or not broadcast.progress_chat or not broadcast.progress_message_id:
        return None
    try:
        return int(broadcast.progress_chat), int(broadcast.progress_message_id)
    except ValueError:
        return None
