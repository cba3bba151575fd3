"""What the page tests set up through the core, as people would: evidence sent by chat, letters drafted by the
ladder's own function, a contact given a Telegram id (so the outbox can reach them)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from bot.console import LocalFiles
from jobs.letters import flow
from jobs.letters.register import draft_letter
from models.app import Deps
from models.messages import Channel
from models.standing import load_standings
from models.tables import Contact, Evidence, Letter, Unit
from tests.conftest import console_person, contact_named
from tests.fakes import evidence_files as files

INDAH = "Indah Maulana"  # operator, Bagian Pengadaan Barang dan Jasa (answers for MCP 2.1 and 2.2)
PUTRI = "Putri Lestari"  # kepala, Inspektorat Daerah: verifies MCP
DODI = "Dodi Kusnadi"  # admin of Bagian Pengadaan Barang dan Jasa: verifies katalog and P3DN
EKO = "Eko Hidayat"  # operator, Dinas Kesehatan
CAMAT_CIBEUREUM = "Asep Kurniawan"


def reachable(deps: Deps, name: str, telegram_id: str) -> None:
    """Give a roster contact a Telegram id, so messages queued for them have somewhere to go."""
    with deps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
        contact.telegram_user_id = telegram_id
        uow.session.add(contact)
        uow.commit()


async def send_evidence(deps: Deps, folder: Path, name: str, caption: str, filename: str = "bukti.pdf") -> int:
    """`name` sends a PDF by chat (the console's /bukti) with `caption`; the id of the evidence it became."""
    deps.files[Channel.CONSOLE] = LocalFiles()
    path = folder / filename
    path.write_bytes(files.pdf(f"{caption} {name}"))
    answer = await console_person(deps, name).text(f"/bukti {caption} '{path}'")
    assert answer.startswith("✅ Bukti dukung diterima"), answer
    with deps.db.uow() as uow:
        found = uow.session.exec(select(Evidence.id).order_by(col(Evidence.id).desc())).first()
    assert found is not None
    return found


def evidence_status(deps: Deps, evidence_id: int) -> str:
    """'menunggu', 'sah' or 'ditolak'."""
    with deps.db.uow() as uow:
        evidence = uow.session.get(Evidence, evidence_id)
        assert evidence is not None
        return evidence.status


def draft(deps: Deps, code: str, program_key: str = "katalog", stage_kind: str = "teguran1") -> int:
    """A warning letter drafted for `code` as the sweep drafts it (the unit must be behind); its id."""
    now = deps.clock.now()
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == code)).one()
        program = deps.pemda.program(program_key)
        assert program is not None and unit.id is not None
        standing = load_standings(uow.session, deps.pemda, [unit], deps.calendar.local_date(now), [program])
        stage = next(s for s in deps.pemda.ladder_of(program) if s.kind == stage_kind)
        letter = draft_letter(
            uow.session, deps.pemda, deps.calendar, unit, standing[(unit.id, program.key)], stage, now
        )
        uow.commit()
        assert letter.id is not None
        return letter.id


def approve(deps: Deps, letter_id: int, by: str = "Rina Marlina") -> None:
    """Approve a draft the way /teguran setujui does."""
    with deps.db.uow() as uow:
        me = contact_named(deps, by)
        flow.approve(uow.session, deps.pemda, deps.calendar, letter_id, me, deps.clock.now())
        uow.commit()


def letter_status(deps: Deps, letter_id: int) -> str:
    """The letter's status now."""
    with deps.db.uow() as uow:
        letter = uow.session.get(Letter, letter_id)
        assert letter is not None
        return letter.status
