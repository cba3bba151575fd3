"""The console at the edges a person at a terminal hits: Ctrl-C, Ctrl-D, a number that is not a choice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.console import run_console
from models.app import Deps
from models.messages import Button, Incoming, Reply
from tests.conftest import KEPALA_DINKES, contact_named


async def _chat(sdeps: Deps, tmp_path: Path, lines: list[str]) -> list[str]:
    script: Iterator[str] = iter(lines)
    out: list[str] = []

    async def ask(_prompt: str) -> str | None:
        return next(script, None)

    await run_console(sdeps, contact_named(sdeps, KEPALA_DINKES), ask=ask, say=out.append, files_dir=tmp_path)
    return out


async def test_a_number_outside_the_choices_gets_the_range(sdeps: Deps, tmp_path: Path) -> None:
    out = await _chat(sdeps, tmp_path, ["/lapor", "9", "2", "12"])
    text = "\n".join(out)
    assert "Pilihan 9 tidak ada" in text and "1 sampai 3" in text
    assert "tidak dikenali" not in text
    assert "12 dari target 10 produk" in text  # the choices stayed open after the wrong number
    assert out[-1] == "Sampai jumpa."  # Ctrl-D (end of input) ends the chat politely


def test_ctrl_c_ends_the_console_at_once(tmp_path: Path) -> None:
    env = dict(os.environ, SIGAP_DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}", SIGAP_LOG_LEVEL="WARNING")
    for args in (["db", "upgrade"], ["import", "roster", "--apply"]):
        subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=tmp_path, check=True, capture_output=True)
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "console", "--as", KEPALA_DINKES],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert b"Sigap" in process.stdout.readline()  # waiting at the prompt, stdin left open
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=10)
        finally:
            process.kill()
        assert process.stderr is not None
        err = process.stderr.read().decode()
    assert code == 130 and "Traceback" not in err


async def test_choices_are_numbered_on_across_the_replies_of_one_answer(
    sdeps: Deps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two pieces of evidence shown one after the other, each with [Sah] [Tolak]: typing 1 took the second one's
    first button; now the numbers run on (1, 2, then 3, 4) and each picks what it shows."""
    asked: list[str | None] = []

    async def handle(_deps: Deps, incoming: Incoming) -> list[Reply]:
        asked.append(incoming.payload)
        if incoming.payload is not None:
            return [Reply(f"Dipilih: {incoming.payload}")]
        first = (Button("Sah", "/verifikasi 2 sah"), Button("Tolak", "/verifikasi 2 tolak"))
        second = (Button("Sah", "/verifikasi 3 sah"), Button("Tolak", "/verifikasi 3 tolak"))
        return [Reply("Bukti #2", first), Reply("Bukti #3", second)]

    monkeypatch.setattr("bot.console.handle", handle)
    out = "\n".join(await _chat(sdeps, tmp_path, ["/verifikasi", "1"]))
    assert "Bukti #2\n  [1] Sah\n  [2] Tolak" in out and "Bukti #3\n  [3] Sah\n  [4] Tolak" in out
    assert asked == [None, "/verifikasi 2 sah"]
