"""One notion of "reachable": `sigap doctor`, /siaran's preview, /takterjangkau and the sweep's plan count the same
people as unreachable on a deployment that does not send on WhatsApp, and the wiring tells them which channels it
sends on."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlmodel import col, select

from bot.doctor_data import channels_finding
from bot.scheduler import run_sweep
from bot.settings import Settings
from bot.wiring import build_deps
from jobs.sweep import sweep
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.reach import Unreachable, count_reasons
from models.tables import Contact
from tests.conftest import ADMIN, KEPALA_DINKES, console_person, set_contact


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_wiring_says_which_channels_the_deployment_sends_on(sdeps: Deps) -> None:
    url = sdeps.db.url
    assert build_deps(settings(SIGAP_DATABASE_URL=url)).sends_on == frozenset()  # the console
    telegram = settings(SIGAP_DATABASE_URL=url, TELEGRAM_BOT_TOKEN="1:x")
    assert build_deps(telegram).sends_on == {Channel.TELEGRAM}
    both = settings(SIGAP_DATABASE_URL=url, TELEGRAM_BOT_TOKEN="1:x", WHATSAPP_ACCESS_TOKEN="EAAG")
    assert build_deps(both).sends_on == {Channel.TELEGRAM}  # WhatsApp without its phone number id is not set up
    both = settings(
        SIGAP_DATABASE_URL=url, TELEGRAM_BOT_TOKEN="1:x", WHATSAPP_ACCESS_TOKEN="EAAG", WHATSAPP_PHONE_NUMBER_ID="9"
    )
    assert build_deps(both).sends_on == {Channel.TELEGRAM, Channel.WHATSAPP}


async def test_doctor_siaran_takterjangkau_and_the_sweep_agree(sdeps: Deps, clock: FakeClock) -> None:
    telegram_only = settings(TELEGRAM_BOT_TOKEN="1:x")
    sdeps.sends_on = telegram_only.sends_on
    set_contact(sdeps, ADMIN, telegram_user_id="5000")
    set_contact(sdeps, KEPALA_DINKES, telegram_user_id="5001")
    with sdeps.db.uow() as uow:
        people = list(uow.session.exec(select(Contact).where(col(Contact.active).is_(True))).all())
        unreachable = {c.name for c in people if c.telegram_user_id is None}
        in_units = {c.name for c in people if c.unit_id is not None and c.name != ADMIN}
    assert len(unreachable) == len(people) - 2

    with sdeps.db.uow() as uow:
        doctor = channels_finding(uow.session, telegram_only)
    assert doctor.message.startswith(f"{len(unreachable)} orang hanya punya nomor WhatsApp, tetapi WhatsApp belum")

    admin = console_person(sdeps, ADMIN)
    assert f"Kontak yang tidak terjangkau ({len(unreachable)}):" in await admin.text("/takterjangkau")

    left_out = len(in_units & unreachable)
    preview = await admin.text("/siaran semua Selamat pagi.")
    assert "Penerima: 1 orang di 1 unit." in preview
    assert (
        f"Tidak ikut menerima: {left_out} orang tidak dapat dijangkau sekarang ({left_out} hanya punya nomor "
        "WhatsApp, tetapi WhatsApp belum diatur)." in preview
    )

    at = sdeps.calendar.at_local(date(2026, 12, 8), time(8, 0))
    plan = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, at, dry_run=True, sends_on=sdeps.sends_on).planned
    assert {p.channel for p in plan if p.contact.name == KEPALA_DINKES} == {Channel.TELEGRAM}
    missed = {p.contact.id: p.contact for p in plan if p.channel is None}
    assert missed and {c.name for c in missed.values()} <= unreachable
    assert count_reasons(missed.values(), sdeps.sends_on) == {Unreachable.ONLY_WHATSAPP: len(missed)}

    clock.set(at)
    result = await run_sweep(sdeps, "uji")  # the scheduler reaches people on the deployment's channels only
    assert result is not None and result.queued == 1  # Slamet's one message; nothing for those it cannot reach
