"""What handlers and jobs both stand on: the application's long-lived dependencies, the threads messages are
handled on, and the user-facing error."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import queue
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar

from models.calendar import WorkingCalendar
from models.clock import Clock
from models.db import Database
from models.files import FileSource
from models.flood import Guard
from models.messages import CHAT_CHANNELS, Channel, Incoming, Reply
from models.meter import NULL_METER, Meter
from models.pemda import PemdaConfig

P = ParamSpec("P")
T = TypeVar("T")


class MessageWorkers(Protocol):
    """Worker processes that handle chat messages beside `sigap run` (`bot.workers`, `SIGAP_WORKERS`)."""

    async def handle(self, incoming: Incoming, dedupe_key: str | None) -> list[Reply]:
        """`incoming` handled as `handlers.core.handle_here` would, in a worker process; its replies."""
        ...


class UserError(Exception):
    """Input we cannot accept; the message is shown to the person as it is, and nothing is saved."""


@dataclass
class Deps:
    """Long-lived things handlers and jobs need, built once at start-up (`bot.wiring.build_deps`)."""

    db: Database
    pemda: PemdaConfig
    clock: Clock
    calendar: WorkingCalendar
    telegram_username: str | None = None
    whatsapp_number: str | None = None
    invite_days: int = 7
    public_url: str = ""
    """The dashboard's public base URL (`SIGAP_PUBLIC_URL`, no trailing slash); empty: /dasbor says it is not set."""
    sends_on: frozenset[Channel] = CHAT_CHANNELS
    """The chat channels this deployment sends on (`bot.wiring.build_deps`: those configured in the settings; empty
    on the console). Who counts as reachable (`models.reach`) depends on it. Default: Telegram and WhatsApp."""
    files: dict[Channel, FileSource] = field(default_factory=dict)
    """How each channel's incoming files are fetched (registered by the channel's runtime)."""
    meter: Meter = NULL_METER
    """Where inbound messages and reply latency are counted (Prometheus in `sigap run`)."""
    guard: Guard | None = None
    """Flood control for chat channels (`sigap run`); None: every message is handled (tests, the console)."""
    handling: HandlingThreads = field(default_factory=lambda: HandlingThreads())
    """Where each message's unit of work runs: off the channels' event loop, a slow one never holding up another."""
    workers: MessageWorkers | None = None
    """Worker processes for chat messages without a file (`SIGAP_WORKERS` in `sigap run`); None: `handling`."""


HANDLING_THREADS = 4
"""Messages handled at once at most (each chat's one at a time, in order, is the adapters' business)."""
IDLE_SECONDS = 5.0
"""A handling thread without work for this long ends (the next message starts one again, in well under 1 ms)."""


@dataclass
class _Job:
    future: concurrent.futures.Future[Any]
    work: Callable[[], Coroutine[Any, Any, Any]]


class HandlingThreads:
    """A few threads, each with its own event loop, that run messages' handling coroutines.

    A handler's database work is synchronous (SQLAlchemy sessions): on the channels' loop it would stall every
    webhook, reply and the dispatcher while it runs. Here it runs beside them, and a slow command (an export, a
    Pemda-wide view) holds one thread while the others answer other chats. A thread starts when every running one
    is busy (at most `size`; beyond that work waits its turn) and ends after `idle` seconds without work. The
    threads are daemons: a handler still running when the process exits is abandoned with its unit of work
    uncommitted (the message was not marked done, so it is handled again after the restart). What a handler must
    do on the caller's loop (a channel's file download over its HTTP client) goes back there with `call_on`.
    """

    def __init__(self, size: int = HANDLING_THREADS, idle: float = IDLE_SECONDS, name: str = "sigap-handling") -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self.idle = idle
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._pending = 0
        """Jobs submitted and not finished (queued or running)."""
        self._started = 0

    @property
    def pending(self) -> int:
        """Units of work queued or running now."""
        return self._pending

    async def run(self, work: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """`await work(*args, **kwargs)` on a handling thread; its result (or exception) is returned here.

        Cancelling the caller abandons a job not yet started; one already running finishes on its thread.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        job = _Job(future, functools.partial(work, *args, **kwargs))
        with self._lock:
            self._pending += 1
            self._jobs.put(job)
            start = self._pending > self._threads and self._threads < self.size
            if start:
                self._threads += 1
                self._started += 1
        if start:
            threading.Thread(target=self._serve, name=f"{self.name}-{self._started}", daemon=True).start()
        return await asyncio.wrap_future(future)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=self.idle)
                except queue.Empty:
                    with self._lock:
                        if not self._jobs.empty():
                            continue  # work came in just now: take it
                        self._threads -= 1
                        return
                result: Any = None
                error: BaseException | None = None
                running = job.future.set_running_or_notify_cancel()  # False: the caller gave up on it already
                try:
                    if running:
                        result = loop.run_until_complete(job.work())
                except BaseException as exc:  # the caller re-raises it on its own loop
                    error = exc
                finally:
                    with self._lock:
                        self._pending -= 1  # before the caller hears of it: `pending` is never behind
                if running and error is not None:
                    job.future.set_exception(error)
                elif running:
                    job.future.set_result(result)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def call_on(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T]) -> T:
    """`await work` on `loop` (where a channel's HTTP client lives) from whichever loop runs now: a handler on a
    handling thread that needs a file the channel must download."""
    if asyncio.get_running_loop() is loop:
        return await work
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))
