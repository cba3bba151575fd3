"""/undangan: registration per unit kind, codes unused and expired, and the button that renews the expired ones."""

from __future__ import annotations

import io
from datetime import timedelta

from pypdf import PdfReader
from sqlmodel import col, select

from handlers.registration import create_invite
from handlers.undangan import CODES_SHOWN
from models.app import Deps
from models.onboarding import digest_line
from models.tables import AuditLog, Contact, Invite, Role, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, OPERATOR_DINKES, console_person, set_contact


def invite(deps: Deps, unit_code: str, role: Role, *, days: int = 7, ago: int = 0) -> str:
    """A code made `ago` days before now, valid `days` days."""
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == unit_code)).one()
        code = create_invite(uow.session, unit, role, deps.clock.now() - timedelta(days=ago), days=days).code
        uow.commit()
    return code


async def test_progress_per_unit_kind_counts_registered_heads_and_operators(sdeps: Deps) -> None:
    admin = console_person(sdeps, ADMIN)
    before = await admin.text("/undangan")
    assert before.splitlines()[:2] == [
        "Pendaftaran di Sigap per jenis unit (terdaftar = sudah terhubung lewat Telegram atau WhatsApp):",
        "• sekretariat (2 unit): kepala 0/2, operator 0/2",
    ]
    assert "• dinas (22 unit): kepala 0/22, operator 0/22" in before
    assert "• kecamatan (10 unit): camat 0/10, operator 0/10" in before
    assert "• kelurahan (20 unit, tanpa program): operator 0/20" in before
    assert "Belum ada kepala/camat terdaftar di 52 unit: Sekretariat Daerah, " in before
    assert "Kode undangan: 0 belum dipakai dan masih berlaku, 0 kedaluwarsa tanpa dipakai." in before
    assert "sigap invite --all --role kepala" in before

    set_contact(sdeps, KEPALA_DINKES, telegram_user_id="5001")
    set_contact(sdeps, OPERATOR_DINKES, wa_last_inbound_at=sdeps.clock.now())
    after = await admin.text("/undangan")
    assert "• dinas (22 unit): kepala 1/22, operator 1/22" in after
    assert "Belum ada kepala/camat terdaftar di 51 unit" in after


def test_the_weekly_digest_line_lasts_until_every_unit_has_its_head(sdeps: Deps) -> None:
    with sdeps.db.uow() as uow:
        line = digest_line(uow.session, sdeps.pemda)
    assert line == (
        "Pendaftaran: 0 dari 52 unit sudah punya kepala/camat terdaftar di Sigap. Rincian dan kode undangan: /undangan"
    )
    with sdeps.db.uow() as uow:
        heads = uow.session.exec(select(Contact).where(col(Contact.role).in_(["kepala", "camat"]))).all()
        for number, head in enumerate(heads, 1):
            head.telegram_user_id = str(80000 + number)
            uow.session.add(head)
        uow.commit()
        assert digest_line(uow.session, sdeps.pemda) is None


async def test_only_admins_see_it(sdeps: Deps) -> None:
    reply = await console_person(sdeps, KEPALA_DINKES).text("/undangan")
    assert reply == "Perintah /undangan tidak tersedia untuk peran Bapak/Ibu. Ketik /bantuan."


async def test_expired_codes_are_renewed_with_a_fresh_expiry_and_a_printable_sheet(sdeps: Deps) -> None:
    admin = console_person(sdeps, ADMIN)
    invite(sdeps, "DISDIK", Role.KEPALA)  # still valid
    old = invite(sdeps, "BAPENDA", Role.KEPALA, days=7, ago=10)  # expired three days ago
    invite(sdeps, "DINKES", Role.KEPALA, days=7, ago=10)  # expired, but DINKES's kepala registered since
    set_contact(sdeps, KEPALA_DINKES, telegram_user_id="5001")
    replies = await admin.say("/undangan")
    assert "Kode undangan: 1 belum dipakai dan masih berlaku, 1 kedaluwarsa tanpa dipakai." in replies[0].text
    assert [(b.label, b.payload) for b in replies[0].buttons] == [("Perbarui 1 kode", "/undangan perbarui")]

    renewed = await admin.say("/undangan perbarui")
    assert len(renewed) == 2
    lines = renewed[0].text.splitlines()
    assert lines[0] == "1 kode baru, berlaku sekali sampai Senin, 30 November 2026 23.59 WIB:"
    assert lines[1].startswith("• Badan Pendapatan Daerah (BAPENDA), Kepala OPD: ")
    code = lines[1].rsplit(": ", 1)[1]
    assert code != old and "mengirim /start KODE ke bot" in renewed[0].text
    sheet = renewed[1].attachment
    assert sheet is not None and sheet.filename == "undangan-2026-11-23.pdf"
    text = PdfReader(io.BytesIO(sheet.content)).pages[0].extract_text()
    assert code in text and "Badan Pendapatan Daerah" in text and "https://t.me/sigap_test_bot?start=" in text

    with sdeps.db.uow() as uow:
        fresh = uow.session.exec(select(Invite).where(Invite.code == code)).one()
        assert (fresh.role, fresh.used_at) == ("kepala", None)
        assert (
            uow.session.exec(select(AuditLog).where(col(AuditLog.action) == "invite.renewed")).one().target == "BAPENDA"
        )
    after = await admin.say("/undangan")
    assert "Kode undangan: 2 belum dipakai dan masih berlaku, 0 kedaluwarsa tanpa dipakai." in after[0].text
    assert after[0].buttons == ()
    assert (await admin.text("/undangan perbarui")).startswith("Tidak ada kode kedaluwarsa yang perlu diperbarui.")


async def test_the_renewed_code_registers_its_person(sdeps: Deps) -> None:
    from models.messages import Channel
    from tests.conftest import Person

    invite(sdeps, "BAPENDA", Role.KEPALA, days=1, ago=5)
    renewed = await console_person(sdeps, ADMIN).say("/undangan perbarui")
    code = renewed[0].text.splitlines()[1].rsplit(": ", 1)[1]
    welcome = await Person(sdeps, Channel.TELEGRAM, "7007", "Kepala").text(f"/start {code}")
    assert "terdaftar sebagai Kepala OPD Badan Pendapatan Daerah" in welcome
    assert "kepala 1/" in await console_person(sdeps, ADMIN).text("/undangan")


async def test_many_renewed_codes_are_listed_in_one_message_and_all_on_the_sheet(sdeps: Deps) -> None:
    """A big renewal (every unit's kepala and operator) is one message naming the first codes, not dozens of
    messages: every code is on the printable sheet."""
    admin = console_person(sdeps, ADMIN)
    with sdeps.db.uow() as uow:
        codes = [unit.code for unit in uow.session.exec(select(Unit).where(col(Unit.active).is_(True))).all()]
    for code in codes:
        invite(sdeps, code, Role.OPERATOR, days=7, ago=10)
    assert len(codes) > CODES_SHOWN

    renewed = await admin.say("/undangan perbarui")

    assert len(renewed) == 2
    lines = renewed[0].text.splitlines()
    assert lines[0].startswith(f"{len(codes)} kode baru, berlaku sekali sampai ")
    listed = [line for line in lines if line.startswith("• ")]
    assert len(listed) == CODES_SHOWN
    assert f"… dan {len(codes) - CODES_SHOWN} kode lainnya: semuanya ada di lembar terlampir." in lines
    sheet = renewed[1].attachment
    assert sheet is not None
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(sheet.content)).pages)
    with sdeps.db.uow() as uow:
        fresh = uow.session.exec(select(Invite).where(col(Invite.used_at).is_(None), col(Invite.id) > len(codes))).all()
    assert len(fresh) == len(codes) and all(i.code in text for i in fresh)


async def test_an_expired_code_for_a_role_that_does_not_fit_its_unit_is_not_renewed(sdeps: Deps) -> None:
    with sdeps.db.uow() as uow:
        kecamatan = uow.session.exec(select(Unit).where(Unit.code == "KEC-SUKAMAKM")).one()
        assert kecamatan.id is not None
        then = sdeps.clock.now() - timedelta(days=10)
        for role in ("kepala", "pimpinan"):  # made before the rule: a kecamatan has a camat, never a pimpinan
            uow.session.add(
                Invite(
                    code=f"OLD{role[:4].upper()}",
                    unit_id=kecamatan.id,
                    role=role,
                    created_at=then,
                    expires_at=then + timedelta(days=7),
                )
            )
        uow.commit()
    admin = console_person(sdeps, ADMIN)
    assert "0 kedaluwarsa tanpa dipakai" in (await admin.say("/undangan"))[0].text
    assert (await admin.text("/undangan perbarui")).startswith("Tidak ada kode kedaluwarsa yang perlu diperbarui.")
