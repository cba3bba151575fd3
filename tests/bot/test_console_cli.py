"""The console chat and the `sigap` command line, as a person at a terminal uses them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import console
from bot.cli import main
from bot.console import run_console
from models.app import Deps
from models.tables import Contact
from tests.conftest import KEPALA_DINKES, contact_named


async def test_console_numbered_buttons(sdeps: Deps, tmp_path: Path) -> None:
    script: Iterator[str] = iter(["/lapor", "2", "12", "/status", "/keluar"])
    out: list[str] = []

    async def ask(_prompt: str) -> str | None:
        return next(script, None)

    await run_console(sdeps, contact_named(sdeps, KEPALA_DINKES), ask=ask, say=out.append, files_dir=tmp_path)
    text = "\n".join(out)
    assert "[2] e-Katalog lokal" in text
    assert "Berapa jumlah produk" in text
    assert "12 dari target 10 produk" in text
    assert text.endswith("Sampai jumpa.")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIGAP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    return tmp_path


def test_cli_upgrade_import_invite(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == "Skema basis data dibuat.\n"
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == "Skema basis data sudah versi terbaru; tidak ada yang diubah.\n"
    assert main(["import", "roster", "--if-empty"]) == 0
    assert "72 baru" in capsys.readouterr().out
    assert main(["import", "roster", "--if-empty"]) == 0
    assert "tidak diimpor ulang" in capsys.readouterr().out
    assert main(["invite", "--unit", "dinkes", "--role", "kepala"]) == 0
    out = capsys.readouterr().out
    assert "Kode undangan kepala Dinas Kesehatan:" in out and "/start " in out


def test_cli_bad_roster_writes_nothing(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["db", "upgrade"])
    bad = env / "bad.csv"
    bad.write_text("unit_code,unit_name,unit_kind\nX,,planet\n", encoding="utf-8")
    assert main(["import", "roster", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "tidak ada yang ditulis" in err and "baris 2, kolom unit_code" in err and "baris 2, kolom unit_kind" in err


def test_cli_unknown_unit_for_invite(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["db", "upgrade"])
    main(["import", "roster", "--apply"])
    assert main(["invite", "--unit", "planet", "--role", "kepala"]) == 2
    assert "Unit “planet” tidak ditemukan" in capsys.readouterr().err


def test_cli_wrong_pemda_file(env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (env / "pemda.toml").write_text("[pemda]\nname='X'\n", encoding="utf-8")
    monkeypatch.setenv("SIGAP_PEMDA_FILE", str(env / "pemda.toml"))
    main(["db", "upgrade"])
    assert main(["invite", "--unit", "dinkes", "--role", "kepala"]) == 2
    err = capsys.readouterr().err
    assert "pemda.short_name" in err and "letterhead" in err


async def test_cli_invite_prints_the_telegram_deep_link(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.telegram_api import FakeBotApi

    async with FakeBotApi(token="123:ABC") as api:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:ABC")
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
        assert await asyncio.to_thread(main, ["db", "upgrade"]) == 0
        assert await asyncio.to_thread(main, ["import", "roster", "--apply"]) == 0
        assert await asyncio.to_thread(main, ["invite", "--unit", "dinkes", "--role", "kepala"]) == 0
    out = capsys.readouterr().out
    code = out.split("Dinas Kesehatan: ", 1)[1].split()[0]
    assert f"Telegram: https://t.me/sigap_test_bot?start={code}" in out
    assert "123:ABC" not in out


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_console_chat_writes_log_lines_to_a_file_not_the_screen(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    main(["db", "upgrade"])
    main(["import", "roster", "--apply"])
    capsys.readouterr()
    script: Iterator[str] = iter(["/status", "/keluar"])
    out: list[str] = []

    async def ask(_prompt: str) -> str | None:
        logging.getLogger("jobs.letters.flow").warning("letter 1 approved but DKP has no reachable contact")
        return next(script, None)

    real = console.run_console

    async def scripted(deps: Deps, contact: Contact, *, log_note: str = "") -> None:
        await real(deps, contact, ask=ask, say=out.append, files_dir=env, log_note=log_note)

    monkeypatch.setattr(console, "run_console", scripted)
    assert main(["console", "--as", KEPALA_DINKES]) == 0
    screen = capsys.readouterr()
    assert "WARNING" not in screen.out + screen.err and "no reachable contact" not in "\n".join(out)
    log = (env / "sigap-console.log").resolve()
    assert out[0].endswith(f"\nCatatan sistem (log) ditulis ke {log}, tidak ditampilkan di sini.")
    assert sum("Catatan sistem" in line for line in out) == 1
    assert "WARNING jobs.letters.flow: letter 1 approved but DKP has no reachable contact" in log.read_text("utf-8")
