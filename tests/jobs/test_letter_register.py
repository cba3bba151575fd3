"""The letter register: wording read back from the PDF, idempotent drafts, gap-free numbers under concurrency."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
from datetime import UTC, date, datetime

import pytest
from docx import Document
from pypdf import PdfReader
from sqlmodel import Session, col, func, select

from jobs.letters import flow
from jobs.letters.register import LetterError, addressee, draft_letter, draft_letters, issue_number, shortfall
from models.app import Deps
from models.clock import FakeClock
from models.db import Database
from models.pemda import Stage
from models.standing import Standing, load_standings
from models.tables import Contact, Letter, LetterEvent, LetterSequence, Report, StoredFile, Unit

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


def approve(deps: Deps, letter: Letter, at: datetime = H_PLUS_7) -> Letter:
    """An admin approves the draft: it gets its number, its date and its final PDF."""
    with deps.db.uow() as uow:
        admin = uow.session.exec(select(Contact).where(Contact.role == "admin")).first()
        assert admin is not None and letter.id is not None
        flow.approve(uow.session, deps.pemda, deps.calendar, letter.id, admin, at)
        uow.commit()
        fresh = uow.session.get(Letter, letter.id)
        assert fresh is not None
        return fresh


async def test_a_draft_has_no_number_until_approved(deps: Deps) -> None:
    letter = draft(deps, "DINKES", "katalog")
    assert letter.number is None and letter.seq is None
    text = pdf_text(file_bytes(deps, letter.pdf_id))
    assert f"rancangan #{letter.id}" in text and "RANCANGAN" in text
    with deps.db.uow() as uow:
        assert uow.session.exec(select(func.count()).select_from(LetterSequence)).one() == 0
    numbered = approve(deps, letter)
    assert numbered.number == "000.8.3.3/1/ORG/2026" and numbered.letter_date == date(2026, 12, 22)
    assert numbered.pdf_id != letter.pdf_id
    assert "RANCANGAN" not in pdf_text(file_bytes(deps, numbered.pdf_id))


async def test_teguran1_pdf_names_number_addressee_perihal_and_shortfall(deps: Deps) -> None:
    letter = approve(deps, draft(deps, "DINKES", "katalog"))
    text = pdf_text(file_bytes(deps, letter.pdf_id))
    assert letter.number == "000.8.3.3/1/ORG/2026"
    for expected in (
        "PEMERINTAH KABUPATEN SUKAMAKMUR",
        "000.8.3.3/1/ORG/2026",
        "Sukamakmur, 22 Desember 2026",
        "Penting",
        "Yth. Kepala Dinas Kesehatan",
        "Teguran I atas keterlambatan Produk Tayang e-Katalog Lokal tahun 2026",
        "Dinas Kesehatan belum memenuhi kewajiban",
        "0 dari target 10 produk (kurang 10 produk)",
        "terlambat 7 hari (belum ada laporan yang masuk)",
        "Batas waktu 15 Desember 2026; terlambat 7 hari",
        # 7 working days after Tue 22 Dec, skipping 24 Dec (cuti bersama), Christmas, New Year, Isra Mikraj (5 Jan)
        "paling lambat tanggal 6 Januari 2027",
        "akan diterbitkan Surat Teguran II",
        "Ir. H. Bambang Wiratmaja, M.T.",
        "NIP. 196811201995031002",
        "Inspektur Daerah",
        # the legal basis: the Pemda's and the program's own
        "Dasar",
        "Peraturan Bupati Sukamakmur Nomor 12 Tahun 2025",
        "Peraturan Presiden Nomor 12 Tahun 2021",
    ):
        assert expected in text, expected
    assert "Bupati Sukamakmur (sebagai laporan)" not in text  # tembusan of Teguran II only
    # the Sekda signs, so the Sekda is not also a copy; no chat command in the formal text
    assert "Tembusan" in text and "1. Sekretaris Daerah" not in text
    assert "/lapor" not in text and " /" not in text
    assert letter.summary == "e-Katalog lokal: 0 dari target 10 produk"
    assert letter.new_deadline == date(2027, 1, 6)
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
    # the indicators are grouped under their program (a., b.), not numbered as separate demands
    assert "a. Indikator 1.1 RKPD dan APBD disusun melalui SIPD (Perencanaan dan Penganggaran)" in mcp
    assert "b. Indikator 1.2 Pokok pikiran DPRD terdokumentasi dalam SIPD" in mcp
    assert "2. Indikator" not in mcp

    camat = pdf_text(file_bytes(deps, draft(deps, "KEC-SUKAMAKM", "p3dn").pdf_id))
    assert "Yth. Camat Sukamakmur" in camat
    assert "realisasi belum dilaporkan (ambang minimal 40 %)" in camat


async def test_one_letter_per_unit_lists_every_program_behind(deps: Deps) -> None:
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "DINKES")).one()
        programs = [p for p in deps.pemda.programs if p.key in ("katalog", "p3dn", "inovasi")]
        standings = load_standings(uow.session, deps.pemda, [unit], deps.calendar.local_date(H_PLUS_7), programs)
        letters = draft_letters(
            uow.session, deps.pemda, deps.calendar, unit, list(standings.values()), TEGURAN1, H_PLUS_7
        )
        uow.commit()
    assert len(letters) == 1
    text = pdf_text(file_bytes(deps, letters[0].pdf_id))
    assert "3 kewajiban program prioritas daerah" in text
    perihal = " ".join(text.split("Perihal", 1)[1].split("Kepada")[0].split())  # the Perihal, however it wraps
    assert "kewajiban program prioritas daerah (" in perihal and ", bulan" not in perihal
    for title in ("Produk Tayang e-Katalog Lokal", "Belanja Produk UMK", "Rencana Aksi Inovasi Daerah"):
        assert title in text
    # a program that falls behind later joins the unit's open draft rather than a second letter
    mcp = draft(deps, "DINKES", "mcp") if _has_mcp(deps, "DINKES") else letters[0]
    assert mcp.id == letters[0].id
    # per = "program": one letter each
    per_program = deps.pemda.model_copy(update={"letters": deps.pemda.letters.model_copy(update={"per": "program"})})
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "DISDIK")).one()
        standings = load_standings(uow.session, deps.pemda, [unit], deps.calendar.local_date(H_PLUS_7), programs)
        split = draft_letters(
            uow.session, per_program, deps.calendar, unit, list(standings.values()), TEGURAN1, H_PLUS_7
        )
        uow.commit()
    assert len(split) == 3


def _has_mcp(deps: Deps, code: str) -> bool:
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == code)).one()
        program = deps.pemda.program("mcp")
        assert program is not None
        return bool(load_standings(uow.session, deps.pemda, [unit], date(2026, 12, 22), [program]))


async def test_teguran2_refers_to_teguran1_and_copies_the_bupati(deps: Deps) -> None:
    first = approve(deps, draft(deps, "DINKES", "katalog"))
    later = datetime(2026, 12, 29, 2, 0, tzinfo=UTC)
    second = approve(deps, draft(deps, "DINKES", "katalog", TEGURAN2, later), later)
    text = pdf_text(file_bytes(deps, second.pdf_id))
    assert second.number == "000.8.3.3/2/ORG/2026"
    assert f"Menindaklanjuti Surat Teguran I Nomor {first.number} tanggal 22 Desember 2026" in text
    assert "Teguran II atas keterlambatan" in text
    assert "Bupati Sukamakmur (sebagai laporan)" in text
    assert "akan dilaporkan kepada Bupati Sukamakmur" in text


async def test_a_kota_without_its_own_copies_list_copies_its_wali_kota_not_a_bupati(deps: Deps) -> None:
    """The default copies of a Teguran II name the Pemda's own head (a Kota's Wali Kota), never a Bupati."""
    pemda = deps.pemda.model_copy(
        update={
            "pemda": deps.pemda.pemda.model_copy(
                update={"head_title": "Wali Kota", "short_name": "Kota Teluk Damai", "place": "Teluk Damai"}
            ),
            "letters": deps.pemda.letters.model_copy(update={"tembusan_teguran2": None}),
        }
    )
    city = dataclasses.replace(deps, pemda=pemda)
    approve(city, draft(city, "DINKES", "katalog"))
    later = datetime(2026, 12, 29, 2, 0, tzinfo=UTC)
    text = pdf_text(file_bytes(city, approve(city, draft(city, "DINKES", "katalog", TEGURAN2, later), later).pdf_id))
    assert "Wali Kota Teluk Damai (sebagai laporan)" in text
    assert "akan dilaporkan kepada Wali Kota Teluk Damai" in text
    assert "Bupati" not in text.split("Tembusan")[-1]  # (the rest is the sample file's letterhead and signatory)
    assert pemda.tembusan_of("teguran2") == [
        "Wali Kota Teluk Damai (sebagai laporan)",
        "Sekretaris Daerah",
        "Inspektur",
    ]


async def test_drafting_again_returns_the_same_letter_and_the_same_bytes(deps: Deps) -> None:
    first = draft(deps, "DINKES", "katalog")
    pdf = file_bytes(deps, first.pdf_id)
    again = draft(deps, "DINKES", "katalog", at=datetime(2026, 12, 23, 6, 0, tzinfo=UTC))
    assert again.id == first.id and again.number == first.number is None
    assert file_bytes(deps, again.pdf_id) == pdf
    with deps.db.uow() as uow:
        session = uow.session
        assert session.exec(select(func.count()).select_from(Letter)).one() == 1
        assert session.exec(select(func.count()).select_from(StoredFile)).one() == 2
        events = session.exec(select(LetterEvent.status).where(LetterEvent.letter_id == first.id)).all()
    assert list(events) == ["draft"]
    assert first.sha256 == hashlib.sha256(pdf).hexdigest()


async def test_a_cancelled_draft_or_rolled_back_approval_burns_no_number(deps: Deps) -> None:
    with deps.db.uow() as uow:
        admin = uow.session.exec(select(Contact).where(Contact.role == "admin")).first()
        assert admin is not None
        letter = draft(deps, "DINKES", "katalog")
        assert letter.id is not None
        flow.approve(uow.session, deps.pemda, deps.calendar, letter.id, admin, H_PLUS_7)
        uow.rollback()
    cancelled = draft(deps, "DISDIK", "katalog")
    with deps.db.uow() as uow:
        admin = uow.session.exec(select(Contact).where(Contact.role == "admin")).first()
        assert admin is not None and cancelled.id is not None
        flow.cancel(uow.session, deps.pemda, cancelled.id, admin, H_PLUS_7, "salah data")
        uow.commit()
    assert approve(deps, draft(deps, "BAPPEDA", "katalog")).number == "000.8.3.3/1/ORG/2026"


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


def _approve_many(url: str, deps: Deps, ids: list[int], barrier: threading.Barrier) -> list[str]:
    """Approve drafts through a Database of its own, one transaction each (as two admins tapping at once)."""
    db = Database(url)
    numbers: list[str] = []
    try:
        barrier.wait(timeout=30)
        for letter_id in ids:
            with db.uow() as uow:
                admin = uow.session.exec(select(Contact).where(Contact.role == "admin")).first()
                assert admin is not None
                flow.approve(uow.session, deps.pemda, deps.calendar, letter_id, admin, H_PLUS_7)
                uow.commit()
                letter = uow.session.get(Letter, letter_id)
                assert letter is not None and letter.number is not None
                numbers.append(letter.number)
    finally:
        db.dispose()
    return numbers


async def test_concurrent_approvals_number_without_gap_or_duplicate(deps: Deps) -> None:
    codes = ["DINKES", "DISDIK", "BAPPEDA", "DPUPR", "BPKAD", "DINSOS"]
    ids = []
    for code in codes:
        with deps.db.uow() as uow:
            exists = uow.session.exec(select(Unit).where(Unit.code == code)).first()
        if exists is not None:
            letter = draft(deps, code, "katalog")
            assert letter.id is not None
            ids.append(letter.id)
    barrier = threading.Barrier(2)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(worker: int, mine: list[int]) -> None:
        try:
            results[worker] = _approve_many(deps.db.url, deps, mine, barrier)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(1, ids[0::2])), threading.Thread(target=work, args=(2, ids[1::2]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    numbers = sorted(results[1] + results[2], key=lambda n: int(n.split("/")[1]))
    assert numbers == [f"000.8.3.3/{i}/ORG/2026" for i in range(1, len(ids) + 1)]


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


async def test_a_percent_shortfall_reads_as_plain_indonesian(deps: Deps) -> None:
    """'realisasi 42,5 %, di bawah ambang minimal 45 %' — not 'realisasi belum ada laporan dari ambang minimal'."""
    program = deps.pemda.program("p3dn")
    assert program is not None
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == "DINKES")).one()
        assert unit.id is not None
        reported = Standing(program, unit.id, "2026-11", date(2026, 12, 15), 42.5, 45.0, None)
        section, summary = shortfall(uow.session, unit, reported)
        assert section.heading.replace("\u00a0", " ").endswith("realisasi 42,5 %, di bawah ambang minimal 45 %")
        assert summary.replace("\u00a0", " ") == f"{program.label}: 42,5 % (minimal 45 %)"
        silent, summary = shortfall(uow.session, unit, reported._replace(value=None))
        assert silent.heading.replace("\u00a0", " ").endswith("realisasi belum dilaporkan (ambang minimal 45 %)")
        assert summary.replace("\u00a0", " ") == f"{program.label}: belum dilaporkan (minimal 45 %)"


async def test_a_letter_signed_by_the_bupati_himself_names_the_region_not_the_town(deps: Deps) -> None:
    """Kabupaten Mambruk, letters dated at Ransiki Baru and signed by the Bupati (no NIP), with a long number format:
    'Bupati Mambruk' (not 'Bupati Ransiki Baru'), never copied to himself or told he will be reported to, no empty
    'NIP.' line, and the number on one line."""
    pemda = deps.pemda.model_copy(
        update={
            "pemda": deps.pemda.pemda.model_copy(
                update={
                    "short_name": "Kabupaten Mambruk",
                    "place": "Ransiki Baru",
                    "name": "Pemerintah Kabupaten Mambruk",
                }
            ),
            "signatory": deps.pemda.signatory.model_copy(
                update={"title": "BUPATI MAMBRUK,", "name": "Drs. Yan Piet Mambruk", "nip": "", "rank": ""}
            ),
            "letters": deps.pemda.letters.model_copy(
                update={
                    "tembusan_teguran2": None,
                    "number_format": "{nomor}/{klasifikasi}/SETDA-{kode_unit}/{bulan}/{tahun}",
                    "klasifikasi": "700.1.2",
                    "unit_code": "ORPEM",
                }
            ),
        }
    )
    regency = dataclasses.replace(deps, pemda=pemda)
    first = approve(regency, draft(regency, "DINKES", "katalog"))
    first_text = pdf_text(file_bytes(regency, first.pdf_id))
    assert "akan diterbitkan Surat Teguran II." in first_text and "tembusan kepada Bupati" not in first_text
    later = datetime(2026, 12, 29, 2, 0, tzinfo=UTC)
    second = approve(regency, draft(regency, "DINKES", "katalog", TEGURAN2, later), later)
    text = pdf_text(file_bytes(regency, second.pdf_id))
    assert "Ransiki Baru (sebagai laporan)" not in text and "Bupati Ransiki" not in text
    assert "dilaporkan kepada" not in text and "akan menjadi bahan evaluasi kinerja" in text
    copies = text.split("Tembusan")[-1]
    assert "Bupati Mambruk" not in copies and "Sekretaris Daerah" in copies  # not copied to the one who signs
    assert "NIP." not in text
    assert second.number is not None and second.number in text.replace("\n", " ")
    assert any(second.number in line for line in text.splitlines())  # on one line
    assert pemda.pemda.head == "Bupati Mambruk"


def test_a_distrik_is_addressed_to_its_kepala_distrik() -> None:
    assert addressee(Unit(code="D-RANSIKI", name="Distrik Ransiki", kind="kecamatan")) == "Kepala Distrik Ransiki"
    assert addressee(Unit(code="KEC-A", name="Kecamatan Sukamakmur", kind="kecamatan")) == "Camat Sukamakmur"
