"""`sigap run`: the configured channels, the HTTP server for webhooks, the dispatcher and the scheduler.

With no channel configured it opens the console chat instead. SIGTERM (or SIGINT) stops it within `STOP_WITHIN`
seconds whatever is running: each part gets a bounded share of the time, and what was not finished stays
pending (inbox rows, outbox rows, an uncommitted unit of work) for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time

from prometheus_client import CollectorRegistry

from bot.channels import ChannelRuntime
from bot.http import HttpServer, build_app
from bot.logs import log_to_file
from bot.metrics import OutboxCollector, PrometheusMeter, health_route, metrics_route
from bot.senders import prepare
from bot.settings import Settings
from bot.web.dashboard import beside_console, dashboard_routes
from bot.wiring import build_deps
from bot.workers import MessageWorkers, WorkerGuard
from jobs.alerts import auth_alert
from jobs.broadcasts import BroadcastFinisher
from jobs.channel_locks import ChannelLocks
from jobs.dispatcher import Dispatcher, Observer
from models.app import Deps, UserError
from models.flood import FloodGuard

log = logging.getLogger(__name__)

STOP_WITHIN = 9.0
"""Seconds from SIGTERM (or SIGINT) to the process's exit at most: a sweep or a handler still running in a thread
past it is abandoned (its transaction was not committed, so nothing it did is half-written)."""
STOP_GRACE = 5.0
"""Seconds the orderly stop may take (the dispatcher, the HTTP server, the channels); then only the exit is left."""
EXIT_AFTER_STOP = 1.5
"""Seconds the interpreter may take to exit once the orderly stop is done (longer: a thread is stuck in its work)."""
DISPATCH_GRACE = 2.0
"""Seconds sends in flight may finish after the stop (rows not finished are released at the next start)."""
HTTP_GRACE = 1
"""Seconds webhook requests in progress may finish (one not answered 200 is delivered again by the platform)."""


def broadcast_finisher(deps: Deps) -> Observer:
    """Close a broadcast and queue its tally once its last row is done, whatever the channel (off the send path)."""
    return BroadcastFinisher(deps)


async def build_channels(settings: Settings, deps: Deps) -> list[ChannelRuntime]:
    """The runtimes of every configured channel."""
    channels: list[ChannelRuntime] = []
    if settings.telegram_enabled:
        from bot.telegram.runtime import telegram_runtime

        channels.append(await telegram_runtime(settings, deps))
    if settings.whatsapp_enabled:
        from bot.whatsapp.runtime import whatsapp_runtime

        channels.append(await whatsapp_runtime(settings, deps))
    return channels


def check_channels(settings: Settings) -> None:
    """Refuse a half-configured WhatsApp (it would silently fall back to the console or not send at all)."""
    token = settings.whatsapp_access_token.get_secret_value() if settings.whatsapp_access_token else ""
    number_id = settings.whatsapp_phone_number_id.strip()
    if token and not number_id:
        raise UserError(
            "WHATSAPP_ACCESS_TOKEN diisi tetapi WHATSAPP_PHONE_NUMBER_ID kosong: isi keduanya, atau kosongkan keduanya."
        )
    if number_id and not token:
        raise UserError(
            "WHATSAPP_PHONE_NUMBER_ID diisi tetapi WHATSAPP_ACCESS_TOKEN kosong: isi keduanya, atau kosongkan keduanya."
        )


async def run(settings: Settings, *, console_as: str = "", stop: asyncio.Event | None = None) -> int:
    """Run the bot until SIGINT/SIGTERM (or until `stop` is set)."""
    check_channels(settings)
    from bot.doctor import announce_first_run

    announce_first_run(settings)  # once: the sample Pemda file or roster, or no admin yet, and the next step
    if not settings.telegram_enabled and not settings.whatsapp_enabled:
        from bot.console import open_console

        log.debug("no channel configured: opening the console chat")
        log_to_file()  # from here on the terminal is the chat: the dashboard's log lines go to the file too
        async with beside_console(settings) as served:  # the dashboard on this computer: /dasbor's link works
            return await open_console(served, console_as)
    deps = build_deps(settings)
    channels = await build_channels(settings, deps)
    registry = CollectorRegistry()
    meter = PrometheusMeter(registry)
    sending = frozenset(c.channel for c in channels)  # rows on any other channel wait for it to be set up
    registry.register(OutboxCollector(deps.db, deps.clock, sending))
    deps.meter = meter
    deps.guard = FloodGuard(deps.clock)
    dispatcher = Dispatcher(
        db=deps.db,
        meter=meter,
        locks=ChannelLocks(deps.db, [c.channel for c in channels]),
        senders={c.channel: c.sender for c in channels},
        limiters={c.channel: c.limiter for c in channels},
        clock=deps.clock,
        max_attempts=settings.outbox_max_attempts,
        batch=settings.dispatch_batch,
        grace=DISPATCH_GRACE,
        # the channels' own observers first (Telegram edits the progress message), then the channel-agnostic one
        observers=[*(o for c in channels for o in c.observers), broadcast_finisher(deps)],
        on_auth_failed=auth_alert(deps),
    )
    routes = [*(r for c in channels for r in c.routes), *dashboard_routes(deps, settings.public_url)]  # + /dasbor
    dispatch_task: asyncio.Task[None] | None = None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
    operations = [
        health_route(
            deps.db,
            deps.clock,
            lambda: dispatch_task is not None and not dispatch_task.done(),
            settings.health_max_pending_seconds,
            sending,
        ),
        metrics_route(registry, token),
    ]
    server = HttpServer(
        build_app(routes, operations=operations), settings.http_host, settings.http_port, grace=HTTP_GRACE
    )
    stop = stop or asyncio.Event()
    deadline = ExitDeadline()
    catch_signals(stop, deadline)
    from bot.scheduler import start_scheduler
    from jobs.letters.hook import make_letter_hook

    # before any chat is answered: rows the last run left (in flight, replies it never sent) are released first
    prepare(dispatcher, deps.db)
    workers = await start_workers(settings, deps)
    letter_hook = make_letter_hook(deps.pemda, deps.calendar, deps.sends_on)
    scheduler = start_scheduler(deps, letter_hook=letter_hook, meter=meter)
    for channel in channels:
        await channel.start()
    await server.start()
    catch_signals(stop, deadline)  # again: uvicorn put its own handlers in place while starting
    log.info("HTTP server listening on %s:%s (webhooks, /healthz, /metrics)", settings.http_host, server.port)
    dispatch_task = asyncio.create_task(dispatcher.run_forever(stop))
    # A dispatcher that ends before `stop` (a bug) stops the bot: better a restart by the service manager
    # than chats answered while reminders silently stay in the outbox.
    dispatch_task.add_done_callback(lambda _task: stop.set())
    log.info("Sigap running on %s", ", ".join(c.channel.value for c in channels))
    gc.collect()
    gc.freeze()  # what start-up built lives as long as the process: full collections need not walk it again
    failed = False
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        gc.unfreeze()
        try:
            await asyncio.wait_for(dispatch_task, timeout=STOP_GRACE)
        except TimeoutError:
            log.warning("the outbox dispatcher did not stop in time; its rows in flight are released at the next start")
        except Exception:
            failed = True
            log.exception("the outbox dispatcher stopped with an error; Sigap stops (systemd restarts it)")
        scheduler.shutdown(wait=False)
        if dispatcher.locks is not None:
            dispatcher.locks.release()
        await server.stop()
        for channel in reversed(channels):
            try:
                await channel.stop()
            except Exception:
                failed = True
                log.exception("stopping the %s channel failed", channel.channel.value)
        if workers is not None:
            deps.workers = None
            if isinstance(deps.guard, WorkerGuard):
                deps.guard = deps.guard.local
            await workers.stop()
        deps.db.dispose()
        deadline.code = 1 if failed else 0
        deadline.shorten(EXIT_AFTER_STOP)
    return deadline.code


async def start_workers(settings: Settings, deps: Deps) -> MessageWorkers | None:
    """`SIGAP_WORKERS` worker processes for chat messages (`bot.workers`), set in `deps`; None when there are none
    (0, or they could not start: then this process handles every message, as with 0)."""
    if settings.workers < 1:
        return None
    workers = MessageWorkers(deps, settings, settings.workers)
    try:
        await workers.start()
    except Exception as exc:
        log.error("worker processes not started (%s): sigap run handles every message itself", exc)
        await workers.stop()
        return None
    deps.workers = workers
    if isinstance(deps.guard, FloodGuard):  # files handled here are counted by the sender's worker too
        deps.guard = WorkerGuard(workers, deps.guard, asyncio.get_running_loop())
    return workers


class ExitDeadline:
    """Once a stop signal came, the process ends by a deadline even when a thread cannot be interrupted (a sweep,
    a handler, a blocked database call: at exit Python would wait for them). Idle until `arm`."""

    def __init__(self) -> None:
        self.code = 0
        """The exit code if the deadline is reached (the orderly stop sets it)."""
        self._at: float | None = None
        self._timer: threading.Timer | None = None

    def arm(self, seconds: float) -> None:
        """Exit at most `seconds` from now."""
        at = time.monotonic() + seconds
        if self._at is not None and self._at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._at = at
        self._timer = threading.Timer(seconds, self._exit)
        self._timer.daemon = True
        self._timer.start()

    def shorten(self, seconds: float) -> None:
        """Once armed, exit at most `seconds` from now."""
        if self._at is not None:
            self.arm(seconds)

    def _exit(self) -> None:
        os.write(2, b"sigap: work still running in a thread was abandoned to stop in time; it stays pending\n")
        os._exit(self.code)


def catch_signals(stop: asyncio.Event, deadline: ExitDeadline) -> None:
    """SIGINT and SIGTERM set `stop` and arm the `deadline` (`STOP_WITHIN` seconds)."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        stop.set()
        deadline.arm(STOP_WITHIN)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)
