"""`kill -9` a dispatcher process mid-run, start another: every message reaches the Bot API, none is lost.

The dispatcher runs as the real `python -m bot dispatch` in a subprocess, against a SQLite file and a
fake Bot API server served by this test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from sqlmodel import col, select

from models.clock import SystemClock
from models.db import Database
from models.messages import Channel
from models.outbox import OutMessage, insert_rows, outbox_row
from models.tables import Contact, Outbox
from tests.conftest import make_database
from tests.fakes.telegram_api import FakeBotApi

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "555:crash-test-token"
ROWS = 300
BATCH = 20  # rows one dispatcher holds at most; only these may be sent twice


def seed(db: Database) -> dict[str, int]:
    """300 contacts, one pending row each; returns text -> outbox id."""
    now = SystemClock().now()
    with db.uow() as uow:
        contacts = [Contact(name=f"Kepala {i}", role="kepala", telegram_user_id=str(10_000 + i)) for i in range(ROWS)]
        uow.session.add_all(contacts)
        uow.session.flush()
        rows = [
            outbox_row(f"crash:{i}", c, OutMessage(text=f"Pengingat uji nomor {i}"), now, channel=Channel.TELEGRAM)
            for i, c in enumerate(contacts)
        ]
        insert_rows(uow.session, rows)
        uow.commit()
    with db.uow() as uow:
        return {row.text: row.id for row in uow.session.exec(select(Outbox)).all() if row.id is not None}


async def start_dispatcher(db: Database, api: FakeBotApi, log: Path, *args: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PTB_TIMEDELTA": "true",
        "SIGAP_DATABASE_URL": db.url,
        "SIGAP_DISPATCH_BATCH": str(BATCH),
        "SIGAP_LOG_LEVEL": "INFO",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_RATE_GLOBAL": "100",  # 300 rows take ~3 s: slow enough to be killed mid-run
    }
    env.pop("WHATSAPP_ACCESS_TOKEN", None)
    with log.open("ab") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "dispatch", *args,
            cwd=log.parent, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err,
        )  # fmt: skip


async def test_kill_9_mid_run_loses_nothing(tmp_path: Path) -> None:
    db = next(make_database("sqlite", tmp_path))
    by_text = seed(db)
    log = tmp_path / "dispatch.log"
    async with FakeBotApi(token=TOKEN) as api:
        first = await start_dispatcher(db, api, log)
        try:
            await api.wait_for(lambda: len(api.sent) >= ROWS // 3, timeout=30)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            await first.wait()
        assert first.returncode == -signal.SIGKILL
        sent_before = len(api.sent)
        with db.uow() as uow:
            in_flight = set(uow.session.exec(select(Outbox.id).where(Outbox.status == "sending")).all())
            done = uow.session.exec(select(Outbox.id).where(col(Outbox.status) == "sent")).all()
        assert ROWS // 3 <= sent_before < ROWS, log.read_text()
        assert len(in_flight) <= BATCH
        assert len(done) < ROWS

        second = await start_dispatcher(db, api, log, "--once")
        async with asyncio.timeout(60):
            assert await second.wait() == 0, log.read_text()

        seen = Counter(by_text[record.text] for record in api.sent if record.text is not None)
    assert set(seen) == set(by_text.values())  # every row reached the server
    repeated = {row_id for row_id, n in seen.items() if n > 1}
    assert repeated <= in_flight  # only rows in flight at the kill went twice
    assert max(seen.values()) <= 2
    with db.uow() as uow:
        statuses = Counter(uow.session.exec(select(Outbox.status)).all())
    assert statuses == {"sent": ROWS}
    db.dispose()
