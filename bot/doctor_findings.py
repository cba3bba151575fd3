"""What `sigap doctor` checks produce and how the report is printed: every check returns a `Finding` (status,
what was found, the exact fix)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """How one check came out, as printed in front of its line."""

    OK = "BAIK"
    WARN = "PERHATIAN"
    FAIL = "MASALAH"
    SKIP = "DILEWATI"


@dataclass(frozen=True)
class Finding:
    """One check's outcome: its topic, status, what was found and (unless fine) the exact fix."""

    topic: str
    status: Status
    message: str
    fix: str = ""


def ok(topic: str, message: str) -> Finding:
    """A check that found nothing wrong."""
    return Finding(topic, Status.OK, message)


def warn(topic: str, message: str, fix: str) -> Finding:
    """Something to look at that does not stop Sigap from working."""
    return Finding(topic, Status.WARN, message, fix)


def fail(topic: str, message: str, fix: str) -> Finding:
    """A problem to fix before Sigap is ready."""
    return Finding(topic, Status.FAIL, message, fix)


def skip(topic: str, message: str, fix: str = "") -> Finding:
    """A check that could not run, and how to make it run."""
    return Finding(topic, Status.SKIP, message, fix)


def ready(findings: Sequence[Finding]) -> bool:
    """True when no check found a problem."""
    return all(f.status is not Status.FAIL for f in findings)


def render(findings: Sequence[Finding]) -> str:
    """The report as printed: one block per check, then the verdict and what to do next."""
    width = max(len(s.value) for s in Status) + 2
    lines = ["Pemeriksaan kesiapan Sigap", ""]
    for f in findings:
        head = f"[{f.status.value}]".ljust(width + 1)
        body = f.message.splitlines() or [""]
        lines.append(f"{head}{f.topic}: {body[0]}")
        lines += [" " * (width + 1) + line for line in body[1:]]
        if f.fix and f.status is not Status.OK:
            lines.append(" " * (width + 1) + f"Cara memperbaiki: {f.fix}")
    counts = {s: sum(1 for f in findings if f.status is s) for s in Status}
    lines += [
        "",
        f"Hasil: {counts[Status.OK]} baik, {counts[Status.WARN]} perlu perhatian, {counts[Status.FAIL]} masalah, "
        f"{counts[Status.SKIP]} dilewati.",
    ]
    if counts[Status.FAIL]:
        lines.append(
            "Sigap belum siap: perbaiki yang bertanda MASALAH dari atas ke bawah, lalu jalankan lagi: sigap doctor"
        )
    elif counts[Status.WARN]:
        lines.append("Sigap siap dipakai. Periksa juga yang bertanda PERHATIAN.")
    else:
        lines.append("Sigap siap dipakai.")
    return "\n".join(lines)
