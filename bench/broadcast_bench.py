"""A broadcast at the limit through `sigap run`: an admin sends /siaran by chat and taps Kirim; how fast it goes out.

`python -m bench broadcast` runs this part alone and replaces only its rows in bench/results.md. The real runner
(`bot.runner.run`: Telegram channel in webhook mode, dispatcher, scheduler, HTTP server) on SQLite, in this
process; the Bot API is `tests/fakes/telegram_api.FakeBotApi` in a child process (`python -m bench.broadcast_bench
serve`) with the real limits: 30 messages/s for the bot (429 above), TELEGRAM_RATE_* defaults on our side. The
admin's updates are posted to the webhook; the recipients' messages, the progress edits and the tally are read
back from the fake. Rate = (recipients - 1) / (last recipient message - first recipient message).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "true")

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from bench.results_file import update_part
from bot.runner import run as run_sigap
from bot.settings import Settings
from bot.telegram.menu import CHANNEL, DEFAULT, bot_commands, chat_scope, fingerprint, plan_menus
from bot.telegram.runtime import SECRET_HEADER
from models.clock import SystemClock
from models.db import Database
from models.pemda import load_pemda
from models.state_tables import MenuState
from models.tables import OPEN_STATUSES, Contact, Outbox, Role, Unit

TOKEN = "4343:broadcast-bench-token"
SECRET = "broadcast-bench-secret"
ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = 900
PER_UNIT = 30
LIMIT = 30.0
GOAL_RATIO = 0.95
ADMIN_CHAT = 7_000_000
FIRST_RECIPIENT = 8_000_000
TEXT = "Rapat koordinasi percepatan e-Katalog hari Senin pukul 09.00 di Aula Setda. Mohon hadir tepat waktu."


# -- the fake Bot API in a child process --------------------------------------------------------------------


async def serve(token: str) -> None:
    """Child process: serve the fake Bot API; one command per input line, answers one JSON line (or `PORT n`).

    `limit <per_second>`; `message <chat> <text>` and `tap <chat> <message_id> <data>` build an update (printed,
    for the webhook); `count` (messages sent or edited); `records` ([method, chat, message_id, at, text, buttons]
    of every one); `stats` (429 answers, calls per method); `quit`.
    """
    from tests.fakes.telegram_api import FakeBotApi

    loop = asyncio.get_running_loop()
    async with FakeBotApi(token=token) as api:
        print(f"PORT {api.port}", flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).rstrip("\n")
            command, _, arg = line.partition(" ")
            if command in ("", "quit"):
                return
            answer: Any = None
            if command == "limit":
                api.limit_global(float(arg))
            elif command == "message":
                chat, _, text = arg.partition(" ")
                answer = api.push_message(int(chat), text, first_name="Admin")
            elif command == "tap":
                chat, message_id, data = arg.split(" ", 2)
                answer = api.push_callback(int(chat), data, message_id=int(message_id), first_name="Admin")
            elif command == "count":
                answer = len(api.sent)
            elif command == "records":
                answer = [[r.method, r.chat_id, r.message_id, r.at, r.text, r.buttons] for r in api.sent]
            elif command == "stats":
                calls: dict[str, int] = {}
                for call in api.calls:
                    calls[call.method] = calls.get(call.method, 0) + 1
                answer = {"count_429": api.count_429, "calls": calls}
            print(json.dumps(answer), flush=True)


class FakeApi:
    """The child process serving the fake Bot API, spoken to without blocking the event loop."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port

    @classmethod
    async def start(cls) -> FakeApi:
        """Start the child and wait until it listens."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.broadcast_bench",
            "serve",
            TOKEN,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,  # `records` is one long line
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.stdout is not None
        port = int((await proc.stdout.readline()).split()[1])
        return cls(proc, port)

    @property
    def base_url(self) -> str:
        """TELEGRAM_API_BASE_URL for the runner."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def ask(self, line: str) -> Any:
        """Send one command and return its JSON answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()
        return json.loads(await self.proc.stdout.readline())

    async def close(self) -> None:
        """Stop the child."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"quit\n")
        await self.proc.stdin.drain()
        await asyncio.wait_for(self.proc.wait(), timeout=10)


# -- the scenario -------------------------------------------------------------------------------------------


@dataclass
class Record:
    """One message the fake received: sent or edited."""

    method: str
    chat: int
    message_id: int
    at: float
    text: str
    buttons: list[tuple[str, str]]


def seed(url: str, recipients: int) -> None:
    """A migrated database with one admin and `recipients` kepala/operator on Telegram in units of 30."""
    db = Database(url)
    db.upgrade()
    with db.uow() as uow:
        units = [
            Unit(code=f"DINAS-{u:03d}", name=f"Dinas Uji {u + 1}", kind="dinas")
            for u in range((recipients + PER_UNIT - 1) // PER_UNIT + 1)
        ]
        uow.session.add_all(units)
        uow.session.flush()
        uow.session.add(
            Contact(
                name="Rina Admin",
                role=Role.ADMIN.value,
                unit_id=units[0].id,
                telegram_user_id=str(ADMIN_CHAT),
                preferred_channel="telegram",
            )
        )
        for i in range(recipients):
            uow.session.add(
                Contact(
                    name=f"Pegawai Uji {i}",
                    role=(Role.KEPALA if i % PER_UNIT == 0 else Role.OPERATOR).value,
                    unit_id=units[1 + i // PER_UNIT].id,
                    telegram_user_id=str(FIRST_RECIPIENT + i),
                    preferred_channel="telegram",
                )
            )
        uow.commit()
    db.dispose()


def record_menus(settings: Settings) -> None:
    """Record every menu as set, as an earlier start of `sigap run` would have (the bench measures a restart)."""
    db = Database(settings.database_url)
    now = SystemClock().now()
    with db.uow() as uow:
        pemda = load_pemda(settings.pemda_path())
        plan = plan_menus(uow.session, pemda)
        rows = [MenuState(channel=CHANNEL, scope=DEFAULT, fingerprint=fingerprint(bot_commands(None)), set_at=now)]
        for chat_id, role in plan.chats:
            digest = fingerprint(bot_commands(role, pemda))
            rows.append(MenuState(channel=CHANNEL, scope=chat_scope(chat_id), fingerprint=digest, set_at=now))
        uow.session.add_all(rows)
        uow.commit()
    db.dispose()


def _nothing_pending(url: str) -> bool:
    """Whether the outbox holds nothing due now (rows planned for a later working slot do not count)."""
    db = Database(url)
    try:
        with db.uow() as uow:
            due = select(func.count()).select_from(Outbox).where(col(Outbox.status).in_(OPEN_STATUSES))
            return not uow.session.exec(due.where(col(Outbox.next_attempt_at) <= SystemClock().now())).one()
    finally:
        db.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _records(api: FakeApi) -> list[Record]:
    return [
        Record(m, int(c), int(i), float(a), str(t or ""), [(str(b[0]), str(b[1])) for b in bs])
        for m, c, i, a, t, bs in await api.ask("records")
    ]


async def _wait(what: str, check: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"broadcast bench: {what} did not happen within {within:g} s")
        await asyncio.sleep(0.25)


async def measure(tmp: Path, recipients: int = RECIPIENTS) -> dict[str, float]:
    """Run the scenario once; the figures (see `table_rows`)."""
    load = os.getloadavg()[0]
    url = f"sqlite:///{tmp / 'broadcast.db'}"
    seed(url, recipients)
    api = await FakeApi.start()
    port = _free_port()
    stop = asyncio.Event()
    runner: asyncio.Task[int] | None = None
    try:
        await api.ask(f"limit {LIMIT:g}")
        settings = Settings(
            _env_file=None,
            SIGAP_DATABASE_URL=url,
            SIGAP_HTTP_HOST="127.0.0.1",
            SIGAP_HTTP_PORT=port,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=api.base_url,
            TELEGRAM_WEBHOOK_URL="https://sigap.example.go.id/telegram",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_RATE_GLOBAL=LIMIT,
        )
        record_menus(settings)
        runner = asyncio.create_task(run_sigap(settings, stop=stop))
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={SECRET_HEADER: SECRET}, timeout=30
        ) as http:

            async def healthy() -> bool:
                if runner is not None and runner.done():
                    runner.result()
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await _wait("the start of sigap run", healthy, 60)

            async def swept() -> bool:  # the start-up sweep has run (its reminders are queued, if any)
                metrics = (await http.get("/metrics")).text
                return any(line.startswith("sigap_sweeps_total{") for line in metrics.splitlines())

            await _wait("the start-up sweep", swept, 120)

            async def quiet() -> bool:  # in working hours the start-up sweep may queue reminders: let them go first
                return await asyncio.to_thread(_nothing_pending, url)

            await _wait("an empty outbox", quiet, recipients / LIMIT * 2 + 60)
            await http.post("/telegram", json=await api.ask(f"message {ADMIN_CHAT} /siaran semua {TEXT}"))

            async def preview() -> Record | None:
                mine = [r for r in await _records(api) if r.chat == ADMIN_CHAT and r.text.startswith("Pratinjau")]
                return mine[-1] if mine else None

            shown: Record = await _wait("the preview", preview, 60)
            [(_, data)] = [b for b in shown.buttons if b[0] == "Kirim"]
            tapped = time.monotonic()
            await http.post("/telegram", json=await api.ask(f"tap {ADMIN_CHAT} {shown.message_id} {data}"))

            async def tally() -> bool:
                if int(await api.ask("count")) < recipients:
                    return False
                mine = [r for r in await _records(api) if r.chat == ADMIN_CHAT]
                told = any(r.method == "sendMessage" and "selesai" in r.text for r in mine)
                return told and any(r.method == "editMessageText" and r.text.endswith("Selesai.") for r in mine)

            try:
                await _wait("the tally", tally, recipients / LIMIT * 3 + 60)
            except TimeoutError:
                mine = [(r.method, r.text[:60]) for r in await _records(api) if r.chat == ADMIN_CHAT]
                print(f"the admin's chat so far: {mine}", file=sys.stderr)
                raise
        stopping = time.monotonic()
        stop.set()
        await runner
        stopped = time.monotonic() - stopping
        records = await _records(api)
        stats = await api.ask("stats")
    finally:
        stop.set()
        if runner is not None and not runner.done():
            runner.cancel()
        await api.close()
    wanted = {FIRST_RECIPIENT + i for i in range(recipients)}
    sent = [r for r in records if r.chat in wanted and r.method == "sendMessage" and TEXT in r.text]
    to_admin = [r for r in records if r.chat == ADMIN_CHAT]
    edits = [r for r in to_admin if r.method == "editMessageText"]
    final = [r for r in to_admin if r.method == "sendMessage" and "selesai" in r.text]
    first, last = min(r.at for r in sent), max(r.at for r in sent)
    rate = (len(sent) - 1) / (last - first)
    return {
        "recipients": float(len({r.chat for r in sent})),
        "messages": float(len(sent)),
        "seconds": last - first,
        "rate": rate,
        "ratio": rate / LIMIT,
        "count_429": float(stats["count_429"]),
        "edits": float(len(edits)),
        "final_edit": float(bool(edits) and edits[-1].text.endswith("Selesai.")),
        "tap_to_first": first - tapped,
        "last_to_tally": (final[-1].at - last) if final else -1.0,
        "stop_seconds": stopped,
        "load": load,
        "menus_at_start": float(stats["calls"].get("setMyCommands", 0) + stats["calls"].get("deleteMyCommands", 0)),
    }


def run(tmp: Path, recipients: int = RECIPIENTS) -> dict[str, float]:
    """The scenario in a fresh event loop."""
    return asyncio.run(measure(tmp, recipients))


def table_rows(f: dict[str, float]) -> list[str]:
    """The rows of bench/results.md's table (figure | measured | goal | result)."""
    n = int(f["recipients"])
    ok = f["ratio"] >= GOAL_RATIO and f["recipients"] == f["messages"]
    rows = [
        f"| broadcast through `sigap run` to {n} recipients at {LIMIT:g}/s, with progress edits: achieved/limit | "
        f"{f['ratio']:.3f} ({f['rate']:.1f} msg/s over {f['seconds']:.1f} s; {f['edits']:.0f} progress edits"
        f"{', the last one Selesai' if f['final_edit'] else ', NO final edit'}; load average {f['load']:.1f} "
        f"at the start) | >= {GOAL_RATIO} | "
        f"{'pass' if ok else 'FAIL'} |",
        f"| broadcast: 429 answers | {f['count_429']:.0f} | 0 | {'pass' if f['count_429'] == 0 else 'FAIL'} |",
        f"| broadcast: command menus set at a restart with nothing changed (setMyCommands + deleteMyCommands) | "
        f"{f['menus_at_start']:.0f} | 0 | {'pass' if f['menus_at_start'] == 0 else 'FAIL'} |",
    ]
    return rows


def how_measured() -> list[str]:
    """The results.md note on how the broadcast figures are measured."""
    return [
        "- broadcast: `bot.runner.run` (Telegram in webhook mode, dispatcher with the progress editor and the",
        "  broadcast finisher, scheduler, HTTP server; TELEGRAM_RATE_* defaults) on SQLite in the bench process;",
        "  `FakeBotApi` in a child process answering 429 above 30 messages/s (edits count). The admin posts",
        "  `/siaran semua <text>` to the webhook and taps Kirim on the preview; the command menus were recorded as",
        "  set before the start. Rate = (messages - 1) / (last - first recipient message at the fake).",
    ]


def main(argv: list[str], results: Path) -> int:
    """`python -m bench broadcast [--quick]`: run this part; without --quick, update its rows in `results`."""
    recipients = 300 if "--quick" in argv else RECIPIENTS
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(Path(tmp), recipients)
    print(
        f"broadcast: tap to first recipient {figures['tap_to_first']:.2f} s, last recipient to tally "
        f"{figures['last_to_tally']:.2f} s, `sigap run` stopped {figures['stop_seconds']:.1f} s after its stop event",
        flush=True,
    )
    for line in table_rows(figures):
        print(line, flush=True)
    if "--quick" not in argv:
        update_part(results, "broadcast", table_rows(figures), how_measured(), "python -m bench broadcast")
        print(f"written to {results}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(serve(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:], Path(__file__).with_name("results.md")))
