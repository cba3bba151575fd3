"""Fan-out: N messages to N chats through the real Dispatcher, RateLimiter and Telegram adapter.

The fake Bot API server enforces a global rate and answers 429 above it; the dispatcher's limiter is
configured with the same rate (TELEGRAM_RATE_GLOBAL). Achieved rate = N / wall time of the drain.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.limits import limiter_for
from bot.settings import Settings
from bot.telegram.sender import TelegramSender
from jobs.dispatcher import Dispatcher
from models.clock import SystemClock
from models.db import Database
from models.messages import Channel
from models.outbox import OutMessage, insert_rows, outbox_row
from models.tables import Contact

TOKEN = "4242:bench-token"
ROOT = Path(__file__).resolve().parent.parent
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@dataclass
class FanOutResult:
    """What one fan-out run measured."""

    limit: float
    messages: int
    seconds: float
    sent: int
    answers_429: int
    chats: int

    @property
    def rate(self) -> float:
        """Messages per second achieved."""
        return self.messages / self.seconds

    @property
    def ratio(self) -> float:
        """Achieved rate divided by the configured limit."""
        return self.rate / self.limit


def _seed(db: Database, n: int) -> None:
    clock = SystemClock()
    with db.uow() as uow:
        contacts = [Contact(name=f"Kepala {i}", role="kepala", telegram_user_id=str(100_000 + i)) for i in range(n)]
        uow.session.add_all(contacts)
        uow.session.flush()
        rows = [
            outbox_row(
                f"bench:{i}",
                c,
                OutMessage(text=f"Yth. Bapak/Ibu, pengingat nomor {i}"),
                clock.now(),
                channel=Channel.TELEGRAM,
            )
            for i, c in enumerate(contacts)
        ]
        insert_rows(uow.session, rows)
        uow.commit()


class FakeServer:
    """The fake Bot API server (bench.fake_server) in a child process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_server", TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin, self.proc.stdout
        self.port = int(self._out.readline().split()[1])

    @property
    def base_url(self) -> str:
        """Value for `Bot(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}/bot"

    def command(self, line: str) -> None:
        """Send one command."""
        self._in.write(line + "\n")
        self._in.flush()

    def stats(self) -> dict[str, float]:
        """What the server saw."""
        self.command("stats")
        return dict(json.loads(self._out.readline()))

    def close(self) -> None:
        """Stop the server."""
        self.command("quit")
        self.proc.wait(timeout=10)


async def fan_out(n: int, limit: float, server: FakeServer, pool: int = 8) -> FanOutResult:
    """Send `n` messages to `n` chats with the global limit `limit` on both sides."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'fanout.db'}")
        db.upgrade()
        _seed(db, n)
        settings = Settings(TELEGRAM_RATE_GLOBAL=limit)  # type: ignore[call-arg]
        clock = SystemClock()
        server.command("reset")
        server.command(f"limit {limit}")
        request = HTTPXRequest(connection_pool_size=pool, socket_options=NODELAY)
        async with Bot(TOKEN, base_url=server.base_url, request=request) as bot:
            dispatcher = Dispatcher(
                db=db,
                senders={Channel.TELEGRAM: TelegramSender(bot)},
                clock=clock,
                limiters={Channel.TELEGRAM: limiter_for(Channel.TELEGRAM, settings, clock)},
                batch=settings.dispatch_batch,
                concurrency=pool,
            )
            gc.collect()
            gc.freeze()  # as `sigap dispatch` does after start-up: full collections skip the long-lived objects
            start = time.perf_counter()
            stats = await dispatcher.drain(max_rounds=1_000_000, pipelined=True)
            while _pending(db):  # rows answered 429 wait for retry_after: their time counts
                await asyncio.sleep(0.2)
                stats.add(await dispatcher.drain(max_rounds=1_000_000, pipelined=True))
            seconds = time.perf_counter() - start
        seen = server.stats()
        db.dispose()
    return FanOutResult(
        limit=limit,
        messages=n,
        seconds=seconds,
        sent=stats.sent,
        answers_429=int(seen["count_429"]),
        chats=int(seen["chats"]),
    )


def _pending(db: Database) -> int:
    from models.outbox import status_counts

    with db.uow() as uow:
        counts = status_counts(uow.session)
    return counts.get("pending", 0) + counts.get("sending", 0)
