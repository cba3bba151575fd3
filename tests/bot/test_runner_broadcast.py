"""A broadcast sent on WhatsApp alone still finishes and its author gets the tally."""

from __future__ import annotations

from bot.runner import broadcast_finisher
from jobs.dispatcher import Dispatcher
from models.app import Deps
from models.messages import Channel
from models.tables import Broadcast
from tests.conftest import ADMIN, console_person
from tests.fakes.sender import FakeSender


async def test_whatsapp_only_broadcast_is_closed_with_a_tally(sdeps: Deps) -> None:
    admin = console_person(sdeps, ADMIN)
    preview = await admin.text("/siaran dinkes,disdik Rapat koordinasi Senin pukul 09.00.")
    assert "Penerima: 4 orang" in preview
    await admin.say("", payload="/siaran kirim 1")
    whatsapp = FakeSender(Channel.WHATSAPP)
    dispatcher = Dispatcher(
        db=sdeps.db, senders={Channel.WHATSAPP: whatsapp}, clock=sdeps.clock, observers=[broadcast_finisher(sdeps)]
    )
    await dispatcher.drain()
    with sdeps.db.uow() as uow:
        broadcast = uow.session.get(Broadcast, 1)
        assert broadcast is not None and broadcast.status == "finished"
    tally = [m.text for m in whatsapp.to(sdeps, ADMIN)]
    assert tally == ["Siaran #1 selesai.\nTerkirim: 4\nGagal: 0\nTidak terjangkau: 0"]
