"""The letter register: gap-free numbers per year, the wording of a warning letter, and its archived files.

A letter is numbered, worded, rendered (PDF + DOCX) and stored in the caller's transaction, so a
rolled-back letter burns no number. Asking again for the same (unit, program, period, stage) returns
the letter already in the register, with its stored bytes; nothing is rendered twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

from babel.numbers import format_decimal
from sqlalchemy import text
from sqlmodel import Session, col, select

from jobs.letters import content as lc
from jobs.letters.docx import render_docx
from jobs.letters.pdf import render_pdf
from models.calendar import WorkingCalendar
from models.fmt import periode
from models.ladder import STAGE_NAMES, TEGURAN_KINDS
from models.pemda import PemdaConfig, Stage
from models.standing import Standing
from models.tables import ChecklistItem, Letter, LetterEvent, LetterStatus, StoredFile, Unit

PDF_MIME = "application/pdf"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
STAGE_LABELS = {kind: STAGE_NAMES[kind].removeprefix("Surat ") for kind in TEGURAN_KINDS}
"""'Teguran I', 'Teguran II': a letter's stage as its title and the register name it."""


class LetterError(Exception):
    """A letter cannot be drafted as asked (unknown stage, bad numbering format); the message says why."""


def issue_number(session: Session, year: int) -> int:
    """The next number of `year`'s register, in the caller's transaction: no gap, no duplicate.

    The year's row is created if missing (ON CONFLICT DO NOTHING), then locked (`FOR UPDATE`) and
    bumped; a second process waits for the first to commit or roll back. On SQLite the insert
    takes the database write lock, which serialises issuers the same way.
    """
    session.execute(
        text("INSERT INTO letter_sequence (year, last) VALUES (:year, 0) ON CONFLICT (year) DO NOTHING"),
        {"year": year},
    )
    lock = "" if session.get_bind().dialect.name == "sqlite" else " FOR UPDATE"
    last = session.execute(
        text(f"SELECT last FROM letter_sequence WHERE year = :year{lock}"), {"year": year}
    ).scalar_one()
    number = int(last) + 1
    session.execute(text("UPDATE letter_sequence SET last = :last WHERE year = :year"), {"last": number, "year": year})
    return number


def find_letter(session: Session, unit_id: int, program_key: str, period: str, stage: str) -> Letter | None:
    """The letter already in the register for this unit, program, period and stage."""
    return session.exec(
        select(Letter).where(
            Letter.unit_id == unit_id,
            Letter.program_key == program_key,
            Letter.period == period,
            Letter.stage == stage,
        )
    ).first()


def stored(session: Session, file_id: int | None) -> StoredFile:
    """A stored file by id (a letter's PDF or DOCX)."""
    row = session.get(StoredFile, file_id) if file_id is not None else None
    if row is None:
        raise LetterError(f"berkas surat {file_id} tidak ada di arsip")
    return row


def record_event(session: Session, letter: Letter, status: str, at: datetime, actor_id: int | None, note: str) -> None:
    """Add one step to the letter's history."""
    assert letter.id is not None
    session.add(LetterEvent(letter_id=letter.id, at=at, actor_id=actor_id, status=status, note=note[:300]))


def draft_letter(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    unit: Unit,
    standing: Standing,
    stage: Stage,
    at: datetime,
    *,
    actor_id: int | None = None,
) -> Letter:
    """Draft, number, render and archive the warning letter of `stage`; the existing one if already drafted."""
    if stage.kind not in TEGURAN_KINDS:
        raise LetterError(f"tahap {stage.kind!r} bukan surat teguran")
    assert unit.id is not None
    existing = find_letter(session, unit.id, standing.program.key, standing.period, stage.kind)
    if existing is not None:
        return existing
    today = calendar.local_date(at)
    year = today.year
    seq = issue_number(session, year)
    config = pemda.letters
    if "{nomor" not in config.number_format:
        raise LetterError("letters.number_format harus memuat {nomor}, agar setiap surat bernomor unik")
    try:
        number = lc.letter_number(
            config.number_format,
            klasifikasi=config.klasifikasi,
            nomor=seq,
            kode_unit=config.unit_code,
            tahun=year,
            unit=unit.code,
            bulan=today.month,
        )
    except ValueError as exc:
        raise LetterError(f"letters.number_format tidak dapat diisi: {exc}") from exc
    wording = word_letter(session, pemda, calendar, unit, standing, stage, today, number)
    pdf = render_pdf(wording.content)
    docx = render_docx(wording.content)
    base = _filename(wording.content.stage_label, unit.code, standing.program.key, standing.period, seq)
    pdf_file = _store(session, f"{base}.pdf", PDF_MIME, pdf, at)
    docx_file = _store(session, f"{base}.docx", DOCX_MIME, docx, at)
    letter = Letter(
        year=year,
        seq=seq,
        number=number,
        unit_id=unit.id,
        program_key=standing.program.key,
        period=standing.period,
        stage=stage.kind,
        status=LetterStatus.DRAFT.value,
        pdf_id=pdf_file.id,
        docx_id=docx_file.id,
        sha256=pdf_file.sha256,
        summary=wording.summary,
        created_at=at,
    )
    session.add(letter)
    session.flush()
    record_event(session, letter, LetterStatus.DRAFT.value, at, actor_id, f"dirancang: {wording.summary}")
    session.flush()
    return letter


def _store(session: Session, filename: str, mime: str, content: bytes, at: datetime) -> StoredFile:
    row = StoredFile(
        filename=filename, mime=mime, sha256=hashlib.sha256(content).hexdigest(), content=content, created_at=at
    )
    session.add(row)
    session.flush()
    return row


def _filename(stage_label: str, unit_code: str, program_key: str, period: str, seq: int) -> str:
    raw = f"Surat-{stage_label}-{unit_code}-{program_key}-{period}-{seq:04d}".replace(" ", "-")
    return re.sub(r"[^A-Za-z0-9._-]", "-", raw)


# --------------------------------------------------------------------------- wording


@dataclass(frozen=True)
class Wording:
    """The letter's content and a one-line summary of what is missing."""

    content: lc.LetterContent
    summary: str


def angka(value: float) -> str:
    """'1.234' or '42,5' (at most two decimals)."""
    return str(format_decimal(round(value, 2), format="#,##0.##", locale="id"))


def addressee(unit: Unit) -> str:
    """Who heads `unit`, as written after 'Yth.': 'Kepala Dinas Kesehatan', 'Camat Sukamakmur', ..."""
    name = unit.name.strip()
    kind = unit.kind
    if kind == "kecamatan":
        return "Camat " + name.removeprefix("Kecamatan ").strip()
    if kind == "kelurahan":
        return "Lurah " + name.removeprefix("Kelurahan ").strip()
    if kind == "desa":
        return "Kepala Desa " + name.removeprefix("Desa ").strip()
    if kind == "sekretariat" and name.startswith("Sekretariat"):
        return "Sekretaris" + name.removeprefix("Sekretariat")
    if kind == "inspektorat" and name.startswith("Inspektorat"):
        return "Inspektur" + name.removeprefix("Inspektorat")
    if kind == "rsud":
        return "Direktur " + name
    return "Kepala " + name


def shortfall(session: Session, unit: Unit, standing: Standing) -> tuple[list[str], str]:
    """The missing items printed in the letter, and a one-line summary."""
    program = standing.program
    label = f" {program.unit_label}" if program.unit_label and program.measure != "percent" else ""
    value = standing.value
    if program.measure == "percent":
        shown = "belum ada laporan" if value is None else f"{angka(value)} %"
        line = f"{program.title}: realisasi {shown} dari ambang minimal {angka(standing.target)} %"
        return [line], f"{program.label}: {shown} dari minimal {angka(standing.target)} %"
    if program.measure == "checklist":
        titles = {
            item.code: (item.title, item.area)
            for item in session.exec(
                select(ChecklistItem).where(
                    ChecklistItem.program_key == program.key,
                    ChecklistItem.period == standing.period,
                    ChecklistItem.unit_id == unit.id,
                )
            ).all()
        }
        head = (
            f"{program.title}: {angka(value or 0)} dari {angka(standing.target)} indikator selesai; "
            "indikator yang belum selesai:"
        )
        items = [head]
        for code in standing.open_items:
            title, area = titles.get(code, ("", ""))
            items.append(f"Indikator {code} {title} ({area}): bukti dukung belum lengkap".replace(" ()", ""))
        return items, f"{program.label}: {angka(value or 0)} dari {angka(standing.target)} indikator selesai"
    got = 0.0 if value is None else value
    missing = max(standing.target - got, 0)
    line = f"{program.title}: {angka(got)} dari target {angka(standing.target)}{label}"
    if program.measure == "submission":
        line += " diajukan"
    line += f" (kurang {angka(missing)}{label})"
    return [line], f"{program.label}: {angka(got)} dari target {angka(standing.target)}{label}"


def word_letter(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    unit: Unit,
    standing: Standing,
    stage: Stage,
    today: date,
    number: str,
) -> Wording:
    """The full content of the warning letter of `stage` to `unit` about `standing`."""
    program = standing.program
    config = pemda.letters
    stage_label = STAGE_LABELS[stage.kind]
    head = f"{pemda.pemda.head_title} {pemda.pemda.place}"
    late = max((today - standing.deadline).days, 0)
    items, summary = shortfall(session, unit, standing)
    last = (
        f"laporan terakhir tanggal {lc.format_date_id(calendar.local_date(standing.last_report_at))}"
        if standing.last_report_at is not None
        else "belum ada laporan yang masuk"
    )
    items.append(f"Batas waktu {lc.format_date_id(standing.deadline)}; sampai hari ini terlambat {late} hari ({last})")
    previous = ""
    if stage.kind == "teguran2":
        first = find_letter(session, unit.id or 0, program.key, standing.period, "teguran1")
        if first is not None and first.status != "cancelled":
            previous = (
                f"Menindaklanjuti Surat Teguran I Nomor {first.number} tanggal "
                f"{lc.format_date_id(calendar.local_date(first.created_at))}, "
            )
    opening = (
        f"{previous}{'b' if previous else 'B'}erdasarkan hasil pemantauan melalui aplikasi Sigap sampai dengan "
        f"tanggal {lc.format_date_id(today)}, {unit.name} belum memenuhi kewajiban {program.title} "
        f"{periode(standing.period)}, dengan rincian sebagai berikut:"
    )
    new_deadline = calendar.add_working_days(today, config.new_deadline_working_days)
    action = (
        "Sehubungan dengan hal tersebut, Saudara diminta segera memenuhi kekurangan di atas dan melaporkan "
        f"pemenuhannya melalui aplikasi Sigap (perintah /lapor {program.key})"
    )
    if stage.kind == "teguran1":
        consequence = (
            "Apabila sampai dengan batas waktu tersebut kewajiban belum dipenuhi, akan diterbitkan Surat Teguran II "
            f"dengan tembusan kepada {head}."
        )
        tembusan = config.tembusan_teguran1
    else:
        consequence = (
            "Apabila sampai dengan batas waktu tersebut kewajiban belum dipenuhi, hal ini akan dilaporkan kepada "
            f"{head} sebagai bahan evaluasi kinerja dan pembinaan lebih lanjut sesuai ketentuan peraturan "
            "perundang-undangan."
        )
        tembusan = config.tembusan_teguran2
    letterhead = pemda.letterhead
    signatory = pemda.signatory
    content = lc.LetterContent(
        letterhead=lc.Letterhead(
            pemda_name=pemda.pemda.name,
            office_name=letterhead.office,
            address=letterhead.address,
            contact_line=letterhead.contact_line,
            logo_path=letterhead.logo or None,
        ),
        number=number,
        place=pemda.pemda.place,
        date=today,
        sifat="Penting",
        lampiran="-",
        perihal=f"{stage_label} atas keterlambatan {program.title} {periode(standing.period)}",
        addressee_title=addressee(unit),
        addressee_place="di -\n Tempat",
        opening=opening,
        missing_items=tuple(items),
        required_action=action,
        new_deadline=new_deadline,
        consequence=consequence,
        signatory=lc.Signatory(title=signatory.title, name=signatory.name, nip=signatory.nip, rank=signatory.rank),
        tembusan=tuple(tembusan),
        stage_label=f"Surat {stage_label}",
    )
    return Wording(content=content, summary=summary)


def letters_by_status(session: Session) -> list[Letter]:
    """Every letter in the register, newest first."""
    return list(session.exec(select(Letter).order_by(col(Letter.year).desc(), col(Letter.seq).desc())).all())
