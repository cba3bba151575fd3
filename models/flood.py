"""Flood control: a sender who writes too fast is told once to slow down, then ignored for a while.

Unregistered senders get a strict allowance (anyone who finds the bot can write), registered people a lenient
one (a kepala tapping through a guided report is never stopped). Wrong invite codes are counted separately, so
codes cannot be guessed by brute force. Counts live in memory per process, with a fake-able clock; a sender is
identified by channel and address only.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from models.clock import Clock


class Verdict(Enum):
    """What to do with one message."""

    OK = "ok"
    WARN = "warn"
    """Over the allowance: answer once that they should slow down."""
    IGNORE = "ignore"
    """Still muted: no answer, no work."""


@dataclass(frozen=True)
class Allowance:
    """At most `messages` in `window` seconds; past it, `mute` seconds of silence."""

    messages: int
    window: float
    mute: float


STRANGER = Allowance(messages=8, window=60.0, mute=300.0)
MEMBER = Allowance(messages=40, window=60.0, mute=120.0)
CODE_TRIES = Allowance(messages=5, window=3600.0, mute=3600.0)

SLOW_DOWN = (
    "Mohon maaf, pesan yang masuk terlalu banyak dalam waktu singkat. Pesan berikutnya baru kami tanggapi "
    "setelah beberapa menit. Terima kasih atas pengertiannya."
)
TOO_MANY_CODES = (
    "Terlalu banyak percobaan kode undangan yang salah. Mohon coba lagi setelah 1 jam, atau minta kode yang benar "
    "kepada admin Sigap."
)


@dataclass
class _Track:
    times: deque[float] = field(default_factory=deque)
    muted_until: float = float("-inf")


def allowance_for(registered: bool) -> Allowance:
    """The message allowance of a sender: lenient for registered people, strict for anyone else."""
    return MEMBER if registered else STRANGER


class Guard(Protocol):
    """What handlers ask of flood control (`Deps.guard`): a `FloodGuard`, or in `sigap run` with worker processes
    the one that asks each sender's worker (`bot.workers.WorkerGuard`), so that a sender is counted in one place."""

    def check(self, channel: str, address: str, *, registered: bool) -> Verdict:
        """Count one message from `address`; whether to handle it, warn once, or ignore it."""
        ...

    def muted(self, channel: str, address: str) -> bool:
        """Whether `address` is being ignored for flooding now (checked before any database work)."""
        ...

    def code_failed(self, channel: str, address: str) -> None:
        """Count one wrong invite code."""
        ...

    def codes_blocked(self, channel: str, address: str) -> bool:
        """Whether `address` tried too many wrong codes lately (then no code is even looked up)."""
        ...


@dataclass
class FloodGuard:
    """Per-sender sliding windows; `check` for every message, `code_failed` / `codes_blocked` for invite codes.
    Safe to share between the handling threads (one count at a time)."""

    clock: Clock
    max_senders: int = 50_000
    """Senders remembered at most; the quietest are forgotten first when there are more."""
    _messages: dict[tuple[str, str], _Track] = field(default_factory=dict)
    _codes: dict[tuple[str, str], _Track] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, channel: str, address: str, *, registered: bool) -> Verdict:
        """Count one message from `address`; whether to handle it, warn once, or ignore it."""
        with self._lock:
            return self._hit(self._messages, (channel, address), allowance_for(registered))

    def muted(self, channel: str, address: str) -> bool:
        """Whether `address` is being ignored for flooding now (checked before any database work)."""
        track = self._messages.get((channel, address))
        return track is not None and self.clock.monotonic() < track.muted_until

    def code_failed(self, channel: str, address: str) -> None:
        """Count one wrong invite code."""
        with self._lock:
            self._hit(self._codes, (channel, address), CODE_TRIES)

    def codes_blocked(self, channel: str, address: str) -> bool:
        """Whether `address` tried too many wrong codes lately (then no code is even looked up)."""
        track = self._codes.get((channel, address))
        return track is not None and self.clock.monotonic() < track.muted_until

    def _hit(self, tracks: dict[tuple[str, str], _Track], key: tuple[str, str], allowance: Allowance) -> Verdict:
        now = self.clock.monotonic()
        track = tracks.get(key)
        if track is None:
            if len(tracks) >= self.max_senders:
                self._forget(tracks, now)
            track = tracks[key] = _Track()
        if now < track.muted_until:
            return Verdict.IGNORE
        times = track.times
        while times and times[0] <= now - allowance.window:
            times.popleft()
        times.append(now)
        if len(times) > allowance.messages:
            track.muted_until = now + allowance.mute
            times.clear()
            return Verdict.WARN
        return Verdict.OK

    @staticmethod
    def _forget(tracks: dict[tuple[str, str], _Track], now: float) -> None:
        """Drop senders neither muted nor seen in the last hour; if none, the oldest half."""
        stale = [k for k, t in tracks.items() if t.muted_until < now and (not t.times or t.times[-1] < now - 3600)]
        if not stale:
            stale = sorted(tracks, key=lambda k: tracks[k].times[-1] if tracks[k].times else 0.0)[: len(tracks) // 2]
        for key in stale:
            del tracks[key]
