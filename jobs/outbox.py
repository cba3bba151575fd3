"""The outbox: every message the bot sends on its own is written here first, then dispatched.

Writing is idempotent (a unique key per message); dispatching claims rows atomically
(`FOR UPDATE SKIP LOCKED` on PostgreSQL), respects each platform's limits before hitting
them, retries what is worth retrying, and records the provider's message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from jobs.ratelimit import RateLimiter, backoff_delay
from models.clock import Clock
from models.db import Database
from models.messages import Attachment, Button, Channel
from models.outbound import (
    AuthFailed,
    Outbound,
    Permanent,
    RateLimited,
    Sender,
    SendError,
    Template,
    Unreachable,
    WindowClosed,
)
from models.tables import Contact, Outbox, OutboxStatus, StoredFile

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
OPEN_STATUSES = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


@dataclass(frozen=True)
class OutMessage:
    """What to send to one person; `template` is what WhatsApp gets outside the 24-hour window."""

    text: str
    kind: str = "reminder"
    buttons: tuple[Button, ...] = ()
    template: Template | None = None
    attachment_id: int | None = None


def choose_channel(contact: Contact) -> Channel | None:
    """The contact's preferred reachable channel, else the other reachable one, else None."""
    reachable = []
    if contact.telegram_user_id and not contact.unreachable_telegram:
        reachable.append(Channel.TELEGRAM)
    if contact.wa_number and not contact.unreachable_whatsapp:
        reachable.append(Channel.WHATSAPP)
    if not reachable:
        return None
    preferred = contact.preferred_channel
    for channel in reachable:
        if channel.value == preferred:
            return channel
    return reachable[0]


def outbox_row(
    key: str,
    contact: Contact,
    message: OutMessage,
    now: datetime,
    *,
    channel: Channel,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
) -> dict[str, Any]:
    """The column values of one outbox row (for bulk inserts)."""
    return {
        "idem_key": key[:200],
        "contact_id": contact.id,
        "channel": channel.value,
        "kind": message.kind,
        "text": message.text,
        "buttons": json.dumps([[b.label, b.payload] for b in message.buttons], ensure_ascii=False),
        "template_name": message.template.name if message.template else None,
        "template_params": json.dumps(list(message.template.params) if message.template else [], ensure_ascii=False),
        "attachment_id": message.attachment_id,
        "use_template": False,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "broadcast_id": broadcast_id,
        "created_at": now,
        "last_error": "",
    }


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows; a row whose key is already there is skipped, never doubled."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    table = Outbox.__table__  # type: ignore[attr-defined]
    for start in range(0, len(rows), 500):
        stmt = maker(table).values(list(rows[start : start + 500])).on_conflict_do_nothing(index_elements=["idem_key"])
        session.execute(stmt)


def enqueue(
    session: Session,
    key: str,
    contact: Contact,
    message: OutMessage,
    now: datetime,
    *,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
) -> Outbox | None:
    """Queue one message for `contact` on their channel; None when they have no reachable channel."""
    channel = choose_channel(contact)
    if channel is None:
        return None
    row = outbox_row(key, contact, message, now, channel=channel, not_before=not_before, broadcast_id=broadcast_id)
    insert_rows(session, [row])
    return session.exec(select(Outbox).where(Outbox.idem_key == row["idem_key"])).one()


def status_counts(session: Session) -> dict[str, int]:
    """How many rows are in each status."""
    rows = session.exec(select(Outbox.status, func.count()).group_by(col(Outbox.status))).all()
    return {status: int(count) for status, count in rows}


def latest_dead(session: Session, limit: int = 10) -> list[Outbox]:
    """The most recent rows that gave up, with their reasons."""
    stmt = select(Outbox).where(Outbox.status == OutboxStatus.DEAD.value).order_by(col(Outbox.id).desc()).limit(limit)
    return list(session.exec(stmt).all())


Observer = Callable[[Outbox], Awaitable[None]]


@dataclass
class DispatchStats:
    """What one dispatch round did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0


@dataclass
class Dispatcher:
    """Claims due outbox rows and sends each through the sender of its channel."""

    db: Database
    senders: dict[Channel, Sender]
    clock: Clock
    limiters: dict[Channel, RateLimiter] = field(default_factory=dict)
    max_attempts: int = 8
    batch: int = 100
    concurrency: int = 64
    lease: timedelta = timedelta(minutes=2)
    observers: list[Observer] = field(default_factory=list)
    on_auth_failed: Callable[[Channel, str], Awaitable[None]] | None = None
    rng: random.Random = field(default_factory=random.Random)
    paused: set[Channel] = field(default_factory=set)

    def recover(self) -> int:
        """Release rows a crashed process left in 'sending' (single-instance start-up); returns how many."""
        with self.db.uow() as uow:
            result = uow.session.execute(
                update(Outbox)
                .where(col(Outbox.status) == OutboxStatus.SENDING.value)
                .values(status=OutboxStatus.PENDING.value, claimed_until=None)
            )
            uow.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    def claim(self) -> list[int]:
        """Atomically take up to `batch` due rows for the channels this process can send on."""
        channels = [c.value for c in self.senders if c not in self.paused]
        if not channels:
            return []
        now = self.clock.now()
        with self.db.uow() as uow:
            stmt = (
                select(Outbox.id)
                .where(col(Outbox.channel).in_(channels))
                .where(
                    or_(
                        (col(Outbox.status) == OutboxStatus.PENDING.value) & (col(Outbox.next_attempt_at) <= now),
                        (col(Outbox.status) == OutboxStatus.SENDING.value) & (col(Outbox.claimed_until) < now),
                    )
                )
                .order_by(col(Outbox.next_attempt_at), col(Outbox.id))
                .limit(self.batch)
            )
            if self.db.is_postgres:
                stmt = stmt.with_for_update(skip_locked=True)
            ids = [i for i in uow.session.exec(stmt).all() if i is not None]
            if ids:
                uow.session.execute(
                    update(Outbox)
                    .where(col(Outbox.id).in_(ids))
                    .values(status=OutboxStatus.SENDING.value, claimed_until=now + self.lease)
                )
            uow.commit()
        return ids

    async def run_once(self) -> DispatchStats:
        """Claim one batch and send it; returns what happened."""
        stats = DispatchStats()
        ids = self.claim()
        if not ids:
            return stats
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row_id: int) -> None:
            async with gate:
                await self._deliver(row_id, stats)

        await asyncio.gather(*(one(i) for i in ids))
        return stats

    async def drain(self, *, max_rounds: int = 1000) -> DispatchStats:
        """Send until nothing is due now (tests, CLI)."""
        total = DispatchStats()
        for _ in range(max_rounds):
            stats = await self.run_once()
            if not (stats.sent or stats.retried or stats.failed or stats.dead):
                break
            total.sent += stats.sent
            total.retried += stats.retried
            total.failed += stats.failed
            total.dead += stats.dead
        return total

    async def run_forever(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Dispatch until `stop` is set, resting `idle` seconds when nothing is due."""
        while not stop.is_set():
            try:
                stats = await self.run_once()
            except Exception:
                log.exception("dispatch round failed")
                stats = DispatchStats()
            if not (stats.sent or stats.retried or stats.failed or stats.dead):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)

    def _load(self, row_id: int) -> tuple[Outbox, Contact, Outbound] | None:
        with self.db.uow() as uow:
            row = uow.session.get(Outbox, row_id)
            if row is None:
                return None
            contact = uow.session.get(Contact, row.contact_id)
            if contact is None:
                return None
            attachment = None
            if row.attachment_id is not None:
                stored = uow.session.get(StoredFile, row.attachment_id)
                if stored is not None:
                    kind: Literal["document", "photo"] = "photo" if stored.mime.startswith("image/") else "document"
                    attachment = Attachment(stored.filename, stored.content, kind, stored.mime)
        channel = Channel(row.channel)
        address = contact.telegram_user_id if channel is Channel.TELEGRAM else contact.wa_number
        template = None
        if channel is Channel.WHATSAPP and row.template_name:
            window_open = (
                contact.wa_last_inbound_at is not None and self.clock.now() - contact.wa_last_inbound_at < WINDOW
            )
            if row.use_template or not window_open:
                template = Template(row.template_name, tuple(json.loads(row.template_params or "[]")))
        buttons = tuple(Button(label, payload) for label, payload in json.loads(row.buttons or "[]"))
        outbound = Outbound(
            outbox_id=row_id,
            channel=channel,
            address=address or "",
            text=row.text,
            buttons=buttons,
            attachment=attachment,
            template=template,
        )
        return row, contact, outbound

    async def _deliver(self, row_id: int, stats: DispatchStats) -> None:
        loaded = self._load(row_id)
        if loaded is None:
            return
        row, contact, outbound = loaded
        channel = outbound.channel
        if not outbound.address:
            self._finish(row_id, OutboxStatus.FAILED, error="kontak tidak punya alamat di kanal ini")
            stats.failed += 1
            return
        limiter = self.limiters.get(channel)
        if limiter is not None:
            await limiter.acquire(outbound.address)
        try:
            sent = await self.senders[channel].send(outbound)
        except RateLimited as exc:
            if limiter is not None:
                limiter.penalize(exc.retry_after, outbound.address if exc.scope == "recipient" else None)
            self._retry(row_id, delay=exc.retry_after, error=str(exc), count_attempt=False)
            stats.retried += 1
        except WindowClosed as exc:
            if row.template_name and not row.use_template:
                self._retry(row_id, delay=0, error=str(exc), count_attempt=False, use_template=True)
                stats.retried += 1
            else:
                self._finish(row_id, OutboxStatus.DEAD, error=f"di luar jendela 24 jam dan tanpa templat: {exc}")
                stats.dead += 1
        except Unreachable as exc:
            self._unreachable(row_id, contact, channel, str(exc), stats)
        except AuthFailed as exc:
            self.paused.add(channel)
            self._retry(row_id, delay=0, error=str(exc), count_attempt=False)
            log.error("%s credentials rejected; sending on this channel is stopped: %s", channel.value, exc)
            if self.on_auth_failed is not None:
                await self.on_auth_failed(channel, str(exc))
            stats.retried += 1
        except Permanent as exc:
            self._finish(row_id, OutboxStatus.DEAD, error=str(exc))
            stats.dead += 1
        except (SendError, TimeoutError, OSError) as exc:
            self._transient(row_id, row.attempts, str(exc) or type(exc).__name__, stats)
        except Exception as exc:
            log.exception("sender failed on outbox row %s", row_id)
            self._transient(row_id, row.attempts, f"{type(exc).__name__}: {exc}", stats)
        else:
            self._finish(row_id, OutboxStatus.SENT, provider_id=sent.provider_id)
            stats.sent += 1
        await self._notify(row_id)

    def _transient(self, row_id: int, attempts: int, error: str, stats: DispatchStats) -> None:
        if attempts + 1 >= self.max_attempts:
            self._finish(row_id, OutboxStatus.DEAD, error=f"gagal {attempts + 1} kali: {error}", attempts=attempts + 1)
            stats.dead += 1
        else:
            self._retry(row_id, delay=backoff_delay(attempts + 1, rng=self.rng), error=error, count_attempt=True)
            stats.retried += 1

    def _unreachable(self, row_id: int, contact: Contact, channel: Channel, error: str, stats: DispatchStats) -> None:
        """Mark the contact unreachable on `channel`; move the row to the other channel if they have one."""
        with self.db.uow() as uow:
            fresh = uow.session.get(Contact, contact.id)
            row = uow.session.get(Outbox, row_id)
            if fresh is None or row is None:
                return
            if channel is Channel.TELEGRAM:
                fresh.unreachable_telegram = True
            else:
                fresh.unreachable_whatsapp = True
            uow.session.add(fresh)
            fallback = choose_channel(fresh)
            if fallback is not None and fallback is not channel:
                row.channel = fallback.value
                row.status = OutboxStatus.PENDING.value
                row.next_attempt_at = self.clock.now()
                row.claimed_until = None
                row.last_error = f"{channel.value}: {error}"[:500]
                stats.retried += 1
            else:
                row.status = OutboxStatus.FAILED.value
                row.claimed_until = None
                row.last_error = f"tidak terjangkau ({channel.value}): {error}"[:500]
                stats.failed += 1
            uow.session.add(row)
            uow.commit()
        log.info("contact %s unreachable on %s", contact.id, channel.value)

    def _retry(
        self, row_id: int, *, delay: float, error: str, count_attempt: bool, use_template: bool | None = None
    ) -> None:
        with self.db.uow() as uow:
            row = uow.session.get(Outbox, row_id)
            if row is None:
                return
            row.status = OutboxStatus.PENDING.value
            row.claimed_until = None
            row.next_attempt_at = self.clock.now() + timedelta(seconds=max(delay, 0))
            row.last_error = error[:500]
            if count_attempt:
                row.attempts += 1
            if use_template is not None:
                row.use_template = use_template
            uow.session.add(row)
            uow.commit()

    def _finish(
        self,
        row_id: int,
        status: OutboxStatus,
        *,
        provider_id: str | None = None,
        error: str = "",
        attempts: int | None = None,
    ) -> None:
        with self.db.uow() as uow:
            row = uow.session.get(Outbox, row_id)
            if row is None:
                return
            row.status = status.value
            row.claimed_until = None
            if provider_id is not None:
                row.provider_id = provider_id
                row.sent_at = self.clock.now()
            if error:
                row.last_error = error[:500]
            if attempts is not None:
                row.attempts = attempts
            uow.session.add(row)
            uow.commit()
        if status is OutboxStatus.DEAD:
            log.warning("outbox row %s is dead: %s", row_id, error)

    async def _notify(self, row_id: int) -> None:
        if not self.observers:
            return
        with self.db.uow() as uow:
            row = uow.session.get(Outbox, row_id)
        if row is None:
            return
        for observer in self.observers:
            try:
                await observer(row)
            except Exception:
                log.exception("outbox observer failed")


def record_status(session: Session, provider_id: str, status: str, at: datetime, error: str = "") -> Outbox | None:
    """Apply a provider's delivery event (sent, delivered, read, failed) to the row it belongs to."""
    row = session.exec(select(Outbox).where(Outbox.provider_id == provider_id)).first()
    if row is None:
        return None
    order = [OutboxStatus.SENT.value, OutboxStatus.DELIVERED.value, OutboxStatus.READ.value]
    if status == "failed":
        row.status = OutboxStatus.FAILED.value
        row.last_error = error[:500] or "gagal terkirim (laporan penyedia)"
    elif status in order:
        if status == "delivered":
            row.delivered_at = row.delivered_at or at
        if status == "read":
            row.read_at = row.read_at or at
            row.delivered_at = row.delivered_at or at
        if row.status not in order or order.index(status) > order.index(row.status):
            row.status = status
    session.add(row)
    return row
