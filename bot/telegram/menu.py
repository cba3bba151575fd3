"""The Telegram command menu ("/" button): the default for strangers, one per registered chat matching the role.

Telegram keeps a menu per scope until it is replaced, so a menu is sent only when it changed: each scope's
fingerprint (a hash of its entries) is recorded in `menu_state` after a successful setMyCommands. At start-up
`sync_all` compares every registered chat's menu (its role and the Pemda file decide it) and the default menu with
what was recorded and sets just those that differ or were never set; a chat whose contact is no longer registered
(deactivated, moved to another Telegram account) has its menu removed once. What must be sent trickles out slowly
in the background (`SYNC_INTERVAL`), so replies never wait for it; a restart with nothing changed sends nothing.
The running bot compares again every few minutes (`bot.telegram.runtime.keep_menus`): a role changed by a roster
import gets its menu without a restart.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlmodel import Session, col, select
from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from handlers.commands import menu_for
from jobs.ratelimit import RateLimiter
from models.app import Deps
from models.messages import Channel
from models.pemda import PemdaConfig
from models.state_tables import MenuState
from models.tables import Contact, Role

log = logging.getLogger(__name__)

SYNC_INTERVAL = 0.25
"""Seconds between two menus set at start-up: a slow background trickle that never crowds out replies."""
CHANNEL = Channel.TELEGRAM.value
DEFAULT = "default"


def bot_commands(role: Role | None, pemda: PemdaConfig | None = None) -> list[BotCommand]:
    """The menu entries for `role` (None: not registered); registered people do not need /start."""
    return [
        BotCommand(name, summary[:256])
        for name, summary in menu_for(role, pemda)
        if role is None or name != "start"
    ]


def fingerprint(commands: Iterable[BotCommand]) -> str:
    """A short, stable digest of a menu's entries (what `menu_state` records per scope)."""
    entries = [[c.command, c.description] for c in commands]
    return hashlib.sha256(json.dumps(entries, ensure_ascii=False).encode()).hexdigest()


def chat_scope(chat_id: str) -> str:
    """The `menu_state` scope of one private chat."""
    return f"chat:{chat_id}"


@dataclass
class MenuPlan:
    """What start-up has to send: menus that changed or were never set, and chats whose menu must go."""

    default: list[BotCommand] | None = None
    """The default menu, when it changed."""
    chats: list[tuple[str, Role]] = field(default_factory=list)
    """(chat id, role) whose menu changed or was never set."""
    resets: list[str] = field(default_factory=list)
    """Chat ids with a recorded menu and no registered contact any more."""
    unchanged: int = 0


def plan_menus(session: Session, pemda: PemdaConfig) -> MenuPlan:
    """Compare every menu that should be set with what `menu_state` recorded (two queries, no per-chat work)."""
    recorded = dict(
        session.exec(select(MenuState.scope, MenuState.fingerprint).where(col(MenuState.channel) == CHANNEL)).all()
    )
    registered = session.exec(
        select(Contact.telegram_user_id, Contact.role, Contact.unreachable_telegram)
        .where(col(Contact.telegram_user_id).is_not(None), col(Contact.active).is_(True))
        .where(col(Contact.unit_id).is_not(None))
        .order_by(col(Contact.id))
    ).all()
    plan = MenuPlan()
    default = bot_commands(None)
    if recorded.get(DEFAULT) != fingerprint(default):
        plan.default = default
    prints: dict[str, str] = {}
    wanted: set[str] = set()
    for chat_id, role, unreachable in registered:
        scope = chat_scope(chat_id or "")
        if not chat_id or not chat_id.isdigit() or scope in wanted:
            continue
        wanted.add(scope)
        if role not in prints:
            prints[role] = fingerprint(bot_commands(Role(role), pemda))
        if recorded.get(scope) == prints[role]:
            plan.unchanged += 1
        elif not unreachable:  # they blocked the bot: their menu is set at a start after they write again
            plan.chats.append((chat_id, Role(role)))
    plan.resets = [s.removeprefix("chat:") for s in recorded if s.startswith("chat:") and s not in wanted]
    return plan


class CommandMenus:
    """Sets command menus through the Bot API, only where they changed, and records what was set."""

    def __init__(
        self, bot: Bot, deps: Deps, limiter: RateLimiter | None = None, *, interval: float = SYNC_INTERVAL
    ) -> None:
        self.bot = bot
        self.deps = deps
        self.limiter = limiter
        self.interval = interval

    async def set_for(self, chat_id: str, role: Role) -> bool:
        """The menu of one registered person's private chat, if it differs from the one recorded."""
        if not chat_id.isdigit():
            return False
        commands = bot_commands(role, self.deps.pemda)
        if await asyncio.to_thread(self._recorded, chat_scope(chat_id)) == fingerprint(commands):
            return False
        return await self._set(commands, BotCommandScopeChat(int(chat_id)), chat_scope(chat_id))

    async def refresh(self, telegram_user_id: str) -> bool:
        """After /start: set the menu of the registered, active contact with this Telegram id if it changed."""

        def find() -> Contact | None:
            with self.deps.db.uow() as uow:
                return uow.session.exec(select(Contact).where(Contact.telegram_user_id == telegram_user_id)).first()

        contact = await asyncio.to_thread(find)
        if contact is None or not contact.active or contact.unit_id is None:
            return False
        return await self.set_for(telegram_user_id, Role(contact.role))

    async def sync_all(self) -> MenuPlan:
        """Start-up: set the menus that changed, remove those of chats no longer registered; returns the plan.

        Paced by `interval` between two calls (none when nothing changed), outside the rate limiter of messages.
        """

        def plan() -> MenuPlan:
            with self.deps.db.uow() as uow:
                return plan_menus(uow.session, self.deps.pemda)

        todo = await asyncio.to_thread(plan)
        calls: list[Callable[[], Awaitable[bool]]] = []
        if todo.default is not None:
            calls.append(functools.partial(self._set, todo.default, BotCommandScopeDefault(), DEFAULT, background=True))
        calls += [functools.partial(self._reset, chat_id) for chat_id in todo.resets]
        for chat_id, role in todo.chats:
            commands, scope = bot_commands(role, self.deps.pemda), BotCommandScopeChat(int(chat_id))
            calls.append(functools.partial(self._set, commands, scope, chat_scope(chat_id), background=True))
        log.info(
            "telegram command menus: %d to set, %d to remove, %d unchanged",
            len(todo.chats) + (todo.default is not None),
            len(todo.resets),
            todo.unchanged,
        )
        for number, call in enumerate(calls):
            if number:
                await self.deps.clock.sleep(self.interval)
            await call()
        return todo

    async def _set(
        self,
        commands: list[BotCommand],
        scope: BotCommandScopeDefault | BotCommandScopeChat,
        key: str,
        *,
        background: bool = False,
    ) -> bool:
        """Set one menu and record it; paced by the channel's limiter, except the start-up trickle (paced itself)."""
        for attempt in range(2):
            if self.limiter is not None and not background:
                await self.limiter.acquire(key)
            try:
                await self.bot.set_my_commands(commands, scope=scope)
            except RetryAfter as exc:
                if attempt:
                    log.warning("command menu not set (rate limited)")
                    return False
                await self.deps.clock.sleep(_seconds(exc))
                continue
            except TelegramError as exc:
                log.info("command menu not set for one chat: %s", exc)
                return False
            try:
                await asyncio.to_thread(self._record, key, fingerprint(commands))
            except Exception as exc:  # set, but not recorded: it is only sent once more at the next start
                log.warning("command menu set but not recorded: %s", type(exc).__name__)
            return True
        return False

    async def _reset(self, chat_id: str) -> bool:
        """Remove a chat's own menu (its contact is no longer registered) and forget it; False: try at next start."""
        try:
            await self.bot.delete_my_commands(scope=BotCommandScopeChat(int(chat_id)))
        except (BadRequest, Forbidden) as exc:  # the chat is gone or blocked the bot: nothing left to remove
            log.info("command menu of a former contact not removed: %s", exc)
        except RetryAfter as exc:
            await self.deps.clock.sleep(_seconds(exc))
            return False
        except TelegramError as exc:
            log.info("command menu of a former contact not removed: %s", exc)
            return False
        await asyncio.to_thread(self._forget, chat_scope(chat_id))
        return True

    def _recorded(self, scope: str) -> str | None:
        with self.deps.db.uow() as uow:
            state = uow.session.get(MenuState, (CHANNEL, scope))
            return state.fingerprint if state is not None else None

    def _record(self, scope: str, digest: str) -> None:
        with self.deps.db.uow() as uow:
            state = uow.session.get(MenuState, (CHANNEL, scope))
            if state is None:
                state = MenuState(channel=CHANNEL, scope=scope, fingerprint=digest, set_at=self.deps.clock.now())
            state.fingerprint, state.set_at = digest, self.deps.clock.now()
            uow.session.add(state)
            uow.commit()

    def _forget(self, scope: str) -> None:
        with self.deps.db.uow() as uow:
            uow.session.execute(
                delete(MenuState).where(col(MenuState.channel) == CHANNEL, col(MenuState.scope) == scope)
            )
            uow.commit()


def _seconds(exc: RetryAfter) -> float:
    wait = exc.retry_after
    return float(wait if isinstance(wait, float | int) else wait.total_seconds())
