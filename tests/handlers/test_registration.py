"""Invites: only invited people get a unit and a role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from models.app import Deps
from models.clock import FakeClock
from models.flood import FloodGuard
from models.messages import Channel
from models.tables import AuditLog, Contact, Invite
from tests.conftest import ADMIN, Person, console_person


async def _invite(deps: Deps, text: str = "/undang dinkes kepala") -> str:
    reply = await console_person(deps, ADMIN).text(text)
    assert "Kode undangan" in reply, reply
    code = reply.split(": ", 1)[1].split()[0]
    assert len(code) == 8
    return code


async def test_admin_invite_then_start_binds_telegram_account(deps: Deps) -> None:
    code = await _invite(deps)
    stranger = Person(deps, Channel.TELEGRAM, "5550001", "Slamet")
    assert "belum terdaftar" in await stranger.text("/status")
    reply = await stranger.text(f"/start {code}")
    assert "terdaftar sebagai Kepala OPD Dinas Kesehatan" in reply
    status = await stranger.text("/status")
    assert "Dinas Kesehatan" in status
    with deps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.telegram_user_id == "5550001")).one()
        # the roster's one kepala of DINKES got the Telegram id, no duplicate person was made
        assert contact.name == "Slamet Santoso"
        assert uow.session.exec(select(AuditLog).where(AuditLog.action == "contact.bound")).first() is not None


async def test_invite_link_points_at_the_bot(deps: Deps) -> None:
    reply = await console_person(deps, ADMIN).text("/undang kecsukamakmur camat")
    assert "https://t.me/sigap_test_bot?start=" in reply


async def test_code_works_once(deps: Deps) -> None:
    code = await _invite(deps)
    await Person(deps, Channel.TELEGRAM, "1").text(f"/start {code}")
    reply = await Person(deps, Channel.TELEGRAM, "2").text(f"/start {code}")
    assert "tidak dikenal" in reply  # a used code answers like an unknown one
    assert "belum terdaftar" in await Person(deps, Channel.TELEGRAM, "2").text("/status")


async def test_expired_code_is_refused(deps: Deps, clock: FakeClock) -> None:
    code = await _invite(deps)
    clock.advance(timedelta(days=8))
    reply = await Person(deps, Channel.TELEGRAM, "1").text(f"/start {code}")
    assert "kedaluwarsa" in reply
    with deps.db.uow() as uow:
        assert uow.session.exec(select(Invite).where(Invite.code == code)).one().used_at is None


async def test_unknown_code_and_stranger_get_polite_explanation(deps: Deps) -> None:
    stranger = Person(deps, Channel.TELEGRAM, "999")
    assert "tidak dikenal" in await stranger.text("/start ZZZZZZZZ")
    assert "/start KODE" in await stranger.text("halo, saya mau daftar")
    assert "/start KODE" in await stranger.text("/rekap")


async def test_rebinding_to_another_unit_needs_a_fresh_invite(deps: Deps) -> None:
    code = await _invite(deps)
    person = Person(deps, Channel.TELEGRAM, "42")
    await person.text(f"/start {code}")
    assert "Dinas Kesehatan" in await person.text("/status")
    new_code = await _invite(deps, "/undang disdik operator")
    # a registered person is asked first (tests/handlers/test_invite_move.py); "Ya, pindah" moves them
    assert "Pindah menjadi Operator OPD Dinas Pendidikan?" in await person.text(f"/start {new_code}")
    assert "📊 Dinas Kesehatan" in await person.text("/status")
    assert "Operator OPD Dinas Pendidikan" in await person.text(f"/start {new_code} pindah")
    assert "Dinas Pendidikan" in await person.text("/status")


async def test_only_admin_may_invite(deps: Deps) -> None:
    kepala = console_person(deps, "Slamet Santoso")
    assert "tidak tersedia untuk peran" in await kepala.text("/undang dinkes kepala")


async def test_camat_invite_needs_a_kecamatan(deps: Deps) -> None:
    assert "hanya untuk unit kecamatan" in await console_person(deps, ADMIN).text("/undang dinkes camat")
    assert "Peran “raja” tidak dikenal" in await console_person(deps, ADMIN).text("/undang dinkes raja")
    assert "Format: /undang" in await console_person(deps, ADMIN).text("/undang")


async def test_a_code_used_by_another_process_meanwhile_is_refused(deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two people send the same code at once (two processes on PostgreSQL): only one gets the unit and role."""
    import handlers.registration as registration

    code = await _invite(deps)
    real_match = registration._roster_match

    def other_process_wins(ctx: Any, unit: Any, role: Any) -> Any:
        with deps.db.uow() as uow:  # the other person's /start commits first
            invite = uow.session.exec(select(Invite).where(Invite.code == code)).one()
            invite.used_at = deps.clock.now()
            uow.session.add(invite)
            uow.commit()
        return real_match(ctx, unit, role)

    monkeypatch.setattr(registration, "_roster_match", other_process_wins)
    late = Person(deps, Channel.TELEGRAM, "777")
    assert "tidak dikenal" in await late.text(f"/start {code}")
    monkeypatch.undo()
    assert "belum terdaftar" in await late.text("/status")


async def test_a_deactivated_person_can_register_again_with_a_new_code(deps: Deps) -> None:
    code = await _invite(deps)
    person = Person(deps, Channel.TELEGRAM, "4242")
    await person.text(f"/start {code}")
    with deps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.telegram_user_id == "4242")).one()
        contact.active = False
        uow.session.add(contact)
        uow.commit()
    assert "belum terdaftar" in await person.text("/status")
    reply = await person.text(f"/start {await _invite(deps, '/undang disdik operator')}")
    assert "terdaftar sebagai Operator OPD Dinas Pendidikan" in reply
    assert "Dinas Pendidikan" in await person.text("/status")
    with deps.db.uow() as uow:
        assert len(uow.session.exec(select(Contact).where(Contact.telegram_user_id == "4242")).all()) == 1


async def test_invite_codes_cannot_be_guessed(deps: Deps) -> None:
    deps.guard = FloodGuard(deps.clock)
    code = await _invite(deps)
    guesser = Person(deps, Channel.TELEGRAM, "31337")
    for attempt in range(6):  # five wrong codes an hour are allowed; the sixth stops the guessing
        assert "tidak dikenal" in await guesser.text(f"/start ZZZZZZ{attempt}2"), attempt
    assert "Terlalu banyak percobaan kode" in await guesser.text(f"/start {code}")  # even the right code, for now
    assert "belum terdaftar" in await guesser.text("/status")
    assert "kini terdaftar" in await Person(deps, Channel.TELEGRAM, "31338").text(f"/start {code}")  # others are fine
