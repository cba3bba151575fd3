"""Injectable time source: wall clock, monotonic clock and sleeping.

Everything that waits or stamps times takes a `Clock`, so tests drive time with `FakeClock`
instead of really sleeping. Wall-clock datetimes are always timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def ensure_utc(value: datetime) -> datetime:
    """Return `value` converted to UTC; raise ValueError if it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime not allowed: {value!r}")
    return value.astimezone(UTC)


class Clock(Protocol):
    """A source of wall time, monotonic time and sleeping."""

    def now(self) -> datetime:
        """Return the current wall-clock time as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes backwards (for intervals only)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (non-positive means just yield)."""
        ...


class SystemClock:
    """The real clock: `datetime.now(UTC)`, `time.monotonic()` and `asyncio.sleep`."""

    def now(self) -> datetime:
        """Return the current wall-clock time as an aware UTC datetime."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep for real with `asyncio.sleep`."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A manual clock for tests: `sleep` advances time instantly instead of waiting.

    Each `sleep` moves the clock forward by its own duration, so when several tasks sleep
    concurrently the fake time advances by the sum of their sleeps: time only ever moves
    forward, and elapsed fake time is an upper bound of what real time would have been.
    """

    def __init__(self, start: datetime | None = None) -> None:
        """Start at `start` (aware; defaults to 2026-01-05 01:00 UTC, a Monday 08:00 WIB)."""
        self._now = ensure_utc(start) if start is not None else datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
        self._monotonic = 0.0
        self.sleeps: list[float] = []
        """Every duration passed to `sleep`, in call order (for assertions)."""

    def now(self) -> datetime:
        """Return the fake wall-clock time (aware UTC)."""
        return self._now

    def monotonic(self) -> float:
        """Return fake monotonic seconds (starts at 0.0)."""
        return self._monotonic

    async def sleep(self, seconds: float) -> None:
        """Advance the clock by `seconds` at once, then yield to the event loop once."""
        self.sleeps.append(seconds)
        if seconds > 0:
            self.advance(seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float | timedelta) -> None:
        """Move both clocks forward; negative amounts raise ValueError."""
        delta = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if delta < 0:
            raise ValueError(f"cannot advance by a negative amount: {seconds!r}")
        self._now += timedelta(seconds=delta)
        self._monotonic += delta

    def set(self, when: datetime) -> None:
        """Jump the wall clock to `when` (aware); the monotonic clock follows only forward jumps."""
        target = ensure_utc(when)
        forward = (target - self._now).total_seconds()
        if forward > 0:
            self._monotonic += forward
        self._now = target
