"""The real python-telegram-bot Application against the fake Bot API: polling and webhook, every role."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from bot.channels import ChannelRuntime
from bot.http import HttpServer, build_app
from bot.settings import Settings
from bot.telegram.runtime import SECRET_HEADER, TelegramConfigError, file_base_url, telegram_runtime
from handlers.base import NOT_REGISTERED
from handlers.commands import menu_for
from handlers.registration import create_invite
from jobs.dispatcher import Dispatcher
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.tables import Broadcast, Contact, InboundSeen, Role, Unit
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, set_contact
from tests.fakes.telegram_api import FakeBotApi, SentRecord

TOKEN = "777001:AAE-sigap_e2e-Token"
SECRET = "rahasia_webhook-2026"
WEBHOOK_URL = "https://sigap.example.go.id/telegram"
ADMIN_ID, KEPALA_ID, CAMAT_ID, DISDIK_ID, INSPEKTORAT_ID, STRANGER_ID = 9001, 5001, 5002, 5003, 5004, 5999
GROUP_ID = -100777


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


def make_settings(api: FakeBotApi, *, webhook: bool) -> Settings:
    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL if webhook else "",
        "TELEGRAM_WEBHOOK_SECRET": SECRET if webhook else None,
        "SIGAP_HTTP_HOST": "127.0.0.1",
        "SIGAP_HTTP_PORT": 0,
    }
    return Settings(_env_file=None, **values)


def people_without_address(deps: Deps) -> list[Contact]:
    """Active contacts with neither a Telegram id nor a WhatsApp number."""
    with deps.db.uow() as uow:
        return list(
            uow.session.exec(
                select(Contact).where(
                    col(Contact.active).is_(True),
                    col(Contact.telegram_user_id).is_(None),
                    col(Contact.wa_number).is_(None),
                )
            ).all()
        )


async def say_all(harness: Harness, user_id: int, text: str, last: str) -> str:
    """Every message of a long answer (one per chunk), once the chunk containing `last` has arrived, joined."""
    before = len(harness.api.texts_to(user_id))
    await harness.say(user_id, text)
    await harness.api.wait_for(lambda: any(last in t for t in harness.api.texts_to(user_id)[before:]), timeout=5)
    return "\n".join(harness.api.texts_to(user_id)[before:])


def invite_code(deps: Deps, unit_code: str, role: Role) -> str:
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == unit_code)).one()
        code = create_invite(uow.session, unit, role, deps.clock.now()).code
        uow.commit()
    return code


def names(commands: list[dict[str, Any]]) -> list[str]:
    return [str(c["command"]) for c in commands]


def role_menu(role: Role) -> list[str]:
    return [name for name, _ in menu_for(role) if name != "start"]


@dataclass
class Harness:
    """The running Telegram channel; `webhook` decides whether updates are polled or POSTed to /telegram."""

    api: FakeBotApi
    deps: Deps
    runtime: ChannelRuntime
    server: HttpServer | None = None
    client: httpx.AsyncClient | None = None

    @property
    def webhook(self) -> bool:
        return self.server is not None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        assert self.client is not None
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        response = await self.client.post(f"{self.url}/telegram", json=update, headers=headers)
        return response.status_code

    async def deliver(self, update: dict[str, Any]) -> None:
        """Polling: the fake already queued it for getUpdates; webhook: Telegram POSTs it to us."""
        if self.webhook:
            assert await self.post(update) == 200

    async def replies(self, chat_id: int, before: int, count: int = 1) -> list[SentRecord]:
        await self.api.wait_for(lambda: len(self.api.sent_to(chat_id)) >= before + count, timeout=5)
        return self.api.sent_to(chat_id)[before:]

    async def say(self, user_id: int, text: str, *, first_name: str = "Budi", last_name: str | None = None) -> str:
        before = len(self.api.sent_to(user_id))
        await self.deliver(self.api.push_message(user_id, text, first_name=first_name, last_name=last_name))
        return str((await self.replies(user_id, before))[-1].text)

    async def ask(self, user_id: int, text: str) -> SentRecord:
        before = len(self.api.sent_to(user_id))
        await self.deliver(self.api.push_message(user_id, text))
        return (await self.replies(user_id, before))[-1]

    async def tap(self, user_id: int, data: str, *, message_id: int | None = None) -> SentRecord:
        before = len(self.api.sent_to(user_id))
        answered = len(self.api.callback_answers)
        await self.deliver(self.api.push_callback(user_id, data, message_id=message_id))
        record = (await self.replies(user_id, before))[-1]
        await self.api.wait_for(lambda: len(self.api.callback_answers) > answered, timeout=5)
        return record


async def start_harness(api: FakeBotApi, deps: Deps, *, webhook: bool) -> Harness:
    runtime = await telegram_runtime(make_settings(api, webhook=webhook), deps)
    harness = Harness(api, deps, runtime)
    await runtime.start()
    if webhook:
        harness.server = HttpServer(build_app(runtime.routes), "127.0.0.1", 0)
        await harness.server.start()
        harness.client = httpx.AsyncClient(timeout=5)
    return harness


async def stop_harness(harness: Harness) -> None:
    if harness.client is not None:
        await harness.client.aclose()
    if harness.server is not None:
        await harness.server.stop()
    await harness.runtime.stop()


@pytest.fixture(params=["polling", "webhook"])
async def bot(request: pytest.FixtureRequest, api: FakeBotApi, sdeps: Deps) -> AsyncIterator[Harness]:
    sdeps.telegram_username = None
    set_contact(sdeps, ADMIN, telegram_user_id=str(ADMIN_ID))
    harness = await start_harness(api, sdeps, webhook=request.param == "webhook")
    try:
        yield harness
    finally:
        await stop_harness(harness)


async def test_opd_head_binds_reports_one_line_and_with_buttons_and_sees_status(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api, deps = bot.api, bot.deps
    assert deps.telegram_username == "sigap_test_bot"
    await api.wait_for(lambda: names(api.commands_for(None)) == ["start", "bantuan"], timeout=5)
    await api.wait_for(lambda: names(api.commands.get(f"chat:{ADMIN_ID}", [])) == role_menu(Role.ADMIN), timeout=5)
    assert {"siaran", "takterjangkau", "undang"} <= set(role_menu(Role.ADMIN))

    invite = await bot.say(ADMIN_ID, "/undang dinkes kepala")
    match = re.search(r"https://t\.me/sigap_test_bot\?start=([A-Z0-9]{8})", invite)
    assert match, invite
    code = match.group(1)

    assert await bot.say(STRANGER_ID, "halo") == NOT_REGISTERED

    welcome = await bot.say(KEPALA_ID, f"/start {code}", first_name="Slamet", last_name="Santoso")
    assert welcome.startswith(
        "Terima kasih, Slamet Santoso. Bapak/Ibu kini terdaftar sebagai Kepala OPD Dinas Kesehatan"
    )
    await api.wait_for(lambda: names(api.commands.get(f"chat:{KEPALA_ID}", [])) == role_menu(Role.KEPALA), timeout=5)
    assert "siaran" not in role_menu(Role.KEPALA)

    one_line = await bot.say(KEPALA_ID, "/lapor katalog 12")
    assert "Tercatat untuk Dinas Kesehatan" in one_line and "12 dari target 10 produk" in one_line

    menu = await bot.ask(KEPALA_ID, "/lapor")
    assert ("e-Katalog lokal", "/lapor katalog") in menu.buttons
    question = await bot.tap(KEPALA_ID, "/lapor katalog", message_id=menu.message_id)
    assert "Berapa jumlah produk e-Katalog lokal Dinas Kesehatan" in str(question.text)
    assert "Tercatat untuk Dinas Kesehatan" in await bot.say(KEPALA_ID, "35")

    status = await bot.say(KEPALA_ID, "/status")
    assert "✅ e-Katalog lokal: 35 dari target 10 produk" in status
    assert TOKEN not in caplog.text


async def test_camat_sees_the_kecamatan_and_its_kelurahan(bot: Harness) -> None:
    code = invite_code(bot.deps, "KEC-SUKAMAKM", Role.CAMAT)
    assert "Camat Kecamatan Sukamakmur" in await bot.say(CAMAT_ID, f"/start {code}", first_name="Sri")
    status = await bot.say(CAMAT_ID, "/status")
    assert "📊 Kecamatan Sukamakmur (KEC-SUKAMAKM)" in status
    assert "Kelurahan/desa di bawahnya:" in status
    with bot.deps.db.uow() as uow:
        kecamatan = uow.session.exec(select(Unit).where(Unit.code == "KEC-SUKAMAKM")).one()
        kelurahan = uow.session.exec(select(Unit).where(Unit.parent_id == kecamatan.id)).all()
        bound = uow.session.exec(select(Contact).where(Contact.telegram_user_id == str(CAMAT_ID))).one()
    assert kelurahan and all(unit.code in status for unit in kelurahan)
    assert bound.name == CAMAT_SUKAMAKMUR
    await bot.api.wait_for(lambda: names(bot.api.commands.get(f"chat:{CAMAT_ID}", [])) == role_menu(Role.CAMAT))


async def test_redelivered_update_is_answered_once_and_groups_get_a_hint(bot: Harness) -> None:
    api = bot.api
    update = api.push_message(ADMIN_ID, "/unit")
    await bot.deliver(update)
    await bot.replies(ADMIN_ID, 0)
    redelivered = api.push_update(dict(update))
    assert redelivered["update_id"] == update["update_id"]
    await bot.deliver(redelivered)
    group = {
        "message": {
            "message_id": 77,
            "from": {"id": ADMIN_ID, "is_bot": False, "first_name": "Rina"},
            "chat": {"id": GROUP_ID, "type": "supergroup", "title": "OPD"},
            "date": 1_700_000_000,
            "text": "/status",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        }
    }
    await bot.deliver(api.push_update(group))
    chatter = {"message": {**group["message"], "message_id": 78, "text": "selamat pagi", "entities": []}}
    await bot.deliver(api.push_update(chatter))
    assert "Status" in await bot.say(ADMIN_ID, "/status dinkes")
    texts = api.texts_to(ADMIN_ID)
    assert sum(1 for t in texts if t.startswith("Daftar unit")) == 1
    assert api.texts_to(GROUP_ID) == [
        "Mohon maaf, Sigap hanya melayani percakapan pribadi. Silakan kirim pesan langsung ke @sigap_test_bot."
    ]


async def test_webhook_checks_the_secret_and_processes_nothing_without_it(api: FakeBotApi, sdeps: Deps) -> None:
    set_contact(sdeps, ADMIN, telegram_user_id=str(ADMIN_ID))
    harness = await start_harness(api, sdeps, webhook=True)
    try:
        [set_webhook] = [c for c in api.calls if c.method == "setWebhook"]
        assert set_webhook.params["url"] == WEBHOOK_URL and set_webhook.params["secret_token"] == SECRET
        assert set_webhook.params["allowed_updates"] == ["message", "callback_query"]
        assert not [c for c in api.calls if c.method == "getUpdates"]
        update = api.push_message(ADMIN_ID, "/bantuan")
        assert await harness.post(update, secret=None) == 403
        assert await harness.post(update, secret="salah") == 403
        assert await harness.post(update, secret=SECRET + "x") == 403
        with sdeps.db.uow() as uow:
            assert uow.session.exec(select(InboundSeen)).first() is None
        assert api.sent == []
        assert await harness.post(update) == 200
        [reply] = await harness.replies(ADMIN_ID, 0)
        assert str(reply.text).startswith("Perintah untuk Admin:")
        assert await harness.post({"bukan": "update"}) == 400
        assert harness.client is not None
        health = await harness.client.get(f"{harness.url}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
    finally:
        await stop_harness(harness)


async def test_webhook_mode_refuses_to_start_without_a_secret(api: FakeBotApi, sdeps: Deps) -> None:
    settings = make_settings(api, webhook=True)
    settings.telegram_webhook_secret = None
    with pytest.raises(TelegramConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        await telegram_runtime(settings, sdeps)
    assert api.calls == []
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"


async def test_admin_broadcasts_to_units_behind_with_progress_tally_and_unreachable_list(
    api: FakeBotApi, sdeps: Deps, clock: FakeClock
) -> None:
    deps = sdeps
    with deps.db.uow() as uow:
        for contact in uow.session.exec(select(Contact)).all():
            contact.wa_number = None
            uow.session.add(contact)
        uow.commit()
    people = {
        ADMIN: ADMIN_ID,
        KEPALA_DINKES: KEPALA_ID,
        CAMAT_SUKAMAKMUR: CAMAT_ID,
        "Yuni Pratama": DISDIK_ID,
        "Putri Lestari": INSPEKTORAT_ID,
    }
    for name, user_id in people.items():
        set_contact(deps, name, telegram_user_id=str(user_id))
    harness = await start_harness(api, deps, webhook=False)
    try:
        assert "Tercatat" in await harness.say(KEPALA_ID, "/lapor katalog 12")
        api.block_chat(INSPEKTORAT_ID)

        preview = await harness.ask(ADMIN_ID, "/siaran tertinggal:katalog Mohon segera menayangkan produk UMKM.")
        assert "Pratinjau siaran #1" in str(preview.text)
        assert "Penerima: 3 orang di 3 unit." in str(preview.text)
        assert preview.buttons == [("Kirim", "/siaran kirim 1"), ("Batal", "/siaran batal 1")]

        confirmation = await harness.tap(ADMIN_ID, "/siaran kirim 1", message_id=preview.message_id)
        assert confirmation.text == "Siaran #1 dikirim ke 3 penerima.\nKemajuan: Terkirim 0/3"
        with deps.db.uow() as uow:
            broadcast = uow.session.get(Broadcast, 1)
        assert broadcast is not None and broadcast.status == "sending"
        assert (broadcast.progress_chat, broadcast.progress_message_id) == (
            str(ADMIN_ID),
            str(confirmation.message_id),
        )

        dispatcher = Dispatcher(
            db=deps.db,
            senders={Channel.TELEGRAM: harness.runtime.sender},
            limiters={Channel.TELEGRAM: harness.runtime.limiter},
            clock=clock,
            observers=harness.runtime.observers,
        )
        await dispatcher.drain()

        for user_id in (CAMAT_ID, DISDIK_ID):
            [message] = [t for t in api.texts_to(user_id) if "Mohon segera menayangkan produk UMKM." in t]
            assert message.startswith("📢 Pengumuman Sigap")
        assert api.texts_to(KEPALA_ID)[-1].startswith("Tercatat")
        assert api.texts_to(INSPEKTORAT_ID) == []

        edits = [r for r in api.sent_to(ADMIN_ID) if r.method == "editMessageText"]
        assert edits and {r.message_id for r in edits} == {confirmation.message_id}
        assert edits[-1].text == "Siaran #1 dikirim ke 3 penerima.\nKemajuan: Terkirim 2/3 (belum berhasil 1)\nSelesai."
        tally = api.texts_to(ADMIN_ID)[-1]
        assert tally.startswith("Siaran #1 selesai.\nTerkirim: 2\nGagal: 0\nTidak terjangkau: 1")
        with deps.db.uow() as uow:
            finished = uow.session.get(Broadcast, 1)
        assert finished is not None and finished.status == "finished" and finished.finished_at is not None

        # everyone else has no WhatsApp number and no Telegram: they are listed too, after the one who blocked the bot
        without = len(people_without_address(deps))
        unreachable = await say_all(harness, ADMIN_ID, "/takterjangkau", "Tidak dapat dijangkau sama sekali")
        assert unreachable.startswith(
            f"Kontak yang tidak terjangkau ({without + 1}):\n"
            "• Putri Lestari — Kepala OPD, Inspektorat Daerah (INSPEKTORAT) — Telegram\n"
        )
        assert f"{without} belum punya Telegram maupun nomor WhatsApp" in unreachable

        api.unblock_chat(INSPEKTORAT_ID)
        await harness.say(INSPEKTORAT_ID, "/status")
        again = await say_all(harness, ADMIN_ID, "/takterjangkau", "Tidak dapat dijangkau sama sekali")
        assert again.startswith(f"Kontak yang tidak terjangkau ({without}):\n") and "Putri Lestari" not in again
    finally:
        await stop_harness(harness)
