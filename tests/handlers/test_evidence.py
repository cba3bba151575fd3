"""Bukti dukung on the console: a file in, the verifier's queue, Sah / Tolak with a reason, and the standing after each
step; bad files and the wrong people are refused with one reply and leave nothing behind."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from bot.console import LocalFiles
from models.app import Deps
from models.messages import Channel, Incoming, Reply
from models.tables import ChatState, Contact, Evidence, Outbox, Report, StoredFile, Verification
from tests.conftest import ADMIN, KEPALA_DINKES, PIMPINAN, console_person, contact_named
from tests.fakes import evidence_files as files

INDAH = "Indah Maulana"  # operator, Bagian Pengadaan Barang dan Jasa (MCP 2.1 and 2.2)
ZAINAL = "Zainal Pratama"  # kepala, Bagian Pengadaan Barang dan Jasa
PUTRI = "Putri Lestari"  # kepala, Inspektorat Daerah: verifies MCP
NENENG = "Neneng Santoso"  # kepala, Bappeda (MCP 1.1 and 1.2)
ASEP = "Asep Pratama"  # operator, Bappeda: verifies inovasi


@pytest.fixture
def folder(deps: Deps, tmp_path: Path) -> Path:
    deps.files[Channel.CONSOLE] = LocalFiles()
    return tmp_path


def write(folder: Path, name: str, content: bytes) -> str:
    path = folder / name
    path.write_bytes(content)
    return str(path)


def reachable(deps: Deps, name: str, telegram_id: str) -> Contact:
    """Give a roster contact a Telegram id, so the outbox has somewhere to send their messages."""
    with deps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
        contact.telegram_user_id = telegram_id
        uow.session.add(contact)
        uow.commit()
        uow.session.refresh(contact)
        return contact


def counts(deps: Deps) -> tuple[int, int, int]:
    """(stored files, evidence rows, reports)."""
    with deps.db.uow() as uow:
        return tuple(  # type: ignore[return-value]
            uow.session.exec(select(func.count()).select_from(table)).one() for table in (StoredFile, Evidence, Report)
        )


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def outbox_to(deps: Deps, name: str) -> list[str]:
    contact = contact_named(deps, name)
    with deps.db.uow() as uow:
        rows = uow.session.exec(select(Outbox).where(Outbox.contact_id == contact.id).order_by(col(Outbox.id))).all()
        return [row.text for row in rows if row.kind == "evidence"]


async def status_of(deps: Deps, name: str) -> str:
    return await console_person(deps, name).text("/status")


async def test_an_mcp_file_waits_is_rejected_sent_again_and_accepted(deps: Deps, folder: Path) -> None:
    reachable(deps, INDAH, "7001")
    indah, putri = console_person(deps, INDAH), console_person(deps, PUTRI)
    sent = await indah.text(f"/bukti mcp 2.1 '{write(folder, 'SiRUP 2026.pdf', files.pdf(pages=2))}'")
    assert sent.startswith("✅ Bukti dukung diterima: SiRUP 2026.pdf (PDF, 2 halaman,")
    assert "Untuk: Bagian Pengadaan Barang dan Jasa – MCP KPK indikator 2.1 (Rencana umum pengadaan" in sent
    assert "menunggu verifikasi oleh Inspektorat Daerah" in sent and "dihitung setelah bukti dinyatakan sah" in sent
    status = await status_of(deps, INDAH)
    assert "MCP KPK: 0 dari 2 indikator selesai (belum: 2.2; diunggah, menunggu verifikasi: 2.1)" in status

    queue = await putri.say("/verifikasi")
    assert queue[0].text.startswith("Bukti dukung menunggu verifikasi Bapak/Ibu: 1 (terlama dikirim 23 Nov 2026).")
    document, question = queue[1], queue[2]
    assert document.attachment is not None and document.attachment.content == files.pdf(pages=2)
    assert document.attachment.filename == "SiRUP 2026.pdf"
    assert "Dikirim Indah Maulana" in document.text and "MCP KPK indikator 2.1" in document.text
    assert [b.label for b in question.buttons] == ["Sah", "Tolak"]

    ask = await putri.say("x", payload=question.buttons[1].payload)
    assert "Mohon tulis alasan penolakan bukti" in ask[0].text
    rejected = texts(await putri.say("Belum ada tanda tangan PPK; kirim versi yang sudah ditandatangani."))
    assert "ditolak" in rejected and "Indah Maulana diberi tahu" in rejected
    assert "Tidak ada lagi bukti yang menunggu" in rejected
    [told] = outbox_to(deps, INDAH)
    assert told.startswith("❌ Bukti dukung ditolak: Bagian Pengadaan Barang dan Jasa – MCP KPK indikator 2.1")
    assert "Alasan: Belum ada tanda tangan PPK; kirim versi yang sudah ditandatangani." in told
    assert "dengan keterangan “mcp 2.1”" in told
    assert "(belum: 2.2; ditolak: 2.1)" in await status_of(deps, INDAH)

    again = await indah.text(f"/bukti mcp 2.1 {write(folder, 'SiRUP-ttd.pdf', files.pdf('ditandatangani'))}")
    assert again.startswith("✅ Bukti dukung diterima: SiRUP-ttd.pdf")
    assert "menunggu verifikasi: 2.1" in await status_of(deps, INDAH)
    queue = await putri.say("/verifikasi")
    accepted = texts(await putri.say("x", payload=queue[2].buttons[0].payload))
    assert "dinyatakan sah" in accepted
    assert outbox_to(deps, INDAH)[-1].startswith("✅ Bukti dukung dinyatakan sah: Bagian Pengadaan Barang dan Jasa")
    assert "MCP KPK: 1 dari 2 indikator selesai (belum: 2.2)" in await status_of(deps, INDAH)
    # a second tap on the same decision changes nothing
    assert "sudah dinyatakan sah oleh Putri Lestari" in await putri.text(queue[2].buttons[1].payload)
    assert counts(deps) == (2, 2, 2)


async def test_a_file_alone_is_placed_with_buttons(deps: Deps, folder: Path) -> None:
    neneng = console_person(deps, NENENG)
    path = write(folder, "pokir.pdf", files.pdf())
    asked = await _send_document(deps, NENENG, path)
    assert asked[0].text.startswith("Berkas pokir.pdf diterima (PDF, 1 halaman,")
    labels = [b.label for b in asked[0].buttons]
    assert labels == ["Inovasi daerah", "e-Katalog lokal", "P3DN/UMKK", "MCP KPK"]
    items = await neneng.say("x", payload=asked[0].buttons[3].payload)
    assert [b.payload for b in items[0].buttons] == ["/bukti mcp 1.1", "/bukti mcp 1.2"]
    done = await neneng.text("2")  # typed: the second indicator
    assert "MCP KPK indikator 1.2 (Pokok pikiran DPRD" in done
    with deps.db.uow() as uow:
        assert uow.session.exec(select(ChatState)).all() == []
        report = uow.session.exec(select(Report)).one()
    assert (report.item_code, report.verification) == ("1.2", Verification.PENDING.value)
    # a figure program asks for the figure when none was reported yet; /batal drops the file
    again = await _send_document(deps, NENENG, path)
    question = await neneng.say("x", payload=again[0].buttons[1].payload)
    assert "Berapa angka e-Katalog lokal" in question[0].text
    assert "dibatalkan" in await neneng.text("/batal")
    assert counts(deps) == (1, 1, 1)


async def _send_document(deps: Deps, name: str, path: str, caption: str = "") -> list[Reply]:
    from handlers.core import handle

    incoming = Incoming(
        Channel.CONSOLE,
        str(contact_named(deps, name).id),
        text=caption,
        document_name=Path(path).name,
        document_ref=path,
    )
    return await handle(deps, incoming)


async def test_bad_files_get_one_reply_and_leave_nothing(deps: Deps, folder: Path) -> None:
    indah = console_person(deps, INDAH)
    small = dataclasses.replace(
        deps, pemda=deps.pemda.model_copy(update={"evidence": deps.pemda.evidence.model_copy(update={"max_mb": 0.01})})
    )
    cases = {
        "besar.pdf": (files.pdf(pages=40), small, "terlalu besar (lebih dari 10 KB)"),
        "catatan.pdf": (b"bukan pdf sama sekali", deps, "Isinya bukan PDF yang sah (rusak, atau jenisnya keliru)"),
        "catatan.txt": (b"hanya teks", deps, "Jenis berkas .txt itu tidak diterima sebagai bukti dukung"),
        "terpotong.pdf": (files.truncated_pdf(), deps, "PDF itu rusak atau tidak lengkap"),
        "bom.docx": (files.zip_bomb(), deps, "membesar berlipat-lipat"),
        "foto.pdf": (files.picture("JPEG"), deps, "berakhiran .pdf, tetapi isinya gambar JPG"),
    }
    for name, (content, where, says) in cases.items():
        person = console_person(where, INDAH)
        reply = await person.text(f"/bukti mcp 2.1 {write(folder, name, content)}")
        assert reply.startswith(f"Berkas {name} tidak disimpan."), reply
        assert says in reply, reply
    caption = await _send_document(deps, INDAH, write(folder, "tanpa.pdf", files.truncated_pdf()))
    assert "PDF itu rusak" in caption[0].text  # a file alone is checked before anything is asked
    missing = await indah.text(f"/bukti mcp 2.1 {folder / 'hilang.pdf'}")
    assert "tidak dapat diunduh" in missing
    assert counts(deps) == (0, 0, 0)
    with deps.db.uow() as uow:
        assert uow.session.exec(select(ChatState)).all() == []


async def test_only_the_units_people_and_admins_attach_and_only_verifiers_decide(deps: Deps, folder: Path) -> None:
    path = write(folder, "bukti.pdf", files.pdf())
    slamet = console_person(deps, KEPALA_DINKES)
    assert "hanya dapat mengirim bukti dukung untuk Dinas Kesehatan" in await slamet.text(
        f"/bukti bappeda inovasi Sistem Baru {path}"
    )
    assert "MCP KPK tidak ditugaskan ke Dinas Kesehatan" in await slamet.text(f"/bukti mcp 1.1 {path}")
    from_pimpinan = await _send_document(deps, PIMPINAN, path, caption="mcp 1.1")
    assert "dikirim oleh kepala atau operator unit" in from_pimpinan[0].text
    admin = console_person(deps, ADMIN)
    assert "Admin mengirim bukti atas nama unit" in await admin.text(f"/bukti katalog 12 {path}")
    assert counts(deps) == (0, 0, 0)
    assert "Untuk: Dinas Kesehatan – e-Katalog lokal: 12 produk" in await admin.text(f"/bukti dinkes katalog 12 {path}")
    assert "Untuk: Badan Perencanaan" in await admin.text(f"/bukti mcp 1.1 {path}")  # the indicator names its unit
    # the verifiers: katalog goes to Bagian Pengadaan's admin, MCP to the Inspektorat; nobody else decides
    assert "tidak ditunjuk sebagai verifikator" in await slamet.text("/verifikasi")
    assert "diverifikasi oleh Inspektorat Daerah, bukan Bapak/Ibu" in await console_person(deps, "Dodi Kusnadi").text(
        "/verifikasi sah 2"
    )
    dodi_queue = await console_person(deps, "Dodi Kusnadi").say("/verifikasi")
    assert "e-Katalog lokal: 12 produk" in dodi_queue[1].text
    assert "Perintah /verifikasi tidak tersedia" in await console_person(deps, "Sri Firmansyah").text("/verifikasi")


async def test_own_unit_and_own_file_go_to_someone_else(deps: Deps, folder: Path) -> None:
    putri = console_person(deps, PUTRI)  # the Inspektorat answers for MCP 4.1 itself
    await putri.text(f"/bukti mcp 4.1 {write(folder, 'tl.pdf', files.pdf())}")
    assert "Bukti yang Bapak/Ibu kirim sendiri diverifikasi oleh verifikator lain." in await putri.text(
        "/verifikasi sah 1"
    )
    assert await putri.text("/verifikasi") == "Tidak ada bukti dukung yang menunggu verifikasi Bapak/Ibu. Terima kasih."
    rina = await console_person(deps, ADMIN).say("/verifikasi")  # the admins stand in
    assert "Inspektorat Daerah (INSPEKTORAT)" in rina[1].text


async def test_the_same_file_twice_and_a_rejected_file_again(deps: Deps, folder: Path) -> None:
    indah, putri = console_person(deps, INDAH), console_person(deps, PUTRI)
    path = write(folder, "sirup.pdf", files.pdf())
    await indah.text(f"/bukti mcp 2.1 {path}")
    assert "sudah diterima pada" in await indah.text(f"/bukti mcp 2.1 {path}")
    await putri.text("/verifikasi tolak 1 Halaman pengesahan tidak ada.")
    refused = await indah.text(f"/bukti mcp 2.1 {path}")
    assert "sama persis dengan yang ditolak verifikator" in refused and "Halaman pengesahan tidak ada." in refused
    # kept once by its hash, whatever its name and whatever it is for
    await indah.text(f"/bukti mcp 2.2 {write(folder, 'lain.pdf', files.pdf())}")
    assert counts(deps) == (1, 2, 2)


async def test_an_innovation_with_evidence_replaces_its_plain_report(deps: Deps, folder: Path) -> None:
    slamet = console_person(deps, KEPALA_DINKES)
    await slamet.text("/lapor inovasi Posyandu Digital Terpadu")
    sent = await slamet.text(f"/bukti inovasi posyandu digital terpadu {write(folder, 'rai.docx', files.docx())}")
    assert "Inovasi daerah “posyandu digital terpadu”" in sent
    assert "Inovasi daerah: 1 dari target 1 inovasi" in await status_of(deps, KEPALA_DINKES)  # counted once
    riwayat = await slamet.text("/riwayat dinkes inovasi")
    assert "ditarik: diganti laporan #2 dengan bukti dukung" in riwayat
    asep = console_person(deps, ASEP)
    await asep.text("/verifikasi tolak 1 Rencana aksi belum memuat jadwal.")
    assert "Inovasi daerah: 0 dari target 1 inovasi" in await status_of(deps, KEPALA_DINKES)


async def test_a_wrong_caption_keeps_the_file_waiting(deps: Deps, folder: Path) -> None:
    path = write(folder, "sirup.pdf", files.pdf())
    [reply] = await _send_document(deps, INDAH, path, caption="mpc 2.1")
    assert reply.text.startswith("Program “mpc” tidak dikenal. Maksud Anda: mcp?")
    assert reply.text.endswith("Berkas sirup.pdf masih menunggu: ketik keterangan yang benar, atau /batal.")
    assert counts(deps) == (0, 0, 0)
    assert "Indikator “9.9” bukan tanggung jawab Bagian Pengadaan" in await console_person(deps, INDAH).text("mcp 9.9")
    assert "✅ Bukti dukung diterima: sirup.pdf" in await console_person(deps, INDAH).text("mcp 2.1")
    assert counts(deps) == (1, 1, 1)


async def test_the_verifying_units_own_evidence_is_said_to_go_to_the_admins(deps: Deps, folder: Path) -> None:
    """Bappeda verifies innovations; its own innovation's file is decided by an admin, and the sender is told so
    (it said 'menunggu verifikasi oleh Bappeda', which cannot decide on its own file)."""
    sent = await console_person(deps, NENENG).text(
        f"/bukti inovasi peta digital perencanaan {write(folder, 'rai.docx', files.docx())}"
    )
    assert "menunggu verifikasi oleh admin Sigap (bukti Badan Perencanaan" in sent
    assert "sendiri tidak diverifikasi oleh unitnya)" in sent
    other = await console_person(deps, KEPALA_DINKES).text(
        f"/bukti inovasi posyandu digital terpadu {write(folder, 'rai2.docx', files.docx())}"
    )
    assert "menunggu verifikasi oleh Badan Perencanaan" in other and "admin Sigap" not in other


async def test_an_innovation_caption_over_200_characters_is_refused(deps: Deps, folder: Path) -> None:
    slamet = console_person(deps, KEPALA_DINKES)
    reply = await slamet.text(f"/bukti inovasi {'a' * 201} {write(folder, 'rai.docx', files.docx())}")
    assert reply.startswith("Judul terlalu panjang: 201 karakter, paling banyak 200.")
    assert counts(deps) == (0, 0, 0)


async def test_an_mcp_report_says_the_indicator_counts_once_its_evidence_is_verified(deps: Deps, folder: Path) -> None:
    indah = console_person(deps, INDAH)
    reply = await indah.text("/lapor mcp 2,1 sudah")  # a decimal comma for the dot; "sudah" is "selesai"
    assert reply.startswith(
        "Tercatat untuk Bagian Pengadaan Barang dan Jasa – MCP KPK: indikator 2.1: selesai (belum dihitung: menunggu "
        "bukti dukung yang disahkan).\nCapaian yang dihitung: 0 dari 2 indikator selesai (belum: 2.1, 2.2). ⏳ Belum "
        "memenuhi target. Indikator 2.1 baru dihitung selesai setelah bukti dukungnya disahkan verifikator: kirim "
        "berkasnya dengan keterangan “mcp 2.1”.\n"
    )
    sent = await indah.text(f"/bukti mcp 2,1 {write(folder, 'sirup.pdf', files.pdf())}")
    assert "MCP KPK indikator 2.1" in sent
    again = await indah.text("/lapor mcp 2.1 selesai")
    assert "Indikator 2.1 dihitung selesai setelah bukti dukung yang sudah dikirim disahkan verifikator." in again
    [evidence_id] = [e.id for e in _evidence(deps)]
    await console_person(deps, PUTRI).text(f"/verifikasi sah {evidence_id}")
    done = await indah.text("/lapor mcp 2.1 selesai")
    assert "indikator 2.1: selesai.\nCapaian yang dihitung: 1 dari 2 indikator selesai (belum: 2.2)." in done
    assert "Indikator 2.1 sudah dihitung; indikator lain dihitung setelah bukti dukungnya disahkan" in done


def _evidence(deps: Deps) -> list[Evidence]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Evidence)).all())


async def test_the_evidence_id_is_told_and_a_report_id_is_not_taken_for_it(deps: Deps, folder: Path) -> None:
    """/riwayat lists report ids and /verifikasi takes evidence ids: the sender hears the evidence id, /riwayat shows
    it next to the report, and a verifier who types the report id is told which evidence id to use (nothing is
    decided on that guess)."""
    indah, putri = console_person(deps, INDAH), console_person(deps, PUTRI)
    await indah.text("/lapor mcp 2.1 selesai")  # report #1, no evidence
    sent = await indah.text(f"/bukti mcp 2.1 {write(folder, 'sirup.pdf', files.pdf())}")  # report #2, evidence #1
    assert "\nStatus: bukti #1 menunggu verifikasi oleh Inspektorat Daerah. Bapak/Ibu akan diberi tahu" in sent
    history = (await indah.text("/riwayat mcp")).splitlines()
    assert history[1].startswith("• #2 MCP KPK indikator 2.1: selesai · Indah Maulana, 23 Nov 2026 09.00, konsol")
    assert history[1].endswith(" — bukti #1 menunggu verifikasi")
    assert history[2].startswith("• #1 MCP KPK indikator 2.1: selesai") and "bukti" not in history[2]

    assert await putri.text("/verifikasi sah 2") == (
        "Bukti #2 tidak ditemukan. Nomor 2 adalah nomor laporan: Bagian Pengadaan Barang dan Jasa – MCP KPK indikator "
        "2.1 (Rencana umum pengadaan diumumkan di SiRUP). Bukti dukung laporan itu bernomor #1; bila itu yang "
        "dimaksud, ketik /verifikasi sah 1."
    )
    assert "ketik /verifikasi tolak 1 <alasan>." in await putri.text("/verifikasi tolak 2 Belum ditandatangani.")
    assert [e.status for e in _evidence(deps)] == ["menunggu"]
    assert (await putri.text("/verifikasi sah 1")).startswith("Bukti #1 dinyatakan sah")
    assert "bukti #1 terverifikasi" in await indah.text("/riwayat mcp")
    assert (await putri.text("/verifikasi sah 9")).startswith("Bukti #9 tidak ditemukan. Ketik /verifikasi")
