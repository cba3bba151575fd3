"""After an adapter sent (or failed to send) a durable reply at once: settle its outbox row off the event loop."""

from __future__ import annotations

import asyncio
import logging

from models.app import Deps
from models.messages import Reply
from models.outbox import mark_reply_sent, release_reply

log = logging.getLogger(__name__)


async def settle_reply(deps: Deps, reply: Reply, *, provider_id: str | None = None, error: str = "") -> None:
    """Mark `reply`'s row sent (`provider_id`), or hand it to the dispatcher (`error`); no row: nothing to do."""
    outbox_id = reply.outbox_id
    if outbox_id is None:
        return

    def write() -> None:
        with deps.db.uow() as uow:
            now = deps.clock.now()
            if provider_id is not None:
                mark_reply_sent(uow.session, outbox_id, provider_id, now)
            else:
                release_reply(uow.session, outbox_id, error or "gagal terkirim langsung", now)
            uow.commit()

    try:
        await asyncio.to_thread(write)
    except Exception as exc:  # the row stays pending: the dispatcher sends it after the grace period
        log.error("reply row %s not settled: %s", outbox_id, type(exc).__name__)
