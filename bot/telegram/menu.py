"""The Telegram command menu ("/" button): the default for strangers, one per registered chat matching the role."""

from __future__ import annotations

import logging

from sqlmodel import col, select
from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import RetryAfter, TelegramError

from handlers.commands import menu_for
from jobs.ratelimit import RateLimiter
from models.app import Deps
from models.pemda import PemdaConfig
from models.tables import Contact, Role

log = logging.getLogger(__name__)

SYNC_LIMIT = 2000
"""At most this many per-chat menus are set at start-up; the rest get theirs when they next /start."""
SYNC_INTERVAL = 0.25
"""Seconds between two menus set at start-up: a slow background trickle that never crowds out replies."""


def bot_commands(role: Role | None, pemda: PemdaConfig | None = None) -> list[BotCommand]:
    """The menu entries for `role` (None: not registered); registered people do not need /start."""
    return [
        BotCommand(name, summary[:256])
        for name, summary in menu_for(role, pemda)
        if role is None or name != "start"
    ]


class CommandMenus:
    """Sets command menus through the Bot API, paced by the channel's rate limiter."""

    def __init__(self, bot: Bot, deps: Deps, limiter: RateLimiter | None = None, *, limit: int = SYNC_LIMIT) -> None:
        self.bot = bot
        self.deps = deps
        self.limiter = limiter
        self.limit = limit

    async def set_default(self) -> None:
        """The menu everyone sees until they are registered: /start and /bantuan."""
        await self._set(bot_commands(None), BotCommandScopeDefault(), "default")

    async def set_for(self, chat_id: str, role: Role, *, background: bool = False) -> bool:
        """The menu of one registered person's private chat."""
        if not chat_id.lstrip("-").isdigit():
            return False
        return await self._set(
            bot_commands(role, self.deps.pemda), BotCommandScopeChat(int(chat_id)), chat_id, background=background
        )

    async def refresh(self, telegram_user_id: str) -> bool:
        """Set the menu of the registered, active contact with this Telegram id (after binding)."""
        with self.deps.db.uow() as uow:
            contact = uow.session.exec(select(Contact).where(Contact.telegram_user_id == telegram_user_id)).first()
        if contact is None or not contact.active or contact.unit_id is None:
            return False
        return await self.set_for(telegram_user_id, Role(contact.role))

    async def sync_all(self) -> int:
        """Set the menu of every registered Telegram contact (bounded by `limit`); returns how many were set."""
        with self.deps.db.uow() as uow:
            contacts = uow.session.exec(
                select(Contact)
                .where(col(Contact.telegram_user_id).is_not(None), col(Contact.active).is_(True))
                .where(col(Contact.unit_id).is_not(None), col(Contact.unreachable_telegram).is_(False))
                .order_by(col(Contact.id))
                .limit(self.limit + 1)
            ).all()
        if len(contacts) > self.limit:
            log.warning("more than %d Telegram contacts: only the first %d menus are set now", self.limit, self.limit)
        done = 0
        for contact in contacts[: self.limit]:
            if contact.telegram_user_id and await self.set_for(
                contact.telegram_user_id, Role(contact.role), background=True
            ):
                done += 1
            await self.deps.clock.sleep(SYNC_INTERVAL)
        log.info("telegram command menus set for %d contacts", done)
        return done

    async def _set(
        self,
        commands: list[BotCommand],
        scope: BotCommandScopeDefault | BotCommandScopeChat,
        key: str,
        *,
        background: bool = False,
    ) -> bool:
        """Set one menu; paced by the channel's limiter, except the start-up trickle (which paces itself)."""
        for attempt in range(2):
            if self.limiter is not None and not background:
                await self.limiter.acquire(key)
            try:
                await self.bot.set_my_commands(commands, scope=scope)
                return True
            except RetryAfter as exc:
                seconds = (
                    exc.retry_after if isinstance(exc.retry_after, float | int) else exc.retry_after.total_seconds()
                )
                if self.limiter is not None:
                    self.limiter.penalize(float(seconds))
                if attempt:
                    log.warning("command menu not set (rate limited)")
            except TelegramError as exc:
                log.info("command menu not set for one chat: %s", exc)
                return False
        return False
