"""Telegram in `sigap run`: the python-telegram-bot Application, long polling or webhook, sender and limiter.

Long polling is the default. With TELEGRAM_WEBHOOK_URL set, the Application runs without an updater under
our own ASGI app: `POST /telegram` checks X-Telegram-Bot-Api-Secret-Token in constant time, writes the update
to the inbox (jobs/inbox.py; a 500 when the database refuses, so Telegram retries) and queues it;
python-telegram-bot processes the queue in order and the adapter marks the inbox row done. `start()` queues
again whatever a crash left in the inbox. (Long polling needs no inbox: python-telegram-bot acknowledges offsets.)
Either way each update_id is handled once (the core records it in the database), so a redelivered update is
not answered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, TypeHandler

from bot.channels import ChannelRuntime
from bot.http import MAX_BODY_BYTES, BodyTooLarge, read_body, too_large
from bot.limits import limiter_for
from bot.replies import GroupCommit, Statement
from bot.settings import Settings
from bot.telegram.adapter import TelegramAdapter, TelegramFiles
from bot.telegram.aio_request import AiohttpRequest
from bot.telegram.logging import install_redaction, uninstall_redaction
from bot.telegram.menu import CommandMenus
from bot.telegram.progress import BroadcastProgress
from bot.telegram.sender import TelegramSender
from handlers import inbox
from models.app import Deps, UserError
from models.messages import Channel

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram"
ALLOWED_UPDATES = ("message", "callback_query")
MAX_UPDATE_BYTES = MAX_BODY_BYTES
_SECRET_FORM = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


class TelegramConfigError(UserError):
    """The Telegram settings cannot work; the message says which variable to fix (shown by the CLI)."""


CONCURRENT_UPDATES = 256
"""Updates handled at once (of different chats; one chat's updates are handled in order)."""
def file_base_url(base_url: str) -> str:
    """The file download address that goes with a Bot API address (`.../bot` -> `.../file/bot`)."""
    base = base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file"


def webhook_route(
    application: TelegramApp, secret: str, deps: Deps | None = None, writes: GroupCommit | None = None
) -> Route:
    """`POST /telegram`: 403 unless the secret header matches; otherwise store (with `deps`; with other updates
    arriving at the same time in one transaction through `writes`) and queue the update and answer 200 at once; a
    redelivered update (already stored) is not queued twice."""
    expected = secret.encode()
    if deps is not None and writes is None:
        writes = GroupCommit(deps.db)
    store_statement = inbox.store_statement(deps.db.engine.dialect.name) if deps is not None else None

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(status_code=403)
        try:
            body = await read_body(request, MAX_UPDATE_BYTES)
        except BodyTooLarge:
            log.warning("telegram webhook: update over %d bytes refused", MAX_UPDATE_BYTES)
            return too_large()
        try:
            update = Update.de_json(_json_object(body), application.bot)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            log.warning("telegram webhook: unreadable update refused")
            return Response(status_code=400)
        if deps is not None and writes is not None:
            key = f"{application.bot.id}:{update.update_id}"
            payload = body.decode("utf-8", "replace")
            try:
                values = inbox.store_values(Channel.TELEGRAM.value, key, payload, deps.clock.now())
                fresh = await writes.insert(Statement(store_statement, values, inbox.STORED))
            except Exception as exc:  # SQLAlchemy's text would quote the update: the type only
                log.error("telegram webhook: update not stored (%s), answering 500", type(exc).__name__)
                return Response(status_code=500)
            if not fresh:
                return Response(status_code=200)  # a redelivery: queued (or handled) already
        await application.update_queue.put(update)
        return Response(status_code=200)

    return Route(WEBHOOK_PATH, receive, methods=["POST"])


async def recover(application: TelegramApp, deps: Deps) -> int:
    """Queue again, oldest first, the updates a crash left unhandled in the inbox; how many were queued."""

    def pending() -> list[tuple[int, str]]:
        with deps.db.uow() as uow:
            rows = inbox.pending(uow.session, Channel.TELEGRAM.value)
            return [(row.id, row.payload) for row in rows if row.id is not None]

    def unreadable(message_id: int) -> None:
        with deps.db.uow() as uow:
            inbox.mark_failed(uow.session, message_id, "unreadable update", deps.clock.now())
            uow.commit()

    queued = 0
    for message_id, payload in await asyncio.to_thread(pending):
        try:
            update = Update.de_json(_json_object(payload.encode()), application.bot)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            await asyncio.to_thread(unreadable, message_id)
            continue
        await application.update_queue.put(update)
        queued += 1
    if queued:
        log.info("telegram: %d updates left over from before the restart queued again", queued)
    return queued


def _json_object(body: bytes) -> dict[str, Any]:
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("update is not a JSON object")
    return data


def _settings_check(settings: Settings) -> tuple[str, str, str]:
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if not token:
        raise TelegramConfigError("TELEGRAM_BOT_TOKEN belum diisi; Telegram tidak dapat dijalankan.")
    url = settings.telegram_webhook_url.strip()
    secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else ""
    if url:
        if not url.startswith("https://"):
            raise TelegramConfigError(
                "TELEGRAM_WEBHOOK_URL harus alamat https://, misalnya https://sigap.example.go.id/telegram"
            )
        if not _SECRET_FORM.match(secret):
            raise TelegramConfigError(
                "Mode webhook butuh TELEGRAM_WEBHOOK_SECRET: 1-256 karakter A-Z, a-z, 0-9, _ atau -. "
                "Tanpa rahasia, siapa pun dapat mengirim pesan palsu ke bot; mode webhook tidak dijalankan."
            )
    return token, url, secret


def _start_problem(exc: BaseException, base_url: str) -> TelegramConfigError | None:
    """The settings error for a failed getMe (never quoting the token, which PTB puts in InvalidToken's text)."""
    if isinstance(exc, InvalidToken):
        return TelegramConfigError(
            "TELEGRAM_BOT_TOKEN ditolak Telegram (salah, atau sudah dicabut lewat @BotFather). "
            "Periksa tokennya lalu jalankan lagi."
        )
    if isinstance(exc, NetworkError):
        reason = type(exc).__name__ if "token" in str(exc).lower() else str(exc)
        return TelegramConfigError(
            f"Telegram tidak dapat dihubungi di TELEGRAM_API_BASE_URL ({base_url}): {reason}. "
            "Periksa jaringan server dan alamat itu, lalu jalankan lagi."
        )
    return None


async def telegram_runtime(settings: Settings, deps: Deps) -> ChannelRuntime:
    """Build and initialise the Telegram channel (getMe sets `deps.telegram_username` for deep links)."""
    token, webhook_url, secret = _settings_check(settings)
    redactor = install_redaction(token)
    builder = (
        Application.builder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(file_base_url(settings.telegram_api_base_url))
        .concurrent_updates(CONCURRENT_UPDATES)  # chats in parallel; the adapter keeps each chat in order
        .request(AiohttpRequest())
    )
    application: TelegramApp = builder.updater(None).build() if webhook_url else builder.build()
    try:
        await application.initialize()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await application.bot.shutdown()  # getMe failed after the HTTP pools were opened
        uninstall_redaction(redactor)
        problem = _start_problem(exc, settings.telegram_api_base_url)
        if problem is None:
            raise
        raise problem from None
    deps.telegram_username = application.bot.username
    deps.files[Channel.TELEGRAM] = TelegramFiles(application.bot)
    limiter = limiter_for(Channel.TELEGRAM, settings, deps.clock)  # TELEGRAM_RATE_* (bot/limits.py)
    sender = TelegramSender(application.bot)
    menus = CommandMenus(application.bot, deps, limiter)
    writes = GroupCommit(deps.db)
    adapter = TelegramAdapter(deps, sender, limiter, menus, inbox=bool(webhook_url), writes=writes)
    application.add_handler(TypeHandler(Update, adapter.on_update))
    application.add_error_handler(adapter.on_error)
    tasks: list[asyncio.Task[Any]] = []

    async def start() -> None:
        await application.start()
        if webhook_url:
            await recover(application, deps)
            await application.bot.set_webhook(webhook_url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
            log.info("telegram: webhook mode, updates arrive at POST %s", WEBHOOK_PATH)
        else:
            assert application.updater is not None
            await application.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
            log.info("telegram: long polling as @%s", application.bot.username)
        tasks.append(asyncio.create_task(keep_menus(menus), name="telegram-command-menus"))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await adapter.drain()  # the chats' workers answer what was queued before the stop
        await application.shutdown()
        uninstall_redaction(redactor)

    return ChannelRuntime(
        channel=Channel.TELEGRAM,
        sender=sender,
        limiter=limiter,
        routes=[webhook_route(application, secret, deps, writes)] if webhook_url else [],
        observers=[BroadcastProgress(deps, application.bot, limiter)],
        start=start,
        stop=stop,
    )


MENU_RESYNC_SECONDS = 300.0
"""How often the running bot compares the menus with the roster again: a role changed by a roster import (in the chat
or by `sigap roster import` in another process), a contact deactivated or moved, gets its menu within minutes."""


async def keep_menus(menus: CommandMenus, pause: Callable[[], Awaitable[object]] | None = None) -> None:
    """The default menu and every registered contact's menu whose fingerprint changed, in the background (a slow
    trickle outside the send limiter), at start-up and then after each `pause` (`MENU_RESYNC_SECONDS`) until
    cancelled; a comparison that finds nothing changed sends nothing."""
    while True:
        try:
            await menus.sync_all()
        except TelegramError as exc:
            log.warning("telegram command menus not set: %s", exc)
        except Exception:
            log.exception("telegram command menus failed")
        await (pause() if pause is not None else asyncio.sleep(MENU_RESYNC_SECONDS))
