"""/undangan through the real Telegram adapter and the fake Bot API: the progress, the renewal button, the PDF."""

from __future__ import annotations

import io

from pypdf import PdfReader

from models.app import Deps
from models.tables import Role
from tests.bot.test_telegram_e2e import ADMIN_ID, TOKEN, start_harness, stop_harness
from tests.conftest import ADMIN, set_contact
from tests.fakes.telegram_api import FakeBotApi
from tests.handlers.test_undangan import invite


async def test_an_admin_renews_expired_codes_with_one_tap_and_gets_the_sheet(sdeps: Deps) -> None:
    sdeps.telegram_username = None
    set_contact(sdeps, ADMIN, telegram_user_id=str(ADMIN_ID))
    invite(sdeps, "BAPENDA", Role.KEPALA, days=2, ago=9)
    async with FakeBotApi(token=TOKEN) as api:
        bot = await start_harness(api, sdeps, webhook=False)
        try:
            shown = await bot.ask(ADMIN_ID, "/undangan")
            assert "Kode undangan: 0 belum dipakai dan masih berlaku, 1 kedaluwarsa tanpa dipakai." in str(shown.text)
            assert shown.buttons == [("Perbarui 1 kode", "/undangan perbarui")]
            before = len(api.sent_to(ADMIN_ID))
            await bot.deliver(api.push_callback(ADMIN_ID, "/undangan perbarui", message_id=shown.message_id))
            sent = await bot.replies(ADMIN_ID, before, 2)
        finally:
            await stop_harness(bot)
    listing, sheet = sent[-2], sent[-1]
    assert str(listing.text).startswith("1 kode baru, berlaku sekali sampai ")
    code = str(listing.text).splitlines()[1].rsplit(": ", 1)[1]
    assert sheet.method == "sendDocument" and sheet.filename == "undangan-2026-11-23.pdf"
    assert sheet.content is not None
    text = PdfReader(io.BytesIO(sheet.content)).pages[0].extract_text()
    assert code in text and f"https://t.me/sigap_test_bot?start={code}" in "".join(text.split())
