"""What handlers and jobs both stand on: the application's long-lived dependencies and the user-facing error."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from models.calendar import WorkingCalendar
from models.clock import Clock
from models.db import Database
from models.files import FileSource
from models.flood import FloodGuard
from models.messages import Channel
from models.meter import NULL_METER, Meter
from models.pemda import PemdaConfig


class UserError(Exception):
    """Input we cannot accept; the message is shown to the person as it is, and nothing is saved."""


@dataclass
class Deps:
    """Long-lived things handlers and jobs need, built once at start-up (`bot.wiring.build_deps`)."""

    db: Database
    pemda: PemdaConfig
    clock: Clock
    calendar: WorkingCalendar
    telegram_username: str | None = None
    whatsapp_number: str | None = None
    invite_days: int = 7
    files: dict[Channel, FileSource] = field(default_factory=dict)
    """How each channel's incoming files are fetched (registered by the channel's runtime)."""
    meter: Meter = NULL_METER
    """Where inbound messages and reply latency are counted (Prometheus in `sigap run`)."""
    guard: FloodGuard | None = None
    """Flood control for chat channels (`sigap run`); None: every message is handled (tests, the console)."""
    handling: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One message's unit of work at a time in this process (SQLite has one writer); sending happens outside it."""
