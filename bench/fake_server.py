"""The fake Bot API server in its own process, so the dispatcher under test has a CPU core to itself.

Protocol on stdin/stdout: prints `PORT <n>` when listening; each input line is a command:
`limit <per_second>` sets the global limit, `reset` forgets what was sent, `stats` prints one JSON line
(sent, 429 answers, distinct chats, first/last send times), `times` prints [chat, arrival time] of every send
(time.monotonic(), comparable with the client's on one machine), `quit` stops.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

os.environ.setdefault("PTB_TIMEDELTA", "true")

from tests.fakes.telegram_api import FakeBotApi


async def serve(token: str) -> None:
    """Serve until `quit` or end of input."""
    loop = asyncio.get_running_loop()
    async with FakeBotApi(token=token) as api:  # its listening socket has TCP_NODELAY (no delayed-ACK stalls)
        print(f"PORT {api.port}", flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if not line or line == "quit":
                return
            command, _, arg = line.partition(" ")
            if command == "limit":
                api.limit_global(float(arg))
            elif command == "reset":
                api.sent.clear()
                api.calls.clear()
                api.count_429 = 0
            elif command == "times":
                print(json.dumps([[r.chat_id, r.at] for r in api.sent]), flush=True)
            elif command == "stats":
                times = [r.at for r in api.sent]
                stats = {
                    "sent": len(api.sent),
                    "count_429": api.count_429,
                    "chats": len({r.chat_id for r in api.sent}),
                    "first": min(times, default=0.0),
                    "last": max(times, default=0.0),
                }
                print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
