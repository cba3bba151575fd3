"""Warning letters as a user trial found them: what /jejak shows of a unit's letters, whom a letter is copied to,
what the register says of a letter that no longer needs delivering, and the replies around a letter."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from sqlmodel import col, select

from models.app import Deps
from models.clock import FakeClock
from models.messages import Channel
from models.tables import AuditLog, Contact, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, PIMPINAN, console_person
from tests.handlers.test_letters_flow import H_PLUS_7, fresh, run_hook
from tests.jobs.test_letter_register import TEGURAN2, approve, draft, file_bytes, pdf_text

TELEGRAM_ONLY = frozenset({Channel.TELEGRAM})  # DINKES's people have only WhatsApp numbers: letters go on paper


def audit_rows(deps: Deps, action: str) -> list[AuditLog]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))))


async def test_a_unit_s_letter_actions_show_in_its_trail_once(deps: Deps, clock: FakeClock) -> None:
    clock.set(H_PLUS_7)
    deps.sends_on = TELEGRAM_ONLY
    letter = run_hook(deps)
    admin = console_person(deps, ADMIN)
    assert "disetujui" in await admin.text(f"/teguran setujui {letter.id}")
    assert "tercatat diantar langsung" in await admin.text(f"/teguran diantar {letter.id}")
    again = await admin.text(f"/teguran diantar {letter.id}")
    assert "sudah tercatat diantar langsung. Tidak ada yang perlu dilakukan lagi" in again
    assert fresh(deps, letter.id).status == "received"

    trail = await admin.text("/jejak dinkes")
    assert f"surat teguran #{letter.id} disetujui" in trail
    assert trail.count(f"surat teguran #{letter.id} dicatat diantar langsung") == 1  # the repeat left no row
    assert len(audit_rows(deps, "letter.hand_delivered")) == 1
    assert f"surat teguran #{letter.id}" not in await admin.text("/jejak disdik")


async def test_mass_approval_records_which_letters_it_approved(deps: Deps, clock: FakeClock) -> None:
    clock.set(H_PLUS_7)
    first, second = run_hook(deps, "DINKES"), run_hook(deps, "DISDIK")
    admin = console_person(deps, ADMIN)
    (question,) = await admin.say("/teguran setujui semua")
    await admin.say("Ya, setujui", payload=question.buttons[0].payload)
    (row,) = audit_rows(deps, "letter.approved_all")
    assert json.loads(row.detail) == {
        "upto": second.id, "count": 2, "letters": [first.id, second.id], "units": ["DINKES", "DISDIK"]
    }  # fmt: skip
    for code in ("dinkes", "disdik"):  # one entry about both units shows in each unit's trail
        assert "2 surat teguran yang menunggu disetujui (DINKES, DISDIK)" in await admin.text(f"/jejak {code}")
    assert "surat teguran yang menunggu disetujui" not in await admin.text("/jejak bappeda")


async def test_the_signing_office_is_not_copied_however_the_pemda_file_writes_it(deps: Deps) -> None:
    """Teluk Wondama's Sekda signs; its copies list the Sekda with the region's name, in another case and spacing."""
    pemda = deps.pemda.model_copy(
        update={
            "pemda": deps.pemda.pemda.model_copy(
                update={"name": "Pemerintah Kabupaten Teluk Wondama", "short_name": "Kabupaten Teluk Wondama"}
            ),
            "signatory": deps.pemda.signatory.model_copy(
                update={"title": "a.n. BUPATI TELUK WONDAMA\nSEKRETARIS DAERAH,"}
            ),
            "letters": deps.pemda.letters.model_copy(
                update={
                    "tembusan_teguran1": [
                        "Sekretaris Daerah Kabupaten Teluk Wondama",
                        "Inspektur Kabupaten Teluk Wondama",
                    ],
                    "tembusan_teguran2": ["Bupati Teluk Wondama (sebagai laporan)", "SEKRETARIS  DAERAH Teluk Wondama"],
                }
            ),
        }
    )
    wondama = dataclasses.replace(deps, pemda=pemda)
    first = approve(wondama, draft(wondama, "DINKES", "katalog"))
    copies = pdf_text(file_bytes(wondama, first.pdf_id)).split("Tembusan:")[-1]
    assert "1. Inspektur Kabupaten Teluk Wondama" in copies
    assert "Sekretaris Daerah" not in copies and "2." not in copies
    later = datetime(2026, 12, 29, 2, 0, tzinfo=UTC)
    second = approve(wondama, draft(wondama, "DINKES", "katalog", TEGURAN2, later), later)
    copies = pdf_text(file_bytes(wondama, second.pdf_id)).split("Tembusan:")[-1]
    assert "1. Bupati Teluk Wondama (sebagai laporan)" in copies and "2." not in copies


async def test_the_register_says_a_letter_no_longer_needs_delivering(deps: Deps, clock: FakeClock) -> None:
    """Approved letters wait to be handed over; then DINKES meets the program and DISDIK is dispensed: their lines
    suggest cancelling instead of delivering, while BAPPEDA's letter still has to be taken there."""
    clock.set(H_PLUS_7)
    deps.sends_on = TELEGRAM_ONLY
    admin = console_person(deps, ADMIN)
    letters = {code: run_hook(deps, code) for code in ("DINKES", "DISDIK", "BAPPEDA")}
    for letter in letters.values():
        assert "antar langsung" in await admin.text(f"/teguran setujui {letter.id}")
    dinkes, disdik, bappeda = (letters[code].id for code in ("DINKES", "DISDIK", "BAPPEDA"))
    listing = await admin.text("/teguran")
    assert f"⚠️ tanpa penerima di Sigap: antar langsung, lalu /teguran diantar {dinkes}" in listing

    clock.set(datetime(2026, 12, 23, 3, 0, tzinfo=UTC))
    assert "Tercatat" in await console_person(deps, KEPALA_DINKES).text("/lapor katalog 10")
    assert "dispensasi" in await admin.text("/dispensasi disdik katalog pindah gedung")
    lines = {line.split("]")[0]: line for line in (await admin.text("/teguran")).splitlines() if line.startswith("• [")}
    assert lines[f"• [{dinkes}"].endswith(
        "✅ Unit sudah memenuhi e-Katalog lokal tahun 2026 sejak 23 Des 2026: surat tidak perlu diantar; "
        f"batalkan dengan /teguran batal {dinkes}"
    )
    assert lines[f"• [{disdik}"].endswith(
        f"✅ Unit mendapat dispensasi e-Katalog lokal tahun 2026: surat tidak perlu diantar; batalkan dengan "
        f"/teguran batal {disdik}"
    )
    assert lines[f"• [{bappeda}"].endswith(
        f"⚠️ tanpa penerima di Sigap: antar langsung, lalu /teguran diantar {bappeda}"
    )
    seen = await console_person(deps, PIMPINAN).text("/teguran")  # the pimpinan may not cancel: no command
    assert "/teguran batal" not in seen and "tidak perlu diantar" in seen


def unreachable(deps: Deps, code: str, *, registered: bool = True) -> None:
    """Nobody of the unit `code` can be reached on chat: no numbers left, or (not `registered`) nobody active."""
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == code)).one()
        for contact in uow.session.exec(select(Contact).where(Contact.unit_id == unit.id)).all():
            contact.wa_number, contact.telegram_user_id = None, None
            contact.active = registered
            uow.session.add(contact)
        uow.commit()


async def test_replies_around_letters_say_plainly_who_is_missing_and_what_goes_by_hand(
    deps: Deps, clock: FakeClock
) -> None:
    clock.set(H_PLUS_7)
    unreachable(deps, "DISDIK")
    unreachable(deps, "BAPPEDA", registered=False)
    drafts = {code: run_hook(deps, code) for code in ("DINKES", "DISDIK", "BAPPEDA")}
    admin = console_person(deps, ADMIN)

    (question,) = await admin.say("/teguran setujui semua")
    assert question.text == (
        "Setujui 3 surat (3 Teguran I)? Setiap surat diberi nomor agenda; 1 langsung dikirim ke unitnya lewat Sigap, "
        "2 perlu diantar langsung karena unitnya belum punya penerima di Sigap."
    )
    bappeda = drafts["BAPPEDA"].id
    reply = await admin.text(f"/teguran setujui {bappeda}")
    assert "disetujui, tetapi untuk Badan Perencanaan" in reply
    assert "belum ada kepala maupun operator yang terdaftar di Sigap. Mohon ambil PDF-nya" in reply
    assert "(tidak ada)" not in reply
    (question,) = await admin.say("/teguran setujui semua")
    assert (
        "Setiap surat diberi nomor agenda; 1 langsung dikirim ke unitnya lewat Sigap, 1 perlu diantar" in question.text
    )

    await admin.text(f"/teguran diantar {bappeda}")
    assert (
        f"Surat Teguran I nomor {fresh(deps, bappeda).number} sudah diantar langsung ke unitnya, jadi tidak dapat "
        "dibatalkan lagi." in await admin.text(f"/teguran batal {bappeda}")
    )
    await admin.text(f"/teguran setujui {drafts['DINKES'].id}")
    assert "sudah dikirim ke unitnya" in await admin.text(f"/teguran batal {drafts['DINKES'].id}")
    await admin.text(f"/teguran setujui {drafts['DISDIK'].id}")
    (question,) = await admin.say("/teguran setujui semua")
    assert question.text == "Tidak ada surat yang menunggu persetujuan."
