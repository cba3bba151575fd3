"""`sigap outbox`: counts per status and the latest dead rows with their reasons; `sigap dispatch` alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select
from telegram import Bot

from bot.cli import main
from bot.senders import dispatch
from bot.settings import Settings
from jobs.broadcasts import remember_progress_message
from models.clock import FakeClock
from models.db import Database
from models.messages import Channel
from models.outbox import OutMessage, enqueue
from models.tables import Broadcast, Contact, Outbox
from tests.conftest import ADMIN, Person, build_test_deps, contact_named, make_database
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "778:dispatch-cli-token"


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


async def test_dispatch_alone_shows_a_broadcast_progress_and_sends_its_tally(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sigap dispatch` without `sigap run`: the admin's confirmation on Telegram still ends as "selesai", the
    broadcast is closed and its tally reaches the admin, as `sigap run` does."""
    db: Database = next(make_database("sqlite", tmp_path))
    deps = build_test_deps(db, clock)
    with db.uow() as uow:  # everyone of the sample roster on Telegram
        for number, contact in enumerate(uow.session.exec(select(Contact)).all()):
            contact.telegram_user_id, contact.preferred_channel = str(70_000 + number), "telegram"
            uow.session.add(contact)
        uow.commit()
    chat = contact_named(deps, ADMIN).telegram_user_id
    assert chat is not None
    admin = Person(deps, Channel.TELEGRAM, chat, ADMIN)
    assert "Penerima: 4 orang" in await admin.text("/siaran dinkes,disdik Rapat koordinasi Senin pukul 09.00.")
    await admin.say("", payload="/siaran kirim 1")
    async with FakeBotApi(token=TOKEN) as api:
        async with Bot(TOKEN, base_url=api.base_url) as bot:  # the confirmation as the adapter showed it
            shown = await bot.send_message(int(chat), "Siaran #1 sedang dikirim.")
        with db.uow() as uow:
            assert remember_progress_message(uow.session, 1, Channel.TELEGRAM, chat, str(shown.message_id))
            uow.commit()
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
        monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
        monkeypatch.chdir(tmp_path)

        assert await dispatch(Settings(), once=True, db=db) == 0

        edits = [s.text for s in api.sent_to(chat) if s.method == "editMessageText"]
        texts = api.texts_to(chat)
    assert edits and "selesai" in edits[-1].lower()
    assert "Siaran #1 selesai.\nTerkirim: 4\nGagal: 0\nTidak terjangkau: 0" in texts
    with db.uow() as uow:
        broadcast = uow.session.get(Broadcast, 1)
        assert broadcast is not None and broadcast.status == "finished"
    db.dispose()


def test_dead_messages_are_sent_again_only_after_a_preview_and_never_to_who_blocked_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.outbox_cli import retry_dead
    from handlers.jejak import said
    from models.tables import AuditLog, Failure, utcnow

    db: Database = next(make_database("sqlite", tmp_path))
    now = utcnow()
    with db.uow() as uow:
        slamet = Contact(name="Slamet Santoso", role="kepala", telegram_user_id="1001")
        uow.session.add(slamet)
        uow.session.flush()
        for key, age, failure in (("a", 1, ""), ("b", 2, ""), ("old", 10, ""), ("blocked", 1, Failure.UNREACHABLE)):
            enqueue(uow.session, key, slamet, OutMessage(text="x", kind="pengingat"), now - timedelta(days=age))
            uow.session.execute(
                update(Outbox)
                .where(col(Outbox.idem_key) == key)
                .values(status="dead", attempts=8, last_error="401 Unauthorized", failure=failure)
            )
        uow.commit()

    def states() -> dict[str, tuple[str, int]]:
        with db.uow() as uow:
            return {row.idem_key: (row.status, row.attempts) for row in uow.session.exec(select(Outbox)).all()}

    assert retry_dead(db, days=3, apply=False, now=now) == 0
    preview = capsys.readouterr().out
    assert preview.startswith("2 pesan mati sejak 3 hari terakhir: 2 pengingat lewat telegram.")
    assert "Slamet Santoso | telegram | pengingat | 401 Unauthorized" in preview and "--apply" in preview
    assert all(status == "dead" for status, _ in states().values())  # a preview changes nothing

    assert retry_dead(db, days=3, apply=True, now=now) == 0
    assert "2 pesan diantrekan lagi" in capsys.readouterr().out
    assert states() == {"a": ("pending", 0), "b": ("pending", 0), "old": ("dead", 8), "blocked": ("dead", 8)}
    with db.uow() as uow:
        entry = uow.session.exec(select(AuditLog)).one()
    assert said(entry.action, entry.target, entry.detail) == "2 pesan mati dikirim ulang (sejak 3 hari terakhir)"
    assert retry_dead(db, days=3, apply=True, now=now) == 0
    assert "Tidak ada pesan mati" in capsys.readouterr().out
    assert retry_dead(db, days=90, apply=True, now=now) == 2
    db.dispose()
