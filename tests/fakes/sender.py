"""A channel sender that records what the dispatcher hands it, and raises what a script says."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from models.app import Deps
from models.messages import Channel
from models.outbound import Outbound, Sent
from tests.conftest import contact_named

Script = Callable[[Outbound], BaseException | None]


class FakeSender:
    """Records every send; raises whatever the script says for a message (None: success)."""

    def __init__(self, channel: Channel = Channel.WHATSAPP, script: Script | None = None) -> None:
        self.channel = channel
        self.script = script
        self.sent: list[Outbound] = []
        self.attempts: list[Outbound] = []
        self._lock = threading.Lock()

    async def send(self, message: Outbound) -> Sent:
        """Accept the message unless the script says otherwise."""
        with self._lock:
            self.attempts.append(message)
        error = self.script(message) if self.script is not None else None
        await asyncio.sleep(0)
        if error is not None:
            raise error
        with self._lock:
            self.sent.append(message)
        return Sent(provider_id=f"{self.channel.value}-{message.outbox_id}")

    def to(self, deps: Deps, name: str) -> list[Outbound]:
        """What reached the contact called `name`."""
        contact = contact_named(deps, name)
        return [m for m in self.sent if m.address in (contact.wa_number, contact.telegram_user_id)]
