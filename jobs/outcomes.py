"""Settling claimed outbox rows: the claim (lease and fencing token) and the batched, guarded outcome writes."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, bindparam, update
from sqlmodel import Session, col

from models.messages import Attachment, Channel
from models.outbound import Outbound, Template
from models.outbox import decode_buttons, window_open
from models.tables import Contact, Outbox, OutboxStatus, StoredFile

log = logging.getLogger(__name__)


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


class LostLease(Exception):
    """The row was taken over by another dispatcher after our lease expired."""


@dataclass
class Job:
    """One claimed row on its way: what was loaded for it and whether its outcome was handed to the writer."""

    claim: Claim
    row: Outbox | None = None
    contact: Contact | None = None
    outbound: Outbound | None = None
    submitted: bool = False


@dataclass
class Outcome:
    """How a send attempt settles its row: the column values to write and the counter it adds to."""

    values: dict[str, Any]
    counter: Literal["sent", "retried", "failed", "dead"]
    auth_failed: str | None = None
    """Set when the channel's credentials were rejected (the alert goes out once the row is written)."""
    written: bool = False
    """Already settled in its own transaction (unreachable): nothing to hand to the writer, only to observe."""


class OutcomeWriter:
    """Writes the outcomes of many rows in one transaction each, every `max_rows` outcomes or `interval` seconds.

    Each outcome is the same guarded UPDATE as before (`status = 'sending' AND claimed_until = token`),
    so batching changes nothing about leases: a row only counts as settled once its transaction has
    committed, and `submit` resolves only then (the caller keeps the row "in flight" until that point,
    so after a `kill -9` only rows still in flight may go out again). `flush_if_idle` writes at once
    when no delivery can add to the batch any more, so tests and trickles never wait for the timer.
    """

    def __init__(self, engine: Engine, *, max_rows: int, interval: float) -> None:
        self._engine = engine
        self.max_rows = max_rows
        self.interval = interval
        self._pending: list[tuple[Claim, dict[str, Any], asyncio.Future[bool]]] = []
        self._timer: asyncio.TimerHandle | None = None

    def submit(self, claim: Claim, values: dict[str, Any]) -> asyncio.Future[bool]:
        """Queue one row's outcome; the future says (after commit) whether we still held the row."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        future.add_done_callback(_consume)
        self._pending.append((claim, values, future))
        if len(self._pending) >= self.max_rows:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.interval, self.flush)
        return future

    def flush_if_idle(self, busy: int) -> None:
        """Write now if nothing else is about to be added (`busy` deliveries have not submitted yet)."""
        if self._pending and busy <= 0:
            self.flush()

    def flush(self) -> None:
        """Write every queued outcome in one transaction and resolve their futures."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            held = self._write([(claim, values) for claim, values, _ in batch])
        except Exception as exc:
            log.exception("writing %d outbox outcomes failed; the rows stay claimed until their lease ends", len(batch))
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), ok in zip(batch, held, strict=True):
            if not future.done():
                future.set_result(ok)

    def _write(self, outcomes: list[tuple[Claim, dict[str, Any]]]) -> list[bool]:
        """Apply `outcomes` in one transaction; return, per row, whether we still held it.

        Outcomes with the same columns go in one executemany; when every row matched (the usual
        case) that is all. If some did not (a lease was lost), the transaction is rolled back and
        redone row by row, to know which rows were ours.
        """
        engine = self._engine
        if engine.dialect.supports_sane_multi_rowcount and len(outcomes) > 1:
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for claim, values in outcomes:
                params = {f"v_{k}": v for k, v in values.items()}
                params["c_id"], params["c_until"] = claim.row_id, claim.until
                groups.setdefault(tuple(sorted(values)), []).append(params)
            try:
                with engine.begin() as connection:
                    for columns, rows in groups.items():
                        result = connection.execute(guarded_update(columns), rows)
                        if result.rowcount != len(rows):
                            raise LostLease("batch")
                return [True] * len(outcomes)
            except LostLease:
                pass  # rolled back: find out row by row
        with engine.begin() as connection:
            return [write_held(connection, claim, values) for claim, values in outcomes]


@functools.lru_cache(maxsize=64)
def guarded_update(columns: tuple[str, ...]) -> Any:
    """UPDATE outbox SET <columns> WHERE id = :c_id AND status = 'sending' AND claimed_until = :c_until."""
    return (
        update(Outbox)
        .where(col(Outbox.id) == bindparam("c_id"))
        .where(col(Outbox.status) == OutboxStatus.SENDING.value)
        .where(col(Outbox.claimed_until) == bindparam("c_until"))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


def _consume(future: asyncio.Future[bool]) -> None:
    """Mark a writer future's exception as seen (its waiter may have been cancelled)."""
    if not future.cancelled():
        future.exception()


def write_held(session: Session | Connection, claim: Claim, values: dict[str, Any]) -> bool:
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


def outbound_of(row: Outbox, contact: Contact | None, stored: StoredFile | None, now: datetime) -> Outbound | None:
    """The message to hand to the sender, or None when the contact is gone."""
    if contact is None or row.id is None:
        return None
    attachment = None
    if stored is not None:
        kind: Literal["document", "photo"] = "photo" if stored.mime.startswith("image/") else "document"
        attachment = Attachment(stored.filename, stored.content, kind, stored.mime)
    channel = Channel(row.channel)
    address = contact.address(channel)
    template = None
    wants_template = channel is Channel.WHATSAPP and bool(row.template_name)
    if wants_template and (row.use_template or not window_open(contact, now)):
        template = Template(row.template_name or "", tuple(json.loads(row.template_params or "[]")))
    buttons = decode_buttons(row.buttons)
    return Outbound(
        outbox_id=row.id,
        channel=channel,
        address=address or "",
        text=row.text,
        buttons=buttons,
        attachment=attachment,
        template=template,
    )
