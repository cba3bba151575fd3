"""Replacing one part's rows and note in bench/results.md, leaving every other part's as they are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path


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
    kept.insert(header_end + 1, f"- {part} figures: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `{command}`")
    while kept and not kept[-1]:
        kept.pop()
    kept += note
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
