"""Command menus are set per chat once and again only when they change (role, Pemda file), counted at the Bot API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from telegram import Bot

from bot.telegram.menu import SYNC_INTERVAL, CommandMenus
from bot.telegram.runtime import keep_menus
from models.app import Deps
from models.clock import FakeClock
from models.tables import Role
from tests.bot.test_telegram_e2e import TOKEN, names, role_menu
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, PIMPINAN, set_contact
from tests.fakes.telegram_api import FakeBotApi

ADMIN_ID, KEPALA_ID, CAMAT_ID, PIMPINAN_ID = 9101, 9102, 9103, 9104


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url) as real_bot:
        yield real_bot


@pytest.fixture
def people(deps: Deps) -> Deps:
    """The sample roster with four people on Telegram."""
    for name, chat in (
        (ADMIN, ADMIN_ID),
        (KEPALA_DINKES, KEPALA_ID),
        (CAMAT_SUKAMAKMUR, CAMAT_ID),
        (PIMPINAN, PIMPINAN_ID),
    ):
        set_contact(deps, name, telegram_user_id=str(chat))
    return deps


def calls(api: FakeBotApi, method: str) -> list[str]:
    """The scope of every `method` call the Bot API answered, in order ("default", "chat:9101", ...)."""
    found = []
    for call in api.calls:
        if call.method == method:
            scope = call.params.get("scope") or {}
            found.append(f"chat:{scope['chat_id']}" if "chat_id" in scope else "default")
    return found


async def restart(bot: Bot, deps: Deps) -> None:
    """What `sigap run` does with the menus at each start."""
    await CommandMenus(bot, deps).sync_all()


async def test_menus_are_set_once_and_a_restart_with_nothing_changed_sends_none(
    api: FakeBotApi, bot: Bot, people: Deps, clock: FakeClock
) -> None:
    await restart(bot, people)

    assert sorted(calls(api, "setMyCommands")) == sorted(
        ["default", f"chat:{ADMIN_ID}", f"chat:{KEPALA_ID}", f"chat:{CAMAT_ID}", f"chat:{PIMPINAN_ID}"]
    )
    assert names(api.commands_for(None)) == ["start", "bantuan"]
    assert names(api.commands[f"chat:{ADMIN_ID}"]) == role_menu(Role.ADMIN)
    assert names(api.commands[f"chat:{KEPALA_ID}"]) == role_menu(Role.KEPALA)
    assert clock.sleeps == [SYNC_INTERVAL] * 4  # a trickle: one call, then a pause before each next one

    before, slept = len(api.calls), len(clock.sleeps)
    await restart(bot, people)
    await restart(bot, people)
    assert api.calls[before:] == []  # nothing changed: not one call
    assert len(clock.sleeps) == slept


async def test_a_role_change_resends_that_menu_and_a_deactivated_contacts_menu_is_removed_once(
    api: FakeBotApi, bot: Bot, people: Deps
) -> None:
    await restart(bot, people)
    before = len(api.calls)
    set_contact(people, KEPALA_DINKES, role=Role.CAMAT.value)
    set_contact(people, ADMIN, role=Role.OPERATOR.value)
    set_contact(people, CAMAT_SUKAMAKMUR, active=False)
    set_contact(people, PIMPINAN, role=Role.PIMPINAN.value)  # saved again, unchanged

    await restart(bot, people)

    assert [c.method for c in api.calls[before:]] == ["deleteMyCommands", "setMyCommands", "setMyCommands"]
    assert sorted(calls(api, "setMyCommands")[-2:]) == [f"chat:{ADMIN_ID}", f"chat:{KEPALA_ID}"]
    assert names(api.commands[f"chat:{KEPALA_ID}"]) == role_menu(Role.CAMAT)
    assert names(api.commands[f"chat:{ADMIN_ID}"]) == role_menu(Role.OPERATOR)
    assert calls(api, "deleteMyCommands") == [f"chat:{CAMAT_ID}"]
    assert f"chat:{CAMAT_ID}" not in api.commands  # the former camat's chat falls back to the default menu

    before = len(api.calls)
    await restart(bot, people)
    assert api.calls[before:] == []


async def test_a_pemda_file_change_resends_only_the_menus_it_alters(api: FakeBotApi, bot: Bot, people: Deps) -> None:
    await restart(bot, people)
    before = len(api.calls)
    letters = people.pemda.letters.model_copy(update={"approvers": ["admin", "pimpinan"]})
    edited = replace(people, pemda=people.pemda.model_copy(update={"letters": letters}))

    await restart(bot, edited)

    assert [c.method for c in api.calls[before:]] == ["setMyCommands"]
    assert calls(api, "setMyCommands")[-1] == f"chat:{PIMPINAN_ID}"  # /teguran: now the whole register
    [teguran] = [c for c in api.commands[f"chat:{PIMPINAN_ID}"] if c["command"] == "teguran"]
    assert "setujui" in str(teguran["description"])


async def test_a_menu_that_failed_is_sent_again_at_the_next_start_and_start_refreshes_only_a_change(
    api: FakeBotApi, bot: Bot, people: Deps
) -> None:
    api.fail_next("setMyCommands", status=400, description="Bad Request: chat not found")
    await restart(bot, people)
    [failed] = [c for c in api.calls if c.status == 400]
    scope = f"chat:{failed.params['scope']['chat_id']}" if "chat_id" in failed.params["scope"] else "default"

    before = len(api.calls)
    await restart(bot, people)
    assert calls(api, "setMyCommands")[-1:] == [scope] and len(api.calls) == before + 1

    menus = CommandMenus(bot, people)
    assert not await menus.refresh(str(KEPALA_ID))  # /start again, same role: the menu is already there
    set_contact(people, KEPALA_DINKES, role=Role.OPERATOR.value)
    assert not await menus.refresh(str(KEPALA_ID))  # now an operator, whose menu is the same as a kepala's
    set_contact(people, KEPALA_DINKES, role=Role.CAMAT.value)
    assert await menus.refresh(str(KEPALA_ID))  # now a camat (/start KODE moved them): a different menu
    assert names(api.commands[f"chat:{KEPALA_ID}"]) == role_menu(Role.CAMAT)
    assert len(api.calls) == before + 2


async def test_a_running_bot_sets_a_menu_changed_by_a_roster_import_without_a_restart(
    api: FakeBotApi, bot: Bot, people: Deps
) -> None:
    """`sigap run` compares the menus again every few minutes: a role changed while it runs (a roster import, in the
    chat or by `sigap roster import` in another process) gets its menu; a comparison with nothing changed sends
    nothing."""
    sent_per_round: list[list[str]] = []
    seen = 0
    finished = asyncio.Event()

    async def pause() -> None:  # between two comparisons (`MENU_RESYNC_SECONDS` in `sigap run`)
        nonlocal seen
        sent_per_round.append(calls(api, "setMyCommands")[seen:])
        seen = len(calls(api, "setMyCommands"))
        if len(sent_per_round) == 1:
            set_contact(people, KEPALA_DINKES, role=Role.CAMAT.value)
        elif len(sent_per_round) == 3:
            finished.set()
            await asyncio.Event().wait()

    keeper = asyncio.create_task(keep_menus(CommandMenus(bot, people), pause))
    await asyncio.wait_for(finished.wait(), 30)
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper

    assert len(sent_per_round[0]) == 5  # start-up: the default menu and the four chats
    assert sent_per_round[1:] == [[f"chat:{KEPALA_ID}"], []]
    assert names(api.commands[f"chat:{KEPALA_ID}"]) == role_menu(Role.CAMAT)
