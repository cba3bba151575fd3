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


def test_a_papua_distrik_s_head_is_called_kepala_distrik(deps: Deps, web_app: Starlette) -> None:
    from sqlmodel import select

    from models.onboarding import post_name, role_label
    from models.tables import Role, Unit

    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "KEC-SUKAMAKM")).one()
        unit.name = "Distrik Windesi"
        uow.session.add(unit)
        uow.commit()
        uow.session.refresh(unit)
    assert role_label(Role.CAMAT, unit) == "Kepala Distrik"
    assert post_name(Role.CAMAT, unit) == "Kepala Distrik Windesi"
    assert role_label(Role.CAMAT, Unit(code="KEC", name="Kecamatan Sukamakmur", kind="kecamatan")) == "Camat"
    page = text_of(browser_of(web_app, deps, ADMIN).get("/dasbor/unit/KEC-SUKAMAKM").text)
    assert "Sri Firmansyah Kepala Distrik" in page


async def test_a_kepala_distrik_s_help_is_headed_so(deps: Deps) -> None:
    from sqlmodel import select

    from models.tables import Unit
    from tests.conftest import CAMAT_SUKAMAKMUR, console_person

    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "KEC-SUKAMAKM")).one()
        unit.name = "Distrik Windesi"
        uow.session.add(unit)
        uow.commit()
    help_text = await console_person(deps, CAMAT_SUKAMAKMUR).text("/bantuan")
    assert help_text.splitlines()[0] == "Perintah untuk Kepala Distrik:"
