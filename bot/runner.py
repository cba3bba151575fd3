"""`sigap run`: the configured channels, the HTTP server for webhooks, the dispatcher and the scheduler.

With no channel configured it opens the console chat instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from prometheus_client import CollectorRegistry

from bot.channels import ChannelRuntime
from bot.http import HttpServer, build_app
from bot.metrics import OutboxCollector, PrometheusMeter, health_route, metrics_route
from bot.senders import prepare
from bot.settings import Settings
from bot.wiring import build_deps
from jobs.alerts import auth_alert
from jobs.broadcasts import finish_if_done
from jobs.channel_locks import ChannelLocks
from jobs.dispatcher import Dispatcher, Observer
from models.app import Deps, UserError
from models.flood import FloodGuard
from models.tables import Outbox

log = logging.getLogger(__name__)


def broadcast_finisher(deps: Deps) -> Observer:
    """Close a broadcast and queue its tally once its last row is done, whatever the channel."""

    async def observe(row: Outbox) -> None:
        if row.broadcast_id is None:
            return
        with deps.db.uow() as uow:
            if finish_if_done(uow.session, deps.pemda, row.broadcast_id, deps.clock.now()) is not None:
                uow.commit()

    return observe


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
        return await open_console(settings, console_as)
    deps = build_deps(settings)
    channels = await build_channels(settings, deps)
    registry = CollectorRegistry()
    meter = PrometheusMeter(registry)
    registry.register(OutboxCollector(deps.db, deps.clock))
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
        # the channels' own observers first (Telegram edits the progress message), then the channel-agnostic one
        observers=[*(o for c in channels for o in c.observers), broadcast_finisher(deps)],
        on_auth_failed=auth_alert(deps),
    )
    routes = [r for c in channels for r in c.routes]
    dispatch_task: asyncio.Task[None] | None = None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
    operations = [
        health_route(
            deps.db,
            deps.clock,
            lambda: dispatch_task is not None and not dispatch_task.done(),
            settings.health_max_pending_seconds,
        ),
        metrics_route(registry, token),
    ]
    server = HttpServer(build_app(routes, operations=operations), settings.http_host, settings.http_port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    from bot.scheduler import start_scheduler
    from jobs.letters.flow import make_letter_hook

    # before any chat is answered: rows the last run left (in flight, replies it never sent) are released first
    prepare(dispatcher, deps.db)
    scheduler = start_scheduler(deps, letter_hook=make_letter_hook(deps.pemda, deps.calendar), meter=meter)
    for channel in channels:
        await channel.start()
    await server.start()
    log.info("HTTP server listening on %s:%s (webhooks, /healthz, /metrics)", settings.http_host, server.port)
    dispatch_task = asyncio.create_task(dispatcher.run_forever(stop))
    # A dispatcher that ends before `stop` (a bug) stops the bot: better a restart by the service manager
    # than chats answered while reminders silently stay in the outbox.
    dispatch_task.add_done_callback(lambda _task: stop.set())
    log.info("Sigap running on %s", ", ".join(c.channel.value for c in channels))
    failed = False
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        try:
            await dispatch_task
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
        deps.db.dispose()
    return 1 if failed else 0
