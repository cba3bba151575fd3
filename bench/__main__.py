"""`python -m bench` (`make bench`): run the fan-out, sweep and roster benchmarks and write bench/results.md.

Options: `--quick` (smaller N, for a smoke run) and `--only fanout|sweep` (one part); results.md is
written only by a full run. `python -m bench roster` (the roster import) and `python -m bench flood` (one chat
flooding while others wait for replies) run one part alone and replace only its rows; so does
`python -m bench broadcast` (a broadcast at the limit through `sigap run`, with the admin's progress edits).
`python -m bench sweep` runs the sweep on SQLite and on PostgreSQL alone and replaces only the sweep rows;
`python -m bench commands` times chat commands at 500 and 30,000 units on both databases and replaces only its rows.
`python -m bench echo` compares Sigap's handling with a bare python-telegram-bot echo bot (both databases).
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import broadcast_bench, commands_bench, echo_bench, flood_bench, roster_bench, sweep_bench
from bench.fanout import FakeServer, FanOutResult, fan_out
from bench.results_file import machine_speed

RESULTS = Path(__file__).with_name("results.md")
FANOUT_N = 3_000
LIMITS = (30.0, 300.0)
POOL = 16
SWEEP_UNITS = 30_000


def _row(name: str, value: str, goal: str, ok: bool) -> str:
    return f"| {name} | {value} | {goal} | {'pass' if ok else 'FAIL'} |"


def main(argv: list[str]) -> int:
    """Run every benchmark; print and (unless --quick) write the figures."""
    if argv[:1] == ["roster"]:
        return roster_bench.main(argv[1:], RESULTS)
    if argv[:1] == ["flood"]:
        return flood_bench.main(argv[1:], RESULTS)
    if argv[:1] == ["sweep"]:
        return sweep_bench.main(argv[1:], RESULTS)
    if argv[:1] == ["broadcast"]:
        return broadcast_bench.main(argv[1:], RESULTS)
    if argv[:1] == ["commands"]:
        return commands_bench.main(argv[1:], RESULTS)
    if argv[:1] == ["echo"]:
        return echo_bench.main(argv[1:], RESULTS)
    quick = "--quick" in argv
    only = argv[argv.index("--only") + 1] if "--only" in argv[:-1] else None
    if only not in (None, "fanout", "sweep"):
        print("--only takes 'fanout' or 'sweep'", file=sys.stderr)
        return 2
    n = 300 if quick else FANOUT_N
    units = 3_000 if quick else SWEEP_UNITS
    speed = machine_speed()
    fanouts: list[FanOutResult] = []
    if only != "sweep":
        server = FakeServer()
        try:
            for limit in LIMITS:
                result = asyncio.run(fan_out(n, limit, server, pool=POOL))
                print(
                    f"fan-out {n} at {limit:g}/s: {result.seconds:.1f} s, {result.rate:.1f} msg/s, "
                    f"ratio {result.ratio:.3f}, 429: {result.answers_429}, chats {result.chats}",
                    flush=True,
                )
                fanouts.append(result)
        finally:
            server.close()
    if only == "fanout":
        return 0
    sweeps = sweep_bench.run_both(units)  # SQLite and PostgreSQL, each printed as it ends
    roster = flood = broadcast = None
    commands: list[commands_bench.Figures] = []
    echoes: list[echo_bench.Comparison] = []
    if only is None:
        with tempfile.TemporaryDirectory() as tmp:
            roster = roster_bench.run(Path(tmp), 4_000 if quick else 20_000)
        with tempfile.TemporaryDirectory() as tmp:
            flood = flood_bench.run(Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            broadcast = broadcast_bench.run(Path(tmp), 300 if quick else broadcast_bench.RECIPIENTS)
        commands = commands_bench.run(quick)
        echoes = echo_bench.run(rounds=1 if quick else echo_bench.ROUNDS)
    lines = [
        "# Benchmark results",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPU (nproc), {platform.machine()}, {platform.system()} {platform.release()}",
        f"- python: {platform.python_version()}",
        f"- speed: {speed:.2f} s for a pure-Python loop of 10 million additions (best of 3, before the runs): "
        "machines of the same kind differ, so compare the figures of two runs with this in mind",
        "- command: `make bench` (= `python -m bench`)",
        "",
        "| figure | measured | goal | result |",
        "|---|---|---|---|",
    ]
    for r in fanouts:
        lines.append(
            _row(
                f"fan-out {r.messages} msgs to {r.chats} chats at {r.limit:g}/s: achieved/limit",
                f"{r.ratio:.3f} ({r.rate:.1f} msg/s, {r.seconds:.1f} s)",
                ">= 0.95",
                r.ratio >= 0.95,
            )
        )
        lines.append(_row(f"fan-out at {r.limit:g}/s: 429 answers", str(r.answers_429), "0", r.answers_429 == 0))
    lines += sweep_bench.table_rows(sweeps)
    lines += roster_bench.table_rows(roster) if roster else []
    lines += flood_bench.table_rows(flood) if flood else []
    lines += broadcast_bench.table_rows(broadcast) if broadcast else []
    lines += commands_bench.table_rows(commands)
    lines += echo_bench.table_rows(echoes)
    lines += [
        "",
        "How it is measured:",
        "",
        "- fan-out: the real `Dispatcher` + `RateLimiter` (system clock) + `TelegramSender` over python-telegram-bot's",
        f"  `Bot` (HTTPX pool {POOL}, TCP_NODELAY), SQLite outbox, sending to `tests/fakes/telegram_api.FakeBotApi`",
        "  run in a child process (`bench/fake_server.py`) with `limit_global(limit)`; TELEGRAM_RATE_GLOBAL = limit.",
        "  Rate = messages / wall time of the drain (first claim to last row settled). Start-up objects are",
        "  frozen (`gc.freeze()`) before the drain, as `sigap dispatch` does; needs an otherwise idle machine.",
        *sweep_bench.how_measured(units),
        *(roster_bench.how_measured() if roster else []),
        *(flood_bench.how_measured() if flood else []),
        *(broadcast_bench.how_measured() if broadcast else []),
        *(commands_bench.how_measured(max(commands[0].units.values())) if commands else []),
        *(echo_bench.how_measured() if echoes else []),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not quick and only is None:
        RESULTS.write_text(text, encoding="utf-8")
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
