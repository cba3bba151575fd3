"""What the dispatcher hands to a channel sender, and the errors a sender may raise.

Senders live in `bot/`; this module only names the contract so jobs stay channel-agnostic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from models.messages import Attachment, Button, Channel, Reply


@dataclass(frozen=True)
class Template:
    """An approved WhatsApp template: its name, language and body parameters in order."""

    name: str
    params: tuple[str, ...] = ()
    language: str = "id"


@dataclass(frozen=True)
class Outbound:
    """One message to one recipient address on one channel."""

    outbox_id: int
    channel: Channel
    address: str
    text: str
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None
    template: Template | None = None
    meta: dict[str, str] = field(default_factory=dict)


def direct_reply(channel: Channel, address: str, reply: Reply) -> Outbound:
    """A reply to the person who just wrote, in the shape senders take (it has no outbox row)."""
    return Outbound(
        outbox_id=0,
        channel=channel,
        address=address,
        text=reply.text,
        buttons=reply.buttons,
        attachment=reply.attachment,
    )


@dataclass(frozen=True)
class Sent:
    """The provider's answer to a successful send."""

    provider_id: str


class SendError(Exception):
    """Base of every failure a sender reports; the dispatcher decides what to do by subclass."""


class RateLimited(SendError):
    """The platform asked us to slow down. `scope` is 'global' or 'recipient'."""

    def __init__(self, retry_after: float, scope: str = "global", detail: str = "") -> None:
        super().__init__(detail or f"rate limited for {retry_after:g}s ({scope})")
        self.retry_after = retry_after
        self.scope = scope


class Unreachable(SendError):
    """The person cannot be reached on this channel (blocked the bot, number undeliverable)."""


class WindowClosed(SendError):
    """WhatsApp: free text is not allowed outside the 24-hour window; send a template instead."""


class AuthFailed(SendError):
    """The channel's credentials are rejected (expired token); stop sending on this channel."""


class Transient(SendError):
    """A time-out or server error: worth retrying with back-off."""


class Permanent(SendError):
    """A request the platform will never accept as it is: mark the row dead."""


class Sender(Protocol):
    """Sends one outbound message on one channel."""

    channel: Channel

    async def send(self, message: Outbound) -> Sent:
        """Deliver `message` or raise a `SendError` subclass."""
        ...
