"""/siaran and /takterjangkau through the core, channel-agnostic (console and WhatsApp-addressed people)."""

from __future__ import annotations

import json

from sqlmodel import col, func, select

from jobs.broadcasts import finish_if_done, remember_progress_message
from models.app import Deps
from models.messages import Channel
from models.tables import Broadcast, Contact, Outbox, OutboxStatus, Unit
from models.tally import tally
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, Person, console_person, contact_named, set_contact

UNIT_ROLES = ("kepala", "operator", "camat")


def _count_unit_people(
    deps: Deps, *, exclude_units: tuple[str, ...] = (), kind: str | None = None, exclude_kinds: tuple[str, ...] = ()
) -> int:
    with deps.db.uow() as uow:
        stmt = (
            select(func.count())
            .select_from(Contact)
            .join(Unit, col(Unit.id) == col(Contact.unit_id))
            .where(col(Contact.role).in_(UNIT_ROLES), col(Contact.active).is_(True))
            .where(col(Unit.code).not_in(exclude_units), col(Unit.kind).not_in(exclude_kinds))
        )
        if kind is not None:
            stmt = stmt.where(Unit.kind == kind)
        return int(uow.session.exec(stmt).one())


def _rows(deps: Deps, broadcast_id: int | None = None) -> list[Outbox]:
    with deps.db.uow() as uow:
        stmt = select(Outbox).where(col(Outbox.broadcast_id).is_not(None))
        if broadcast_id is not None:
            stmt = select(Outbox).where(Outbox.broadcast_id == broadcast_id)
        return list(uow.session.exec(stmt.order_by(col(Outbox.id))).all())


def _broadcast(deps: Deps, broadcast_id: int) -> Broadcast:
    with deps.db.uow() as uow:
        found = uow.session.get(Broadcast, broadcast_id)
    assert found is not None
    return found


async def test_units_behind_preview_confirm_queues_one_row_per_person_once(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "Tercatat" in await console_person(deps, KEPALA_DINKES).text("/lapor katalog 12")
    # katalog is not asked of kelurahan/desa; DINKES has just met its target
    expected = _count_unit_people(deps, exclude_units=("DINKES",), exclude_kinds=("kelurahan", "desa"))

    [preview] = await admin.say("/siaran tertinggal:katalog Mohon segera menayangkan produk.\nTerima kasih.")
    assert preview.text.startswith("Pratinjau siaran #1")
    assert "Sasaran: unit yang belum memenuhi e-Katalog lokal" in preview.text
    assert f"Penerima: {expected} orang di " in preview.text
    assert "Mohon segera menayangkan produk.\nTerima kasih." in preview.text
    assert [(b.label, b.payload) for b in preview.buttons] == [
        ("Kirim", "/siaran kirim 1"),
        ("Batal", "/siaran batal 1"),
    ]
    assert _broadcast(deps, 1).status == "draft"
    assert _rows(deps) == []

    [sent] = await admin.say("", payload="/siaran kirim 1")
    assert sent.text == f"Siaran #1 dikirim ke {expected} penerima.\nKemajuan: Terkirim 0/{expected}"
    assert sent.broadcast_id == 1
    rows = _rows(deps, 1)
    assert len(rows) == expected
    dinkes = {contact_named(deps, KEPALA_DINKES).id, contact_named(deps, "Eko Hidayat").id}
    assert not dinkes & {r.contact_id for r in rows}
    assert contact_named(deps, ADMIN).id not in {r.contact_id for r in rows}
    row = rows[0]
    assert row.idem_key == f"broadcast|1|{row.contact_id}"
    assert row.kind == "broadcast" and row.status == OutboxStatus.PENDING.value
    assert "Mohon segera menayangkan produk." in row.text
    assert row.template_name == deps.pemda.whatsapp_templates.broadcast
    assert json.loads(row.template_params) == ["Mohon segera menayangkan produk. Terima kasih."]
    broadcast = _broadcast(deps, 1)
    assert (broadcast.status, broadcast.total) == ("sending", expected)

    again = await admin.text("/siaran kirim 1")
    assert "sudah dikirim sebelumnya" in again
    assert len(_rows(deps, 1)) == expected


async def test_cancel_sends_nothing_and_cannot_be_confirmed_later(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    await admin.say("/siaran dinkes,disdik Rapat koordinasi Senin pukul 09.00.")
    assert "dibatalkan; tidak ada pesan yang dikirim" in await admin.text("/siaran batal 1")
    assert "sudah dibatalkan" in await admin.text("/siaran kirim 1")
    assert _rows(deps) == []
    assert _broadcast(deps, 1).status == "cancelled"


async def test_audiences_by_kind_by_list_and_everyone(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    camats = _count_unit_people(deps, kind="kecamatan")
    assert f"Penerima: {camats} orang di {camats} unit." in await admin.text("/siaran kecamatan Rapat camat besok.")
    await admin.text("/batal")
    papua = await admin.text("/siaran distrik Rapat kepala distrik besok.")  # what Papua calls a kecamatan
    assert f"Penerima: {camats} orang di {camats} unit." in papua and "semua distrik" in papua
    listed = await admin.text("/siaran dinkes,DISDIK Rapat koordinasi.")
    assert "Sasaran: DINKES, DISDIK" in listed or "Sasaran: DISDIK, DINKES" in listed
    assert "Penerima: 4 orang di 2 unit." in listed
    with deps.db.uow() as uow:
        everyone = int(uow.session.exec(select(func.count()).select_from(Contact)).one())
    assert f"Penerima: {everyone - 1} orang" in await admin.text("/siaran semua Selamat pagi.")


async def test_a_unit_list_with_spaces_after_or_before_its_commas_is_one_list(deps: Deps) -> None:
    """'/siaran dinkes, disdik Mohon hadir.' was read as the target 'dinkes,' and the message 'disdik Mohon hadir.'."""
    admin = console_person(deps, ADMIN)
    for typed in ("dinkes, disdik", "dinkes , disdik", "dinkes ,disdik"):
        preview = (await admin.text(f"/siaran {typed} Mohon hadir.")).splitlines()
        assert preview[1:3] == ["Sasaran: DINKES, DISDIK", "Penerima: 4 orang di 2 unit."], typed
        assert preview[-4:-2] == ["Isi pesan:", "Mohon hadir."], typed
    assert _broadcast(deps, 1).audience == "dinkes,disdik"
    assert "Format: /siaran <sasaran> <pesan>" in await admin.text("/siaran dinkes, disdik")


async def test_zero_recipients_warns_and_writes_no_draft(deps: Deps) -> None:
    with deps.db.uow() as uow:
        for contact in uow.session.exec(select(Contact).where(Contact.role == "camat")).all():
            contact.unreachable_whatsapp = True
            uow.session.add(contact)
        uow.commit()
    reply = await console_person(deps, ADMIN).text("/siaran kecamatan Rapat camat besok.")
    assert reply.startswith("⚠️") and "tidak punya penerima" in reply
    with deps.db.uow() as uow:
        assert uow.session.exec(select(Broadcast)).first() is None


async def test_bad_input_and_other_roles_get_clear_answers(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "Format: /siaran <sasaran> <pesan>" in await admin.text("/siaran")
    assert "Format: /siaran <sasaran> <pesan>" in await admin.text("/siaran semua")
    assert "Unit “dinkesx” tidak ditemukan" in await admin.text("/siaran dinkes,dinkesx Halo semua.")
    assert "Program “katalogx” tidak dikenal" in await admin.text("/siaran tertinggal:katalogx Halo.")
    assert "terlalu panjang" in await admin.text("/siaran semua " + "kata " * 300)
    assert "tidak ditemukan" in await admin.text("/siaran kirim 99")
    assert "tidak tersedia untuk peran" in await console_person(deps, KEPALA_DINKES).text("/siaran semua Halo.")
    assert "tidak tersedia untuk peran" in await console_person(deps, CAMAT_SUKAMAKMUR).text("/takterjangkau")
    with deps.db.uow() as uow:
        assert uow.session.exec(select(Broadcast)).first() is None


async def test_tally_and_finish_queue_the_result_for_the_author_once(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    await admin.say("/siaran dinkes,disdik Rapat koordinasi.")
    await admin.say("/siaran kirim 1")
    rows = _rows(deps, 1)
    assert len(rows) == 4
    with deps.db.uow() as uow:
        assert finish_if_done(uow.session, deps.pemda, 1, deps.clock.now()) is None
        outcomes = [
            (OutboxStatus.SENT, ""),
            (OutboxStatus.DELIVERED, ""),
            (OutboxStatus.FAILED, "tidak terjangkau (whatsapp): blocked"),
            (OutboxStatus.DEAD, "gagal 8 kali"),
        ]
        for row, (status, error) in zip(rows, outcomes, strict=True):
            fresh = uow.session.get(Outbox, row.id)
            assert fresh is not None
            fresh.status, fresh.last_error = status.value, error
            fresh.failure = "unreachable" if error.startswith("tidak terjangkau") else ""
            uow.session.add(fresh)
        uow.session.flush()
        result = finish_if_done(uow.session, deps.pemda, 1, deps.clock.now())
        assert result is not None and (result.sent, result.failed, result.unreachable, result.open) == (2, 1, 1, 0)
        assert finish_if_done(uow.session, deps.pemda, 1, deps.clock.now()) is None
        uow.commit()
    assert _broadcast(deps, 1).status == "finished"
    with deps.db.uow() as uow:
        assert tally(uow.session, 1).total == 4
        [hasil] = uow.session.exec(select(Outbox).where(Outbox.idem_key == "broadcast|1|hasil")).all()
    assert hasil.contact_id == contact_named(deps, ADMIN).id and hasil.broadcast_id is None
    assert "Siaran #1 selesai.\nTerkirim: 2\nGagal: 1\nTidak terjangkau: 1" in hasil.text


async def test_progress_message_is_remembered_only_for_the_author(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    [preview] = await admin.say("/siaran dinkes Rapat.")
    await admin.say("/siaran kirim 1")
    with deps.db.uow() as uow:
        assert not remember_progress_message(uow.session, 1, Channel.CONSOLE, "999", "5")
        assert not remember_progress_message(uow.session, 1, Channel.TELEGRAM, admin.address, "5")
        assert remember_progress_message(uow.session, 1, Channel.CONSOLE, admin.address, "5")
        uow.commit()
    broadcast = _broadcast(deps, 1)
    assert (broadcast.progress_chat, broadcast.progress_message_id) == (admin.address, "5")
    assert preview.broadcast_id is None  # only the confirmation is edited in place, never a text that looks like it


async def test_unreachable_list_and_writing_again_makes_reachable(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "Semua kontak dapat dijangkau" in await admin.text("/takterjangkau")
    slamet = contact_named(deps, KEPALA_DINKES)
    with deps.db.uow() as uow:
        fresh = uow.session.get(Contact, slamet.id)
        assert fresh is not None
        fresh.telegram_user_id = "5001"
        fresh.unreachable_telegram = True
        uow.session.add(fresh)
        uow.commit()
    listed = await admin.text("/takterjangkau")
    assert "Kontak yang tidak terjangkau (1):" in listed
    assert "• Slamet Santoso — Kepala OPD, Dinas Kesehatan (DINKES) — Telegram (masih bisa lewat WhatsApp)" in listed
    assert "0812" not in listed
    await Person(deps, Channel.TELEGRAM, "5001", KEPALA_DINKES).say("/status")
    assert "Semua kontak dapat dijangkau" in await admin.text("/takterjangkau")


async def test_odd_broadcast_ids_get_a_clear_reply(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    for text in ("/siaran kirim 99999999999999999999", "/siaran batal ²", "/siaran kirim ١٢"):
        reply = await admin.text(text)
        assert "gangguan" not in reply, text
        assert "tidak ditemukan" in reply or "Format: /siaran" in reply, text


async def test_too_long_names_the_length_sent_and_the_limit(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    # 5,000 characters: more than one chat message, so the text is cut at the boundary; the answer names what was sent
    reply = await admin.text("/siaran dinkes " + "a" * 5000)
    assert reply.startswith("Pesan siaran terlalu panjang: 5.000 karakter, paling banyak 1.000.")
    assert "kirim ulang /siaran" in reply
    assert "4081" not in reply and "4.081" not in reply
    words = "kata " * 240  # 1,200 characters: not cut anywhere
    assert "terlalu panjang: 1.199 karakter, paling banyak 1.000." in await admin.text(f"/siaran dinkes {words}")
    with deps.db.uow() as uow:
        assert uow.session.exec(select(Broadcast)).first() is None


async def test_preview_counts_only_people_reachable_on_the_channels_configured(deps: Deps) -> None:
    """A Telegram-only deployment: someone with only a WhatsApp number is not a recipient, and the preview says why."""
    deps.sends_on = frozenset({Channel.TELEGRAM})
    set_contact(deps, KEPALA_DINKES, telegram_user_id="5001")
    admin = console_person(deps, ADMIN)
    [preview] = await admin.say("/siaran dinkes Rapat koordinasi.")
    assert "Penerima: 1 orang di 1 unit." in preview.text
    assert (
        "Tidak ikut menerima: 1 orang tidak dapat dijangkau sekarang "
        "(1 hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur)." in preview.text
    )
    assert "Atur WhatsApp di .env (sigap doctor menunjukkan caranya), atau minta mereka mendaftar di Telegram" in (
        preview.text
    )
    await admin.say("", payload="/siaran kirim 1")
    rows = _rows(deps, 1)
    assert [(r.contact_id, r.channel) for r in rows] == [(contact_named(deps, KEPALA_DINKES).id, "telegram")]


async def test_console_without_channels_makes_no_broadcast_and_says_why(deps: Deps) -> None:
    """No Telegram and no WhatsApp configured (the console): nobody is promised as a recipient."""
    deps.sends_on = frozenset()
    with deps.db.uow() as uow:
        in_units = select(func.count()).select_from(Contact).where(col(Contact.unit_id).is_not(None))
        others = int(uow.session.exec(in_units).one()) - 1  # but the admin writing
    reply = await console_person(deps, ADMIN).text("/siaran semua Selamat pagi.")
    assert reply.startswith("⚠️ Sasaran “semua” (semua kontak aktif) tidak punya penerima yang dapat dijangkau")
    assert "Penerima" not in reply
    assert "Belum ada kanal obrolan yang diatur (Sigap hanya berjalan di konsol)" in reply
    assert (
        f"{others} orang tidak dapat dijangkau sekarang: {others} hanya punya nomor WhatsApp, "
        "tetapi WhatsApp belum diatur." in reply
    )
    assert "Atur Telegram atau WhatsApp di .env lalu jalankan sigap run" in reply
    assert reply.endswith("Setelah itu kirim ulang /siaran.")
    with deps.db.uow() as uow:
        assert uow.session.exec(select(Broadcast)).first() is None


async def test_unreachable_list_counts_what_the_deployment_cannot_send_on(deps: Deps) -> None:
    """WhatsApp not configured: people with only a phone number are listed, with the reason and what to do."""
    admin = console_person(deps, ADMIN)
    deps.sends_on = frozenset({Channel.TELEGRAM})
    with deps.db.uow() as uow:
        everyone = int(uow.session.exec(select(func.count()).select_from(Contact)).one())
    set_contact(deps, ADMIN, telegram_user_id="5000")
    set_contact(deps, KEPALA_DINKES, telegram_user_id="5001", unreachable_telegram=True)
    listed = await admin.text("/takterjangkau")
    assert "Semua kontak dapat dijangkau" not in listed
    assert f"Kontak yang tidak terjangkau ({everyone - 1}):" in listed
    assert "• Eko Hidayat — Operator OPD, Dinas Kesehatan (DINKES) — WhatsApp belum diatur" in listed
    assert "• Slamet Santoso — Kepala OPD, Dinas Kesehatan (DINKES) — Telegram\n" in listed  # no WhatsApp to fall to
    assert (
        "Tidak dapat dijangkau sama sekali sekarang: 1 memblokir bot atau tidak dapat dikirimi; "
        f"{everyone - 2} hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur." in listed
    )
    assert "minta membuka blokir" in listed and "Atur WhatsApp di .env" in listed

    deps.sends_on = frozenset()
    console = await admin.text("/takterjangkau")
    assert console.startswith(f"Tidak ada kontak yang dapat dijangkau sekarang ({everyone} orang aktif).")
    assert "Belum ada kanal obrolan yang diatur (Sigap hanya berjalan di konsol)" in console
    assert "Atur Telegram atau WhatsApp di .env lalu jalankan sigap run" in console
