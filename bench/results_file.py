"""Replacing one part's rows and note in bench/results.md, leaving every other part's as they are."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path


def machine_speed() -> float:
    """Seconds a pure-Python loop of 10 million additions takes here, best of three: how fast this machine is."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for number in range(10_000_000):
            total += number
        best = min(best, time.perf_counter() - started)
    return best


def update_part(path: Path, part: str, rows: Sequence[str], note: Sequence[str], command: str) -> None:
    """Put `rows` (table rows starting '| <part>') and `note` (lines '- <part>: …') of `part` into results.md."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if not any(line.startswith("|---") for line in lines):
        lines = ["# Benchmark results", "", "| figure | measured | goal | result |", "|---|---|---|---|"]
    kept: list[str] = []
    in_note = False
    for line in lines:
        in_note = line.startswith(f"- {part}: ") or (in_note and line.startswith("  "))
        if not in_note and not line.startswith((f"| {part}", f"- {part} figures: ")):
            kept.append(line)
    last_row = max(i for i, line in enumerate(kept) if line.startswith("|"))
    kept[last_row + 1 : last_row + 1] = rows
    header_end = next((i for i, line in enumerate(kept) if line.startswith("- command: ")), 0)
    speed = f"speed {machine_speed():.2f} s (the loop of the header's speed line)"
    kept.insert(header_end + 1, f"- {part} figures: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `{command}`, {speed}")
    while kept and not kept[-1]:
        kept.pop()
    kept += note
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
