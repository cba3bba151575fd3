"""Telling observers about settled outbox rows without ever holding up a send.

An observer (the Telegram progress editor, the broadcast finisher) is told about each settled row at once with
`seen`, which only takes a note (no I/O, no waiting), and does its work later in `flush`: after each round when
the dispatcher drains in rounds, and while it sends continuously from a task of its own, whenever rows were seen
but at most every `interval` seconds. A slow flush (a busy database, an edit waiting for the admin's chat slot)
delays only the next flush: sends and claims never wait for an observer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from typing import Protocol

from models.clock import Clock
from models.tables import Outbox

log = logging.getLogger(__name__)


class Observer(Protocol):
    """Something the dispatcher tells about every settled row."""

    def seen(self, row: Outbox) -> None:
        """Note `row`, whose outcome is committed; return at once (no I/O, no waiting)."""

    async def flush(self) -> None:
        """Act on the rows seen since the last flush."""


class Observers:
    """The dispatcher's observers: notes taken per row, flushes run in order off the send path."""

    def __init__(self, observers: Sequence[Observer], clock: Clock, interval: float) -> None:
        self.observers = list(observers)
        self.clock = clock
        self.interval = interval
        self._pending = False
        self._wake: asyncio.Event | None = None

    def seen(self, row: Outbox) -> None:
        """Pass `row` to every observer's `seen`; an observer that fails is logged and the others still see it."""
        for observer in self.observers:
            try:
                observer.seen(row)
            except Exception:
                log.exception("outbox observer failed on row %s", row.id)
        self._pending = True
        if self._wake is not None:
            self._wake.set()

    async def flush(self) -> None:
        """Flush every observer, in order (the progress editor before the finisher); failures are logged."""
        self._pending = False
        for observer in self.observers:
            try:
                await observer.flush()
            except Exception:
                log.exception("outbox observer failed")

    async def run(self, finished: asyncio.Event) -> None:
        """Flush when rows were seen, at most every `interval` s, until `finished`; then once more if needed."""
        wake = self._wake = asyncio.Event()
        try:
            while True:
                if not self._pending:
                    await _first(wake.wait(), finished.wait())
                wake.clear()
                if not self._pending:
                    if finished.is_set():
                        return
                    continue
                started = self.clock.monotonic()
                await self.flush()
                rest = started + self.interval - self.clock.monotonic()
                if rest > 0 and not finished.is_set():
                    await _first(self.clock.sleep(rest), finished.wait())
        finally:
            self._wake = None


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until the first of `waits` is done; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
