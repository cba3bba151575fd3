"""A unit page says how the bot reaches each person as `models.reach` decides: an address on a channel this
deployment does not send on is not "terjangkau"."""

from __future__ import annotations

from starlette.applications import Starlette

from models.app import Deps
from models.messages import Channel
from tests.bot.web.test_pages import browser_of, text_of
from tests.conftest import ADMIN, KEPALA_DINKES, OPERATOR_DINKES, set_contact


def test_a_channel_not_set_up_is_said_not_called_reachable(deps: Deps, web_app: Starlette) -> None:
    set_contact(deps, KEPALA_DINKES, telegram_user_id="5001")
    set_contact(deps, OPERATOR_DINKES, wa_number=None)
    admin = browser_of(web_app, deps, ADMIN)
    both = text_of(admin.get("/dasbor/unit/DINKES").text)
    assert "Slamet Santoso Kepala OPD" in both
    assert "terjangkau · +6281290001098" in both and "tidak ada nomor" in both

    deps.sends_on = frozenset({Channel.TELEGRAM})  # WhatsApp not configured in this deployment
    telegram_only = text_of(admin.get("/dasbor/unit/DINKES").text)
    assert "belum dapat dipakai (WhatsApp belum diatur) · +6281290001098" in telegram_only
    assert "terjangkau · +6281290001098" not in telegram_only

    deps.sends_on = frozenset()  # the console: nobody can be reached
    console = text_of(admin.get("/dasbor/unit/DINKES").text)
    assert "belum dapat dipakai (Telegram belum diatur)" in console and " terjangkau " not in f" {console} "
