"""What a running channel contributes to `sigap run`: its sender, limiter, web routes and lifecycle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.routing import BaseRoute

from jobs.dispatcher import Observer
from jobs.ratelimit import RateLimiter
from models.messages import Channel
from models.outbound import Sender


async def _nothing() -> None:
    return None


@dataclass
class ChannelRuntime:
    """One configured channel, ready to be started beside the others."""

    channel: Channel
    sender: Sender
    limiter: RateLimiter
    routes: list[BaseRoute] = field(default_factory=list)
    observers: list[Observer] = field(default_factory=list)
    start: Callable[[], Awaitable[None]] = _nothing
    stop: Callable[[], Awaitable[None]] = _nothing
