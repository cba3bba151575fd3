"""WhatsApp in `sigap run`: the webhook routes, inbound processing, delivery statuses and the outbox sender.

`GET /whatsapp` answers Meta's subscription handshake; `POST /whatsapp` checks the signature over the raw body,
writes the body to the inbox (jobs/inbox.py; a 500 when the database refuses, so Meta retries), answers 200 and
processes the batch in a background task (awaited by `stop()`). `start()` handles again whatever a crash left
in the inbox. Every inbound message goes
through the core once (its wamid is the dedupe key); the replies go straight back (the person just wrote, so the
24-hour window is open). Delivery statuses update the outbox rows they belong to.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Collection, Coroutine
from datetime import datetime
from typing import Any

import httpx
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels import ChannelRuntime
from bot.http import MAX_BODY_BYTES, BodyTooLarge, read_body, too_large
from bot.limits import limiter_for, rules_for
from bot.replies import settle_reply
from bot.settings import Settings
from bot.whatsapp.client import CODE_PAIR_RATE, CODE_REENGAGEMENT, CODE_THROUGHPUT, CODE_UNDELIVERABLE, WhatsAppClient
from bot.whatsapp.sender import WhatsAppSender
from bot.whatsapp.webhook import (
    SIGNATURE_HEADER,
    InboundMessage,
    StatusEvent,
    WebhookBatch,
    parse_webhook,
    verify_signature,
    verify_subscription,
)
from handlers import inbox
from handlers.core import handle
from jobs.alerts import AuthAlert, auth_alert
from jobs.ratelimit import RateLimiter, RateRules
from models.app import Deps, call_on
from models.files import FileTooLarge, FileUnavailable
from models.messages import CHAT_CHANNELS, Channel, Incoming, Reply
from models.outbound import AuthFailed, RateLimited, SendError, direct_reply
from models.outbox import choose_channel, record_status
from models.phone import mask_phone
from models.tables import Contact, Outbox, OutboxStatus

log = logging.getLogger(__name__)

PATH = "/whatsapp"
CHANNEL = Channel.WHATSAPP.value
QUICK_REPLIES = {
    "lapor sekarang": "/lapor",
    "lihat status": "/status",
    "bantuan": "/bantuan",
}
"""Quick-reply buttons of the templates (docs/whatsapp-templates.md) and the command each one stands for."""
_RETRY_LATER = frozenset({CODE_THROUGHPUT, CODE_PAIR_RATE})
STOP_GRACE = 3.0
"""Seconds `stop()` lets webhook batches in progress finish (`sigap run` stops within 10 s of SIGTERM)."""


def rate_rules(settings: Settings) -> RateRules:
    """WhatsApp's limits from the settings (WHATSAPP_RATE_GLOBAL, WHATSAPP_PAIR_INTERVAL), as in bot/limits.py."""
    return rules_for(Channel.WHATSAPP, settings)


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if callable(getter) else ""


class WhatsAppFiles:
    """`FileSource` for WhatsApp: a media id (a document a person sent) through the Graph API's media download.

    The client's connections belong to the loop the channel was built on; a handler on a handling thread has the
    download done there.
    """

    def __init__(self, client: WhatsAppClient, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.client = client
        self.loop = loop or _running_loop()

    async def fetch(self, ref: str, *, max_bytes: int) -> tuple[bytes, str]:
        """The media's bytes and MIME type; `FileUnavailable` when Graph refuses or the id expired."""
        if self.loop is None:
            return await self._fetch(ref, max_bytes)
        return await call_on(self.loop, self._fetch(ref, max_bytes))

    async def _fetch(self, ref: str, max_bytes: int) -> tuple[bytes, str]:
        try:
            content, mime = await self.client.download_media(ref, max_bytes)
        except SendError as exc:
            log.warning("WhatsApp media not fetched: %s", type(exc).__name__)
            raise FileUnavailable(type(exc).__name__) from None
        if len(content) > max_bytes:
            raise FileTooLarge(max_bytes, len(content))
        return content, mime


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class WhatsAppChannel:
    """The webhook endpoint and the sender of one WhatsApp business number."""

    def __init__(
        self,
        deps: Deps,
        client: WhatsAppClient,
        *,
        app_secret: str,
        verify_token: str,
        limiter: RateLimiter,
        on_auth_failed: AuthAlert | None = None,
    ) -> None:
        self.deps = deps
        self.client = client
        self.sender = WhatsAppSender(client)
        self.limiter = limiter
        self.on_auth_failed = on_auth_failed
        self._app_secret = app_secret
        self._verify_token = verify_token
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()
        self._senders: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        """One person's messages are answered in order; different people's at the same time."""

    # -------------------------------------------------------------------------------------- wiring

    def routes(self) -> list[BaseRoute]:
        """`GET` and `POST /whatsapp`."""
        return [Route(PATH, self.endpoint, methods=["GET", "POST"])]

    def runtime(self) -> ChannelRuntime:
        """This channel as `sigap run` starts it."""
        return ChannelRuntime(
            channel=Channel.WHATSAPP,
            sender=self.sender,
            limiter=self.limiter,
            routes=self.routes(),
            start=self.start,
            stop=self.stop,
        )

    async def idle(self) -> None:
        """Wait until every webhook batch received so far has been processed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def start(self) -> None:
        """Handle again, oldest first and in the background, the batches a crash left unhandled in the inbox."""
        self._spawn(self.recover())

    async def recover(self) -> None:
        """Process every pending inbox row of this channel, oldest first."""
        try:
            rows = await asyncio.to_thread(self._pending)
        except Exception as exc:
            log.error("WhatsApp inbox not read: %s", type(exc).__name__)
            return
        if rows:
            log.info("WhatsApp: handling %d webhook batches left over from before the restart", len(rows))
        for message_id, payload in rows:
            try:
                batch = parse_webhook(json.loads(payload))  # stored bodies were parsed once already
            except Exception as exc:
                await self._settle(message_id, [f"unreadable: {type(exc).__name__}"])
                continue
            await self.process_stored(message_id, batch)

    def _pending(self) -> list[tuple[int, str]]:
        with self.deps.db.uow() as uow:
            return [(row.id, row.payload) for row in inbox.pending(uow.session, CHANNEL) if row.id is not None]

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the batches in progress (at most `grace` seconds: a batch cut short stays in the inbox and is
        handled at the next start), then close the HTTP client."""
        try:
            await asyncio.wait_for(self.idle(), timeout=grace)
        except TimeoutError:
            left = list(self._tasks)
            log.warning("WhatsApp: %d webhook batches left for the next start", len(left))
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
        await self.client.aclose()

    # ------------------------------------------------------------------------------------ endpoints

    async def endpoint(self, request: Request) -> Response:
        """Meta's handshake (GET) or a webhook delivery (POST)."""
        if request.method == "GET":
            return self.verify(request)
        return await self.receive(request)

    def verify(self, request: Request) -> Response:
        """Echo `hub.challenge` when the verify token matches (constant-time), else 403."""
        challenge = verify_subscription(dict(request.query_params), self._verify_token)
        if challenge is None:
            log.warning("WhatsApp webhook verification refused")
            return PlainTextResponse("Forbidden", status_code=403)
        return PlainTextResponse(challenge)

    async def receive(self, request: Request) -> Response:
        """Check the signature over the raw body; 200 at once, processing happens after."""
        try:
            raw = await read_body(request)
        except BodyTooLarge:
            log.warning("WhatsApp webhook over %d bytes refused", MAX_BODY_BYTES)
            return too_large()
        verdict = verify_signature(self._app_secret, raw, request.headers.get(SIGNATURE_HEADER))
        if verdict == "missing":
            log.warning("WhatsApp webhook without %s refused", SIGNATURE_HEADER)
            return PlainTextResponse("Missing signature", status_code=401)
        if verdict != "ok":
            log.warning("WhatsApp webhook with a wrong signature refused")
            return PlainTextResponse("Bad signature", status_code=403)
        try:
            payload = json.loads(raw)
            batch = parse_webhook(payload)
        except (ValueError, RecursionError):
            return PlainTextResponse("Bad JSON", status_code=400)
        if batch.messages or batch.statuses:
            try:
                message_id = await asyncio.to_thread(self._store, raw)
            except Exception as exc:  # the parameters in SQLAlchemy's text would quote the body: type only
                log.error("WhatsApp webhook not stored (%s): answering 500 so Meta retries", type(exc).__name__)
                return PlainTextResponse("Not stored", status_code=500)
            if message_id is not None:  # None: a redelivery of a body already stored
                self._spawn(self.process_stored(message_id, batch))
        return PlainTextResponse("OK")

    def _store(self, raw: bytes) -> int | None:
        """Write the body to the inbox and commit; its row id, or None when it was already there."""
        with self.deps.db.uow() as uow:
            key = hashlib.sha256(raw).hexdigest()
            if not inbox.store(uow.session, CHANNEL, key, raw.decode("utf-8", "replace"), self.deps.clock.now()):
                return None
            uow.commit()
            row = inbox.find(uow.session, CHANNEL, key)
            return row.id if row is not None else None

    # ----------------------------------------------------------------------------------- processing

    async def process_stored(self, message_id: int, batch: WebhookBatch) -> None:
        """Process one inbox row's batch, then mark the row done, or failed (handled again at the next start)."""
        try:
            errors = await self.process(batch)
        except Exception as exc:
            errors = [f"{type(exc).__name__}: {exc}"]
        await self._settle(message_id, errors)

    async def _settle(self, message_id: int, errors: list[str]) -> None:
        def write() -> None:
            with self.deps.db.uow() as uow:
                now = self.deps.clock.now()
                if errors:
                    inbox.mark_failed(uow.session, message_id, "; ".join(errors), now)
                else:
                    inbox.mark_done(uow.session, message_id, now)
                uow.commit()

        try:
            await asyncio.to_thread(write)
        except Exception as exc:  # the row stays pending: handled again (once, thanks to the dedupe) at restart
            log.error("WhatsApp inbox row %s not updated: %s", message_id, type(exc).__name__)

    async def process(self, batch: WebhookBatch) -> list[str]:
        """Apply the statuses, then answer each message in order; one failure never stops the rest.

        Returns what failed (empty when everything went through).
        """
        errors: list[str] = []
        statuses = [s for s in batch.statuses if self._ours(s.phone_number_id)]
        if statuses:
            try:
                await asyncio.to_thread(self.apply_statuses, statuses)
            except Exception as exc:
                log.exception("could not apply %d WhatsApp statuses", len(statuses))
                errors.append(f"statuses: {type(exc).__name__}: {exc}")
        for message in batch.messages:
            if not self._ours(message.phone_number_id):
                continue  # another number of the same business account
            try:
                await self.answer(message)
            except Exception as exc:
                log.exception("WhatsApp message from %s failed", mask_phone(message.from_))
                errors.append(f"{message.wamid}: {type(exc).__name__}: {exc}")
        return errors

    def _ours(self, phone_number_id: str | None) -> bool:
        """Whether an event concerns this channel's business number (events without metadata are kept)."""
        return not phone_number_id or phone_number_id == self.client.phone_number_id

    async def answer(self, message: InboundMessage) -> None:
        """Mark the message read, run it through the core once, send the replies (in order per sender)."""
        if message.wamid in self._inflight:
            return
        self._inflight.add(message.wamid)
        lock, users = self._senders.setdefault(message.from_, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                replies = await handle(self.deps, self.translate(message), dedupe_key=message.wamid)
                if not replies:
                    return
                await self._mark_read(message.wamid)
                for index, reply in enumerate(replies):
                    if not await self.reply(message.from_, reply):
                        for left in replies[index + 1 :]:
                            await settle_reply(self.deps, left, error="balasan sebelumnya gagal")
                        return
        finally:
            self._inflight.discard(message.wamid)
            users[0] -= 1
            if users[0] == 0:
                self._senders.pop(message.from_, None)

    @staticmethod
    def translate(message: InboundMessage) -> Incoming:
        """The core's message; a template's quick-reply button becomes the command it stands for."""
        incoming = message.incoming
        if message.type == "button":
            command = QUICK_REPLIES.get((incoming.payload or incoming.text).strip().lower())
            if command is not None:
                return dataclasses.replace(incoming, payload=command)
        return incoming

    async def reply(self, to: str, reply: Reply) -> bool:
        """Send one direct reply (inside the window: text, buttons, list or document); retry once when throttled.

        A durable reply's row is marked sent, or handed to the dispatcher when sending fails; False then.
        """
        outbound = direct_reply(Channel.WHATSAPP, to, reply)
        for attempt in (1, 2):
            try:
                sent = await self.sender.send(outbound)
                await settle_reply(self.deps, reply, provider_id=sent.provider_id)
                return True
            except RateLimited as exc:
                self.limiter.penalize(exc.retry_after, to if exc.scope == "recipient" else None)
                if attempt == 2:
                    log.warning("reply to %s left to the outbox: still rate limited", mask_phone(to))
                    await settle_reply(self.deps, reply, error=str(exc))
                    return False
                await self.deps.clock.sleep(exc.retry_after)
            except AuthFailed as exc:
                await settle_reply(self.deps, reply, error=str(exc))
                if self.on_auth_failed is not None:
                    await self.on_auth_failed(Channel.WHATSAPP, str(exc))
                return False
            except SendError as exc:
                log.warning("reply to %s failed, left to the outbox: %s", mask_phone(to), exc)
                await settle_reply(self.deps, reply, error=str(exc))
                return False
        return False

    async def _mark_read(self, wamid: str) -> None:
        try:
            await self.client.mark_read(wamid)
        except SendError as exc:
            log.info("could not mark a WhatsApp message read: %s", exc)

    # ------------------------------------------------------------------------------------- statuses

    def apply_statuses(self, events: list[StatusEvent]) -> None:
        """Write delivery events to their outbox rows in one unit of work."""
        with self.deps.db.uow() as uow:
            for event in events:
                apply_status(uow.session, event, self.deps.clock.now(), on=self.deps.sends_on)
            uow.commit()


def apply_status(
    session: Session, event: StatusEvent, now: datetime, *, on: Collection[Channel] = CHAT_CHANNELS
) -> Outbox | None:
    """Apply one status by the message's wamid, else by the outbox id carried in the opaque data.

    An asynchronous failure is acted on like a synchronous one: 131047 resends the row as its template,
    131026 marks the person unreachable on WhatsApp and moves the row to their other channel when it is one of `on`
    (the channels this deployment sends on; otherwise the row stays failed), 130429/131056 retry later.
    """
    error = " ".join(x for x in (str(event.error_code or ""), event.error_title or "", event.error_detail or "") if x)
    row = record_status(session, event.wamid, event.status, event.timestamp, error)
    if row is None:
        if event.outbox_id is None or event.status == "failed":
            return None  # a failure must name the exact message: the row may have been re-sent since
        candidate = session.get(Outbox, event.outbox_id)
        if candidate is None or candidate.channel != Channel.WHATSAPP.value or not candidate.provider_id:
            return None
        person = session.get(Contact, candidate.contact_id)
        if person is None or not person.wa_number or _digits(person.wa_number) != _digits(event.recipient):
            return None  # the opaque id names a row of someone else: not this report's message
        row = record_status(session, candidate.provider_id, event.status, event.timestamp, error)
    if row is not None and event.status == "failed":
        _after_failure(session, row, event.error_code, now, on)
    return row


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _after_failure(session: Session, row: Outbox, code: int | None, now: datetime, on: Collection[Channel]) -> None:
    if code == CODE_REENGAGEMENT and row.template_name and not row.use_template:
        _requeue(row, now, use_template=True)
    elif code in _RETRY_LATER:
        _requeue(row, now)
    elif code == CODE_UNDELIVERABLE:
        contact = session.get(Contact, row.contact_id)
        if contact is None:
            return
        contact.unreachable_whatsapp = True
        session.add(contact)
        fallback = choose_channel(contact, excluding=Channel.WHATSAPP, on=on)
        if fallback is not None:
            row.channel = fallback.value
            _requeue(row, now)
    session.add(row)


def _requeue(row: Outbox, now: datetime, *, use_template: bool | None = None) -> None:
    row.status = OutboxStatus.PENDING.value
    row.next_attempt_at = now
    row.claimed_until = None
    row.provider_id = None
    if use_template is not None:
        row.use_template = use_template


def build_whatsapp(
    settings: Settings, deps: Deps, *, transport: httpx.AsyncBaseTransport | None = None
) -> WhatsAppChannel:
    """The WhatsApp channel from the settings (client, sender, limiter, webhook secrets)."""
    token = _secret(settings.whatsapp_access_token)
    app_secret = _secret(settings.whatsapp_app_secret)
    verify_token = _secret(settings.whatsapp_verify_token)
    if not app_secret:
        log.error("WHATSAPP_APP_SECRET is not set: every WhatsApp webhook will be refused")
    if not verify_token:
        log.warning("WHATSAPP_VERIFY_TOKEN is not set: Meta cannot verify the webhook URL")
    client = WhatsAppClient(
        token,
        settings.whatsapp_phone_number_id,
        base_url=settings.whatsapp_api_base_url,
        api_version=settings.whatsapp_api_version,
        transport=transport,
        recipient_retry_after=max(settings.whatsapp_pair_interval, 1.0),
    )
    deps.files[Channel.WHATSAPP] = WhatsAppFiles(client)
    return WhatsAppChannel(
        deps,
        client,
        app_secret=app_secret,
        verify_token=verify_token,
        limiter=limiter_for(Channel.WHATSAPP, settings, deps.clock),
        on_auth_failed=auth_alert(deps),
    )


async def whatsapp_runtime(settings: Settings, deps: Deps) -> ChannelRuntime:
    """The WhatsApp channel for `sigap run`."""
    return build_whatsapp(settings, deps).runtime()
