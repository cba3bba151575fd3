"""Handling cost: Sigap's Telegram channel against a bare python-telegram-bot echo bot on the same fake Bot API.

`python -m bench echo` runs this part alone and replaces only its rows in bench/results.md (`--quick`: one round,
nothing written; `--db sqlite` or `--db postgres`: one database). Three processes besides this one: the fake Bot
API (`bench/fake_server.py`, no rate limit), the echo bot (`python -m bench.echo_bench echo-bot`: an
`Application` with PTB's defaults whose one `MessageHandler` replies the text, under the same uvicorn/Starlette
webhook server) and `sigap run` itself (Telegram in webhook mode, send limits raised, 200 registered operators).
Both bots get the same updates by webhook POST from this process, interleaved, three rounds each, once with Sigap
on SQLite and once on PostgreSQL (a fresh database `sigap_bench_echo` on 127.0.0.1:5432, dropped after).

A round: 400 updates (every operator sends `/status`, then `/lapor katalog <n>`, a figure that is accepted)
posted over 64 keep-alive connections opened before the clock starts (`bench/webhook_client.py`, as Telegram
keeps its webhook connections open; httpx here capped the echo bot at the driver's own ~200 POSTs/s):
throughput = updates / (first POST to last reply at the fake); then three bursts of 100 operators writing at
once: latency = POST to the reply's arrival at the fake (the same monotonic clock); CPU = the bot process's
user + system time over the round, per update.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "true")

import httpx

from bench.fanout import TOKEN, FakeServer
from bench.results_file import update_part
from bench.webhook_client import Connection, WebhookClient, close_all

ROOT = Path(__file__).resolve().parent.parent
SECRET = "echo-bench-secret"
USERS = 200
FIRST_USER = 8_000_000
ROUNDS = 3
WARM_UP = 1
"""Rounds each bot runs before the measured ones, not counted: a fresh process compiles and prepares its statements
and fills its caches in its first few hundred updates (the commands bench likewise measures after a warm-up)."""
IN_FLIGHT = 64
"""Webhook POSTs the driver keeps open at once in the throughput phase."""
BURST = 100
BURSTS = 3
GOAL_RATIO = 0.5
GOAL_P99 = 0.5
PG_SERVER = os.environ.get("SIGAP_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
PG_DATABASE = "sigap_bench_echo"
WORKERS = int(os.environ.get("SIGAP_BENCH_WORKERS", "2"))
"""`SIGAP_WORKERS` of the `sigap run` measured: worker processes for chat messages, as a large deployment sets it
(one per CPU core of this 2-core machine); `SIGAP_BENCH_WORKERS=0` measures the single-process default."""
WAIT = 120.0
"""Seconds a round waits for its replies at most."""


# ------------------------------------------------------------------------------------------------ the echo bot


async def _echo_bot(api_base: str) -> None:
    """The bare echo bot: PTB in webhook mode under our HTTP server; prints `PORT n`, runs until stdin closes."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    from bot.http import HttpServer, build_app

    # PTB's defaults, untuned: updates one at a time. Measured here it is the fastest setting: with
    # concurrent_updates(256) its 256-connection pool costs httpcore a scan of every connection per request (8.5 ms
    # CPU per update, 74 updates/s), with 16 it does 720/s against 986/s with the defaults.
    application = Application.builder().token(TOKEN).base_url(api_base).updater(None).build()

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await message.reply_text(message.text)

    async def receive(request: Request) -> Response:
        await application.update_queue.put(Update.de_json(json.loads(await request.body()), application.bot))
        return Response()

    application.add_handler(MessageHandler(filters.TEXT, echo))
    server = HttpServer(build_app([Route("/telegram", receive, methods=["POST"])]), "127.0.0.1", 0)
    async with application:
        await application.start()
        await server.start()
        print(f"PORT {server.port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await server.stop()
        await application.stop()


# ------------------------------------------------------------------------------------------------ the processes


class Fake(FakeServer):
    """The fake Bot API in its child process, with the arrival time of every send."""

    def times(self) -> list[tuple[int, float]]:
        """(chat, time.monotonic() at arrival) of every send since the last reset."""
        self.command("times")
        assert self.proc.stdout is not None
        return [(int(chat), float(at)) for chat, at in json.loads(self.proc.stdout.readline())]


@dataclass
class Target:
    """One bot under test: its process and webhook."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the process (all its threads) and of its child processes (Sigap's
        workers, `SIGAP_WORKERS`)."""
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # a process that just ended
                continue
            if stat.parent.name == str(self.proc.pid) or fields[1] == str(self.proc.pid):
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop the process (SIGTERM for Sigap, end of input for the echo bot)."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PTB_TIMEDELTA": "true"}


def start_echo(fake: Fake) -> Target:
    """The echo bot in its child process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.echo_bench", "echo-bot", fake.base_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("PORT "):
        raise RuntimeError(f"echo bot did not start: {line!r}")
    return Target("echo", proc, f"http://127.0.0.1:{int(line.split()[1])}/telegram")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sigap(fake: Fake, url: str, workdir: Path) -> Target:
    """`sigap run` (Telegram webhook mode, limits raised) in its child process, once /healthz answers."""
    from bot.settings import EXAMPLE_PEMDA

    port = _free_port()
    env = {
        **_env(),
        "SIGAP_DATABASE_URL": url,
        "SIGAP_PEMDA_FILE": str(EXAMPLE_PEMDA),
        "SIGAP_HTTP_HOST": "127.0.0.1",
        "SIGAP_HTTP_PORT": str(port),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_WEBHOOK_URL": "https://sigap.example.go.id/telegram",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_RATE_GLOBAL": "100000",
        "TELEGRAM_RATE_PER_CHAT": "100000",
        "SIGAP_WORKERS": str(WORKERS),
    }
    for name in ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"):
        env.pop(name, None)
    log = (workdir / "sigap-run.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=workdir, env=env
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("sigap run stopped:\n" + (workdir / "sigap-run.log").read_text()[-3000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code in (200, 503):
                url = f"http://127.0.0.1:{port}/telegram"
                return Target("sigap", proc, url, {"X-Telegram-Bot-Api-Secret-Token": SECRET})
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("sigap run did not answer /healthz within 60 s")


# ------------------------------------------------------------------------------------------------ the database


def seed(url: str) -> list[int]:
    """Schema, the sample roster, 200 operators on Telegram spread over its units that every program applies to
    (where `/lapor katalog` is accepted); the reminders due today are marked sent (the bots' start-up sweep then
    queues nothing that would mix with the replies)."""
    from sqlalchemy import update
    from sqlmodel import col, select

    from bot.settings import EXAMPLE_PEMDA, SAMPLE_ROSTER
    from bot.wiring import build_calendar
    from jobs.sweep import sweep
    from models.clock import SystemClock
    from models.db import Database
    from models.pemda import load_pemda
    from models.program_sync import sync_programs
    from models.roster import import_roster
    from models.tables import Contact, Outbox, Role, Unit

    db = Database(url)
    db.upgrade()
    pemda = load_pemda(EXAMPLE_PEMDA)
    calendar = build_calendar(pemda, db)
    now = SystemClock().now()
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        sync_programs(uow.session, pemda, calendar.local_date(now))
        kinds = {unit.kind for unit in uow.session.exec(select(Unit)).all()}
        reporting = [kind for kind in kinds if all(p.applies(kind) for p in pemda.programs)]  # OPD and kecamatan
        units = [u.id for u in uow.session.exec(select(Unit).where(col(Unit.kind).in_(reporting))).all()]
        for i in range(USERS):
            uow.session.add(
                Contact(
                    name=f"Operator Uji {i}",
                    role=Role.OPERATOR.value,
                    unit_id=units[i % len(units)],
                    telegram_user_id=str(FIRST_USER + i),
                    preferred_channel="telegram",
                )
            )
        uow.commit()
    sweep(db, pemda, calendar, now)
    with db.uow() as uow:
        uow.session.execute(update(Outbox).values(status="sent", sent_at=now))
        uow.commit()
    db.dispose()
    return [FIRST_USER + i for i in range(USERS)]


def reports_recorded(url: str) -> int:
    """Chat reports in the database (each accepted /lapor adds one)."""
    from sqlalchemy import func
    from sqlmodel import select

    from models.db import Database
    from models.tables import Report

    db = Database(url)
    with db.uow() as uow:
        count = int(uow.session.exec(select(func.count()).select_from(Report)).one())
    db.dispose()
    return count


def create_pg() -> str:
    """A fresh database `sigap_bench_echo` (dropped first if a previous run left it); its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    admin.dispose()
    return f"{PG_SERVER}/{PG_DATABASE}"


def drop_pg() -> None:
    """Drop `sigap_bench_echo`."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
    admin.dispose()


# ------------------------------------------------------------------------------------------------ the driver


@dataclass
class Round:
    """What one round of one bot measured."""

    updates: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    replies: int
    bot: str = ""
    """Which bot ran it ("sigap" or "echo")."""

    @property
    def rate(self) -> float:
        """Updates answered per second in the throughput phase."""
        return self.updates / self.seconds


class Driver:
    """Posts updates to a bot's webhook and reads the replies' arrival at the fake."""

    def __init__(self, fake: Fake, chats: Sequence[int]) -> None:
        self.fake = fake
        self.chats = list(chats)
        self.update_id = 0
        self.message_id = 0
        self.katalog = dict.fromkeys(chats, 11)
        self.laporan = 0

    def update(self, chat: int, text: str) -> bytes:
        """A private text message from `chat`, as Telegram would post it."""
        self.update_id += 1
        self.message_id += 1
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "from": {"id": chat, "is_bot": False, "first_name": "Uji", "language_code": "id"},
            "chat": {"id": chat, "type": "private", "first_name": "Uji"},
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return json.dumps({"update_id": self.update_id, "message": message}).encode()

    def lapor(self, chat: int) -> str:
        """`/lapor katalog <n>`: a figure one more than this operator's last (never a "Yakin?" question)."""
        self.katalog[chat] += 1
        self.laporan += 1
        return f"/lapor katalog {self.katalog[chat]}"

    async def wait_replies(self, count: int) -> list[tuple[int, float]]:
        """The sends since the last reset, once there are `count` (or `WAIT` s passed)."""
        deadline = time.monotonic() + WAIT
        while True:
            times = await asyncio.to_thread(self.fake.times)
            if len(times) >= count or time.monotonic() > deadline:
                return times
            await asyncio.sleep(0.05)

    async def round(self, target: Target) -> Round:
        """Throughput phase, then `BURSTS` bursts of `BURST` people at once."""
        self.fake.command("reset")
        cpu = target.cpu_seconds()
        bodies = [self.update(chat, "/status") for chat in self.chats]
        bodies += [self.update(chat, self.lapor(chat)) for chat in self.chats]
        client = WebhookClient(target.url, target.headers)
        connections = await client.connections(IN_FLIGHT)  # open before the clock starts, as Telegram's are
        queue = collections.deque(bodies)

        async def post_from_queue(connection: Connection) -> None:
            while queue:
                await connection.post(queue.popleft())

        started = time.monotonic()
        try:
            await asyncio.gather(*(post_from_queue(c) for c in connections))
        finally:
            await close_all(connections)
        times = await self.wait_replies(len(bodies))
        seconds = max(at for _chat, at in times) - started
        replies = len(times)
        latencies: list[float] = []
        for burst in range(BURSTS):
            people = self.chats[(burst * BURST) % len(self.chats) :][:BURST]
            texts = ["/status" if i % 2 else self.lapor(chat) for i, chat in enumerate(people)]
            before = len(times)
            sent_at = await self._burst(target, people, texts)
            times = await self.wait_replies(before + len(people))
            arrived: dict[int, float] = {}
            for chat, at in times[before:]:
                arrived.setdefault(chat, at)
            latencies += [arrived[chat] - sent_at[chat] for chat in people if chat in arrived]
            replies += len(times) - before
        cpu = target.cpu_seconds() - cpu
        return Round(len(bodies), seconds, latencies, cpu, replies, target.name)

    async def _burst(self, target: Target, people: Sequence[int], texts: Sequence[str]) -> dict[int, float]:
        """Everyone in `people` writes at once; when each POST started."""
        sent_at: dict[int, float] = {}
        connections = await WebhookClient(target.url, target.headers).connections(len(people))

        async def one(connection: Connection, chat: int, text: str) -> None:
            body = self.update(chat, text)
            sent_at[chat] = time.monotonic()
            await connection.post(body)

        try:
            posts = zip(connections, people, texts, strict=True)
            await asyncio.gather(*(one(connection, chat, text) for connection, chat, text in posts))
        finally:
            await close_all(connections)
        return sent_at


# ------------------------------------------------------------------------------------------------ the scenario


@dataclass
class Comparison:
    """Sigap against the echo bot on one database."""

    database: str
    echo: list[Round]
    sigap: list[Round]
    reports_expected: int
    reports_recorded: int
    warm_up: list[Round] = field(default_factory=list)
    """The rounds before the measured ones (their replies are checked, their figures not counted)."""

    @staticmethod
    def _median_rate(rounds: list[Round]) -> float:
        return statistics.median(r.rate for r in rounds)

    @staticmethod
    def _p99(rounds: list[Round]) -> float:
        values = sorted(x for r in rounds for x in r.latencies)
        return values[max(0, -(-len(values) * 99 // 100) - 1)] if values else float("inf")

    @staticmethod
    def _cpu_ms(rounds: list[Round]) -> float:
        updates = sum(r.updates + BURST * BURSTS for r in rounds)
        return 1000 * sum(r.cpu_seconds for r in rounds) / updates

    def figures(self) -> dict[str, float]:
        """The medians and percentiles reported."""
        return {
            "ratio": self._median_rate(self.sigap) / self._median_rate(self.echo),
            "sigap_rate": self._median_rate(self.sigap),
            "echo_rate": self._median_rate(self.echo),
            "sigap_p99": self._p99(self.sigap),
            "echo_p99": self._p99(self.echo),
            "sigap_p50": statistics.median(x for r in self.sigap for x in r.latencies),
            "sigap_cpu_ms": self._cpu_ms(self.sigap),
            "echo_cpu_ms": self._cpu_ms(self.echo),
        }

    def missing(self, bot: str = "sigap") -> int:
        """Updates `bot` left without a reply (each one should get exactly one); for Sigap plus reports not
        recorded. The echo bot's are reported beside, not counted against Sigap (PTB's default HTTP client gives up
        on a reply when the fake drops a connection under load)."""
        rounds = [r for r in [*self.warm_up, *self.echo, *self.sigap] if r.bot == bot]
        expected = sum(r.updates + BURST * BURSTS for r in rounds)
        got = sum(r.replies for r in rounds)
        recorded = max(0, self.reports_expected - self.reports_recorded) if bot == "sigap" else 0
        return max(0, expected - got) + recorded


async def compare(fake: Fake, echo: Target, database: str, url: str, rounds: int, workdir: Path) -> Comparison:
    """Interleaved rounds of the echo bot and Sigap (on `url`)."""
    chats = await asyncio.to_thread(seed, url)
    sigap = await asyncio.to_thread(start_sigap, fake, url, workdir)
    driver = Driver(fake, chats)
    echo_rounds: list[Round] = []
    sigap_rounds: list[Round] = []
    warm_up: list[Round] = []
    try:
        await _quiet(fake)
        for number in range(-WARM_UP, rounds):
            for target, results in ((echo, echo_rounds), (sigap, sigap_rounds)):
                before = driver.laporan
                result = await driver.round(target)
                if target is echo:
                    driver.laporan = before  # the echo bot records nothing
                if number < 0:
                    warm_up.append(result)
                    print(f"  {database} warm-up {target.name}: {result.rate:.0f} updates/s (not counted)", flush=True)
                    continue
                results.append(result)
                handled = result.updates + BURST * BURSTS
                print(
                    f"  {database} round {number + 1} {target.name}: {result.rate:.0f} updates/s, "
                    f"p99 {Comparison._p99([result]):.3f} s, CPU {1000 * result.cpu_seconds / handled:.2f} ms/update, "
                    f"replies {result.replies}/{handled}",
                    flush=True,
                )
    finally:
        sigap.stop()
    recorded = await asyncio.to_thread(reports_recorded, url)
    return Comparison(database, echo_rounds, sigap_rounds, driver.laporan, recorded, warm_up)


async def _quiet(fake: Fake, calm: float = 1.0) -> None:
    """Wait until the fake saw no send for `calm` seconds (start-up is over)."""
    last = -1
    while True:
        count = len(await asyncio.to_thread(fake.times))
        if count == last:
            return
        last = count
        await asyncio.sleep(calm)


def run(databases: Sequence[str] = ("sqlite", "postgres"), rounds: int = ROUNDS) -> list[Comparison]:
    """Every comparison, each in its own fresh database."""
    fake = Fake()
    echo = start_echo(fake)
    results: list[Comparison] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for database in databases:
                if database == "sqlite":
                    url = f"sqlite:///{Path(tmp) / 'echo.db'}"
                    results.append(asyncio.run(compare(fake, echo, database, url, rounds, Path(tmp))))
                else:
                    url = create_pg()
                    try:
                        results.append(asyncio.run(compare(fake, echo, database, url, rounds, Path(tmp))))
                    finally:
                        drop_pg()
    finally:
        echo.stop()
        fake.close()
    return results


NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _echo_missing(c: Comparison) -> str:
    missing = c.missing("echo")
    return f"; the echo bot's unanswered {missing}" if missing else ""


def table_rows(results: Sequence[Comparison]) -> list[str]:
    """The rows of bench/results.md's table (figure | measured | goal | result)."""
    rows = []
    for c in results:
        f = c.figures()
        name = NAMES.get(c.database, c.database)
        ok = f["ratio"] >= GOAL_RATIO and c.missing() == 0
        rows.append(
            f"| echo: Sigap/echo-bot throughput on `/status` + `/lapor`, {name}, SIGAP_WORKERS={WORKERS} | "
            f"{f['ratio']:.2f} "
            f"(Sigap {f['sigap_rate']:.0f}/s, {f['sigap_cpu_ms']:.1f} ms CPU/update; echo {f['echo_rate']:.0f}/s, "
            f"{f['echo_cpu_ms']:.1f} ms CPU/update: CPU x{f['sigap_cpu_ms'] / f['echo_cpu_ms']:.1f}; "
            f"unanswered {c.missing()}{_echo_missing(c)}) | >= {GOAL_RATIO:g} | "
            f"{'pass' if ok else 'FAIL'} |"
        )
        rows.append(
            f"| echo: p99 reply latency, bursts of {BURST} people at once, {name}, SIGAP_WORKERS={WORKERS} | "
            f"{f['sigap_p99']:.2f} s "
            f"(p50 {f['sigap_p50']:.2f} s; echo bot p99 {f['echo_p99']:.2f} s) | < {GOAL_P99:g} s | "
            f"{'pass' if f['sigap_p99'] < GOAL_P99 else 'FAIL'} |"
        )
    return rows


def how_measured() -> list[str]:
    """The results.md note on how the echo figures are measured."""
    return [
        f"- echo: `sigap run` (Telegram webhook mode, TELEGRAM_RATE_* raised to 100,000/s, SIGAP_WORKERS={WORKERS}:",
        "  chat messages handled in worker processes, as a large deployment sets it; `SIGAP_BENCH_WORKERS=0` measures",
        "  the single-process default) and a bare",
        "  python-telegram-bot echo bot (`Application` with PTB's defaults, one `MessageHandler` replying the text,",
        "  the same uvicorn webhook server), each in its own process, both answering to",
        "  `tests/fakes/telegram_api.FakeBotApi` in a third; this process posts the updates over keep-alive",
        "  connections opened before the clock starts (`bench/webhook_client.py`: prepared bytes, a few microseconds",
        f"  a POST; with httpx the driver itself capped the echo bot near 200/s). {USERS} registered operators",
        f"  (sample roster); a round: each sends `/status` then `/lapor katalog n` (accepted) over {IN_FLIGHT}",
        "  connections, throughput = updates / (first POST to last reply at the fake); then",
        f"  {BURSTS} bursts of {BURST} people at once, latency = POST to reply arrival. {ROUNDS} rounds per bot",
        f"  after {WARM_UP} warm-up round each (not counted), interleaved, medians; CPU = user+system time per",
        "  update of the bot's processes (Sigap's workers counted).",
        "  SQLite in a temporary file,",
        f"  PostgreSQL in a fresh database `{PG_DATABASE}` on 127.0.0.1:5432. Needs an idle machine.",
    ]


def update_results(path: Path, results: Sequence[Comparison]) -> None:
    """Replace the echo rows and note in results.md (the other parts' rows stay as they are)."""
    update_part(path, "echo", table_rows(results), how_measured(), "python -m bench echo")


def main(argv: list[str], results: Path) -> int:
    """`python -m bench echo [--quick] [--db sqlite|postgres]`: run this part; unless --quick, update its rows."""
    quick = "--quick" in argv
    databases: tuple[str, ...] = ("sqlite", "postgres")
    if "--db" in argv[:-1]:
        databases = (argv[argv.index("--db") + 1],)
    comparisons = run(databases, rounds=1 if quick else ROUNDS)
    for line in table_rows(comparisons):
        print(line, flush=True)
    if not quick:
        update_results(results, comparisons)
        print(f"written to {results} ({datetime.now(UTC):%H:%M} UTC)")
    return 0


def _child(argv: list[str]) -> int:
    if argv[:1] == ["echo-bot"]:
        asyncio.run(_echo_bot(argv[1]))
        return 0
    print("usage: python -m bench.echo_bench echo-bot API_BASE_URL", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
