"""`sigap dispatch`: send the outbox with the configured channels, without the chat side (cron, operations)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col

from bot.limits import limiter_for
from bot.settings import Settings
from bot.wiring import build_deps
from jobs.alerts import auth_alert
from jobs.broadcasts import BroadcastFinisher
from jobs.channel_locks import ChannelLocks
from jobs.dispatcher import Dispatcher, Observer
from jobs.outcomes import DispatchStats
from jobs.ratelimit import RateLimiter
from models.app import Deps
from models.clock import Clock, SystemClock
from models.db import Database
from models.messages import Channel
from models.outbound import Sender
from models.outbox import REPLY_KIND
from models.tables import Outbox, OutboxStatus

log = logging.getLogger(__name__)

POOL_SIZE = 64
"""HTTP connections per channel: the dispatcher keeps up to this many sends in flight."""


@asynccontextmanager
async def open_senders(settings: Settings) -> AsyncIterator[dict[Channel, Sender]]:
    """The sender of every configured channel, open for the duration of the block."""
    senders: dict[Channel, Sender] = {}
    async with AsyncExitStack() as stack:
        if settings.telegram_enabled and settings.telegram_bot_token is not None:
            from telegram import Bot

            from bot.telegram.aio_request import AiohttpRequest
            from bot.telegram.logging import install_redaction, uninstall_redaction
            from bot.telegram.sender import TelegramSender

            token = settings.telegram_bot_token.get_secret_value()
            redactor = install_redaction(token)
            stack.callback(uninstall_redaction, redactor)
            bot = Bot(
                token,
                base_url=settings.telegram_api_base_url,
                request=AiohttpRequest(POOL_SIZE),
            )
            await stack.enter_async_context(bot)
            senders[Channel.TELEGRAM] = TelegramSender(bot)
        if settings.whatsapp_enabled and settings.whatsapp_access_token is not None:
            from bot.whatsapp.client import WhatsAppClient
            from bot.whatsapp.sender import WhatsAppSender

            client = WhatsAppClient(
                settings.whatsapp_access_token.get_secret_value(),
                settings.whatsapp_phone_number_id,
                base_url=settings.whatsapp_api_base_url,
                api_version=settings.whatsapp_api_version,
            )
            stack.push_async_callback(client.aclose)
            senders[Channel.WHATSAPP] = WhatsAppSender(client)
        yield senders


def build_dispatcher(
    settings: Settings,
    db: Database,
    senders: dict[Channel, Sender],
    clock: Clock | None = None,
    deps: Deps | None = None,
) -> Dispatcher:
    """A dispatcher over `senders` with the configured limits, attempts and batch size; with `deps`, broadcasts
    are closed with their tally and their Telegram progress shown (`observers_for`), and a rejected token alerts the
    admins, as in `sigap run`."""
    clock = clock or SystemClock()
    limiters = {channel: limiter_for(channel, settings, clock) for channel in senders}
    return Dispatcher(
        db=db,
        senders=senders,
        clock=clock,
        limiters=limiters,
        max_attempts=settings.outbox_max_attempts,
        batch=settings.dispatch_batch,
        concurrency=min(POOL_SIZE, settings.dispatch_batch),
        locks=ChannelLocks(db, senders),
        observers=observers_for(deps, senders, limiters) if deps is not None else [],
        on_auth_failed=auth_alert(deps) if deps is not None else None,
    )


def observers_for(deps: Deps, senders: dict[Channel, Sender], limiters: dict[Channel, RateLimiter]) -> list[Observer]:
    """What `sigap run` tells about every settled row, for a dispatcher running alone: the admin's progress message
    on Telegram edited ("Terkirim 120/560"), then each broadcast closed once done and its tally queued to its author."""
    observers: list[Observer] = []
    telegram = senders.get(Channel.TELEGRAM)
    if telegram is not None:
        from bot.telegram.progress import BroadcastProgress
        from bot.telegram.sender import TelegramSender

        assert isinstance(telegram, TelegramSender)
        observers.append(BroadcastProgress(deps, telegram.bot, limiters.get(Channel.TELEGRAM)))
    observers.append(BroadcastFinisher(deps))
    return observers


def due_replies_now(db: Database, now: datetime) -> int:
    """Replies still waiting for the adapter that was to send them (it died with the last run): due at once.

    Only on SQLite (one instance by design): with several instances another one may still be sending its own.
    """
    with db.uow() as uow:
        result = uow.session.execute(
            update(Outbox)
            .where(col(Outbox.kind) == REPLY_KIND, col(Outbox.status) == OutboxStatus.PENDING.value)
            .where(col(Outbox.next_attempt_at) > now)
            .values(next_attempt_at=now)
        )
        uow.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def prepare(dispatcher: Dispatcher, db: Database) -> None:
    """Before the first round: on SQLite (one instance by design) release the rows a killed run left in
    flight; then keep start-up objects out of the garbage collector's full passes (tens of ms each, which
    would stall the event loop and the pacing of sends)."""
    if db.is_sqlite:
        recovered = dispatcher.recover()
        if recovered:
            log.info("released %d outbox rows left in flight by the previous run", recovered)
        replies = due_replies_now(db, dispatcher.clock.now())
        if replies:
            log.info("%d replies the previous run had not sent go out now", replies)
    gc.collect()
    gc.freeze()


async def dispatch(settings: Settings, *, once: bool = False, db: Database | None = None) -> int:
    """Drain the outbox (once) or keep sending until SIGINT/SIGTERM; returns the exit code.

    On SQLite rows left 'sending' by a killed run are released first: SQLite means one instance,
    so do not run this beside `sigap run` on the same SQLite file.
    """
    database = db or Database(settings.database_url)
    try:
        async with open_senders(settings) as senders:
            if not senders:
                print(
                    "Tidak ada kanal yang dikonfigurasi (TELEGRAM_BOT_TOKEN atau WHATSAPP_*); tidak ada yang dikirim."
                )
                return 1
            dispatcher = build_dispatcher(settings, database, senders, deps=build_deps(settings, db=database))
            prepare(dispatcher, database)
            if once:
                stats = await dispatcher.drain(max_rounds=1_000_000, pipelined=True)
                print(_summary(stats))
                return 0
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            log.info("dispatching on %s", ", ".join(c.value for c in senders))
            try:
                await dispatcher.run_forever(stop)
            finally:
                if dispatcher.locks is not None:
                    dispatcher.locks.release()
            return 0
    finally:
        if db is None:
            database.dispose()


def _summary(stats: DispatchStats) -> str:
    return f"Terkirim {stats.sent}, dijadwalkan ulang {stats.retried}, gagal {stats.failed}, mati {stats.dead}."
