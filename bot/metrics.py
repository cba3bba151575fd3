"""What an operator watches: `GET /metrics` in Prometheus format and a `/healthz` that says when Sigap is stuck.

Counters and histograms are fed by the core through `models.meter.Meter` (sends, retries, dead rows, 429s,
inbound messages, reply latency, sweeps); the outbox's depth and the age of its oldest pending row are read
from the database at scrape time, per channel and status. `/healthz` answers 503 when the dispatcher is no
longer running or the oldest pending row due for sending is older than `SIGAP_HEALTH_MAX_PENDING_SECONDS`.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Iterator
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

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Two gauges from two small grouped queries."""
        depth = GaugeMetricFamily(
            "sigap_outbox_rows", "Outbox rows by channel and status", labels=["channel", "status"]
        )
        age = GaugeMetricFamily(
            "sigap_outbox_oldest_pending_seconds",
            "Age of the oldest row due for sending (pending and due, or being sent), per channel",
            labels=["channel"],
        )
        for channel, status, count in outbox_depth(self.db):
            depth.add_metric([channel, status], count)
        for channel, seconds in oldest_pending(self.db, self.clock.now()).items():
            age.add_metric([channel], seconds)
        yield depth
        yield age


def outbox_depth(db: Database) -> list[tuple[str, str, int]]:
    """(channel, status, rows) for every pair present."""
    with db.uow() as uow:
        rows = uow.session.exec(
            select(Outbox.channel, Outbox.status, func.count()).group_by(col(Outbox.channel), col(Outbox.status))
        ).all()
    return [(channel, status, int(count)) for channel, status, count in rows]


def oldest_pending(db: Database, now: datetime) -> dict[str, float]:
    """Seconds since the oldest row still to send became due, per channel (rows due later do not count)."""
    with db.uow() as uow:
        rows = uow.session.exec(
            select(Outbox.channel, func.min(Outbox.next_attempt_at))
            .where(col(Outbox.status).in_((OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)))
            .where(col(Outbox.next_attempt_at) <= now)
            .group_by(col(Outbox.channel))
        ).all()
    return {channel: max((now - ensure_utc(oldest)).total_seconds(), 0.0) for channel, oldest in rows if oldest}


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


def health_route(db: Database, clock: Clock, dispatcher_alive: Callable[[], bool], max_pending: float) -> Route:
    """`GET /healthz`: 200 when the dispatcher runs and nothing waits too long; 503 with the reason otherwise."""

    async def healthz(_request: Request) -> Response:
        problems: list[str] = []
        if not dispatcher_alive():
            problems.append("dispatcher is not running")
        try:
            ages = await asyncio.to_thread(oldest_pending, db, clock.now())
        except Exception:
            problems.append("database unreachable")
            ages = {}
        late = {channel: round(age) for channel, age in ages.items() if age > max_pending}
        if late:
            problems.append(f"outbox rows waiting longer than {round(max_pending)} s")
        body: dict[str, Any] = {"status": "ok" if not problems else "unhealthy", "oldest_pending_seconds": late}
        if problems:
            body["problems"] = problems
        return JSONResponse(body, status_code=200 if not problems else 503)

    return Route("/healthz", healthz, methods=["GET"])
