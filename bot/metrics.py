"""What an operator watches: `GET /metrics` in Prometheus format and a `/healthz` that says when Sigap is stuck.

Counters and histograms are fed by the core through `models.meter.Meter` (sends, retries, dead rows, 429s,
inbound messages, reply latency, sweeps); the outbox's depth and the age of its oldest pending row are read
from the database at scrape time, per channel and status. `/healthz` answers 503 when the dispatcher is no
longer running or the oldest pending row due for sending on a channel this process sends on is older than
`SIGAP_HEALTH_MAX_PENDING_SECONDS`. Rows pending on a channel this process has no sender for (queued before the
channel was taken out of the settings, or by another instance configured differently) wait for that channel to be
set up: they are reported as such (`waiting_for_channel_not_set_up`, `sigap_outbox_waiting_for_channel_rows`), not
as a stuck dispatcher, which waiting longer would never cure.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models.clock import Clock, ensure_utc
from models.db import Database
from models.messages import CHAT_CHANNELS, Channel
from models.tables import Outbox, OutboxStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
SWEEP_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class PrometheusMeter:
    """`models.meter.Meter` over a Prometheus registry of its own (one per process, never the global one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._counters: dict[str, Counter] = {
            "outbox_outcomes": Counter(
                "sigap_outbox_outcomes", "Send attempts by how they ended", ["channel", "outcome"], registry=registry
            ),
            "rate_limited": Counter(
                "sigap_rate_limited", "429 answers from a platform", ["channel"], registry=registry
            ),
            "inbound_messages": Counter(
                "sigap_inbound_messages", "Messages people sent to the bot", ["channel"], registry=registry
            ),
            "sweeps": Counter("sigap_sweeps", "Sweeps run, by result", ["result"], registry=registry),
            "sweep_queued": Counter("sigap_sweep_queued_messages", "Messages queued by sweeps", registry=registry),
            "sweep_letters": Counter(
                "sigap_sweep_letters", "Warning-letter stages handled by sweeps", registry=registry
            ),
        }
        self._histograms: dict[str, Histogram] = {
            "reply_seconds": Histogram(
                "sigap_reply_seconds",
                "Seconds from a person's message to the bot's reply being handed over",
                ["channel"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            "sweep_seconds": Histogram(
                "sigap_sweep_seconds", "Seconds a sweep took", buckets=SWEEP_BUCKETS, registry=registry
            ),
        }

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add to a known counter; an unknown name is a programming error."""
        counter = self._counters[name]
        (counter.labels(**labels) if labels else counter).inc(amount)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Observe a known histogram."""
        histogram = self._histograms[name]
        (histogram.labels(**labels) if labels else histogram).observe(max(value, 0.0))


class OutboxCollector(Collector):
    """Outbox rows per channel and status, and the age of the oldest row waiting to be sent, read at scrape time."""

    def __init__(self, db: Database, clock: Clock, sends_on: Collection[Channel] = CHAT_CHANNELS) -> None:
        self.db = db
        self.clock = clock
        self.sends_on = frozenset(sends_on)
        """The channels this process sends on; rows pending on another are counted apart, their age not shown."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Three gauges from two small grouped queries."""
        depth = GaugeMetricFamily(
            "sigap_outbox_rows", "Outbox rows by channel and status", labels=["channel", "status"]
        )
        age = GaugeMetricFamily(
            "sigap_outbox_oldest_pending_seconds",
            "Age of the oldest row due for sending (pending and due, or being sent), per channel",
            labels=["channel"],
        )
        stranded = GaugeMetricFamily(
            "sigap_outbox_waiting_for_channel_rows",
            "Rows pending on a channel this process does not send on (waiting for it to be set up), per channel",
            labels=["channel"],
        )
        for channel, status, count in outbox_depth(self.db):
            depth.add_metric([channel, status], count)
        for channel, waiting in pending_by_channel(self.db, self.clock.now()).items():
            if not sends_on_channel(self.sends_on, channel):
                stranded.add_metric([channel], waiting.rows)
            elif waiting.oldest_due is not None:
                age.add_metric([channel], waiting.oldest_due)
        yield depth
        yield age
        yield stranded


def outbox_depth(db: Database) -> list[tuple[str, str, int]]:
    """(channel, status, rows) for every pair present."""
    with db.uow() as uow:
        rows = uow.session.exec(
            select(Outbox.channel, Outbox.status, func.count()).group_by(col(Outbox.channel), col(Outbox.status))
        ).all()
    return [(channel, status, int(count)) for channel, status, count in rows]


@dataclass(frozen=True)
class Waiting:
    """The rows of one channel still to send: how many, and seconds since the oldest became due (None: none due)."""

    rows: int
    oldest_due: float | None


def pending_by_channel(db: Database, now: datetime) -> dict[str, Waiting]:
    """The rows still to send (pending or being sent), per channel, with the age of the oldest one due."""
    with db.uow() as uow:
        found = uow.session.exec(
            select(Outbox.channel, func.count(), func.min(Outbox.next_attempt_at))
            .where(col(Outbox.status).in_((OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)))
            .group_by(col(Outbox.channel))
        ).all()
    waiting = {}
    for channel, count, first in found:
        due = ensure_utc(first) if first is not None else None  # the earliest row is due iff any row is
        age = max((now - due).total_seconds(), 0.0) if due is not None and due <= now else None
        waiting[channel] = Waiting(int(count), age)
    return waiting


def sends_on_channel(sends_on: Collection[Channel], channel: str) -> bool:
    """Whether `channel` (an outbox row's) is one of `sends_on`."""
    return any(c.value == channel for c in sends_on)


def metrics_route(registry: CollectorRegistry, token: str | None) -> Route:
    """`GET /metrics`; with `token`, only for `Authorization: Bearer <token>`."""

    async def metrics(request: Request) -> Response:
        if token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response("Unauthorized", status_code=401)
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE)

    return Route("/metrics", metrics, methods=["GET"])


def health_route(
    db: Database,
    clock: Clock,
    dispatcher_alive: Callable[[], bool],
    max_pending: float,
    sends_on: Collection[Channel] = CHAT_CHANNELS,
) -> Route:
    """`GET /healthz`: 200 when the dispatcher runs and nothing waits too long on a channel of `sends_on` (those
    this process has a sender for); 503 with the reason otherwise. Rows on another channel are listed under
    `waiting_for_channel_not_set_up` (rows and the oldest one's age) without making Sigap unhealthy."""

    async def healthz(_request: Request) -> Response:
        problems: list[str] = []
        if not dispatcher_alive():
            problems.append("dispatcher is not running")
        try:
            waiting = await asyncio.to_thread(pending_by_channel, db, clock.now())
        except Exception:
            problems.append("database unreachable")
            waiting = {}
        late: dict[str, int] = {}
        stranded: dict[str, dict[str, int]] = {}
        for channel, found in waiting.items():
            if not sends_on_channel(sends_on, channel):
                stranded[channel] = {"rows": found.rows, "oldest_pending_seconds": round(found.oldest_due or 0.0)}
            elif found.oldest_due is not None and found.oldest_due > max_pending:
                late[channel] = round(found.oldest_due)
        if late:
            problems.append(f"outbox rows waiting longer than {round(max_pending)} s")
        body: dict[str, Any] = {"status": "ok" if not problems else "unhealthy", "oldest_pending_seconds": late}
        if stranded:
            body["waiting_for_channel_not_set_up"] = stranded
        if problems:
            body["problems"] = problems
        return JSONResponse(body, status_code=200 if not problems else 503)

    return Route("/healthz", healthz, methods=["GET"])
