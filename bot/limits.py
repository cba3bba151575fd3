"""Rate limiters for the outbox dispatcher, built from the settings (TELEGRAM_RATE_*, WHATSAPP_RATE_*)."""

from __future__ import annotations

import math

from bot.settings import Settings
from jobs.ratelimit import RateLimiter, RateRules
from models.clock import Clock
from models.messages import Channel


def rules_for(channel: Channel, settings: Settings) -> RateRules:
    """The platform limits of `channel` as configured."""
    if channel is Channel.TELEGRAM:
        return RateRules(
            global_per_second=settings.telegram_rate_global,
            recipient_interval=1.0 / settings.telegram_rate_per_chat,
            group_per_minute=max(1, math.floor(settings.telegram_rate_per_group_minute)),
        )
    if channel is Channel.WHATSAPP:
        return RateRules(
            global_per_second=settings.whatsapp_rate_global,
            recipient_interval=settings.whatsapp_pair_interval or None,
            group_per_minute=None,
        )
    raise ValueError(f"no rate limits for channel {channel.value}")


def limiter_for(channel: Channel, settings: Settings, clock: Clock | None = None) -> RateLimiter:
    """A fresh limiter for `channel` (one per process and channel; `clock` defaults to the system clock)."""
    return RateLimiter(rules_for(channel, settings), clock=clock)
