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

from jobs.ratelimit import RateLimiter
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

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0

    def add(self, other: DispatchStats) -> None:
        """Add `other`'s counts to these."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.dead += other.dead


@dataclass(frozen=True)
class Claim:
    """A row this dispatcher holds: `until` is its lease and also its fencing token.

    Every write that settles the row is conditioned on `status = 'sending' AND claimed_until = until`,
    so a dispatcher whose lease expired (and whose row another dispatcher took over) never
    overwrites the newer owner's outcome.
    """

    row_id: int
    until: datetime


class _LostLease(Exception):
    """The row was taken over by another dispatcher after our lease expired."""


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
    backoff_base: float = 2.0
    """Seconds before the first retry of a time-out or server error; doubles with every attempt."""
    backoff_cap: float = 600.0
    """Longest back-off in seconds."""
    grace: float = 5.0
    """Seconds `run_forever` lets sends in flight finish after `stop` before cancelling them."""

    def __post_init__(self) -> None:
        """Validate the numbers."""
        if self.max_attempts < 1 or self.batch < 1 or self.concurrency < 1:
            raise ValueError("max_attempts, batch and concurrency must be at least 1")
        if self.lease <= timedelta(0):
            raise ValueError("lease must be positive")

    # -- claiming -----------------------------------------------------------------------------

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

    def claim(self, limit: int | None = None) -> list[Claim]:
        """Atomically take up to `limit` (default `batch`) due rows for the channels this process can send on.

        Due means pending with `next_attempt_at` reached, or 'sending' with an expired lease (its
        dispatcher died). PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, then UPDATE those ids in
        the same transaction (a single UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP
        LOCKED) is not safe there: the planner may run the sub-select per row and ignore the limit).
        SQLite: one UPDATE ... WHERE id IN (due rows) RETURNING, which holds the write lock and
        repeats the due test, so two processes never claim the same row.
        """
        channels = [c.value for c in self.senders if c not in self.paused]
        size = self.batch if limit is None else limit
        if not channels or size < 1:
            return []
        now = self.clock.now()
        until = now + self.lease
        due = or_(
            (col(Outbox.status) == OutboxStatus.PENDING.value) & (col(Outbox.next_attempt_at) <= now),
            (col(Outbox.status) == OutboxStatus.SENDING.value) & (col(Outbox.claimed_until) < now),
        )
        pick = (
            select(Outbox.id)
            .where(col(Outbox.channel).in_(channels))
            .where(due)
            .order_by(col(Outbox.next_attempt_at), col(Outbox.id))
            .limit(size)
        )
        take = update(Outbox).values(status=OutboxStatus.SENDING.value, claimed_until=until)
        with self.db.uow() as uow:
            if self.db.is_postgres:
                ids = [i for i in uow.session.exec(pick.with_for_update(skip_locked=True)).all() if i is not None]
                if ids:
                    uow.session.execute(take.where(col(Outbox.id).in_(ids)))
            else:
                stmt = take.where(col(Outbox.id).in_(pick.scalar_subquery())).where(due).returning(col(Outbox.id))
                ids = [int(i) for i in uow.session.execute(stmt).scalars().all()]
            uow.commit()
        ids.sort()
        return [Claim(i, until) for i in ids]

    # -- running ------------------------------------------------------------------------------

    async def run_once(self) -> DispatchStats:
        """Claim one batch and send it; returns what happened."""
        stats = DispatchStats()
        claims = self.claim()
        stats.claimed = len(claims)
        if not claims:
            return stats
        gate = asyncio.Semaphore(self.concurrency)
        results = await asyncio.gather(*(self._guarded(c, stats, gate) for c in claims), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("outbox delivery failed", exc_info=result)
        return stats

    async def drain(self, *, max_rounds: int = 1000, pipelined: bool = False) -> DispatchStats:
        """Send until nothing is due now (tests, CLI, benchmarks).

        By default in rounds: a batch and all its observers finish before the next claim, so what an
        observer queues (a broadcast tally) goes out after everything it reported on. `pipelined`
        claims the next rows while sends are in flight, as `run_forever` does (throughput).
        """
        total = DispatchStats()
        if pipelined:
            await self._pump(total, stop=None, idle=0.0, max_claims=max_rounds)
            return total
        for _ in range(max_rounds):
            stats = await self.run_once()
            total.add(stats)
            if not stats.claimed:
                break
        return total

    async def run_forever(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Dispatch until `stop` is set, resting `idle` seconds when nothing is due."""
        await self._pump(DispatchStats(), stop=stop, idle=idle, max_claims=None)

    async def _pump(
        self, stats: DispatchStats, *, stop: asyncio.Event | None, idle: float, max_claims: int | None
    ) -> None:
        """Keep up to `batch` rows in flight, claiming more when half of them are done.

        With `stop` None, return when nothing is due and nothing is in flight (drain).
        """
        gate = asyncio.Semaphore(self.concurrency)
        inflight: set[asyncio.Task[None]] = set()
        claims_made = 0
        try:
            while stop is None or not stop.is_set():
                room = self.batch - len(inflight)
                claims: list[Claim] = []
                if room >= max(1, self.batch // 2) and (max_claims is None or claims_made < max_claims):
                    try:
                        claims = self.claim(room)
                    except Exception:
                        if stop is None:
                            raise
                        log.exception("claiming outbox rows failed")
                    claims_made += 1
                    stats.claimed += len(claims)
                    for claim in claims:
                        inflight.add(asyncio.create_task(self._guarded(claim, stats, gate)))
                if not inflight:
                    if stop is None:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=idle)
                    continue
                waiters: set[asyncio.Future[Any]] = set(inflight)
                stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None
                if stopper is not None:
                    waiters.add(stopper)
                # Wake when a send finishes (room to claim again), on stop, or after `idle` to look for due rows.
                await asyncio.wait(waiters, timeout=idle or None, return_when=asyncio.FIRST_COMPLETED)
                if stopper is not None:
                    stopper.cancel()
                inflight = {t for t in inflight if not t.done()}
        finally:
            if inflight:
                _, pending = await asyncio.wait(inflight, timeout=self.grace)
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending)

    async def _guarded(self, claim: Claim, stats: DispatchStats, gate: asyncio.Semaphore) -> None:
        """Deliver one claimed row; never lets an error escape (it is logged and the row retried)."""
        try:
            async with gate:
                await self._deliver(claim, stats)
        except asyncio.CancelledError:
            raise
        except _LostLease:
            log.info("outbox row %s was taken over by another dispatcher", claim.row_id)
        except Exception:
            log.exception("delivering outbox row %s failed", claim.row_id)

    # -- one row ------------------------------------------------------------------------------

    def _load(self, row_id: int) -> tuple[Outbox, Contact | None, Outbound | None]:
        with self.db.uow() as uow:
            row = uow.session.get(Outbox, row_id)
            if row is None:
                raise _LostLease(row_id)
            contact = uow.session.get(Contact, row.contact_id)
            if contact is None:
                return row, None, None
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

    async def _deliver(self, claim: Claim, stats: DispatchStats) -> None:
        row, contact, outbound = self._load(claim.row_id)
        if row.status != OutboxStatus.SENDING.value or row.claimed_until != claim.until:
            raise _LostLease(claim.row_id)
        if contact is None or outbound is None:
            self._settle(claim, OutboxStatus.DEAD, error="kontak sudah tidak ada")
            stats.dead += 1
            return
        channel = outbound.channel
        if not contact.active:
            self._settle(claim, OutboxStatus.FAILED, error="kontak tidak aktif lagi")
            stats.failed += 1
            return
        if not outbound.address:
            self._settle(claim, OutboxStatus.FAILED, error="kontak tidak punya alamat di kanal ini")
            stats.failed += 1
            return
        flagged = contact.unreachable_telegram if channel is Channel.TELEGRAM else contact.unreachable_whatsapp
        if flagged:
            self._unreachable(claim, contact, channel, "sudah ditandai tidak terjangkau", stats)
            return
        limiter = self.limiters.get(channel)
        try:
            if limiter is not None:
                await limiter.acquire(outbound.address, is_group=_is_group(outbound))
            if channel in self.paused or channel not in self.senders:
                self._retry(claim, delay=0, error=f"kanal {channel.value} dihentikan", count_attempt=False)
                stats.retried += 1
                return
            claim = self._renew(claim)
        except asyncio.CancelledError:
            # Not sent yet: hand the row back instead of leaving it to the lease.
            with contextlib.suppress(Exception):
                self._retry(claim, delay=0, error="", count_attempt=False)
            raise
        await self._send(claim, row, contact, outbound, limiter, stats)
        await self._notify(claim.row_id)

    async def _send(
        self,
        claim: Claim,
        row: Outbox,
        contact: Contact,
        outbound: Outbound,
        limiter: RateLimiter | None,
        stats: DispatchStats,
    ) -> None:
        channel = outbound.channel
        try:
            sent = await self.senders[channel].send(outbound)
        except RateLimited as exc:
            if limiter is not None:
                limiter.penalize(exc.retry_after, outbound.address if exc.scope == "recipient" else None)
            self._retry(claim, delay=exc.retry_after, error=str(exc), count_attempt=False)
            stats.retried += 1
        except WindowClosed as exc:
            if row.template_name and not row.use_template:
                self._retry(claim, delay=0, error=str(exc), count_attempt=False, use_template=True)
                stats.retried += 1
            else:
                self._settle(claim, OutboxStatus.DEAD, error=f"di luar jendela 24 jam dan tanpa templat: {exc}")
                stats.dead += 1
        except Unreachable as exc:
            self._unreachable(claim, contact, channel, str(exc), stats)
        except AuthFailed as exc:
            self._retry(claim, delay=0, error=str(exc), count_attempt=False)
            stats.retried += 1
            if channel not in self.paused:
                self.paused.add(channel)
                log.error("%s credentials rejected; sending on this channel is stopped: %s", channel.value, exc)
                if self.on_auth_failed is not None:
                    await self.on_auth_failed(channel, str(exc))
        except Permanent as exc:
            self._settle(claim, OutboxStatus.DEAD, error=str(exc) or type(exc).__name__, attempts=row.attempts + 1)
            stats.dead += 1
        except (SendError, TimeoutError, OSError) as exc:
            self._transient(claim, row.attempts, str(exc) or type(exc).__name__, stats)
        except Exception as exc:
            log.exception("sender failed on outbox row %s", claim.row_id)
            self._transient(claim, row.attempts, f"{type(exc).__name__}: {exc}", stats)
        else:
            self._settle(claim, OutboxStatus.SENT, provider_id=sent.provider_id, attempts=row.attempts + 1)
            stats.sent += 1

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): exponential with equal jitter.

        The delay lies in [c/2, c] with c = min(cap, base * 2**(attempt-1)), so it grows with every
        attempt (until the cap) while retries of many rows still spread out.
        """
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** min(max(attempt - 1, 0), 64))
        return ceiling / 2 + self.rng.uniform(0.0, ceiling / 2)

    def _transient(self, claim: Claim, attempts: int, error: str, stats: DispatchStats) -> None:
        done = attempts + 1
        if done >= self.max_attempts:
            self._settle(claim, OutboxStatus.DEAD, error=f"gagal {done} kali: {error}", attempts=done)
            stats.dead += 1
        else:
            self._retry(claim, delay=self.backoff(done), error=error, count_attempt=True)
            stats.retried += 1

    def _unreachable(self, claim: Claim, contact: Contact, channel: Channel, error: str, stats: DispatchStats) -> None:
        """Mark the contact unreachable on `channel`; move the row to the other channel if they have one."""
        with self.db.uow() as uow:
            fresh = uow.session.get(Contact, contact.id)
            if fresh is None:
                return
            if channel is Channel.TELEGRAM:
                fresh.unreachable_telegram = True
            else:
                fresh.unreachable_whatsapp = True
            uow.session.add(fresh)
            uow.session.flush()
            fallback = choose_channel(fresh)
            if fallback is not None and fallback is not channel:
                values: dict[str, Any] = {
                    "channel": fallback.value,
                    "status": OutboxStatus.PENDING.value,
                    "next_attempt_at": self.clock.now(),
                    "claimed_until": None,
                    "last_error": f"{channel.value}: {error}"[:500],
                }
            else:
                values = {
                    "status": OutboxStatus.FAILED.value,
                    "claimed_until": None,
                    "last_error": f"tidak terjangkau ({channel.value}): {error}"[:500],
                }
            settled = self._update(uow.session, claim, values)
            uow.commit()
        if settled and "channel" in values:
            stats.retried += 1
        elif settled:
            stats.failed += 1
        log.info("contact %s unreachable on %s", contact.id, channel.value)

    def _renew(self, claim: Claim) -> Claim:
        """Extend the lease before sending if less than half of it is left; raise _LostLease if it was taken."""
        now = self.clock.now()
        if claim.until - now > self.lease / 2:
            return claim
        fresh = Claim(claim.row_id, now + self.lease)
        with self.db.uow() as uow:
            if not self._update(uow.session, claim, {"claimed_until": fresh.until}):
                raise _LostLease(claim.row_id)
            uow.commit()
        return fresh

    def _retry(
        self, claim: Claim, *, delay: float, error: str, count_attempt: bool, use_template: bool | None = None
    ) -> None:
        values: dict[str, Any] = {
            "status": OutboxStatus.PENDING.value,
            "claimed_until": None,
            "next_attempt_at": self.clock.now() + timedelta(seconds=max(delay, 0.0)),
        }
        if error:
            values["last_error"] = error[:500]
        if count_attempt:
            values["attempts"] = col(Outbox.attempts) + 1
        if use_template is not None:
            values["use_template"] = use_template
        with self.db.uow() as uow:
            self._update(uow.session, claim, values)
            uow.commit()

    def _settle(
        self,
        claim: Claim,
        status: OutboxStatus,
        *,
        provider_id: str | None = None,
        error: str = "",
        attempts: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status.value, "claimed_until": None}
        if provider_id is not None:
            values["provider_id"] = provider_id
            values["sent_at"] = self.clock.now()
        if error:
            values["last_error"] = error[:500]
        if attempts is not None:
            values["attempts"] = attempts
        with self.db.uow() as uow:
            self._update(uow.session, claim, values)
            uow.commit()
        if status is OutboxStatus.DEAD:
            log.warning("outbox row %s is dead: %s", claim.row_id, error)

    @staticmethod
    def _update(session: Session, claim: Claim, values: dict[str, Any]) -> bool:
        """Write `values` to the claimed row only if we still hold it; False when another dispatcher does."""
        result = session.execute(
            update(Outbox)
            .where(col(Outbox.id) == claim.row_id)
            .where(col(Outbox.status) == OutboxStatus.SENDING.value)
            .where(col(Outbox.claimed_until) == claim.until)
            .values(**values)
        )
        held = bool(getattr(result, "rowcount", 0))
        if not held:
            log.warning("outbox row %s: lease lost, outcome not recorded (%s)", claim.row_id, values.get("status"))
        return held

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


def _is_group(outbound: Outbound) -> bool:
    """Telegram group and channel chats have negative ids; they get the per-group limit."""
    return outbound.channel is Channel.TELEGRAM and outbound.address.startswith("-")


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
