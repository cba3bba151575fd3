"""One season of the ladder, end to end: H-7 to Teguran II, climbing in order, on SQLite and PostgreSQL.

DINKES is behind on katalog and reachable on WhatsApp; DISDIK is behind too but nobody there can be reached on
chat (its letters go on paper). Along the way: a cancelled letter stops the ladder until an admin restarts it, a
mass approval is asked for and confirmed, a letter is recorded as handed over, Teguran II waits for the deadline
written in Teguran I and then cites it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select

from jobs.dispatcher import Dispatcher
from jobs.letters.hook import make_letter_hook
from jobs.sweep import sweep
from models.app import Deps
from models.clock import FakeClock
from models.fmt import tanggal
from models.messages import Channel
from models.tables import Contact, Letter, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, console_person
from tests.fakes.sender import FakeSender
from tests.handlers.test_letters_flow import make_everyone_else_compliant
from tests.jobs.test_letter_register import pdf_text

BEHIND = frozenset({("DINKES", "katalog"), ("DISDIK", "katalog")})


def at_local(day: date, hour: int = 9) -> datetime:
    """`hour`:00 WIB on `day`, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 7, 0, tzinfo=UTC)


def everyone_else_compliant(deps: Deps, at: datetime) -> None:
    """Reports that meet every target, except the (unit, program) pairs in BEHIND; DISDIK loses its channels."""
    make_everyone_else_compliant(deps, at, BEHIND)
    with deps.db.uow() as uow:
        disdik = uow.session.exec(select(Unit).where(Unit.code == "DISDIK")).one()
        for contact in uow.session.exec(select(Contact).where(Contact.unit_id == disdik.id)).all():
            contact.wa_number, contact.telegram_user_id = None, None
            uow.session.add(contact)
        uow.commit()


def letters_of(deps: Deps, code: str) -> list[Letter]:
    """The letters of the unit `code`, oldest first."""
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == code)).one()
        return list(uow.session.exec(select(Letter).where(Letter.unit_id == unit.id).order_by(col(Letter.id))).all())


async def test_a_whole_season_climbs_in_order(deps: Deps, clock: FakeClock) -> None:
    everyone_else_compliant(deps, datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    hook = make_letter_hook(deps.pemda, deps.calendar)
    sender = FakeSender()
    dispatcher = Dispatcher(db=deps.db, senders={Channel.WHATSAPP: sender}, clock=clock)
    admin = console_person(deps, ADMIN)

    async def sweep_at(moment: datetime) -> int:
        clock.set(moment)
        result = sweep(deps.db, deps.pemda, deps.calendar, moment, letter_hook=hook)
        await dispatcher.drain()
        return result.letters

    # H-7 and H+1: reminders and the peringatan reach DINKES; no letter yet
    assert await sweep_at(at_local(date(2026, 12, 8))) == 0
    assert any("Pengingat" in m.text for m in sender.to(deps, KEPALA_DINKES))
    assert await sweep_at(at_local(date(2026, 12, 16))) == 0
    assert any("Peringatan" in m.text for m in sender.to(deps, KEPALA_DINKES))

    # H+7: one Teguran I draft per unit; DISDIK cannot be reached, so its draft is flagged for hand delivery
    assert await sweep_at(at_local(date(2026, 12, 22))) == 2
    (dinkes_first,) = letters_of(deps, "DINKES")
    (disdik_first,) = letters_of(deps, "DISDIK")
    assert dinkes_first.number is None and disdik_first.number is None
    requests = [m.text for m in sender.to(deps, ADMIN) if "Rancangan" in m.text]
    assert any("Dinas Pendidikan" in t and f"/teguran diantar {disdik_first.id}" in t for t in requests)
    listing = await admin.text("/teguran")
    assert "⚠️ tanpa penerima di Sigap" in listing

    # a cancelled letter stops the ladder for the unit ...
    cancelled = await admin.text(f"/teguran batal {dinkes_first.id} angka masih diverifikasi")
    assert f"/teguran ulang {dinkes_first.id}" in cancelled
    assert await sweep_at(at_local(date(2026, 12, 23))) == 0
    assert len(letters_of(deps, "DINKES")) == 1
    # ... until an admin restarts it: the next sweep drafts Teguran I again
    assert "dimulai ulang" in await admin.text(f"/teguran ulang {dinkes_first.id}")
    assert await sweep_at(at_local(date(2026, 12, 23), 13)) == 1
    dinkes_second = letters_of(deps, "DINKES")[-1]
    assert dinkes_second.status == "draft" and dinkes_second.id != dinkes_first.id

    # mass approval asks first, then says what went where
    (question,) = await admin.say("/teguran setujui semua")
    assert question.text.startswith("Setujui 2 surat (2 Teguran I)?")
    (done,) = await admin.say("Ya, setujui", payload=question.buttons[0].payload)
    assert "2 surat teguran disetujui dan diberi nomor; 1 dikirim lewat Sigap" in done.text
    assert "1 unit tidak dapat dihubungi" in done.text and "Dinas Pendidikan" in done.text
    await dispatcher.drain()
    first_sent = letters_of(deps, "DINKES")[-1]
    assert first_sent.status == "sent" and first_sent.number is not None and first_sent.new_deadline is not None
    assert any(m.attachment is not None and "Surat Teguran I" in m.text for m in sender.to(deps, KEPALA_DINKES))

    # DISDIK's letter is handed over on paper and recorded: it counts as delivered
    disdik_numbered = letters_of(deps, "DISDIK")[0]
    assert disdik_numbered.status == "approved"
    assert "tercatat diantar langsung" in await admin.text(f"/teguran diantar {disdik_numbered.id}")
    assert letters_of(deps, "DISDIK")[0].delivery == "tangan"

    # H+14: Teguran II waits for the deadline written in Teguran I, and a dry run says so
    clock.set(at_local(date(2026, 12, 29)))
    dry = sweep(deps.db, deps.pemda, deps.calendar, clock.now(), dry_run=True)
    reasons = {w.unit.code: w.reason for w in dry.waiting}
    assert reasons["DINKES"] == f"menunggu tenggat Teguran I, {tanggal(first_sent.new_deadline)}"
    assert await sweep_at(at_local(date(2026, 12, 29))) == 0

    # after that deadline, still behind: Teguran II for both, citing Teguran I
    after = first_sent.new_deadline + timedelta(days=1)
    while not deps.calendar.is_working_day(after):
        after += timedelta(days=1)
    assert await sweep_at(at_local(after)) == 2
    dinkes_second_stage = letters_of(deps, "DINKES")[-1]
    assert dinkes_second_stage.stage == "teguran2"
    (reply,) = await admin.say(f"/teguran setujui {dinkes_second_stage.id}")
    assert "disetujui dan dikirim" in reply.text
    await dispatcher.drain()
    (delivery,) = [m for m in sender.to(deps, KEPALA_DINKES) if m.attachment is not None and "Teguran II" in m.text]
    assert delivery.attachment is not None
    text = pdf_text(delivery.attachment.content)
    assert f"Menindaklanjuti Surat Teguran I Nomor {first_sent.number} tanggal 23 Desember 2026" in text
    assert "Dasar" in text and "Peraturan Presiden Nomor 12 Tahun 2021" in text
    assert "/lapor" not in text and " /" not in text


async def test_a_channel_not_set_up_yet_holds_the_letters_it_alone_keeps_from_a_unit(deps: Deps) -> None:
    """A deployment on Telegram only: DINKES's people have only WhatsApp numbers, so they cannot be warned yet; it
    gets no letter out of the blue at H+7 (its peringatan waits for WhatsApp). DISDIK, with no address at all in the
    roster, still has its letter drafted for hand delivery."""
    everyone_else_compliant(deps, datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    hook = make_letter_hook(deps.pemda, deps.calendar)
    telegram_only = frozenset({Channel.TELEGRAM})
    result = sweep(deps.db, deps.pemda, deps.calendar, at_local(date(2026, 12, 22)), letter_hook=hook,
                   sends_on=telegram_only)  # fmt: skip
    assert letters_of(deps, "DINKES") == [] and len(letters_of(deps, "DISDIK")) == 1
    dinkes = [p for p in result.planned if p.unit.code == "DINKES"]
    assert dinkes and {p.label for p in dinkes} == {"H+1 peringatan"} and all(p.channel is None for p in dinkes)
    # once WhatsApp is set up, the peringatan goes first and the letter follows in its turn
    first = sweep(deps.db, deps.pemda, deps.calendar, at_local(date(2026, 12, 22), 13), letter_hook=hook)
    assert {p.label for p in first.planned if p.unit.code == "DINKES"} == {"H+1 peringatan"}
    assert letters_of(deps, "DINKES") == []
