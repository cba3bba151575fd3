"""Warning letters end to end: drafted at H+7, approved with one tap, delivered with the PDF, receipt, escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import col, select
from telegram import Bot

from bot.cli import main
from bot.telegram.sender import TelegramSender
from handlers.core import handle
from jobs.dispatcher import Dispatcher
from jobs.letters.hook import make_letter_hook
from jobs.letters.receipts import escalate_receipts, receipt_due_at, run_receipt_escalation
from jobs.sweep import sweep
from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel, Incoming
from models.pemda import Stage
from models.standing import load_standings
from models.tables import Contact, Letter, LetterEvent, Outbox, Report, StoredFile, Unit
from tests.conftest import (
    ADMIN,
    CAMAT_SUKAMAKMUR,
    KEPALA_DINKES,
    OPERATOR_DINKES,
    PIMPINAN,
    console_person,
    contact_named,
)
from tests.fakes.sender import FakeSender
from tests.fakes.telegram_api import FakeBotApi
from tests.jobs.test_letter_register import pdf_text

# Tuesday 22 December 2026, 09:00 WIB: H+7 of the katalog deadline (15 December)
H_PLUS_7 = datetime(2026, 12, 22, 2, 0, tzinfo=UTC)
TEGURAN1 = Stage(offset_days=7, kind="teguran1", recipients=["unit", "admin", "pimpinan"])
SECOND_ADMIN = "Dodi Kusnadi"
TOKEN = "987654:AAH-sigap_Test-token"


def run_hook(deps: Deps, code: str = "DINKES", program: str = "katalog", at: datetime = H_PLUS_7) -> Letter:
    """What the sweep does at a teguran stage: call the letter hook, then its after-sweep step, commit."""
    hook = make_letter_hook(deps.pemda, deps.calendar)
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == code)).one()
        config = deps.pemda.program(program)
        assert config is not None
        standing = load_standings(uow.session, deps.pemda, [unit], deps.calendar.local_date(at), [config])[
            (unit.id or 0, program)
        ]
        assert hook(uow.session, unit, [standing], TEGURAN1, at) is True
        hook.after_sweep(uow.session, at)
        uow.commit()
        letter = uow.session.exec(select(Letter).where(Letter.unit_id == unit.id, Letter.program_key == program)).one()
    return letter


def fresh(deps: Deps, letter_id: int | None) -> Letter:
    """The letter as the database has it now."""
    with deps.db.uow() as uow:
        letter = uow.session.get(Letter, letter_id)
        assert letter is not None
        return letter


def stored_pdf(deps: Deps, letter: Letter) -> bytes:
    """The archived PDF of `letter`."""
    with deps.db.uow() as uow:
        row = uow.session.get(StoredFile, letter.pdf_id)
        assert row is not None
        return row.content


def history(deps: Deps, letter_id: int | None) -> list[str]:
    """The letter's status history."""
    with deps.db.uow() as uow:
        return list(
            uow.session.exec(
                select(LetterEvent.status).where(LetterEvent.letter_id == letter_id).order_by(col(LetterEvent.id))
            ).all()
        )


async def test_done_when_scenario_teguran1_approved_delivered_received_or_escalated(
    deps: Deps, clock: FakeClock
) -> None:
    """The issue's 'done when': 0 of 10 katalog at H+7 -> Teguran I -> one tap -> PDF to the head -> receipt."""
    clock.set(H_PLUS_7)
    letter = run_hook(deps)
    assert letter.status == "draft" and letter.number is None  # numbered when approved
    sender = FakeSender()
    dispatcher = Dispatcher(db=deps.db, senders={Channel.WHATSAPP: sender}, clock=clock)
    await dispatcher.drain()

    # every admin got the draft with its PDF and the two buttons
    pdf = stored_pdf(deps, letter)
    for name in (ADMIN, SECOND_ADMIN):
        (request,) = sender.to(deps, name)
        assert request.attachment is not None and request.attachment.content == pdf
        assert [(b.label, b.payload) for b in request.buttons] == [
            ("Setujui & kirim", f"/teguran setujui {letter.id}"),
            ("Batalkan", f"/teguran batal {letter.id}"),
        ]
        assert "Rancangan Surat Teguran I untuk Dinas Kesehatan (rancangan #1" in request.text
        assert "RANCANGAN" in pdf_text(pdf)
    assert sender.to(deps, KEPALA_DINKES) == []  # nothing reaches the unit before approval

    # one tap
    admin = console_person(deps, ADMIN)
    (reply,) = await admin.say("Setujui & kirim", payload=f"/teguran setujui {letter.id}")
    assert "disetujui dan dikirim ke Dinas Kesehatan (Slamet Santoso, Eko Hidayat)" in reply.text
    again = await console_person(deps, SECOND_ADMIN).text(f"/teguran setujui {letter.id}")
    assert "sudah disetujui oleh Rina Marlina" in again
    await dispatcher.drain()
    pdf = stored_pdf(deps, fresh(deps, letter.id))  # the numbered letter, dated the day of approval

    for name in (KEPALA_DINKES, OPERATOR_DINKES):
        (delivery,) = sender.to(deps, name)
        assert delivery.attachment is not None and delivery.attachment.content == pdf
        assert [(b.label, b.payload) for b in delivery.buttons] == [("Saya sudah menerima", f"/terima {letter.id}")]
    text = pdf_text(pdf)
    assert "RANCANGAN" not in text
    assert "Yth. Kepala Dinas Kesehatan" in text
    assert "000.8.3.3/1/ORG/2026" in text
    assert "0 dari target 10 produk" in text
    assert fresh(deps, letter.id).status == "sent"

    # others cannot sign for the unit
    assert "tidak tersedia untuk peran" in await console_person(deps, PIMPINAN).text(f"/terima {letter.id}")
    stranger = await console_person(deps, "Yuni Pratama").text(f"/terima {letter.id}")
    assert f"surat dengan id {letter.id} tidak ditujukan kepada unit Bapak/Ibu" in stranger
    assert "Dinas Kesehatan" not in stranger and "DINKES" not in stranger  # whose letter it is stays unsaid
    assert "“Saya sudah menerima” pada pesan itu" in stranger
    unknown = await console_person(deps, KEPALA_DINKES).text("/terima 999")
    assert "Surat dengan id 999 tidak ditemukan" in unknown and "/teguran" not in unknown  # not a unit's command

    clock.advance(timedelta(hours=2))
    kepala = console_person(deps, KEPALA_DINKES)
    (thanks,) = await kepala.say("Saya sudah menerima", payload=f"/terima {letter.id}")
    assert "Tanda terima Surat Teguran I nomor 000.8.3.3/1/ORG/2026 sudah tercatat" in thanks.text
    received = fresh(deps, letter.id)
    assert received.status == "received"
    assert received.received_by_id == contact_named(deps, KEPALA_DINKES).id
    assert received.received_at == clock.now()
    assert "sudah tercatat atas nama Slamet Santoso" in await console_person(deps, OPERATOR_DINKES).text(
        f"/terima {letter.id}"
    )
    assert history(deps, letter.id) == ["draft", "approved", "sent", "received"]

    await dispatcher.drain()
    assert any("telah diterima oleh Slamet Santoso" in m.text for m in sender.to(deps, ADMIN))
    # a received letter is never escalated
    clock.advance(timedelta(days=10))
    with deps.db.uow() as uow:
        assert escalate_receipts(uow.session, deps.pemda, deps.calendar, clock.now()) == 0


async def test_without_receipt_the_pimpinan_hear_after_two_working_days(deps: Deps, clock: FakeClock) -> None:
    clock.set(H_PLUS_7 + timedelta(hours=1))  # Tuesday 22 December 10:00 WIB
    letter = run_hook(deps)
    await console_person(deps, ADMIN).say("", payload=f"/teguran setujui {letter.id}")
    sent_at = fresh(deps, letter.id).sent_at
    assert sent_at == clock.now()
    # Wed 23 is the first working day; 24 (cuti bersama), 25 (Natal), 26-27 (weekend) are not; Mon 28 is the second
    due = receipt_due_at(deps.calendar, sent_at, 2)
    assert due == datetime(2026, 12, 28, 3, 0, tzinfo=UTC)
    sender = FakeSender()
    dispatcher = Dispatcher(db=deps.db, senders={Channel.WHATSAPP: sender}, clock=clock)
    wednesday, sunday = datetime(2026, 12, 23, 9, 0, tzinfo=UTC), datetime(2026, 12, 27, 3, 0, tzinfo=UTC)
    for moment in (wednesday, sunday, due - timedelta(minutes=1)):
        clock.set(moment)
        assert run_receipt_escalation(deps.db, deps.pemda, deps.calendar, clock) == 0
    clock.set(due)
    assert run_receipt_escalation(deps.db, deps.pemda, deps.calendar, clock) == 1
    assert run_receipt_escalation(deps.db, deps.pemda, deps.calendar, clock) == 0  # once only
    await dispatcher.drain()
    (alert,) = sender.to(deps, PIMPINAN)
    assert "Surat Teguran I nomor 000.8.3.3/1/ORG/2026 untuk Dinas Kesehatan" in alert.text
    assert "belum ada tanda terima" in alert.text and "2 hari kerja" in alert.text
    assert alert.attachment is not None
    assert fresh(deps, letter.id).receipt_escalated_at == due
    assert history(deps, letter.id)[-1] == "escalated"


async def test_escalation_waits_over_a_plain_weekend(sdeps: Deps, clock: FakeClock) -> None:
    friday = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # Friday 27 November 10:00 WIB
    clock.set(friday)
    letter = run_hook(sdeps, "DISDIK", "katalog", at=friday)
    await console_person(sdeps, ADMIN).say("", payload=f"/teguran setujui {letter.id}")
    clock.set(datetime(2026, 11, 30, 3, 0, tzinfo=UTC))  # Monday: one working day
    assert run_receipt_escalation(sdeps.db, sdeps.pemda, sdeps.calendar, clock) == 0
    clock.set(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))  # Tuesday: two working days
    assert run_receipt_escalation(sdeps.db, sdeps.pemda, sdeps.calendar, clock) == 1


async def test_without_approval_switch_the_letter_goes_out_at_once(deps: Deps, clock: FakeClock) -> None:
    clock.set(H_PLUS_7)
    deps.pemda = deps.pemda.model_copy(
        update={"letters": deps.pemda.letters.model_copy(update={"require_approval": False})}
    )
    letter = run_hook(deps, "KEC-SUKAMAKM", "katalog")
    assert letter.status == "sent"
    sender = FakeSender()
    await Dispatcher(db=deps.db, senders={Channel.WHATSAPP: sender}, clock=clock).drain()
    assert sender.to(deps, ADMIN) == []
    (delivery,) = sender.to(deps, CAMAT_SUKAMAKMUR)
    assert delivery.attachment is not None
    assert "Yth. Camat Sukamakmur" in pdf_text(delivery.attachment.content)
    assert history(deps, letter.id) == ["draft", "approved", "sent"]


async def test_cancel_keeps_the_number_and_only_admins_decide(deps: Deps, clock: FakeClock) -> None:
    clock.set(H_PLUS_7)
    letter = run_hook(deps)
    kepala = console_person(deps, KEPALA_DINKES)
    assert "tidak tersedia untuk peran" in await kepala.text(f"/teguran setujui {letter.id}")
    pimpinan = console_person(deps, PIMPINAN)
    assert "hanya admin yang dapat menyetujui" in await pimpinan.text(f"/teguran setujui {letter.id}")
    admin = console_person(deps, ADMIN)
    assert "Id surat belum ditulis" in await admin.text("/teguran setujui")
    assert "tidak ada di register" in await admin.text("/teguran setujui 999")
    reply = await admin.text(f"/teguran batal {letter.id} data sudah dilengkapi")
    assert "dibatalkan" in reply and "Belum ada nomor yang terpakai" in reply
    assert f"/teguran ulang {letter.id}" in reply  # the ladder stops until an admin restarts it
    assert "sudah dibatalkan, jadi tidak dapat disetujui" in await admin.text(f"/teguran setujui {letter.id}")
    cancelled = fresh(deps, letter.id)
    assert cancelled.status == "cancelled" and cancelled.number is None
    assert cancelled.cancel_reason == "data sudah dilengkapi"
    with deps.db.uow() as uow:
        note = uow.session.exec(select(LetterEvent.note).where(LetterEvent.status == "cancelled")).one()
    assert note == "dibatalkan oleh Rina Marlina: data sudah dilengkapi"
    listing = await admin.text("/teguran")
    assert "Dibatalkan (1):" in listing and "rancangan #1 · DINKES · e-Katalog lokal · 22 Des 2026" in listing
    # the cancelled draft used no number: the next approved letter takes number 1
    second = run_hook(deps, "DISDIK")
    await admin.text(f"/teguran setujui {second.id}")
    assert fresh(deps, second.id).number == "000.8.3.3/1/ORG/2026"
    third = run_hook(deps, "BAPPEDA")
    listing = await pimpinan.text("/teguran")
    assert "Rancangan, menunggu persetujuan (1):" in listing and "Dibatalkan (1):" in listing
    assert "setujui" not in listing.split("\n")[-1]  # the pimpinan may not approve here: no approval hints
    # a numbered (approved) letter keeps its number when cancelled
    await admin.text(f"/teguran setujui {third.id}")
    assert "tidak dapat dibatalkan" in await admin.text(f"/teguran batal {third.id}")


async def test_teguran_nomor_sends_the_same_pdf_and_the_docx(deps: Deps, clock: FakeClock) -> None:
    clock.set(H_PLUS_7)
    letter = run_hook(deps)
    pdf_reply, docx_reply = await console_person(deps, ADMIN).say(f"/teguran {letter.id}")
    assert pdf_reply.attachment is not None and pdf_reply.attachment.content == stored_pdf(deps, letter)
    assert pdf_reply.attachment.filename.endswith(".pdf") and "menunggu persetujuan" in pdf_reply.text
    assert docx_reply.attachment is not None and docx_reply.attachment.filename.endswith(".docx")
    assert "wordprocessingml" in docx_reply.attachment.mime
    assert "tidak ada di register" in await console_person(deps, ADMIN).text("/teguran 000.8.3.3/99/ORG/2026")
    assert "Register surat teguran masih kosong" not in await console_person(deps, ADMIN).text("/teguran")
    await console_person(deps, ADMIN).text(f"/teguran setujui {letter.id}")
    by_number, _docx = await console_person(deps, ADMIN).say("/teguran 000.8.3.3/1/ORG/2026")
    assert by_number.attachment is not None
    assert by_number.attachment.filename == "Surat-Teguran-I-DINKES-2026-0001.pdf"


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


async def test_approval_delivery_and_receipt_through_the_fake_telegram_server(
    deps: Deps, clock: FakeClock, telegram_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    admin_chat, head_chat = 5001, 5002
    with deps.db.uow() as uow:
        for name, chat in ((ADMIN, admin_chat), (KEPALA_DINKES, head_chat)):
            contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
            contact.telegram_user_id = str(chat)
            contact.preferred_channel = "telegram"
            uow.session.add(contact)
        uow.commit()
    clock.set(H_PLUS_7)
    letter = run_hook(deps)
    pdf = stored_pdf(deps, letter)
    async with Bot(TOKEN, base_url=telegram_api.base_url, base_file_url=telegram_api.base_file_url) as bot:
        dispatcher = Dispatcher(db=deps.db, senders={Channel.TELEGRAM: TelegramSender(bot)}, clock=clock)
        await dispatcher.drain()
        (request,) = telegram_api.sent_to(admin_chat)
        assert request.method.lower() == "senddocument" and request.content == pdf
        assert request.filename is not None and request.filename.endswith(".pdf")
        assert request.buttons == [
            ("Setujui & kirim", f"/teguran setujui {letter.id}"),
            ("Batalkan", f"/teguran batal {letter.id}"),
        ]
        tap = Incoming(Channel.TELEGRAM, str(admin_chat), payload=request.buttons[0][1], display_name=ADMIN)
        (reply,) = await handle(deps, tap)
        assert "disetujui dan dikirim" in reply.text
        await dispatcher.drain()
        (delivery,) = telegram_api.sent_to(head_chat)
        assert delivery.method.lower() == "senddocument" and delivery.content == stored_pdf(
            deps, fresh(deps, letter.id)
        )
        assert delivery.content != pdf  # the numbered letter, not the draft
        assert "Surat Teguran I untuk Dinas Kesehatan" in (delivery.text or "")
        assert delivery.buttons == [("Saya sudah menerima", f"/terima {letter.id}")]
        receipt = Incoming(Channel.TELEGRAM, str(head_chat), payload=delivery.buttons[0][1])
        (thanks,) = await handle(deps, receipt)
    assert "sudah tercatat" in thanks.text
    received = fresh(deps, letter.id)
    assert received.status == "received" and received.received_by_id == contact_named(deps, KEPALA_DINKES).id


async def test_export_register_to_xlsx_from_the_command_line(
    sdeps: Deps, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock.set(H_PLUS_7)
    first = run_hook(sdeps)
    await console_person(sdeps, ADMIN).say("", payload=f"/teguran setujui {first.id}")
    clock.advance(timedelta(hours=1))
    await console_person(sdeps, KEPALA_DINKES).say("", payload=f"/terima {first.id}")
    run_hook(sdeps, "DISDIK")
    monkeypatch.setenv("SIGAP_DATABASE_URL", sdeps.db.url)
    target = tmp_path / "register.xlsx"
    assert main(["letters", "export", str(target)]) == 0
    assert "2 surat diekspor" in capsys.readouterr().out
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    assert rows[0][:9] == ("ID", "Nomor", "Tanggal surat", "Kode unit", "Unit", "Program", "Periode", "Tahap", "Status")
    (ident, number, day, code, unit, program, period, stage, status, how, deadline, approver, approved, sent, receiver,
     got, esc, reason, sha) = rows[1]  # fmt: skip
    assert (ident, number, code, unit, program, period, stage, status, how) == (
        first.id,
        "000.8.3.3/1/ORG/2026",
        "DINKES",
        "Dinas Kesehatan",
        "e-Katalog lokal",
        "2026",
        "Teguran I",
        "sudah diterima",
        "lewat Sigap",
    )
    assert day.date().isoformat() == "2026-12-22" and deadline.date().isoformat() == "2027-01-06"
    assert approver == ADMIN and approved == datetime(2026, 12, 22, 9, 0) and sent == datetime(2026, 12, 22, 9, 0)
    assert receiver == KEPALA_DINKES and got == datetime(2026, 12, 22, 10, 0) and esc is None and reason is None
    assert sha == fresh(sdeps, first.id).sha256 and len(sha) == 64
    assert rows[2][1] is None and rows[2][8] == "rancangan, menunggu persetujuan" and rows[2][11] is None
    assert main(["letters", "export", str(tmp_path / "register.csv")]) == 2


def make_everyone_else_compliant(
    deps: Deps, at: datetime, behind: frozenset[tuple[str, str]] = frozenset({("DINKES", "katalog")})
) -> None:
    """Reports that meet every target, for every unit and program except the (unit code, program) pairs `behind`."""
    with deps.db.uow() as uow:
        session = uow.session
        units = {u.id: u for u in session.exec(select(Unit)).all()}
        today = deps.calendar.local_date(at)
        for (unit_id, key), standing in load_standings(session, deps.pemda, list(units.values()), today).items():
            if (units[unit_id].code, key) in behind:
                continue
            base = {"unit_id": unit_id, "program_key": key, "period": standing.period, "channel": "console"}
            measure = standing.program.measure
            if measure == "checklist":
                for code in standing.open_items:
                    done = {"item_code": code, "item_status": "selesai", "verification": "verified"}  # MCP: verified
                    session.add(Report(**base, **done, created_at=at))
            elif measure == "submission":
                session.add(Report(**base, title="Inovasi pelayanan terpadu", created_at=at))
            else:
                session.add(Report(**base, value=standing.target, created_at=at))
        uow.commit()


async def test_done_when_scenario_through_the_sweep(sdeps: Deps, clock: FakeClock) -> None:
    """The same scenario driven by the real sweep at H+7 with the letter hook wired in."""
    make_everyone_else_compliant(sdeps, datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    hook = make_letter_hook(sdeps.pemda, sdeps.calendar)
    sender = FakeSender()
    dispatcher = Dispatcher(db=sdeps.db, senders={Channel.WHATSAPP: sender}, clock=clock)
    clock.set(datetime(2026, 12, 16, 2, 0, tzinfo=UTC))  # H+1: the peringatan goes out first
    sweep(sdeps.db, sdeps.pemda, sdeps.calendar, clock.now(), letter_hook=hook)
    await dispatcher.drain()
    assert any("Peringatan" in m.text for m in sender.to(sdeps, KEPALA_DINKES))
    sender.sent.clear()
    clock.set(H_PLUS_7)
    result = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, clock.now(), letter_hook=hook)
    assert result.letters == 1
    again = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, clock.now() + timedelta(hours=4), letter_hook=hook)
    assert again.letters == 0
    with sdeps.db.uow() as uow:
        (letter,) = uow.session.exec(select(Letter)).all()
    assert letter.number is None and letter.status == "draft"
    await dispatcher.drain()
    assert sender.to(sdeps, KEPALA_DINKES) == []  # no plain warning: the letter took its place
    (request,) = [m for m in sender.to(sdeps, ADMIN) if m.attachment is not None]
    await console_person(sdeps, ADMIN).say("Setujui & kirim", payload=request.buttons[0].payload)
    await dispatcher.drain()
    (delivery,) = sender.to(sdeps, KEPALA_DINKES)
    assert delivery.attachment is not None
    text = pdf_text(delivery.attachment.content)
    assert "Dinas Kesehatan" in text and "000.8.3.3/1/ORG/2026" in text and "0 dari target 10 produk" in text
    # no receipt: the pimpinan hear on Monday 28 December (24-27 December are days off)
    clock.set(datetime(2026, 12, 28, 2, 0, tzinfo=UTC))
    assert run_receipt_escalation(sdeps.db, sdeps.pemda, sdeps.calendar, clock) == 1
    await dispatcher.drain()
    assert any("belum ada tanda terima" in m.text for m in sender.to(sdeps, PIMPINAN))


async def test_approve_all_drafts_at_once(deps: Deps, clock: FakeClock) -> None:
    clock.set(H_PLUS_7)
    first, second = run_hook(deps, "DINKES"), run_hook(deps, "DISDIK")
    admin = console_person(deps, ADMIN)
    # mass approval asks first, and names what it will approve
    (question,) = await admin.say("/teguran setujui semua")
    assert question.text.startswith("Setujui 2 surat (2 Teguran I)?")
    assert [b.label for b in question.buttons] == ["Ya, setujui", "Tidak"]
    assert fresh(deps, first.id).status == "draft"
    assert "tidak ada surat yang disetujui" in await admin.text(question.buttons[1].payload)
    late = run_hook(deps, "BAPPEDA")  # drafted after the question: not part of the answer
    (done,) = await admin.say("Ya, setujui", payload=question.buttons[0].payload)
    assert "2 surat teguran disetujui dan diberi nomor; 2 dikirim lewat Sigap" in done.text
    assert fresh(deps, first.id).status == "sent" and fresh(deps, second.id).status == "sent"
    assert fresh(deps, late.id).status == "draft"
    assert "Setujui 1 surat (1 Teguran I)?" in await admin.text("/teguran setujui semua")


async def test_many_drafts_in_one_sweep_reach_each_approver_as_one_list(sdeps: Deps) -> None:
    hook = make_letter_hook(sdeps.pemda, sdeps.calendar)
    sweep(sdeps.db, sdeps.pemda, sdeps.calendar, datetime(2026, 12, 16, 2, 0, tzinfo=UTC), letter_hook=hook)
    with sdeps.db.uow() as uow:  # the dispatcher sent every peringatan
        uow.session.execute(update(Outbox).values(status="sent"))
        uow.commit()
    result = sweep(sdeps.db, sdeps.pemda, sdeps.calendar, H_PLUS_7, letter_hook=hook)
    with sdeps.db.uow() as uow:
        letters = uow.session.exec(select(Letter)).all()
        admin = contact_named(sdeps, ADMIN)
        rows = uow.session.exec(select(Outbox).where(Outbox.contact_id == admin.id, Outbox.kind == "letter")).all()
    drafts = len(letters)
    # one letter per unit and stage, whatever the number of programs it is behind on
    assert drafts > 30 and len({letter.unit_id for letter in letters}) == drafts == result.letters
    assert len(rows) == 1
    assert rows[0].text.startswith(f"📄 {drafts} rancangan surat teguran menunggu persetujuan")
    assert "/teguran setujui semua" in rows[0].buttons
    reply = await console_person(sdeps, ADMIN).text("/teguran setujui semua")
    assert reply.startswith(f"Setujui {drafts} surat ({drafts} Teguran I)?")


async def test_odd_letter_ids_get_a_clear_reply(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    kepala = console_person(deps, KEPALA_DINKES)
    for person, text in [
        (kepala, "/terima 99999999999999999999999"),
        (kepala, "/terima ²"),
        (admin, "/teguran setujui 99999999999999999999"),
        (admin, "/teguran setujui ²"),
        (admin, "/teguran batal ١٢"),
        (admin, "/teguran 99999999999999999999"),
    ]:
        reply = await person.text(text)
        assert "gangguan" not in reply, text
        assert "tidak ada di register" in reply or "Id surat belum ditulis" in reply, text
