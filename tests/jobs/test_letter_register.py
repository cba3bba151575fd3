"""The letter register: wording read back from the PDF, idempotent drafts, gap-free numbers under concurrency."""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import UTC, datetime

import pytest
from docx import Document
from pypdf import PdfReader
from sqlmodel import Session, col, func, select

from jobs.letters.register import LetterError, draft_letter, issue_number
from models.app import Deps
from models.clock import FakeClock
from models.db import Database
from models.pemda import Stage
from models.standing import Standing, load_standings
from models.tables import Letter, LetterEvent, LetterSequence, Report, StoredFile, Unit

# Tuesday 22 December 2026, 09:00 WIB: H+7 of the 15 December deadline
H_PLUS_7 = datetime(2026, 12, 22, 2, 0, tzinfo=UTC)
TEGURAN1 = Stage(offset_days=7, kind="teguran1", recipients=["unit", "admin", "pimpinan"])
TEGURAN2 = Stage(offset_days=14, kind="teguran2", recipients=["unit", "admin", "pimpinan"])


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace collapsed."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def docx_text(data: bytes) -> str:
    """The DOCX's paragraph and table text, whitespace collapsed."""
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                parts.extend(p.text for p in cell.paragraphs)
    return " ".join(" ".join(parts).split())


def unit_and_standing(session: Session, deps: Deps, code: str, program: str, at: datetime) -> tuple[Unit, Standing]:
    """The unit with `code` and where it stands on `program` at `at`."""
    unit = session.exec(select(Unit).where(Unit.code == code)).one()
    config = deps.pemda.program(program)
    assert config is not None
    standings = load_standings(session, deps.pemda, [unit], deps.calendar.local_date(at), [config])
    return unit, standings[(unit.id or 0, program)]


def draft(deps: Deps, code: str, program: str, stage: Stage = TEGURAN1, at: datetime = H_PLUS_7) -> Letter:
    """Draft and commit the letter of `stage` to `code` about `program`."""
    with deps.db.uow() as uow:
        unit, standing = unit_and_standing(uow.session, deps, code, program, at)
        letter = draft_letter(uow.session, deps.pemda, deps.calendar, unit, standing, stage, at)
        uow.commit()
    return letter


def file_bytes(deps: Deps, file_id: int | None) -> bytes:
    """The stored bytes of a letter file."""
    with deps.db.uow() as uow:
        row = uow.session.get(StoredFile, file_id)
        assert row is not None
        return row.content


async def test_teguran1_pdf_names_number_addressee_perihal_and_shortfall(deps: Deps) -> None:
    letter = draft(deps, "DINKES", "katalog")
    text = pdf_text(file_bytes(deps, letter.pdf_id))
    assert letter.number == "000.8.3.3/1/ORG/2026"
    for expected in (
        "PEMERINTAH KABUPATEN SUKAMAKMUR",
        "Nomor : 000.8.3.3/1/ORG/2026",
        "Sukamakmur, 22 Desember 2026",
        "Sifat : Penting",
        "Yth. Kepala Dinas Kesehatan",
        "Teguran I atas keterlambatan Produk Tayang e-Katalog Lokal tahun 2026",
        "Dinas Kesehatan belum memenuhi kewajiban",
        "0 dari target 10 produk (kurang 10 produk)",
        "terlambat 7 hari (belum ada laporan yang masuk)",
        "Batas waktu 15 Desember 2026; sampai hari ini terlambat 7 hari",
        # 7 working days after Tue 22 Dec, skipping 24 Dec (cuti bersama), Christmas, New Year, Isra Mikraj (5 Jan)
        "paling lambat tanggal 6 Januari 2027",
        "akan diterbitkan Surat Teguran II",
        "Ir. H. Bambang Wiratmaja, M.T.",
        "NIP. 196811201995031002",
        "Sekretaris Daerah",
        "Inspektur Daerah",
    ):
        assert expected in text, expected
    assert "Bupati Sukamakmur (sebagai laporan)" not in text  # tembusan of Teguran II only
    assert letter.summary == "e-Katalog lokal: 0 dari target 10 produk"
    docx = docx_text(file_bytes(deps, letter.docx_id))
    assert "000.8.3.3/1/ORG/2026" in docx and "Yth. Kepala Dinas Kesehatan" in docx


async def test_last_reported_value_mcp_indicators_and_camat_addressee(deps: Deps, clock: FakeClock) -> None:
    with deps.db.uow() as uow:
        dinkes = uow.session.exec(select(Unit).where(Unit.code == "DINKES")).one()
        assert dinkes.id is not None
        uow.session.add(
            Report(
                unit_id=dinkes.id,
                program_key="katalog",
                period="2026",
                value=4,
                channel="console",
                created_at=clock.now(),
            )
        )
        uow.commit()
    katalog = pdf_text(file_bytes(deps, draft(deps, "DINKES", "katalog").pdf_id))
    assert "4 dari target 10 produk (kurang 6 produk)" in katalog
    assert "laporan terakhir tanggal 23 November 2026" in katalog

    mcp = pdf_text(file_bytes(deps, draft(deps, "BAPPEDA", "mcp").pdf_id))
    assert "Yth. Kepala Badan Perencanaan Pembangunan, Riset dan Inovasi Daerah" in mcp
    assert "0 dari 2 indikator selesai" in mcp
    assert "Indikator 1.1 RKPD dan APBD disusun melalui SIPD (Perencanaan dan Penganggaran)" in mcp
    assert "Indikator 1.2 Pokok pikiran DPRD terdokumentasi dalam SIPD" in mcp

    camat = pdf_text(file_bytes(deps, draft(deps, "KEC-SUKAMAKM", "p3dn").pdf_id))
    assert "Yth. Camat Sukamakmur" in camat
    assert "realisasi belum ada laporan dari ambang minimal 40 %" in camat


async def test_teguran2_refers_to_teguran1_and_copies_the_bupati(deps: Deps) -> None:
    first = draft(deps, "DINKES", "katalog")
    second = draft(deps, "DINKES", "katalog", TEGURAN2, datetime(2026, 12, 29, 2, 0, tzinfo=UTC))
    text = pdf_text(file_bytes(deps, second.pdf_id))
    assert second.number == "000.8.3.3/2/ORG/2026"
    assert f"Menindaklanjuti Surat Teguran I Nomor {first.number} tanggal 22 Desember 2026" in text
    assert "Teguran II atas keterlambatan" in text
    assert "Bupati Sukamakmur (sebagai laporan)" in text
    assert "akan dilaporkan kepada Bupati Sukamakmur" in text


async def test_drafting_again_returns_the_same_letter_and_the_same_bytes(deps: Deps) -> None:
    first = draft(deps, "DINKES", "katalog")
    pdf = file_bytes(deps, first.pdf_id)
    again = draft(deps, "DINKES", "katalog", at=datetime(2026, 12, 23, 6, 0, tzinfo=UTC))
    assert again.id == first.id and again.number == first.number
    assert file_bytes(deps, again.pdf_id) == pdf
    with deps.db.uow() as uow:
        session = uow.session
        assert session.exec(select(func.count()).select_from(Letter)).one() == 1
        assert session.exec(select(func.count()).select_from(StoredFile)).one() == 2
        assert session.exec(select(LetterSequence.last).where(LetterSequence.year == 2026)).one() == 1
        events = session.exec(select(LetterEvent.status).where(LetterEvent.letter_id == first.id)).all()
    assert list(events) == ["draft"]
    assert first.sha256 == hashlib.sha256(pdf).hexdigest()


async def test_a_rolled_back_letter_burns_no_number(deps: Deps) -> None:
    with deps.db.uow() as uow:
        unit, standing = unit_and_standing(uow.session, deps, "DINKES", "katalog", H_PLUS_7)
        letter = draft_letter(uow.session, deps.pemda, deps.calendar, unit, standing, TEGURAN1, H_PLUS_7)
        assert letter.seq == 1
        uow.rollback()
    assert draft(deps, "DISDIK", "katalog").number == "000.8.3.3/1/ORG/2026"


async def test_a_stage_that_is_no_teguran_or_a_format_without_number_is_refused(deps: Deps) -> None:
    with deps.db.uow() as uow:
        unit, standing = unit_and_standing(uow.session, deps, "DINKES", "katalog", H_PLUS_7)
        with pytest.raises(LetterError, match="bukan surat teguran"):
            warning = Stage(offset_days=1, kind="peringatan")
            draft_letter(uow.session, deps.pemda, deps.calendar, unit, standing, warning, H_PLUS_7)
        no_number = deps.pemda.model_copy(
            update={"letters": deps.pemda.letters.model_copy(update={"number_format": "{klasifikasi}/{tahun}"})}
        )
        with pytest.raises(LetterError, match=r"\{nomor\}"):
            draft_letter(uow.session, no_number, deps.calendar, unit, standing, TEGURAN1, H_PLUS_7)


def _issue_many(url: str, worker: int, count: int, unit_id: int, barrier: threading.Barrier) -> list[int]:
    """Issue `count` letters through a Database of its own, one transaction each."""
    db = Database(url)
    seqs: list[int] = []
    try:
        barrier.wait(timeout=30)
        for index in range(count):
            with db.uow() as uow:
                seq = issue_number(uow.session, 2026)
                uow.session.add(
                    Letter(
                        year=2026,
                        seq=seq,
                        number=f"000.8.3.3/{seq}/ORG/2026",
                        unit_id=unit_id,
                        program_key="katalog",
                        period=f"w{worker}-{index}",
                        stage="teguran1",
                        created_at=H_PLUS_7,
                    )
                )
                uow.commit()
            seqs.append(seq)
    finally:
        db.dispose()
    return seqs


async def test_two_processes_issuing_at_once_get_numbers_without_gap_or_duplicate(deps: Deps) -> None:
    with deps.db.uow() as uow:
        unit_id = uow.session.exec(select(Unit.id).where(Unit.code == "DINKES")).one()
    assert unit_id is not None
    barrier = threading.Barrier(2)
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            results[worker] = _issue_many(deps.db.url, worker, 20, unit_id, barrier)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(results[1] + results[2]) == list(range(1, 41))
    with deps.db.uow() as uow:
        seqs = uow.session.exec(select(Letter.seq).order_by(col(Letter.seq))).all()
        last = uow.session.exec(select(LetterSequence.last).where(LetterSequence.year == 2026)).one()
    assert list(seqs) == list(range(1, 41)) and last == 40
    # the next year starts again at 1
    with deps.db.uow() as uow:
        assert issue_number(uow.session, 2027) == 1
