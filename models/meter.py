"""What the core counts and times, without knowing how it is exported (`bot.metrics` exports it to Prometheus)."""

from __future__ import annotations

from typing import Protocol


class Meter(Protocol):
    """Counts events and observes durations by name and labels (channel, outcome)."""

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add `amount` to the counter `name`."""

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record one observation (seconds) of the histogram `name`."""


class NullMeter:
    """A meter that forgets everything (tests, the console, `sigap sweep`)."""

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Forget the count."""

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Forget the observation."""


NULL_METER: Meter = NullMeter()
