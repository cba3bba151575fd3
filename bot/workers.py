"""`SIGAP_WORKERS=N`: chat messages handled in N worker processes beside `sigap run`, for large deployments.

In one process every message's database work and Python code share one interpreter lock with the webhooks, the
replies going out and the dispatcher: on a busy national deployment that lock, not the CPU count, is the limit.
With workers, `sigap run` keeps the channels (webhooks, the inbox, each chat's order, sending within the rate
limits, the dispatcher, the scheduler) and a message's handling (`handlers.core.handle_here`: one unit of work,
its replies written to the outbox) runs in a worker process, each on its own CPU core.

- A sender always goes to the same worker (by a hash of channel and address), so a chat's messages never race
  each other, and that worker's flood control counts all of the sender's messages: the files handled here are
  counted there too (`WorkerGuard`), so text and files share one allowance, as in a single process.
- A worker handles several messages at once, each on one of its handling threads as `sigap run` does: a slow
  command (an export, a Pemda-wide view) holds one thread, not the other chats of that worker.
- Documents (a roster, evidence, a figures export) are still handled in this process: their file is downloaded
  over the channel's connection, which lives here.
- A worker that dies (killed, out of memory) is started again; the messages it was handling are handled here
  instead (a message it had committed is recognised as handled: its replies are in the outbox already).
- Each worker reads the days off from the database every minute, as `sigap run` does (a /libur handled by one
  worker counts everywhere within a minute).

Workers are started with `spawn` (a fresh interpreter: nothing of this process's threads or connections is
copied) and stop when `sigap run` stops, or when it dies (their pipe closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import time
import zlib
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from bot.settings import Settings
from models.app import Deps
from models.flood import FloodGuard, Guard, Verdict, allowance_for
from models.messages import Incoming, Reply

log = logging.getLogger(__name__)

IN_FLIGHT = 8
"""Messages sent to one worker before it answered: enough to keep its handling threads busy (a slow command holds
one of them, not the worker), few enough that the pipe never fills (a write to a full pipe would hold up the
event loop)."""
START_TIMEOUT = 120.0
"""Seconds a worker may take to start (import, connect to the database) before it is given up."""
STOP_TIMEOUT = 3.0
"""Seconds a worker may take to finish its message when `sigap run` stops; then it is terminated."""
DAYS_OFF_EVERY = 60.0
"""Seconds between a worker's readings of the days off (an admin's /libur handled elsewhere)."""
GUARD_TIMEOUT = 5.0
"""Seconds a flood-control question to a worker may take; past it this process counts the message itself."""


@dataclass(frozen=True)
class _Handle:
    """To a worker: handle this message (answered with its replies)."""

    job: int
    incoming: Incoming
    dedupe_key: str | None


@dataclass(frozen=True)
class _Ask:
    """To a worker: one flood-control question about a sender (`Guard`'s method `op`), answered at once."""

    job: int
    op: str
    channel: str
    address: str
    registered: bool = False


class WorkerGone(Exception):
    """The worker process ended while handling a message (the message is handled in this process instead)."""


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker needs besides the settings: what `sigap run` learnt at start-up."""

    settings: Settings
    telegram_username: str | None


@dataclass
class _Slot:
    """One worker process, its end of the pipe, and the messages it was given."""

    number: int
    process: BaseProcess | None = None
    conn: Connection | None = None
    ready: bool = False
    waiting: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    """Answers awaited, by job: a message's replies, or a flood-control answer."""
    free: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(IN_FLIGHT))
    restarting: asyncio.Task[None] | None = None
    outgoing: list[_Handle | _Ask] = field(default_factory=list)
    """Requests for the worker not yet written: those of one turn of the event loop go in one write."""


class MessageWorkers:
    """`Deps.workers`: the worker processes, and the way a message goes to one and its replies come back."""

    def __init__(self, deps: Deps, settings: Settings, count: int) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self.deps = deps
        self.settings = settings
        self._slots = [_Slot(number) for number in range(count)]
        self._jobs = itertools.count(1)
        self._context = multiprocessing.get_context("spawn")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers running now (ready for messages)."""
        return [s.process.pid for s in self._slots if s.ready and s.process is not None and s.process.pid is not None]

    async def start(self) -> None:
        """Start every worker and wait until each is ready (imported, connected to the database)."""
        self._loop = asyncio.get_running_loop()
        await asyncio.gather(*(self._start(slot) for slot in self._slots))
        log.info("%d worker processes handle chat messages", len(self._slots))

    async def _start(self, slot: _Slot) -> None:
        config = WorkerConfig(self.settings, self.deps.telegram_username)
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve, args=(child, config), name=f"sigap-worker-{slot.number + 1}", daemon=True
        )
        process.start()
        child.close()
        ready = False
        try:
            ready = await asyncio.to_thread(_wait_ready, parent, START_TIMEOUT)
        finally:
            if not ready:  # it failed, took too long, or the start was cancelled
                parent.close()
                _end(process, 0)
        if not ready:
            raise RuntimeError(f"worker {slot.number + 1} did not start within {START_TIMEOUT:.0f} s")
        slot.process, slot.conn, slot.ready = process, parent, True
        assert self._loop is not None
        self._loop.add_reader(parent.fileno(), self._readable, slot)

    def _slot_for(self, channel: str, address: str) -> _Slot:
        key = f"{channel}:{address}".encode()
        return self._slots[zlib.crc32(key) % len(self._slots)]

    async def handle(self, incoming: Incoming, dedupe_key: str | None) -> list[Reply]:
        """The message handled by its sender's worker; in this process when that worker is not running."""
        slot = self._slot_for(incoming.channel.value, incoming.address)
        async with slot.free:
            if slot.ready and slot.conn is not None and not self._stopping:
                job = next(self._jobs)
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                slot.waiting[job] = future
                self._post(slot, _Handle(job, incoming, dedupe_key))
                try:
                    replies: list[Reply] = await future
                    return replies
                except WorkerGone:
                    pass  # handled here below: if the worker committed before it died, the core sees the
                    # message was handled (its replies are in the outbox) and does not answer it twice
                finally:
                    slot.waiting.pop(job, None)
        return await self._here(incoming, dedupe_key)

    async def ask_guard(self, op: str, channel: str, address: str, registered: bool = False) -> Any:
        """The answer of the sender's worker's flood control to `op` (`Guard`'s method); `WorkerGone` when that worker
        is not running."""
        slot = self._slot_for(channel, address)
        if not slot.ready or slot.conn is None or self._stopping:
            raise WorkerGone()
        job = next(self._jobs)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        slot.waiting[job] = future
        self._post(slot, _Ask(job, op, channel, address, registered))
        try:
            return await future
        finally:
            slot.waiting.pop(job, None)

    def _post(self, slot: _Slot, request: _Handle | _Ask) -> None:
        """Send `request` to the slot's worker with the others of this turn of the event loop, in one write: under
        load one wake-up of the worker for many messages, not one each."""
        slot.outgoing.append(request)
        if len(slot.outgoing) == 1:
            asyncio.get_running_loop().call_soon(self._flush, slot)

    def _flush(self, slot: _Slot) -> None:
        requests, slot.outgoing = slot.outgoing, []
        if not requests:
            return
        if slot.conn is None:  # the worker ended meanwhile: its waiting messages were handed back already
            for request in requests:
                future = slot.waiting.pop(request.job, None)
                if future is not None and not future.done():
                    future.set_exception(WorkerGone())
            return
        try:
            slot.conn.send(requests)
        except (OSError, ValueError):
            self._lost(slot)

    async def _here(self, incoming: Incoming, dedupe_key: str | None) -> list[Reply]:
        from handlers.core import handle_here

        return await self.deps.handling.run(handle_here, self.deps, incoming, dedupe_key)

    def _readable(self, slot: _Slot) -> None:
        """A worker answered (or its pipe closed: it ended)."""
        conn = slot.conn
        if conn is None:
            return
        try:
            while conn.poll():
                for job, ok, value in conn.recv():  # the answers of one turn of the worker's loop
                    future = slot.waiting.pop(job, None)
                    if future is None or future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(RuntimeError(value))
        except (EOFError, OSError):
            self._lost(slot)

    def _lost(self, slot: _Slot) -> None:
        """The worker ended: its messages are handled here; it is started again (unless stopping)."""
        if slot.conn is not None:
            with contextlib.suppress(Exception):
                assert self._loop is not None
                self._loop.remove_reader(slot.conn.fileno())
            slot.conn.close()
        slot.conn, slot.ready = None, False
        if slot.process is not None:
            if slot.process.is_alive():  # its pipe broke but it runs on: ended (not waited for here, on the loop)
                slot.process.terminate()
            code = slot.process.exitcode
            slot.process = None
            if not self._stopping:
                log.error(
                    "worker %d ended (exit code %s); its messages are handled by sigap run", slot.number + 1, code
                )
        for future in slot.waiting.values():
            if not future.done():
                future.set_exception(WorkerGone())
        slot.waiting.clear()
        if not self._stopping and (slot.restarting is None or slot.restarting.done()):
            slot.restarting = asyncio.get_running_loop().create_task(self._restart(slot))

    async def _restart(self, slot: _Slot) -> None:
        try:
            await self._start(slot)
            log.info("worker %d started again", slot.number + 1)
        except Exception as exc:
            log.error("worker %d not started again (%s); sigap run handles its messages", slot.number + 1, exc)

    async def stop(self) -> None:
        """Let each worker finish its message (at most `STOP_TIMEOUT` s), then end it."""
        self._stopping = True
        for slot in self._slots:
            if slot.restarting is not None:
                slot.restarting.cancel()
            if slot.conn is not None:
                with contextlib.suppress(Exception):
                    assert self._loop is not None
                    self._loop.remove_reader(slot.conn.fileno())
                self._flush(slot)  # requests of this turn of the loop go before the stop
            if slot.conn is not None:
                with contextlib.suppress(OSError, ValueError):
                    slot.conn.send(None)
        processes = [slot.process for slot in self._slots if slot.process is not None]
        await asyncio.to_thread(_end_all, processes, STOP_TIMEOUT)
        for slot in self._slots:
            if slot.conn is not None:
                slot.conn.close()
            slot.conn, slot.process, slot.ready = None, None, False
            for future in slot.waiting.values():
                future.cancel()
            slot.waiting.clear()


_UNANSWERED = object()
"""`WorkerGuard._ask`'s result when the worker could not answer."""


class WorkerGuard:
    """`Deps.guard` of `sigap run` with workers. The messages handled in this process (files; a photo's caption may
    even carry an invite code) are counted by the flood control of the sender's worker, which counts their text
    messages: one allowance per sender wherever a message is handled, as in a single process. When that worker
    cannot answer (it is starting again, or `sigap run` stops), this process counts the message itself."""

    def __init__(self, workers: MessageWorkers, local: FloodGuard, loop: asyncio.AbstractEventLoop) -> None:
        self.workers = workers
        self.local = local
        """The counts of this process: used when a worker cannot answer."""
        self.loop = loop
        """`sigap run`'s event loop, where the workers' pipes are read."""
        self._muted: dict[tuple[str, str], float] = {}
        """Senders a worker muted while answering for this process, until when (on `local`'s clock)."""

    def check(self, channel: str, address: str, *, registered: bool) -> Verdict:
        """Counted by the sender's worker (here when it cannot answer)."""
        verdict = self._ask("check", channel, address, registered)
        if not isinstance(verdict, Verdict):
            return self.local.check(channel, address, registered=registered)
        if verdict is Verdict.WARN:  # the mute starts now: the next file is ignored before any database work
            now = self.local.clock.monotonic()
            self._muted = {key: until for key, until in self._muted.items() if until > now}
            self._muted[(channel, address)] = now + allowance_for(registered).mute
        return verdict

    def muted(self, channel: str, address: str) -> bool:
        """Muted by this process's own counts, or by the worker's answer to an earlier file (a question to the worker
        would hold up the event loop this is asked on)."""
        until = self._muted.get((channel, address))
        return self.local.muted(channel, address) or (until is not None and self.local.clock.monotonic() < until)

    def code_failed(self, channel: str, address: str) -> None:
        """Counted by the sender's worker (here when it cannot answer)."""
        if self._ask("code_failed", channel, address) is _UNANSWERED:
            self.local.code_failed(channel, address)

    def codes_blocked(self, channel: str, address: str) -> bool:
        """Asked of the sender's worker (here when it cannot answer)."""
        blocked = self._ask("codes_blocked", channel, address)
        if blocked is _UNANSWERED:
            return self.local.codes_blocked(channel, address)
        return bool(blocked) or self.local.codes_blocked(channel, address)

    def _ask(self, op: str, channel: str, address: str, registered: bool = False) -> Any:
        """The worker's answer, waited for on this (handling) thread; `_UNANSWERED` when there is none in time."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is self.loop:  # never on sigap run's own loop: a blocking wait there would stall every chat
            return _UNANSWERED
        asked = asyncio.run_coroutine_threadsafe(self.workers.ask_guard(op, channel, address, registered), self.loop)
        try:
            return asked.result(GUARD_TIMEOUT)
        except Exception as exc:  # the worker is gone or restarting, sigap run stops, or no answer in time
            asked.cancel()
            log.info("flood control counted here: the sender's worker did not answer (%s)", type(exc).__name__)
            return _UNANSWERED


def _wait_ready(conn: Connection, timeout: float) -> bool:
    return conn.poll(timeout) and conn.recv() == "ready"


def _end(process: BaseProcess, timeout: float) -> None:
    process.join(timeout)
    if process.is_alive():
        process.terminate()
        process.join(1.0)
    if process.is_alive():
        process.kill()
        process.join()


def _end_all(processes: list[BaseProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        _end(process, 0)


# ------------------------------------------------------------------------------------------------ in the worker


def _serve(conn: Connection, config: WorkerConfig) -> None:
    """A worker's life: build the dependencies, then handle the messages sent until told to stop (or orphaned)."""
    # Ctrl-C and systemd's SIGTERM reach the whole group: `sigap run` decides (it lets the messages being handled
    # finish, then sends the stop); if it dies instead, the pipe closes and the worker ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from bot.logs import FORMAT, configure_logging

    configure_logging(config.settings)
    tagged = logging.Formatter(FORMAT.replace("%(name)s", f"[{multiprocessing.current_process().name}] %(name)s"))
    for handler in logging.getLogger().handlers:  # its lines tell which worker wrote them
        handler.setFormatter(tagged)
    deps = _worker_deps(config)
    try:
        asyncio.run(_work(conn, deps))
    finally:
        deps.db.dispose()


async def _work(conn: Connection, deps: Deps) -> None:
    """Each message on one of the worker's handling threads (`Deps.handling`, as in `sigap run` itself), so a
    slow command holds one thread while the worker's other chats are answered; each answer sent when it is ready."""
    from bot.scheduler import refresh_days_off
    from handlers.core import handle_here

    loop = asyncio.get_running_loop()
    ended = asyncio.Event()
    running: set[asyncio.Task[None]] = set()
    days_off_at = time.monotonic()

    answers: list[tuple[int, bool, Any]] = []

    def send(answer: tuple[int, bool, Any]) -> None:
        """Answer with the others of this turn of the loop, in one write."""
        answers.append(answer)
        if len(answers) == 1:
            loop.call_soon(flush)

    def flush() -> None:
        batch = answers[:]
        answers.clear()
        try:
            conn.send(batch)
        except (OSError, ValueError):
            ended.set()  # sigap run is gone

    async def one(job: _Handle) -> None:
        incoming = job.incoming
        try:
            if deps.guard is not None and deps.guard.muted(incoming.channel.value, incoming.address):
                replies: list[Reply] = []  # a flooding sender, already told: no database work at all
            else:
                replies = await deps.handling.run(handle_here, deps, incoming, job.dedupe_key)
            send((job.job, True, replies))
        except Exception as exc:  # the text only: an exception object may not survive the pipe
            send((job.job, False, f"{type(exc).__name__}: {exc}"))

    def readable() -> None:
        nonlocal days_off_at
        try:
            while conn.poll():
                requests = conn.recv()  # those of one turn of sigap run's loop
                if requests is None:  # sigap run stops
                    ended.set()
                    return
                for request in requests:
                    if isinstance(request, _Ask):  # answered at once, on this thread
                        send(_answer(deps.guard, request))
                        continue
                    task = loop.create_task(one(request))
                    running.add(task)
                    task.add_done_callback(running.discard)
        except (EOFError, OSError):  # sigap run ended
            ended.set()
            return
        if time.monotonic() - days_off_at > DAYS_OFF_EVERY:
            days_off_at = time.monotonic()
            refresh = loop.create_task(refresh_days_off(deps))
            running.add(refresh)
            refresh.add_done_callback(running.discard)

    loop.add_reader(conn.fileno(), readable)
    log.info("ready for chat messages (process %d)", os.getpid())
    conn.send("ready")
    await ended.wait()
    loop.remove_reader(conn.fileno())
    if running:  # what was handed over before the stop is finished (sigap run drained its chats first)
        await asyncio.wait(set(running), timeout=STOP_TIMEOUT)
    if answers:
        flush()


def _answer(guard: Guard | None, ask: _Ask) -> tuple[int, bool, Any]:
    """A worker's answer to a flood-control question from `sigap run` (about a file it handles)."""
    if guard is None:
        return ask.job, False, "no flood control"
    if ask.op == "check":
        return ask.job, True, guard.check(ask.channel, ask.address, registered=ask.registered)
    if ask.op == "muted":
        return ask.job, True, guard.muted(ask.channel, ask.address)
    if ask.op == "code_failed":
        guard.code_failed(ask.channel, ask.address)
        return ask.job, True, None
    if ask.op == "codes_blocked":
        return ask.job, True, guard.codes_blocked(ask.channel, ask.address)
    return ask.job, False, f"unknown question {ask.op!r}"


def _worker_deps(config: WorkerConfig) -> Deps:
    from bot.wiring import build_deps

    deps = build_deps(config.settings, sync=False)
    deps.telegram_username = config.telegram_username
    deps.guard = FloodGuard(deps.clock)  # this worker's senders only (each sender always comes here)
    return deps
