"""The dispatcher: claims due outbox rows and sends each through the sender of its channel.

Claims are atomic (`FOR UPDATE SKIP LOCKED` on PostgreSQL, one guarded UPDATE on SQLite) and fenced by
their lease; each platform's limits are respected before they are hit; what is worth retrying is retried
with back-off; the provider's message id is recorded. The write side (queueing) is `models.outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, or_, update
from sqlmodel import Session, col, select

from jobs.channel_locks import ChannelLocks
from jobs.observers import Observer, Observers
from jobs.outcomes import Claim, DispatchStats, Job, LostLease, Outcome, OutcomeWriter, outbound_of, write_held
from jobs.ratelimit import RateLimiter
from models.clock import Clock
from models.db import Database
from models.messages import Channel
from models.meter import NULL_METER, Meter
from models.outbound import (
    AuthFailed,
    Outbound,
    Permanent,
    RateLimited,
    Sender,
    SendError,
    Unreachable,
    WindowClosed,
)
from models.outbox import choose_channel, queue_order
from models.tables import Contact, Failure, Outbox, OutboxStatus, StoredFile

log = logging.getLogger(__name__)

__all__ = ["Dispatcher", "Observer"]


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
    """Told about every settled row (`seen`) and flushed off the send path (`jobs.observers`)."""
    observe_interval: float = 2.0
    """While sending: seconds at least between two observer flushes (a broadcast's progress edits)."""
    on_auth_failed: Callable[[Channel, str], Awaitable[None]] | None = None
    rng: random.Random = field(default_factory=random.Random)
    paused: set[Channel] = field(default_factory=set)
    backoff_base: float = 2.0
    """Seconds before the first retry of a time-out or server error; doubles with every attempt."""
    backoff_cap: float = 600.0
    """Longest back-off in seconds."""
    grace: float = 5.0
    """Seconds `run_forever` lets sends in flight finish after `stop` before cancelling them."""
    write_batch: int = 64
    """Outcomes written in one transaction at most."""
    write_interval: float = 0.05
    """Seconds an outcome may wait for others to share its transaction (never longer: it is then written)."""
    meter: Meter = NULL_METER
    """Where sends, retries, dead rows and 429s are counted (Prometheus in `sigap run`)."""
    locks: ChannelLocks | None = None
    """On PostgreSQL: send only on the channels whose deployment-wide lock this process holds."""
    lock_interval: float = 2.0
    """Seconds between attempts to take the locks of channels another instance sends on."""
    _locks_checked: float = field(default=float("-inf"), init=False, repr=False)
    _writer: OutcomeWriter = field(init=False, repr=False)
    _observers: Observers = field(init=False, repr=False)
    _busy: int = field(default=0, init=False, repr=False)
    """Deliveries under way that have not handed their outcome to the writer yet."""
    _marked: set[tuple[int, Channel]] = field(default_factory=set, init=False, repr=False)
    """(contact, channel) this process found unreachable since its rows were loaded."""

    def __post_init__(self) -> None:
        """Validate the numbers."""
        if self.max_attempts < 1 or self.batch < 1 or self.concurrency < 1 or self.write_batch < 1:
            raise ValueError("max_attempts, batch, concurrency and write_batch must be at least 1")
        if self.lease <= timedelta(0):
            raise ValueError("lease must be positive")
        self._writer = OutcomeWriter(self.db.engine, max_rows=self.write_batch, interval=max(self.write_interval, 0.0))
        self._observers = Observers(self.observers, self.clock, self.observe_interval)

    # -- claiming -----------------------------------------------------------------------------

    def recover(self, channels: Sequence[Channel] | None = None) -> int:
        """Release rows a crashed process left in 'sending' (on `channels`, default all); returns how many.

        Safe only when no live dispatcher sends on those channels: single-instance start-up on SQLite, or
        right after taking a channel's deployment-wide lock (`ChannelLocks`).
        """
        stmt = update(Outbox).where(col(Outbox.status) == OutboxStatus.SENDING.value)
        if channels is not None:
            stmt = stmt.where(col(Outbox.channel).in_([c.value for c in channels]))
        with self.db.uow() as uow:
            result = uow.session.execute(stmt.values(status=OutboxStatus.PENDING.value, claimed_until=None))
            uow.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    def refresh_locks(self) -> None:
        """Take the channel locks that became free (every `lock_interval` s); reclaim the rows their holder left."""
        if self.locks is None:
            return
        now = self.clock.monotonic()
        if now - self._locks_checked < self.lock_interval:
            return
        self._locks_checked = now
        taken = self.locks.refresh()
        if taken:
            released = self.recover(sorted(taken))
            if released:
                log.info("took over %d outbox rows left in flight by a stopped instance", released)

    def claim(self, limit: int | None = None) -> list[Claim]:
        """Atomically take up to `limit` (default `batch`) due rows for the channels this process can send on.

        Due means pending with `next_attempt_at` reached, or 'sending' with an expired lease (its
        dispatcher died). PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, then UPDATE those ids in
        the same transaction (a single UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP
        LOCKED) is not safe there: the planner may run the sub-select per row and ignore the limit).
        SQLite: one UPDATE ... WHERE id IN (due rows) RETURNING, which holds the write lock and
        repeats the due test, so two processes never claim the same row.
        """
        held = self.locks.held if self.locks is not None else None
        channels = [c.value for c in self.senders if c not in self.paused and (held is None or c in held)]
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
            .where(due, queue_order())  # a person's rows queued together (a long text's chunks) go out in order
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

    def _take(self, room: int, claimed: list[Claim]) -> tuple[list[Claim], list[Job]]:
        """The channel locks refreshed, up to `room` rows claimed (into `claimed`, kept when loading fails), loaded."""
        self.refresh_locks()
        claimed.extend(self.claim(room))
        return claimed, self._load_many(claimed)

    def _load_many(self, claims: Sequence[Claim]) -> list[Job]:
        """Load the rows, contacts and attachments of `claims` in one unit of work (two or three queries).

        Rows no longer held under their claim (another dispatcher took them over) are left out.
        """
        if not claims:
            return []
        ids = [c.row_id for c in claims]
        with self.db.uow() as uow:
            session = uow.session
            rows = {r.id: r for r in session.exec(select(Outbox).where(col(Outbox.id).in_(ids))).all()}
            contact_ids = {r.contact_id for r in rows.values()}
            contacts = {c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(contact_ids))).all()}
            file_ids = {r.attachment_id for r in rows.values() if r.attachment_id is not None}
            files = (
                {f.id: f for f in session.exec(select(StoredFile).where(col(StoredFile.id).in_(file_ids))).all()}
                if file_ids
                else {}
            )
        jobs = []
        for claim in claims:
            row = rows.get(claim.row_id)
            if row is None or row.status != OutboxStatus.SENDING.value or row.claimed_until != claim.until:
                log.info("outbox row %s was taken over by another dispatcher", claim.row_id)
                continue
            contact = contacts.get(row.contact_id)
            stored = files.get(row.attachment_id) if row.attachment_id is not None else None
            jobs.append(Job(claim, row, contact, outbound_of(row, contact, stored, self.clock.now())))
        return jobs

    # -- running ------------------------------------------------------------------------------

    async def run_once(self) -> DispatchStats:
        """Claim one batch (off the event loop, like `run_forever`) and send it; returns what happened."""
        stats = DispatchStats()
        claims, jobs = await asyncio.to_thread(self._take, self.batch, [])
        stats.claimed = len(claims)
        if not claims:
            return stats
        gate = asyncio.Semaphore(self.concurrency)
        try:
            results = await asyncio.gather(*(self._guarded(j, stats, gate) for j in jobs), return_exceptions=True)
        finally:
            self._writer.flush()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("outbox delivery failed", exc_info=result)
        await self._observers.flush()
        return stats

    async def drain(self, *, max_rounds: int = 1000, pipelined: bool = False) -> DispatchStats:
        """Send until nothing is due now (tests, CLI, benchmarks).

        By default in rounds: a batch, then the observers' flush, before the next claim, so what an
        observer queues (a broadcast tally) goes out after everything it reported on. `pipelined`
        claims the next rows while sends are in flight, as `run_forever` does (throughput), and
        goes on while the observers' last flush queued something due.
        """
        total = DispatchStats()
        if pipelined:
            while True:
                claimed = total.claimed
                await self._pump(total, stop=None, idle=0.0, max_claims=max_rounds)
                if total.claimed == claimed:
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

        A row stays in flight until its outcome is committed, so at most `batch` rows are ever
        claimed by this process. With `stop` None, return when nothing is due and nothing is in
        flight (drain).
        """
        gate = asyncio.Semaphore(self.concurrency)
        inflight: set[asyncio.Task[None]] = set()
        claims_made = 0
        finished = asyncio.Event()
        watcher = asyncio.create_task(self._observers.run(finished)) if self.observers else None
        try:
            while stop is None or not stop.is_set():
                room = self.batch - len(inflight)
                claims: list[Claim] = []
                if room >= max(1, self.batch // 2) and (max_claims is None or claims_made < max_claims):
                    jobs: list[Job] = []
                    try:  # database work: off the loop, as every other
                        claims, jobs = await asyncio.to_thread(self._take, room, claims)
                    except Exception:
                        if stop is None:
                            raise
                        log.exception("claiming outbox rows failed")
                        jobs = [Job(c) for c in claims]  # each loads its own row
                    claims_made += 1
                    stats.claimed += len(claims)
                    for job in jobs:
                        inflight.add(asyncio.create_task(self._guarded(job, stats, gate)))
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
                # Wake when a row is done (room to claim again), on stop, or after `idle` to look for due rows.
                await asyncio.wait(waiters, timeout=idle or None, return_when=asyncio.FIRST_COMPLETED)
                if stopper is not None:
                    stopper.cancel()
                inflight = {t for t in inflight if not t.done()}
        finally:
            deadline = self.clock.monotonic() + self.grace
            if inflight:
                _, pending = await asyncio.wait(inflight, timeout=self.grace)
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending)
            self._writer.flush()  # outcomes of rows whose wait was cancelled
            if watcher is not None:
                finished.set()  # a last flush for the rows settled since the previous one, within the grace
                await asyncio.wait([watcher], timeout=max(deadline - self.clock.monotonic(), 1.0))
                if not watcher.done():
                    watcher.cancel()
                    log.warning("outbox observers did not finish within %s s; stopped", self.grace)
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    async def _guarded(self, job: Job | Claim, stats: DispatchStats, gate: asyncio.Semaphore) -> None:
        """Deliver one claimed row; never lets an error escape (it is logged and the row retried)."""
        if isinstance(job, Claim):
            job = Job(job)
        self._busy += 1
        try:
            await self._deliver(job, stats, gate)
        except asyncio.CancelledError:
            raise
        except LostLease:
            log.info("outbox row %s was taken over by another dispatcher", job.claim.row_id)
        except Exception:
            log.exception("delivering outbox row %s failed", job.claim.row_id)
        finally:
            if not job.submitted:
                self._busy -= 1
                self._writer.flush_if_idle(self._busy)

    # -- one row ------------------------------------------------------------------------------

    async def _deliver(self, job: Job, stats: DispatchStats, gate: asyncio.Semaphore) -> None:
        if job.row is None:
            loaded_jobs = self._load_many([job.claim])
            if not loaded_jobs:
                raise LostLease(job.claim.row_id)
            loaded = loaded_jobs[0]
            job.row, job.contact, job.outbound = loaded.row, loaded.contact, loaded.outbound
        row, contact, outbound = job.row, job.contact, job.outbound
        assert row is not None
        if contact is None or outbound is None or not contact.active or not outbound.address:
            await self._give_up(job, row, contact, stats)
            return
        channel = outbound.channel
        limiter = self.limiters.get(channel)
        async with gate:
            if contact.marked_unreachable(channel.value) or (contact.id or 0, channel) in self._marked:
                written = self._unreachable(job.claim, contact, channel, "sudah ditandai tidak terjangkau", stats)
                self._notify(row, written)
                return
            permit = None
            try:
                try:
                    if limiter is not None:
                        permit = await limiter.permit(outbound.address, is_group=_is_group(outbound))
                    if channel in self.paused or channel not in self.senders:
                        error = f"kanal {channel.value} dihentikan"
                        self._retry(job.claim, delay=0, error=error, count_attempt=False)
                        stats.retried += 1
                        return
                    job.claim = self._renew(job.claim)
                except asyncio.CancelledError:
                    # Not sent yet: hand the row back instead of leaving it to the lease.
                    with contextlib.suppress(Exception):
                        self._retry(job.claim, delay=0, error="", count_attempt=False)
                    raise
                outcome = await self._send(job.claim, row, contact, outbound, limiter, stats)
            finally:
                if permit is not None:
                    permit.done()  # the request is over: the platform has counted it by now
        if outcome.written:  # settled in its own transaction (unreachable)
            self._notify(row, outcome.values or None)
            return
        held = await self._record(job, outcome.values)
        setattr(stats, outcome.counter, getattr(stats, outcome.counter) + 1)
        self.meter.count("outbox_outcomes", channel=channel.value, outcome=outcome.counter)
        if outcome.counter == "dead":
            log.warning("outbox row %s is dead: %s", job.claim.row_id, outcome.values.get("last_error", ""))
        if outcome.auth_failed is not None and self.on_auth_failed is not None:
            await self.on_auth_failed(channel, outcome.auth_failed)
        self._notify(row, outcome.values if held else None)

    async def _give_up(self, job: Job, row: Outbox, contact: Contact | None, stats: DispatchStats) -> None:
        """Settle a row that cannot be sent: its contact is gone, no longer active, or has no address here."""
        if contact is None:
            outcome = Outcome(self._settle_values(OutboxStatus.DEAD, error="kontak sudah tidak ada"), "dead")
        elif not contact.active:
            outcome = Outcome(self._settle_values(OutboxStatus.FAILED, error="kontak tidak aktif lagi"), "failed")
        else:
            error = "kontak tidak punya alamat di kanal ini"
            outcome = Outcome(self._settle_values(OutboxStatus.FAILED, error=error), "failed")
        held = await self._record(job, outcome.values)
        setattr(stats, outcome.counter, getattr(stats, outcome.counter) + 1)
        self._notify(row, outcome.values if held else None)

    async def _record(self, job: Job, values: dict[str, Any]) -> bool:
        """Hand the row's outcome to the writer and wait until it is committed; False if the lease was lost."""
        job.submitted = True
        self._busy -= 1
        future = self._writer.submit(job.claim, values)
        self._writer.flush_if_idle(self._busy)
        return await future

    async def _send(
        self,
        claim: Claim,
        row: Outbox,
        contact: Contact,
        outbound: Outbound,
        limiter: RateLimiter | None,
        stats: DispatchStats,
    ) -> Outcome:
        """Send once; return how the row settles (`written` when it was settled already, as for unreachable)."""
        channel = outbound.channel
        try:
            sent = await self.senders[channel].send(outbound)
        except RateLimited as exc:
            self.meter.count("rate_limited", channel=channel.value)
            if limiter is not None:
                limiter.penalize(exc.retry_after, outbound.address if exc.scope == "recipient" else None)
            return Outcome(self._retry_values(delay=exc.retry_after, error=str(exc)), "retried")
        except WindowClosed as exc:
            if row.template_name and not row.use_template:
                return Outcome(self._retry_values(delay=0, error=str(exc), use_template=True), "retried")
            error = f"di luar jendela 24 jam dan tanpa templat: {exc}"
            return Outcome(self._settle_values(OutboxStatus.DEAD, error=error), "dead")
        except Unreachable as exc:
            return Outcome(self._unreachable(claim, contact, channel, str(exc), stats) or {}, "failed", written=True)
        except AuthFailed as exc:
            outcome = Outcome(self._retry_values(delay=0, error=str(exc)), "retried")
            if channel not in self.paused:
                self.paused.add(channel)
                log.error("%s credentials rejected; sending on this channel is stopped: %s", channel.value, exc)
                outcome.auth_failed = str(exc)
            return outcome
        except Permanent as exc:
            values = self._settle_values(
                OutboxStatus.DEAD, error=str(exc) or type(exc).__name__, attempts=row.attempts + 1
            )
            return Outcome(values, "dead")
        except (SendError, TimeoutError, OSError) as exc:
            return self._transient(row.attempts, str(exc) or type(exc).__name__)
        except Exception as exc:
            log.exception("sender failed on outbox row %s", claim.row_id)
            return self._transient(row.attempts, f"{type(exc).__name__}: {exc}")
        values = self._settle_values(OutboxStatus.SENT, provider_id=sent.provider_id, attempts=row.attempts + 1)
        return Outcome(values, "sent")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): exponential with equal jitter.

        The delay lies in [c/2, c] with c = min(cap, base * 2**(attempt-1)), so it grows with every
        attempt (until the cap) while retries of many rows still spread out.
        """
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** min(max(attempt - 1, 0), 64))
        return ceiling / 2 + self.rng.uniform(0.0, ceiling / 2)

    def _transient(self, attempts: int, error: str) -> Outcome:
        done = attempts + 1
        if done >= self.max_attempts:
            return Outcome(
                self._settle_values(OutboxStatus.DEAD, error=f"gagal {done} kali: {error}", attempts=done), "dead"
            )
        return Outcome(self._retry_values(delay=self.backoff(done), error=error, attempts=done), "retried")

    def _unreachable(
        self, claim: Claim, contact: Contact, channel: Channel, error: str, stats: DispatchStats
    ) -> dict[str, Any] | None:
        """Mark the contact unreachable on `channel`; move the row to their other channel if this dispatcher sends on it
        (a row moved to a channel without a sender would wait forever), else fail it as unreachable.

        Returns the values written to the row, or None when it was not ours any more (or the contact is gone).
        """
        if contact.id is not None:
            self._marked.add((contact.id, channel))
        with self.db.uow() as uow:
            fresh = uow.session.get(Contact, contact.id)
            if fresh is None:
                return None
            if channel is Channel.TELEGRAM:
                fresh.unreachable_telegram = True
            else:
                fresh.unreachable_whatsapp = True
            uow.session.add(fresh)
            uow.session.flush()
            fallback = choose_channel(fresh, excluding=channel, on=self.senders)  # only where this one sends
            if fallback is not None:
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
                    "failure": Failure.UNREACHABLE.value,
                }
            settled = self._update(uow.session, claim, values)
            uow.commit()
        if settled and "channel" in values:
            stats.retried += 1
        elif settled:
            stats.failed += 1
        log.info("contact %s unreachable on %s", contact.id, channel.value)
        return values if settled else None

    def _renew(self, claim: Claim) -> Claim:
        """Extend the lease before sending if less than half of it is left; raise LostLease if it was taken."""
        now = self.clock.now()
        if claim.until - now > self.lease / 2:
            return claim
        fresh = Claim(claim.row_id, now + self.lease)
        with self.db.uow() as uow:
            if not self._update(uow.session, claim, {"claimed_until": fresh.until}):
                raise LostLease(claim.row_id)
            uow.commit()
        return fresh

    def _retry_values(
        self, *, delay: float, error: str, attempts: int | None = None, use_template: bool | None = None
    ) -> dict[str, Any]:
        """Column values that put a claimed row back in the queue in `delay` seconds."""
        values: dict[str, Any] = {
            "status": OutboxStatus.PENDING.value,
            "claimed_until": None,
            "next_attempt_at": self.clock.now() + timedelta(seconds=max(delay, 0.0)),
        }
        if error:
            values["last_error"] = error[:500]
        if attempts is not None:
            values["attempts"] = attempts
        if use_template is not None:
            values["use_template"] = use_template
        return values

    def _settle_values(
        self,
        status: OutboxStatus,
        *,
        provider_id: str | None = None,
        error: str = "",
        attempts: int | None = None,
    ) -> dict[str, Any]:
        """Column values that settle a claimed row with `status`."""
        values: dict[str, Any] = {"status": status.value, "claimed_until": None}
        if provider_id is not None:
            values["provider_id"] = provider_id
            values["sent_at"] = self.clock.now()
        if error:
            values["last_error"] = error[:500]
        if attempts is not None:
            values["attempts"] = attempts
        return values

    def _retry(
        self, claim: Claim, *, delay: float, error: str, count_attempt: bool, use_template: bool | None = None
    ) -> None:
        """Put the row back in the queue now, in its own transaction (paths that cannot wait for the writer)."""
        values = self._retry_values(delay=delay, error=error, use_template=use_template)
        if count_attempt:
            values["attempts"] = col(Outbox.attempts) + 1
        with self.db.uow() as uow:
            self._update(uow.session, claim, values)
            uow.commit()

    @staticmethod
    def _update(session: Session | Connection, claim: Claim, values: dict[str, Any]) -> bool:
        """Write `values` to the claimed row only if we still hold it; False when another dispatcher does."""
        return write_held(session, claim, values)

    def _notify(self, row: Outbox, written: dict[str, Any] | None) -> None:
        """Tell the observers about `row` once its outcome is committed.

        `written`: the values this dispatcher wrote (applied to `row`); None when the row was not ours any more,
        and `row` is then as it was loaded. Observers only take a note here; they read the state when they flush.
        """
        if not self.observers:
            return
        for name, value in (written or {}).items():
            setattr(row, name, value)
        self._observers.seen(row)


def _is_group(outbound: Outbound) -> bool:
    """Telegram group and channel chats have negative ids; they get the per-group limit."""
    return outbound.channel is Channel.TELEGRAM and outbound.address.startswith("-")
