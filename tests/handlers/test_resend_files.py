"""A letter that reached a silent WhatsApp contact as template text only follows with its file when they write."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlmodel import select

from models.app import Deps
from models.messages import Channel
from models.outbox import OutMessage, enqueue
from models.tables import Outbox, OutboxStatus, StoredFile
from tests.conftest import KEPALA_DINKES, Person, contact_named


def _letter_sent_as_template(deps: Deps) -> Outbox:
    now = deps.clock.now()
    kepala = contact_named(deps, KEPALA_DINKES)
    with deps.db.uow() as uow:
        pdf = b"%PDF-1.4 surat"
        stored = StoredFile(
            filename="teguran.pdf",
            mime="application/pdf",
            sha256=hashlib.sha256(pdf).hexdigest(),
            content=pdf,
            created_at=now,
        )
        uow.session.add(stored)
        uow.session.flush()
        message = OutMessage(text="Surat Teguran I untuk Dinas Kesehatan.", kind="letter", attachment_id=stored.id)
        row = enqueue(uow.session, "letter:1:deliver:1", kepala, message, now - timedelta(days=2))
        assert row is not None and row.channel == Channel.WHATSAPP.value
        row.status, row.sent_at, row.provider_id = OutboxStatus.SENT.value, now - timedelta(days=2), "wamid.1"
        uow.session.add(row)
        uow.commit()
    return row


async def test_file_follows_once_the_person_writes(sdeps: Deps) -> None:
    original = _letter_sent_as_template(sdeps)
    kepala = contact_named(sdeps, KEPALA_DINKES)
    assert kepala.wa_number is not None
    person = Person(sdeps, Channel.WHATSAPP, kepala.wa_number)
    assert "Dinas Kesehatan" in await person.text("/status")
    await person.text("/bantuan")
    with sdeps.db.uow() as uow:
        copies = uow.session.exec(select(Outbox).where(Outbox.id != original.id, Outbox.kind != "reply")).all()
    assert len(copies) == 1
    copy = copies[0]
    assert copy.attachment_id == original.attachment_id and copy.status == OutboxStatus.PENDING.value
    assert copy.text.startswith("Berikut dokumen yang kami kirim sebelumnya:\nSurat Teguran I")


async def test_nothing_is_resent_when_it_went_inside_the_window(sdeps: Deps) -> None:
    kepala = contact_named(sdeps, KEPALA_DINKES)
    assert kepala.wa_number is not None
    person = Person(sdeps, Channel.WHATSAPP, kepala.wa_number)
    await person.text("/status")  # the window opens
    original = _letter_sent_as_template(sdeps)
    with sdeps.db.uow() as uow:
        row = uow.session.get(Outbox, original.id)
        assert row is not None
        row.sent_at = sdeps.clock.now()  # sent while the window was open: text and file arrived
        uow.session.add(row)
        uow.commit()
    sdeps.clock.advance(timedelta(hours=1))
    await person.text("/bantuan")
    with sdeps.db.uow() as uow:
        assert len(uow.session.exec(select(Outbox).where(Outbox.kind != "reply")).all()) == 1
