"""`sigap outbox`: counts per status and the latest dead rows with their reasons."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.cli import main
from models.clock import FakeClock
from models.db import Database
from models.outbox import OutMessage, enqueue
from models.tables import Contact, Outbox
from tests.conftest import make_database


def test_outbox_prints_counts_and_dead_rows(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db: Database = next(make_database("sqlite", tmp_path))
    with db.uow() as uow:
        slamet = Contact(name="Slamet Santoso", role="kepala", telegram_user_id="1001")
        sri = Contact(name="Sri Firmansyah", role="camat", wa_number="6281234567890")
        uow.session.add_all([slamet, sri])
        uow.session.flush()
        for i in range(3):
            enqueue(uow.session, f"p{i}", slamet, OutMessage(text="x"), clock.now())
        enqueue(uow.session, "d1", slamet, OutMessage(text="x", kind="peringatan"), clock.now() - timedelta(days=1))
        enqueue(uow.session, "d2", sri, OutMessage(text="x", kind="teguran_1"), clock.now())
        uow.session.execute(
            update(Outbox)
            .where(col(Outbox.idem_key).in_(["d1", "d2"]))
            .values(status="dead", attempts=8, last_error="gagal 8 kali: 502 Bad Gateway")
        )
        uow.commit()
    monkeypatch.setenv("SIGAP_DATABASE_URL", db.url)
    monkeypatch.chdir(tmp_path)

    assert main(["outbox"]) == 0

    out = capsys.readouterr().out
    assert "menunggu" in out and " 3\n" in out
    assert "mati (menyerah)        2" in out
    lines = out.splitlines()
    dead = [line for line in lines if line.strip().startswith("#")]
    assert "Sri Firmansyah | whatsapp | teguran_1 | 8 | gagal 8 kali: 502 Bad Gateway" in dead[0]
    assert "Slamet Santoso | telegram | peringatan | 8 |" in dead[1]
    db.dispose()


def test_dispatch_without_channels_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db: Database = next(make_database("sqlite", tmp_path))
    monkeypatch.setenv("SIGAP_DATABASE_URL", db.url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["dispatch", "--once"]) == 1
    assert "Tidak ada kanal" in capsys.readouterr().out
    db.dispose()
