"""Warning letters on a deployment that does not send on every channel: nothing is queued on a channel that is not
set up (it would wait forever), and who was not reached is said, in the approver's reply and in the log."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import col, select

from jobs.letters.hook import make_letter_hook
from jobs.letters.receipts import receipt_due_at, run_receipt_escalation
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.standing import load_standings
from models.tables import Letter, LetterEvent, Outbox, Unit
from tests.conftest import ADMIN, console_person, contact_named
from tests.handlers.test_letters_flow import H_PLUS_7, TEGURAN1, fresh

TELEGRAM_ONLY = frozenset({Channel.TELEGRAM})


def draft_dinkes(deps: Deps) -> Letter:
    """What the sweep does for DINKES at Teguran I on the deployment's channels: draft, then ask the approvers."""
    hook = make_letter_hook(deps.pemda, deps.calendar, deps.sends_on)
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "DINKES")).one()
        config = deps.pemda.program("katalog")
        assert config is not None
        today = deps.calendar.local_date(H_PLUS_7)
        standing = load_standings(uow.session, deps.pemda, [unit], today, [config])[(unit.id or 0, "katalog")]
        assert hook(uow.session, unit, [standing], TEGURAN1, H_PLUS_7) is True
        hook.after_sweep(uow.session, H_PLUS_7)
        uow.commit()
        return uow.session.exec(select(Letter).where(Letter.unit_id == unit.id)).one()


def outbox(deps: Deps) -> list[Outbox]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Outbox).order_by(col(Outbox.id))).all())


def give_telegram(deps: Deps, name: str, user_id: str) -> None:
    with deps.db.uow() as uow:
        person = contact_named(deps, name)
        person.telegram_user_id = user_id
        uow.session.add(person)
        uow.commit()


async def test_a_letter_on_telegram_only_queues_nothing_for_whatsapp_only_people(deps: Deps, clock: FakeClock) -> None:
    """The admin is on Telegram; the other admin, the pimpinan and DINKES's kepala and operator have only WhatsApp
    numbers. The approval request reaches the admin alone (flagging that the unit cannot be reached), and the
    approved letter is not queued for WhatsApp: the reply says why and that it must be handed over."""
    clock.set(H_PLUS_7)
    deps.sends_on = TELEGRAM_ONLY
    give_telegram(deps, ADMIN, "5001")
    letter = draft_dinkes(deps)
    (request,) = outbox(deps)
    assert (request.contact_id, request.channel) == (contact_named(deps, ADMIN).id, "telegram")
    assert "Unit ini belum punya kepala/operator/camat yang dapat dihubungi di Sigap" in request.text

    (reply,) = await console_person(deps, ADMIN).say("", payload=f"/teguran setujui {letter.id}")
    assert "disetujui, tetapi Dinas Kesehatan belum punya kontak yang dapat dihubungi di Sigap" in reply.text
    assert "(2 hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur)" in reply.text
    assert f"/teguran diantar {letter.id}" in reply.text
    assert fresh(deps, letter.id).status == "approved"  # to be handed over, not "sent" to nobody
    assert [row.channel for row in outbox(deps) if row.channel != "console"] == ["telegram"]
    listing = await console_person(deps, ADMIN).text("/teguran")
    assert "⚠️ tanpa penerima di Sigap" in listing


async def test_a_draft_no_approver_can_be_reached_about_is_logged_with_the_reason(
    deps: Deps, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.set(H_PLUS_7)
    deps.sends_on = TELEGRAM_ONLY  # every approver has only a WhatsApp number
    with caplog.at_level(logging.WARNING, logger="jobs.letters.flow"):
        letter = draft_dinkes(deps)
    assert letter.status == "draft" and outbox(deps) == []
    assert "no approver is reachable" in caplog.text
    assert "hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur" in caplog.text


async def test_a_missing_receipt_is_not_queued_for_a_pimpinan_on_a_channel_not_set_up(
    deps: Deps, clock: FakeClock
) -> None:
    """The letter went out while WhatsApp was set up; by the escalation the deployment sends on Telegram only: the
    pimpinan (WhatsApp only) gets no row that would wait forever, and the register says nobody could be told."""
    clock.set(H_PLUS_7)
    letter = draft_dinkes(deps)
    await console_person(deps, ADMIN).say("", payload=f"/teguran setujui {letter.id}")
    sent_at = fresh(deps, letter.id).sent_at
    assert sent_at is not None
    clock.set(receipt_due_at(deps.calendar, sent_at, deps.pemda.letters.receipt_working_days) + timedelta(minutes=1))
    assert run_receipt_escalation(deps.db, deps.pemda, deps.calendar, clock, TELEGRAM_ONLY) == 1
    assert not [row for row in outbox(deps) if "receipt-escalation" in row.idem_key]
    with deps.db.uow() as uow:
        note = uow.session.exec(
            select(LetterEvent.note).where(LetterEvent.letter_id == letter.id, LetterEvent.status == "escalated")
        ).one()
    assert note.startswith("belum ada tanda terima; tidak ada pimpinan yang dapat dihubungi (")
