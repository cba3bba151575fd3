"""Invites: only invited people get a unit and a role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from handlers.base import find_unit
from models.app import Deps
from models.clock import FakeClock
from models.flood import FloodGuard
from models.messages import Channel, full_stop
from models.onboarding import post_name, role_label
from models.tables import AuditLog, Contact, Invite, Outbox, Role, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, OPERATOR_DINKES, PIMPINAN, Person, console_person, contact_named
from tests.handlers.test_undangan import set_contact


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
    assert await person.text("/status") == (
        "Mohon maaf, akun Bapak/Ibu sudah tidak aktif (nonaktif) di Sigap.\n"
        "Bila ini keliru, mohon hubungi admin Sigap di Pemda."
    )
    assert "nonaktif" in await person.text("halo")
    assert "nonaktif" in await person.text("/bantuan")
    assert (await person.text("/start")).endswith("Bila admin memberi kode undangan baru, kirim: /start KODE")
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


async def test_each_role_only_where_it_fits_and_the_refusal_names_the_right_one(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    kepala = await admin.text("/undang kecsukamakmur kepala")
    assert kepala == (
        "Kecamatan Sukamakmur adalah kecamatan; kepalanya berperan camat, bukan kepala.\n"
        "Buat kodenya dengan: /undang kecsukamakmur camat"
    )
    camat = await admin.text("/undang dinkes camat")
    assert (
        "Peran camat hanya untuk unit kecamatan; Dinas Kesehatan bukan kecamatan. Kepalanya berperan kepala." in camat
    )
    assert camat.endswith("Buat kodenya dengan: /undang dinkes kepala")
    leader = await admin.text("/undang sukamakmur pimpinan")
    assert "Peran pimpinan hanya untuk kantor Pemda" in leader and "bukan kecamatan" in leader
    assert "Untuk Kecamatan Sukamakmur, pilih camat atau operator." in leader
    assert "Peran admin hanya untuk kantor Pemda" in await admin.text("/undang kel-sukama1 admin")
    assert "Kelurahan Sukamakmur bukan kecamatan. Kepalanya berperan kepala." in await admin.text(
        "/undang kel-sukama1 camat"
    )
    with deps.db.uow() as uow:
        assert uow.session.exec(select(Invite)).first() is None
    assert "Kode undangan untuk Lurah Kelurahan Sukamakmur" in await admin.text("/undang kel-sukama1 kepala")
    assert "Kode undangan untuk Camat Kecamatan Sukamakmur" in await admin.text("/undang kecsukamakmur camat")
    assert "Kode undangan untuk Pimpinan Sekretariat Daerah" in await admin.text("/undang setda pimpinan")


async def test_an_old_code_for_a_role_that_does_not_fit_is_not_redeemed(deps: Deps) -> None:
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "KEC-SUKAMAKM")).one()
        assert unit.id is not None
        now = deps.clock.now()
        uow.session.add(
            Invite(code="KEPKEC22", unit_id=unit.id, role="kepala", created_at=now, expires_at=now + timedelta(days=7))
        )
        uow.commit()
    reply = await Person(deps, Channel.TELEGRAM, "5550009", "Budi").text("/start KEPKEC22")
    assert reply.startswith(
        "Kode ini tidak dapat dipakai: Kecamatan Sukamakmur adalah kecamatan; kepalanya berperan camat"
    )
    assert reply.endswith("Mohon minta kode baru kepada admin.")
    with deps.db.uow() as uow:
        assert uow.session.exec(select(Contact).where(Contact.telegram_user_id == "5550009")).first() is None


async def test_a_head_already_registered_is_replaced_only_after_the_admin_confirms(deps: Deps) -> None:
    set_contact(deps, KEPALA_DINKES, telegram_user_id="5001")
    admin = console_person(deps, ADMIN)
    [ask] = await admin.say("/undang dinkes kepala")
    assert ask.text.startswith("⚠️ Dinas Kesehatan sudah punya kepala: Slamet Santoso (aktif).")
    assert (
        "siapa pun yang memakai kode baru menjadi Kepala OPD Dinas Kesehatan, dan Slamet Santoso dinonaktifkan"
        in ask.text
    )
    assert [(b.label, b.payload) for b in ask.buttons] == [
        ("Ya, buat kode pengganti", "/undang dinkes kepala ganti"),
        ("Batal", "/undang batal"),
    ]
    with deps.db.uow() as uow:
        assert uow.session.exec(select(Invite)).first() is None
    assert await admin.text("/undang batal") == "Baik, tidak ada kode yang dibuat."
    made = await admin.text(ask.buttons[0].payload)
    assert "Kode undangan untuk Kepala OPD Dinas Kesehatan" in made
    assert made.endswith(
        "Bila kode ini dipakai orang lain, Slamet Santoso dinonaktifkan sebagai kepala; admin diberi tahu."
    )
    code = made.split(": ", 1)[1].split()[0]

    newcomer = Person(deps, Channel.TELEGRAM, "5550002", "Dewi Lestari")
    reply = await newcomer.text(f"/start {code}")
    assert reply.startswith(
        "Terima kasih, Dewi Lestari. Bapak/Ibu kini terdaftar sebagai Kepala OPD Dinas Kesehatan, menggantikan "
        "Slamet Santoso (kini dinonaktifkan; admin Sigap diberi tahu)."
    )
    with deps.db.uow() as uow:
        heads = uow.session.exec(
            select(Contact).where(Contact.role == "kepala", Contact.unit_id == find_unit(uow.session, "dinkes").id)
        ).all()
        assert sorted((c.name, c.active) for c in heads) == [("Dewi Lestari", True), ("Slamet Santoso", False)]
        audit = uow.session.exec(select(AuditLog).where(AuditLog.action == "contact.replaced")).one()
        assert audit.target == "DINKES" and '"name": "Slamet Santoso"' in audit.detail
        created = uow.session.exec(select(AuditLog).where(AuditLog.action == "invite.created")).one()
        assert '"replaces": [' in created.detail
        told = [row.text for row in uow.session.exec(select(Outbox).where(Outbox.kind != "reply")).all()]
    assert (
        "Bapak/Ibu tidak lagi terdaftar di Sigap sebagai Kepala OPD Dinas Kesehatan: Dewi Lestari kini terdaftar "
        "sebagai Kepala OPD Dinas Kesehatan. Bila ini keliru, mohon hubungi admin Sigap."
    ) in told
    admins = [t for t in told if t.startswith("ℹ️ Dewi Lestari kini terdaftar sebagai Kepala OPD Dinas Kesehatan")]
    assert len(admins) == 2 and "menggantikan Slamet Santoso; Slamet Santoso dinonaktifkan" in admins[0]


async def test_moving_into_a_held_head_role_says_first_who_is_replaced(deps: Deps) -> None:
    set_contact(deps, KEPALA_DINKES, telegram_user_id="5001")
    code = (await console_person(deps, ADMIN).text("/undang dinkes kepala ganti")).split(": ", 1)[1].split()[0]
    operator = console_person(deps, OPERATOR_DINKES)
    ask = await operator.text(f"/start {code}")
    assert "Pindah menjadi Kepala OPD Dinas Kesehatan?" in ask
    assert "Slamet Santoso tidak lagi tercatat sebagai Kepala OPD Dinas Kesehatan (admin diberi tahu)." in ask
    moved = await operator.text(f"/start {code} pindah")
    assert "menggantikan Slamet Santoso (kini dinonaktifkan; admin Sigap diberi tahu)." in moved
    assert not contact_named(deps, KEPALA_DINKES).active


async def test_operators_are_never_replaced(deps: Deps) -> None:
    set_contact(deps, OPERATOR_DINKES, telegram_user_id="5003")
    made = await console_person(deps, ADMIN).text("/undang dinkes operator")
    code = made.split(": ", 1)[1].split()[0]
    assert "dinonaktifkan" not in made
    reply = await Person(deps, Channel.TELEGRAM, "5550004", "Rudi").text(f"/start {code}")
    assert "menggantikan" not in reply
    assert contact_named(deps, OPERATOR_DINKES).active


async def test_a_replaced_head_who_writes_is_told_the_account_is_no_longer_active(deps: Deps) -> None:
    set_contact(deps, KEPALA_DINKES, telegram_user_id="5001")
    made = await console_person(deps, ADMIN).text("/undang dinkes kepala ganti")
    await Person(deps, Channel.TELEGRAM, "5550002", "Dewi Lestari").text(f"/start {made.split(': ', 1)[1].split()[0]}")
    replaced = Person(deps, Channel.TELEGRAM, "5001", KEPALA_DINKES)
    reply = await replaced.text("/status")
    assert reply.startswith("Mohon maaf, akun Bapak/Ibu sudah tidak aktif (nonaktif) di Sigap.")
    assert "belum terdaftar" not in reply and "hubungi admin Sigap" in reply
    set_contact(deps, OPERATOR_DINKES, active=False)  # deactivated by a roster import: on the console, by id
    assert "nonaktif" in await console_person(deps, OPERATOR_DINKES).text("/lapor katalog 3")
    stranger = Person(deps, Channel.TELEGRAM, "5559999")
    assert "belum terdaftar" in await stranger.text("/status")  # a stranger still gets the registration guidance


async def test_a_lurah_is_called_lurah_not_kepala_opd(deps: Deps) -> None:
    made = await console_person(deps, ADMIN).text("/undang kel-sukama1 kepala")
    assert made.startswith("Kode undangan untuk Lurah Kelurahan Sukamakmur: ")
    lurah = Person(deps, Channel.TELEGRAM, "5550077", "Hendra Wijaya")
    reply = await lurah.text(f"/start {made.split(': ', 1)[1].split()[0]}")
    assert reply.startswith("Terima kasih, Hendra Wijaya. Bapak/Ibu kini terdaftar sebagai Lurah Kelurahan Sukamakmur.")
    assert (await lurah.text("/bantuan")).splitlines()[0] == "Perintah untuk Lurah:"
    operator = console_person(deps, "Wulan Setiawan")  # the sample roster's operator of Kelurahan Sukamakmur
    assert (await operator.text("/bantuan")).splitlines()[0] == "Perintah untuk Operator Kelurahan:"
    assert (await console_person(deps, KEPALA_DINKES).text("/bantuan")).splitlines()[0] == "Perintah untuk Kepala OPD:"


def test_role_labels_fit_the_unit_kind() -> None:
    desa = Unit(code="DESA-MAJU", name="Desa Sukamaju", kind="desa")
    assert post_name(Role.KEPALA, desa) == "Kepala Desa Sukamaju"  # the kind is not said twice
    assert post_name(Role.OPERATOR, desa) == "Operator Desa Sukamaju"
    kelurahan = Unit(code="KEL-W", name="Kelurahan Wangurer", kind="kelurahan")
    assert post_name(Role.KEPALA, kelurahan) == "Lurah Kelurahan Wangurer"
    assert (
        post_name(Role.CAMAT, Unit(code="KEC", name="Kecamatan Bitung", kind="kecamatan")) == "Camat Kecamatan Bitung"
    )
    assert post_name(Role.KEPALA, Unit(code="DINKES", name="Dinas Kesehatan", kind="dinas")) == (
        "Kepala OPD Dinas Kesehatan"
    )
    dinas = Unit(code="DINKES", name="Dinas Kesehatan", kind="dinas")
    assert role_label(Role.ADMIN, dinas) == "Admin" and role_label(Role.KEPALA) == "Kepala OPD"


async def test_a_name_ending_in_a_degree_gets_no_second_full_stop(deps: Deps) -> None:
    assert await console_person(deps, PIMPINAN).text("/start") == (
        "Selamat datang kembali, H. Drs. Asep Mulyana, M.Si. Ketik /bantuan untuk melihat perintah."
    )
    assert await console_person(deps, KEPALA_DINKES).text("/start") == (
        "Selamat datang kembali, Slamet Santoso. Ketik /bantuan untuk melihat perintah."
    )
    code = await _invite(deps, "/undang kel-sukama2 operator")  # a unit without people: the name is the sender's
    reply = await Person(deps, Channel.TELEGRAM, "5550123", "dr. Stella Paat, M.Kes.").text(f"/start {code}")
    assert reply.startswith("Terima kasih, dr. Stella Paat, M.Kes. Bapak/Ibu kini terdaftar sebagai Operator Kel")
    assert full_stop("Slamet") == "Slamet." and full_stop("M.Kes.") == "M.Kes."
