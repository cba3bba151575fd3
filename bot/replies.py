"""After an adapter sent (or failed to send) a durable reply at once: settle its outbox row off the event loop; and
the small writes of many chats (an update stored, a reply settled) committed together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from models.app import Deps
from models.db import Database
from models.messages import Reply
from models.outbox import mark_reply_sent, release_reply

log = logging.getLogger(__name__)

T = TypeVar("T")
Write = Callable[[Session], Any]


class GroupCommit:
    """Small writes of many chats in one transaction, off the event loop.

    `write(fn)` runs `fn(session)` together with the writes that came in while the previous transaction was being
    committed: one thread hop and one commit (one disk flush on PostgreSQL) for a burst of a hundred people instead
    of a hundred. When one write fails the transaction is rolled back and each write is done on its own, so a bad
    one never fails the others. Nothing waits when it is idle: a lone write starts at once.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[Write, asyncio.Future[Any]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` committed (with others'); its result, or its exception."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((fn, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._commit_all(), name="group-commit")
        return await future

    async def _commit_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                outcomes = await asyncio.to_thread(self._run, [fn for fn, _ in batch])
            except asyncio.CancelledError:  # stopping: whoever still waits stops waiting
                for _fn, future in [*batch, *self._waiting]:
                    future.cancel()
                self._waiting = []
                raise
            except Exception as exc:  # the database is gone: every caller of this batch hears it
                outcomes = [(False, exc)] * len(batch)
            for (_fn, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _run(self, writes: list[Write]) -> list[tuple[bool, Any]]:
        try:
            with self.db.uow() as uow:
                results = [(True, fn(uow.session)) for fn in writes]
                uow.commit()
                return results
        except Exception:
            if len(writes) == 1:
                raise
        outcomes: list[tuple[bool, Any]] = []
        for fn in writes:  # one failed: each on its own, so the others still land
            try:
                with self.db.uow() as uow:
                    value = fn(uow.session)
                    uow.commit()
                outcomes.append((True, value))
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes


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
