"""Bukti dukung through the real adapters: on Telegram (python-telegram-bot against the fake Bot API) a PDF for an MCP
indicator is rejected with a reason, sent again and accepted, the unit's standing and the sweep following each step;
on WhatsApp (signed webhooks against the fake Graph API) the same, a picture placed with a list, and a bad file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, time
from typing import Any

import pytest
from sqlmodel import func, select

from bot.channels import ChannelRuntime
from bot.settings import Settings
from bot.telegram.runtime import telegram_runtime
from jobs.dispatcher import Dispatcher
from jobs.sweep import plan
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.tables import Contact, Evidence, Report, StoredFile
from tests.bot.test_whatsapp_e2e import Rig, choices, rig, shown, texts
from tests.fakes import evidence_files as files
from tests.fakes.graph_api import UploadedMedia, _inbound, make_button_reply, make_document
from tests.fakes.telegram_api import FakeBotApi, SentRecord

__all__ = ["rig"]  # the WhatsApp rig fixture, shared with the WhatsApp end-to-end tests

TOKEN = "777003:AAE-sigap_bukti-Token"
INDAH_ID, PUTRI_ID = 6201, 6301  # operator of Bagian Pengadaan Barang dan Jasa; kepala of the Inspektorat
INDAH_WA, PUTRI_WA = "+6281290001294", "+6281290001021"


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def runtime(api: FakeBotApi, sdeps: Deps) -> AsyncIterator[ChannelRuntime]:
    with sdeps.db.uow() as uow:
        for name, user_id in (("Indah Maulana", INDAH_ID), ("Putri Lestari", PUTRI_ID)):
            contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
            contact.telegram_user_id = str(user_id)
            contact.preferred_channel = Channel.TELEGRAM.value  # the outcome comes back where they chat
            uow.session.add(contact)
        uow.commit()
    values: dict[str, Any] = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": api.base_url}
    started = await telegram_runtime(Settings(_env_file=None, **values), sdeps)  # type: ignore[call-arg]
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def replies(api: FakeBotApi, chat_id: int, before: int, count: int = 1) -> list[SentRecord]:
    await api.wait_for(lambda: len(api.sent_to(chat_id)) >= before + count, timeout=5)
    return api.sent_to(chat_id)[before:]


def chased(deps: Deps) -> list[str]:
    """The MCP stages the sweep would send Bagian Pengadaan on 16 December (H+1), one per recipient."""
    with deps.db.uow() as uow:
        planned = plan(uow.session, deps.pemda, deps.calendar, deps.calendar.at_local(date(2026, 12, 16), time(8)))
    return [p.stage_key for p in planned if p.unit.code == "BAG-PBJ" and p.program.key == "mcp"]


def rows(deps: Deps) -> tuple[int, int, int]:
    with deps.db.uow() as uow:
        return tuple(  # type: ignore[return-value]
            uow.session.exec(select(func.count()).select_from(table)).one() for table in (StoredFile, Evidence, Report)
        )


async def test_on_telegram_a_pdf_is_rejected_sent_again_and_accepted(
    api: FakeBotApi, sdeps: Deps, runtime: ChannelRuntime, clock: FakeClock
) -> None:
    first, fixed, other = files.pdf("belum ditandatangani"), files.pdf("ditandatangani PPK"), files.pdf("2.2")
    assert chased(sdeps) == ["H+1:peringatan"] * 4
    api.push_document(INDAH_ID, "SiRUP 2026.pdf", first, caption="mcp 2.1", first_name="Indah")
    [taken] = await replies(api, INDAH_ID, 0)
    assert str(taken.text).startswith("✅ Bukti dukung diterima: SiRUP 2026.pdf (PDF, 1 halaman")
    api.push_document(INDAH_ID, "katalog lokal.pdf", other, caption="mcp 2.2", first_name="Indah")
    await replies(api, INDAH_ID, 1)
    assert chased(sdeps) == []  # everything sent before the deadline waits for the verifier: no warning

    api.push_message(PUTRI_ID, "/verifikasi", first_name="Putri")
    head, document, question, *_rest = await replies(api, PUTRI_ID, 0, 5)
    assert str(head.text).startswith("Bukti dukung menunggu verifikasi Bapak/Ibu: 2")
    assert document.method == "sendDocument" and document.content == first
    assert document.filename == "SiRUP 2026.pdf" and "MCP KPK indikator 2.1" in str(document.text)
    assert [label for label, _ in question.buttons] == ["Sah", "Tolak"]

    before = len(api.sent_to(PUTRI_ID))
    api.push_callback(PUTRI_ID, question.buttons[1][1], message_id=question.message_id)
    [ask] = await replies(api, PUTRI_ID, before)
    assert "Mohon tulis alasan penolakan bukti #1" in str(ask.text)
    api.push_message(PUTRI_ID, "Belum ditandatangani PPK; kirim yang sudah ditandatangani.", first_name="Putri")
    decided = await replies(api, PUTRI_ID, before + 1, 4)  # the verdict, then the next item: text, file, question
    assert [r.method for r in decided[1:]] == ["sendMessage", "sendDocument", "sendMessage"]
    assert "ditolak" in str(decided[0].text) and "Indah Maulana diberi tahu" in str(decided[0].text)
    assert chased(sdeps) == ["H+1:peringatan"] * 4  # rejected: the unit is chased again

    dispatcher = Dispatcher(
        db=sdeps.db,
        senders={Channel.TELEGRAM: runtime.sender},
        limiters={Channel.TELEGRAM: runtime.limiter},
        clock=clock,
        observers=runtime.observers,
    )
    await dispatcher.drain()
    told = api.texts_to(INDAH_ID)[-1]
    assert told.startswith("❌ Bukti dukung ditolak: Bagian Pengadaan Barang dan Jasa – MCP KPK indikator 2.1")
    assert "Alasan: Belum ditandatangani PPK; kirim yang sudah ditandatangani." in told

    api.push_document(INDAH_ID, "SiRUP 2026 ttd.pdf", fixed, caption="mcp 2.1", first_name="Indah")
    await api.wait_for(lambda: "SiRUP 2026 ttd.pdf" in (api.texts_to(INDAH_ID)[-1] or ""), timeout=5)
    assert chased(sdeps) == []
    for evidence_id in (2, 3):
        api.push_callback(PUTRI_ID, f"/verifikasi sah {evidence_id}")
        verdict = f"Bukti #{evidence_id} dinyatakan sah: Bagian Pengadaan Barang dan Jasa – MCP KPK indikator"
        await api.wait_for(lambda v=verdict: any(t.startswith(v) for t in api.texts_to(PUTRI_ID)))
    assert chased(sdeps) == []
    await dispatcher.drain()
    assert api.texts_to(INDAH_ID)[-1].startswith("✅ Bukti dukung dinyatakan sah: Bagian Pengadaan Barang dan Jasa")
    before = len(api.sent_to(INDAH_ID))
    api.push_message(INDAH_ID, "/status", first_name="Indah")
    [status] = await replies(api, INDAH_ID, before)
    assert "✅ MCP KPK: 2 dari 2 indikator selesai" in str(status.text)


async def test_on_telegram_bad_files_are_refused_and_leave_nothing(
    api: FakeBotApi, sdeps: Deps, runtime: ChannelRuntime
) -> None:
    small = sdeps.pemda.model_copy(update={"evidence": sdeps.pemda.evidence.model_copy(update={"max_mb": 0.01})})
    cases = [
        ("besar.pdf", files.pdf(pages=40), "terlalu besar"),
        ("program.exe", b"MZ\x90\x00 bukan dokumen", "Jenis berkas .exe itu tidak diterima"),
        ("terpotong.pdf", files.truncated_pdf(), "PDF itu rusak atau tidak lengkap"),
        ("bom.docx", files.zip_bomb(), "membesar berlipat-lipat"),
    ]
    normal = sdeps.pemda
    for count, (name, content, says) in enumerate(cases):
        sdeps.pemda = small if name == "besar.pdf" else normal
        api.push_document(INDAH_ID, name, content, caption="mcp 2.1", first_name="Indah")
        [reply] = await replies(api, INDAH_ID, count)
        assert str(reply.text).startswith(f"Berkas {name} tidak disimpan.") and says in str(reply.text)
    assert rows(sdeps) == (0, 0, 0)


async def test_on_whatsapp_a_pdf_is_rejected_and_a_picture_is_placed_with_a_list(rig: Rig) -> None:
    rig.graph.media["media-bukti"] = UploadedMedia("media-bukti", files.pdf("SiRUP"), "application/pdf", "SiRUP.pdf")
    payload = make_document(INDAH_WA, "media-bukti", "SiRUP.pdf", rig.wamid(), caption="mcp 2.1", at=rig.clock.now())
    assert texts(await rig.tap(payload, INDAH_WA)).startswith("✅ Bukti dukung diterima: SiRUP.pdf (PDF, 1 halaman")

    queue = await rig.say(PUTRI_WA, "/verifikasi")
    assert [m.type for m in queue] == ["text", "document", "interactive"]
    assert queue[1].body["filename"] == "SiRUP.pdf"
    uploaded = rig.graph.media[queue[1].body["id"]]
    assert uploaded.content == files.pdf("SiRUP")
    assert choices(queue[2]) == ["/verifikasi sah 1", "/verifikasi tolak 1"]
    ask = await rig.tap(make_button_reply(PUTRI_WA, "/verifikasi tolak 1", "Tolak", rig.wamid()), PUTRI_WA)
    assert "Mohon tulis alasan penolakan" in texts(ask)
    assert "ditolak" in texts(await rig.say(PUTRI_WA, "Halaman pengesahan tidak ada."))
    await rig.dispatch()
    told = [shown(m) for m in rig.graph.sent_to(INDAH_WA)][-1]
    assert told.startswith("❌ Bukti dukung ditolak: Bagian Pengadaan Barang dan Jasa") and "Halaman pengesahan" in told

    # a picture without a caption: checked at once, then placed with a list of programs and the indicator buttons
    rig.graph.media["media-foto"] = UploadedMedia("media-foto", files.picture("JPEG"), "image/jpeg", "")
    picture = _inbound(INDAH_WA, rig.wamid(), "image", {"id": "media-foto", "mime_type": "image/jpeg"}, "Indah", None)
    [question] = await rig.tap(picture, INDAH_WA)
    assert shown(question).startswith("Berkas itu diterima (gambar JPG, 64×48 piksel")
    assert choices(question) == ["/bukti inovasi", "/bukti katalog", "/bukti p3dn", "/bukti mcp"]
    [items] = await rig.tap(make_button_reply(INDAH_WA, "/bukti mcp", "MCP KPK", rig.wamid()), INDAH_WA)
    assert choices(items) == ["/bukti mcp 2.1", "/bukti mcp 2.2"]
    done = await rig.tap(make_button_reply(INDAH_WA, "/bukti mcp 2.2", "2.2", rig.wamid()), INDAH_WA)
    assert "✅ Bukti dukung diterima: bukti-mcp-2.2.jpg (gambar JPG" in texts(done)

    # a damaged file over WhatsApp: one reply, nothing kept
    rig.graph.media["media-rusak"] = UploadedMedia("media-rusak", files.truncated_pdf(), "application/pdf", "x.pdf")
    before = rows(rig.deps)
    broken = make_document(INDAH_WA, "media-rusak", "rusak.pdf", rig.wamid(), caption="mcp 2.2", at=rig.clock.now())
    assert "PDF itu rusak atau tidak lengkap" in texts(await rig.tap(broken, INDAH_WA))
    big = files.pdf(pages=60)
    rig.graph.media["media-besar"] = UploadedMedia("media-besar", big, "application/pdf", "besar.pdf")
    normal = rig.deps.pemda
    rig.deps.pemda = normal.model_copy(update={"evidence": normal.evidence.model_copy(update={"max_mb": 0.01})})
    oversize = make_document(INDAH_WA, "media-besar", "besar.pdf", rig.wamid(), caption="mcp 2.2", at=rig.clock.now())
    assert "Berkas besar.pdf tidak disimpan. Berkas terlalu besar" in texts(await rig.tap(oversize, INDAH_WA))
    rig.deps.pemda = normal
    assert rows(rig.deps) == before
