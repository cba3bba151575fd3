"""One chat floods the bot while 100 other people each send one command: their replies must not wait for it.

`python -m bench flood` runs this part alone and replaces only its rows in bench/results.md. The real Telegram
channel of `sigap run` (webhook mode, python-telegram-bot, the durable replies, flood control, the real limits:
30 messages/s for the bot, 1/s per chat) answers updates posted to its webhook; the Bot API is
`tests/fakes/telegram_api.FakeBotApi` on 127.0.0.1. Latency = from the webhook POST to the reply at the Bot API.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlmodel import select

from bench.results_file import update_part
from bot.http import HttpServer, build_app
from bot.settings import SAMPLE_ROSTER, Settings
from bot.telegram.runtime import SECRET_HEADER, telegram_runtime
from bot.wiring import build_deps
from models.clock import SystemClock
from models.db import Database
from models.flood import FloodGuard
from models.roster import import_roster
from models.tables import Contact, Role, Unit
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "777:flood-bench-token"
SECRET = "flood-bench-secret"
FLOOD = 300
USERS = 100
SPREAD = 10.0
"""Seconds over which the 100 people send their command (10 a second, while the flood goes on)."""
GOAL_P99 = 1.0
FLOODER = 5_000_000
FIRST_USER = 6_000_000


def _seed(url: str) -> None:
    db = Database(url)
    db.upgrade()
    with db.uow() as uow:
        import_roster(uow.session, SAMPLE_ROSTER)
        unit = uow.session.exec(select(Unit).where(Unit.code == "DINKES")).one()
        assert unit is not None
        for i in range(USERS):
            uow.session.add(
                Contact(
                    name=f"Operator Uji {i}",
                    role=Role.OPERATOR.value,
                    unit_id=unit.id,
                    telegram_user_id=str(FIRST_USER + i),
                    preferred_channel="telegram",
                )
            )
        uow.commit()
    db.dispose()


async def measure(tmp: Path) -> dict[str, float]:
    """Run the scenario once; latency figures of the 100 people and what the flooder got."""
    url = f"sqlite:///{tmp / 'flood.db'}"
    _seed(url)
    async with FakeBotApi(token=TOKEN) as api:
        settings = Settings(
            _env_file=None,
            SIGAP_DATABASE_URL=url,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=api.base_url,
            TELEGRAM_WEBHOOK_URL="https://sigap.example.go.id/telegram",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
        )
        deps = build_deps(settings, clock=SystemClock())
        deps.guard = FloodGuard(deps.clock)
        runtime = await telegram_runtime(settings, deps)
        await runtime.start()
        server = HttpServer(build_app(runtime.routes), "127.0.0.1", 0)
        await server.start()
        sent_at: dict[int, float] = {}
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.port}", headers={SECRET_HEADER: SECRET}, timeout=30
            ) as http:

                async def post(chat: int, text: str) -> None:
                    update = api.push_message(chat, text, first_name="Uji")
                    sent_at.setdefault(chat, time.monotonic())
                    await http.post("/telegram", json=update)

                async def flood() -> None:
                    for i in range(FLOOD):
                        await post(FLOODER, f"halo {i}")

                async def people() -> None:
                    posts = []
                    for i in range(USERS):
                        posts.append(asyncio.create_task(post(FIRST_USER + i, "/bantuan")))
                        await asyncio.sleep(SPREAD / USERS)
                    await asyncio.gather(*posts)

                await asyncio.gather(flood(), people())
                users = [FIRST_USER + i for i in range(USERS)]
                await api.wait_for(lambda: all(api.sent_to(chat) for chat in users), timeout=120)
        finally:
            await server.stop()
            await runtime.stop()
            deps.db.dispose()
        latencies = sorted(api.sent_to(chat)[0].at - sent_at[chat] for chat in users)
        return {
            "p50": statistics.median(latencies),
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)],
            "max": latencies[-1],
            "flooder_replies": float(len(api.sent_to(FLOODER))),
        }


def run(tmp: Path) -> dict[str, float]:
    """The scenario in a fresh event loop."""
    return asyncio.run(measure(tmp))


def table_rows(figures: dict[str, float]) -> list[str]:
    """The rows of bench/results.md's table (figure | measured | goal | result)."""
    ok = figures["p99"] < GOAL_P99
    return [
        f"| flood: 1 chat sends {FLOOD} messages while {USERS} people send one command each: p99 reply latency of "
        f"the {USERS} | {figures['p99']:.2f} s (p50 {figures['p50']:.2f} s, max {figures['max']:.2f} s) | "
        f"< {GOAL_P99:g} s | {'pass' if ok else 'FAIL'} |",
        f"| flood: replies the flooding chat got for {FLOOD} messages | {figures['flooder_replies']:.0f} | "
        f"told once, then ignored | {'pass' if figures['flooder_replies'] <= 10 else 'FAIL'} |",
    ]


def how_measured() -> list[str]:
    """The results.md note on how the flood figures are measured."""
    return [
        "- flood: the Telegram channel of `sigap run` in webhook mode (python-telegram-bot, durable replies, flood",
        "  control, TELEGRAM_RATE_* defaults: 30/s, 1/s per chat) on SQLite; a stranger posts "
        f"{FLOOD} updates as fast as",
        f"  the webhook takes them while {USERS} registered people post /bantuan, spread over {SPREAD:g} s; "
        "latency from the POST to",
        "  the reply's arrival at `FakeBotApi` (same process, 127.0.0.1).",
    ]


def update_results(path: Path, figures: dict[str, float]) -> None:
    """Replace the flood rows and note in results.md (the other parts' rows stay as they are)."""
    update_part(path, "flood", table_rows(figures), how_measured(), "python -m bench flood")


def main(argv: list[str], results: Path) -> int:
    """`python -m bench flood [--quick]`: run the flood part; without --quick, update its rows in `results`."""
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(Path(tmp))
    for line in table_rows(figures):
        print(line, flush=True)
    if "--quick" not in argv:
        update_results(results, figures)
        print(f"written to {results}")
    return 0
