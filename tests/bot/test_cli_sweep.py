"""`sigap sweep` on the sample roster, and the scheduler that runs the sweep on its own."""

from __future__ import annotations

import asyncio
from datetime import date, time
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.cli import main
from bot.scheduler import run_sweep, start_scheduler
from models.app import Deps
from models.clock import FakeClock
from models.db import Database
from models.tables import Outbox


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGAP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    assert main(["db", "upgrade"]) == 0
    assert main(["import", "roster", "--apply"]) == 0
    return tmp_path


@pytest.fixture
def wa_env(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`env` on a deployment with WhatsApp configured: the sample roster's people (phone numbers only) are reachable."""
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-test")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "9")
    return env


def outbox_count(path: Path) -> int:
    db = Database(f"sqlite:///{path / 'cli.db'}")
    with db.uow() as uow:
        count = uow.session.exec(select(func.count()).select_from(Outbox)).one()
    db.dispose()
    return int(count)


def test_dry_run_prints_the_plan_and_queues_nothing(wa_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["sweep", "--at", "2026-12-08T08:00", "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "Sapuan Selasa, 8 Desember 2026 08.00 WIB (uji coba: tidak ada yang diantrekan)"
    assert lines[1].split() == ["Unit", "Program", "Tahap", "Penerima", "Kanal"]
    dinkes = [line for line in lines if line.startswith("DINKES ")]
    assert len(dinkes) == 6  # inovasi, katalog, p3dn x kepala and operator
    assert all("H-7 pengingat" in line and line.endswith("whatsapp") for line in dinkes)
    assert any("Slamet Santoso (kepala)" in line for line in dinkes)
    assert "Ringkasan: 187 pemberitahuan untuk 59 orang" in out
    assert "Akan diantrekan: 187 pemberitahuan dalam 59 pesan; 0 sudah diantrekan sebelumnya." in out
    assert "Tidak terjangkau: 0 pemberitahuan." in out and "Sebabnya" not in out
    assert outbox_count(wa_env) == 0


def test_without_channels_the_plan_says_nobody_is_reachable_and_why(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No WHATSAPP_* and no Telegram: the sample roster's phone numbers reach nobody, and the plan says so."""
    capsys.readouterr()
    assert main(["sweep", "--at", "2026-12-08T08:00", "--dry-run"]) == 0
    out = capsys.readouterr().out
    dinkes = [line for line in out.splitlines() if line.startswith("DINKES ")]
    assert len(dinkes) == 6
    assert all(line.endswith("tidak terjangkau (WhatsApp belum diatur)") for line in dinkes)
    assert "whatsapp" not in out
    assert "Tidak terjangkau: 187 pemberitahuan (" in out
    assert "Belum ada kanal obrolan yang diatur (Sigap hanya berjalan di konsol)" in out
    assert "Sebabnya, dari 59 orang: 59 hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur." in out
    assert "Atur Telegram atau WhatsApp di .env lalu jalankan sigap run" in out
    assert "Akan diantrekan: 0 pemberitahuan dalam 0 pesan; 0 sudah diantrekan sebelumnya." in out
    assert main(["sweep", "--at", "2026-12-08T08:00"]) == 0
    assert "Diantrekan: 0 pesan (0 pemberitahuan)" in capsys.readouterr().out
    assert outbox_count(env) == 0  # nothing queued on a channel that cannot send, nothing recorded as sent
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-test")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "9")
    assert main(["sweep", "--at", "2026-12-08T13:00"]) == 0  # once WhatsApp is set up, the stage still due goes
    assert "Diantrekan: 59 pesan (187 pemberitahuan)" in capsys.readouterr().out


def test_sweep_queues_once(wa_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["sweep", "--at", "2026-12-08T08:00"]) == 0
    assert "Diantrekan: 59 pesan (187 pemberitahuan); 0 pemberitahuan sudah diantrekan sebelumnya." in (
        capsys.readouterr().out
    )
    assert main(["sweep", "--at", "2026-12-08T13:00+07:00"]) == 0
    out = capsys.readouterr().out
    assert "Diantrekan: 0 pesan (0 pemberitahuan); 187 pemberitahuan sudah diantrekan sebelumnya." in out
    assert "(sudah diantrekan)" in out
    assert outbox_count(wa_env) == 59


def test_days_off_and_bad_times(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["sweep", "--at", "2026-12-25T09:00", "--dry-run"]) == 0
    assert "Bukan waktu kerja: hari libur (Hari Raya Natal). Tidak ada yang dikirim." in capsys.readouterr().out
    assert main(["sweep", "--at", "2026-12-08T17:00", "--dry-run"]) == 0
    assert "di luar jam kerja 08.00-16.00" in capsys.readouterr().out
    assert main(["sweep", "--at", "besok pagi", "--dry-run"]) == 2
    assert "Contoh: --at 2026-11-23T08:00" in capsys.readouterr().err


async def test_scheduler_jobs_in_the_pemda_zone(sdeps: Deps) -> None:
    scheduler = start_scheduler(sdeps)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert {"sweep-0800", "sweep-1300", "checkin-0900", "sweep-startup"} <= set(jobs)
        assert "checkin-susulan-1300" not in jobs  # the 13:00 sweep already does the follow-up
        sweep_job = jobs["sweep-0800"]
        assert sweep_job.coalesce and sweep_job.misfire_grace_time == 3600 and sweep_job.max_instances == 1
        assert str(sweep_job.trigger.timezone) == "Asia/Jakarta"
        assert "day_of_week='mon-fri'" in str(sweep_job.trigger) and "hour='8'" in str(sweep_job.trigger)
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)


async def test_scheduled_sweep_uses_the_clock_and_a_thread(sdeps: Deps, clock: FakeClock) -> None:
    clock.set(sdeps.calendar.at_local(date(2026, 12, 8), time(8, 0)))
    result = await run_sweep(sdeps, "uji")
    assert result is not None and result.queued == 59
    again = await run_sweep(sdeps, "uji")
    assert again is not None and again.queued == 0 and again.already == 187
