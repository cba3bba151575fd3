"""Invites never move people silently: a registered person is asked first, and admins hear of a unit left headless."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from handlers.notify import tell_admins_unit_without_head, unit_has_head
from jobs.dispatcher import Dispatcher
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.tables import AuditLog, Contact, Invite, Outbox
from tests.conftest import (
    ADMIN,
    CAMAT_SUKAMAKMUR,
    KEPALA_DINKES,
    OPERATOR_DINKES,
    Person,
    console_person,
    contact_named,
    unit_coded,
)
from tests.fakes.sender import FakeSender

KEPALA_BAPENDA = "Neneng Kurniawan"
SECOND_ADMIN = "Dodi Kusnadi"
NO_KEPALA = (
    "⚠️ Badan Pendapatan Daerah kini tidak memiliki kepala yang terdaftar di Sigap (Neneng Kurniawan pindah menjadi "
    "Operator OPD Dinas Pendidikan). Mohon undang kepala baru: /undang bapenda kepala"
)


async def invite(deps: Deps, text: str) -> str:
    reply = await console_person(deps, ADMIN).text(text)
    assert "Kode undangan" in reply, reply
    return reply.split(": ", 1)[1].split()[0]


def outbox(deps: Deps) -> list[Outbox]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Outbox)).all())


def notices(deps: Deps) -> list[Outbox]:
    """Messages the bot queued on its own (not the direct replies to the person who wrote)."""
    return [row for row in outbox(deps) if row.kind != "reply"]


def used_at(deps: Deps, code: str) -> object:
    with deps.db.uow() as uow:
        return uow.session.exec(select(Invite).where(Invite.code == code)).one().used_at


def audits(deps: Deps, action: str) -> list[AuditLog]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(AuditLog).where(AuditLog.action == action)).all())


async def test_a_registered_kepala_is_asked_first_and_tidak_changes_nothing(deps: Deps) -> None:
    code = await invite(deps, "/undang disdik operator")
    kepala = console_person(deps, KEPALA_BAPENDA)
    (question,) = await kepala.say(f"/start {code}")
    assert question.text.startswith(
        "Bapak/Ibu terdaftar sebagai Kepala OPD Badan Pendapatan Daerah. Pindah menjadi Operator OPD Dinas Pendidikan?"
    )
    assert [(b.label, b.payload) for b in question.buttons] == [
        ("Ya, pindah", f"/start {code} pindah"),
        ("Tidak", f"/start {code} tidak"),
    ]
    assert "📊 Badan Pendapatan Daerah" in await kepala.text("/status")  # nothing changed by the question

    (answer,) = await kepala.say("Tidak", payload=f"/start {code} tidak")
    assert "tidak ada yang diubah" in answer.text
    assert "tetap terdaftar sebagai Kepala OPD Badan Pendapatan Daerah" in answer.text
    assert f"Kode {code} belum terpakai" in answer.text
    assert "📊 Badan Pendapatan Daerah" in await kepala.text("/status")
    assert contact_named(deps, KEPALA_BAPENDA).unit_id == unit_coded(deps, "BAPENDA").id
    assert used_at(deps, code) is None and notices(deps) == [] and audits(deps, "contact.moved") == []

    # the code is still good for the person it was meant for
    newcomer = Person(deps, Channel.TELEGRAM, "7100", "Zainal")
    assert "terdaftar sebagai Operator OPD Dinas Pendidikan" in await newcomer.text(f"/start {code}")


async def test_ya_moves_the_kepala_and_every_admin_hears_the_unit_has_no_kepala(deps: Deps, clock: FakeClock) -> None:
    code = await invite(deps, "/undang disdik operator")
    kepala = console_person(deps, KEPALA_BAPENDA)
    await kepala.say(f"/start {code}")
    (moved,) = await kepala.say("Ya, pindah", payload=f"/start {code} pindah")
    assert "kini terdaftar sebagai Operator OPD Dinas Pendidikan (sebelumnya Kepala OPD Badan Pendapatan Daerah)" in (
        moved.text
    )
    assert "Admin Sigap diberi tahu bahwa Badan Pendapatan Daerah kini tidak memiliki kepala" in moved.text
    assert "📊 Dinas Pendidikan" in await kepala.text("/status")
    assert used_at(deps, code) is not None

    (audit,) = audits(deps, "contact.moved")
    detail = json.loads(audit.detail)
    assert audit.actor_id == contact_named(deps, KEPALA_BAPENDA).id
    assert (detail["from_unit"], detail["from_role"], detail["to_unit"], detail["to_role"]) == (
        "BAPENDA",
        "kepala",
        "DISDIK",
        "operator",
    )

    admins = {contact_named(deps, ADMIN).id, contact_named(deps, SECOND_ADMIN).id}
    rows = outbox(deps)
    assert {r.contact_id for r in rows} == admins and len(rows) == 2
    assert all(r.text == NO_KEPALA for r in rows)

    sender = FakeSender()
    await Dispatcher(db=deps.db, senders={Channel.WHATSAPP: sender}, clock=clock).drain()
    for name in (ADMIN, SECOND_ADMIN):
        (message,) = sender.to(deps, name)
        assert message.text == NO_KEPALA
    assert "Kode undangan untuk Kepala OPD Badan Pendapatan Daerah" in await console_person(deps, ADMIN).text(
        "/undang bapenda kepala"
    )

    # the same button tapped again: already done, nothing more happens
    again = await kepala.text(f"/start {code} pindah")
    assert "sudah terdaftar sebagai Operator OPD Dinas Pendidikan; tidak ada yang diubah" in again
    assert len(outbox(deps)) == 2 and len(audits(deps, "contact.moved")) == 1


async def test_an_invite_for_the_role_one_already_has_just_says_so(deps: Deps) -> None:
    code = await invite(deps, "/undang dinkes kepala")
    (reply,) = await console_person(deps, KEPALA_DINKES).say(f"/start {code}")
    assert reply.text.startswith("Bapak/Ibu sudah terdaftar sebagai Kepala OPD Dinas Kesehatan; tidak ada yang diubah.")
    assert f"Kode {code} tidak dipakai." in reply.text and reply.buttons == ()
    assert used_at(deps, code) is None


async def test_the_same_invite_twice(deps: Deps) -> None:
    code = await invite(deps, "/undang dinkes kepala")
    person = Person(deps, Channel.TELEGRAM, "5150", "Slamet")
    assert "kini terdaftar sebagai Kepala OPD Dinas Kesehatan" in await person.text(f"/start {code}")
    again = await person.text(f"/start {code}")
    assert "sudah terdaftar sebagai Kepala OPD Dinas Kesehatan; tidak ada yang diubah" in again
    assert "tidak dipakai" not in again
    assert "tidak dikenal" in await Person(deps, Channel.TELEGRAM, "5151").text(f"/start {code}")
    assert len(audits(deps, "contact.bound")) == 1


async def test_an_unregistered_person_registers_without_a_question(deps: Deps) -> None:
    code = await invite(deps, "/undang disdik operator")
    (reply,) = await Person(deps, Channel.TELEGRAM, "6100", "Zainal").say(f"/start {code}")
    assert "kini terdaftar sebagai Operator OPD Dinas Pendidikan" in reply.text and reply.buttons == ()
    bare = await invite(deps, "/undang bapenda operator")
    stranger = Person(deps, Channel.WHATSAPP, "+6281299990001", "Ani")
    assert "kini terdaftar sebagai Operator OPD Badan Pendapatan Daerah" in await stranger.text(bare)
    assert notices(deps) == []  # no admin was told anything


async def test_ya_after_the_code_expired_or_was_used_changes_nothing(deps: Deps, clock: FakeClock) -> None:
    code = await invite(deps, "/undang disdik operator")
    kepala = console_person(deps, KEPALA_BAPENDA)
    await kepala.say(f"/start {code}")
    clock.advance(timedelta(days=8))
    late = await kepala.text(f"/start {code} pindah")
    assert "sudah kedaluwarsa" in late and "tetap terdaftar sebagai Kepala OPD Badan Pendapatan Daerah" in late
    assert "sudah kedaluwarsa" in await kepala.text(f"/start {code} tidak")

    other = await invite(deps, "/undang disdik operator")
    await kepala.say(f"/start {other}")
    await Person(deps, Channel.TELEGRAM, "6200").text(f"/start {other}")  # someone else uses it meanwhile
    taken = await kepala.text(f"/start {other} pindah")
    assert "tidak dikenal" in taken and "tetap terdaftar sebagai Kepala OPD Badan Pendapatan Daerah" in taken
    assert contact_named(deps, KEPALA_BAPENDA).unit_id == unit_coded(deps, "BAPENDA").id
    assert notices(deps) == [] and audits(deps, "contact.moved") == []


async def test_no_admin_message_while_the_unit_keeps_a_head(deps: Deps) -> None:
    code = await invite(deps, "/undang disdik operator")
    operator = console_person(deps, OPERATOR_DINKES)
    await operator.say(f"/start {code}")
    assert "Admin Sigap diberi tahu" not in await operator.text(f"/start {code} pindah")
    assert "📊 Dinas Pendidikan" in await operator.text("/status")
    assert notices(deps) == []  # no admin was told anything


async def test_a_camat_moving_leaves_the_kecamatan_without_a_camat(deps: Deps) -> None:
    code = await invite(deps, "/undang bapenda kepala")
    camat = console_person(deps, CAMAT_SUKAMAKMUR)
    assert "Pindah menjadi Kepala OPD Badan Pendapatan Daerah?" in await camat.text(f"/start {code}")
    assert "kini tidak memiliki camat" in await camat.text(f"/start {code} pindah")
    # BAPENDA's kepala is replaced too (tests/handlers/test_registration.py): only the kecamatan's notices here
    (row, _second) = [r for r in outbox(deps) if "Kecamatan Sukamakmur" in r.text]
    assert "Kecamatan Sukamakmur kini tidak memiliki camat yang terdaftar di Sigap" in row.text
    assert row.text.endswith("Mohon undang camat baru: /undang kecsukamakmur camat")


def test_admins_are_told_once_per_event(deps: Deps, clock: FakeClock) -> None:
    """The reusable part (roster imports call it too): one message per active admin, never twice for one event."""
    unit = unit_coded(deps, "BAPENDA")
    with deps.db.uow() as uow:
        assert unit_has_head(uow.session, unit)
        kepala = uow.session.exec(select(Contact).where(Contact.name == KEPALA_BAPENDA)).one()
        kepala.active = False
        uow.session.add(kepala)
        uow.session.flush()
        assert not unit_has_head(uow.session, unit)
        reason = "Neneng Kurniawan tidak ada lagi di daftar pegawai"
        assert tell_admins_unit_without_head(uow.session, deps.pemda, unit, clock.now(), reason) == 2
        assert tell_admins_unit_without_head(uow.session, deps.pemda, unit, clock.now(), reason) == 2
        uow.commit()
    rows = outbox(deps)
    assert len(rows) == 2 and all("(Neneng Kurniawan tidak ada lagi di daftar pegawai)" in r.text for r in rows)


async def test_a_bare_code_from_a_registered_person_is_asked_about_too(deps: Deps) -> None:
    code = await invite(deps, "/undang disdik operator")
    kepala = console_person(deps, KEPALA_BAPENDA)
    (question,) = await kepala.say(code.lower())  # as typed on WhatsApp, without /start
    assert "Pindah menjadi Operator OPD Dinas Pendidikan?" in question.text
    assert contact_named(deps, KEPALA_BAPENDA).role == "kepala" and used_at(deps, code) is None
    assert "tidak dikenali" in await kepala.text("BUKANKOD")  # an 8-letter word that is no code: same as before
