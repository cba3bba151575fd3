"""Closing a broadcast: when every row is settled, mark it finished once and send its author the tally.

Done by the dispatcher's observers (`BroadcastFinisher` for every channel, the Telegram progress editor) when
they flush; `remember_progress_message` stores where the author's confirmation was shown so it can be edited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from models.app import Deps
from models.messages import CHAT_CHANNELS, Channel
from models.outbound import Template
from models.outbox import OutMessage, enqueue
from models.pemda import PemdaConfig
from models.tables import Broadcast, BroadcastStatus, Contact, Outbox
from models.tally import Tally, open_rows, tally


def remember_progress_message(
    session: Session, broadcast_id: int, channel: Channel, address: str, message_id: str
) -> bool:
    """Store where the confirmation of `broadcast_id` was shown, if its author received it there."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.channel != channel.value or broadcast.progress_message_id is not None:
        return False
    author = session.get(Contact, broadcast.created_by_id)
    if author is None or author.address(channel) != address:
        return False
    broadcast.progress_chat, broadcast.progress_message_id = address, message_id
    session.add(broadcast)
    return True


def finish_if_done(
    session: Session,
    pemda: PemdaConfig,
    broadcast_id: int,
    now: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> Tally | None:
    """When every row is finished: mark the broadcast finished once and queue the tally to its author on a channel
    of `on` (nothing is queued when they cannot be reached there)."""
    if open_rows(session, broadcast_id):
        return None
    claimed = session.execute(
        update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id, col(Broadcast.status) == BroadcastStatus.SENDING.value)
        .values(status=BroadcastStatus.FINISHED.value, finished_at=now)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        return None
    result = tally(session, broadcast_id)
    broadcast = session.get(Broadcast, broadcast_id)
    author = session.get(Contact, broadcast.created_by_id) if broadcast is not None else None
    if author is not None:
        lines = [
            f"Siaran #{broadcast_id} selesai.",
            f"Terkirim: {result.sent}",
            f"Gagal: {result.failed}",
            f"Tidak terjangkau: {result.unreachable}",
        ]
        if result.unreachable:
            lines.append("Lihat siapa saja dengan /takterjangkau.")
        text = "\n".join(lines)
        template = Template(pemda.whatsapp_templates.broadcast, (" ".join(text.split()),))
        enqueue(
            session,
            f"broadcast|{broadcast_id}|hasil",
            author,
            OutMessage(text=text, kind="broadcast_tally", template=template),
            now,
            on=on,
        )
    return result


class BroadcastFinisher:
    """Dispatcher observer: closes each broadcast whose rows are all settled and queues its tally, on any channel.

    `seen` notes the row's broadcast; `flush` (off the send path) looks at those in a worker thread.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._moved: set[int] = set()

    def seen(self, row: Outbox) -> None:
        """Note the row's broadcast (rows outside a broadcast are ignored)."""
        if row.broadcast_id is not None:
            self._moved.add(row.broadcast_id)

    async def flush(self) -> None:
        """Close the broadcasts noted since the last flush that have nothing left to send."""
        if self._moved:
            moved, self._moved = sorted(self._moved), set()
            await asyncio.to_thread(self._close, moved)

    def _close(self, broadcast_ids: list[int]) -> None:
        with self.deps.db.uow() as uow:
            closed = False
            for broadcast_id in broadcast_ids:
                broadcast = uow.session.get(Broadcast, broadcast_id)
                if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
                    continue
                now = self.deps.clock.now()
                closed |= (
                    finish_if_done(uow.session, self.deps.pemda, broadcast_id, now, self.deps.sends_on) is not None
                )
            if closed:
                uow.commit()
