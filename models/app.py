"""What handlers and jobs both stand on: the application's long-lived dependencies and the user-facing error."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.calendar import WorkingCalendar
from models.clock import Clock
from models.db import Database
from models.files import FileSource
from models.messages import Channel
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
