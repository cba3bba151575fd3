"""The letter register: drafts, gap-free numbers given on approval, the wording of a warning letter, its files.

A letter is drafted (worded, rendered as PDF + DOCX, stored) without a number; `number_letter` gives it the
next agenda number of the year in the approval's transaction, so a cancelled draft or a rolled-back approval
burns no number. With `letters.per = "unit"` one letter per unit and stage lists every program the unit is
behind on (`LetterItem`). Asking again for a (unit, program, period, stage) that has a letter returns it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from babel.numbers import format_decimal
from sqlalchemy import text
from sqlmodel import Session, col, select

from jobs.letters import content as lc
from jobs.letters.docx import render_docx
from jobs.letters.pdf import render_pdf
from models.calendar import WorkingCalendar
from models.evidence import rejections
from models.fmt import periode
from models.ladder import STAGE_NAMES, TEGURAN_KINDS
from models.onboarding import is_distrik
from models.pemda import PemdaConfig, PemdaInfo, ProgramConfig, Stage
from models.standing import Standing, load_standings
from models.tables import ChecklistItem, Letter, LetterEvent, LetterItem, LetterStatus, StoredFile, Unit

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
    """The letter in the register about this unit, program, period and stage, newest first.

    A cancelled letter counts (it stops the ladder) until an admin restarts the ladder after it.
    """
    return session.exec(
        select(Letter)
        .join(LetterItem, col(LetterItem.letter_id) == col(Letter.id))
        .where(
            LetterItem.unit_id == unit_id,
            LetterItem.program_key == program_key,
            LetterItem.period == period,
            LetterItem.stage == stage,
            col(Letter.restarted_at).is_(None),
        )
        .order_by(col(Letter.id).desc())
    ).first()


def letter_items(session: Session, letter_id: int | None) -> list[LetterItem]:
    """The programs a letter is about, in the order they were added."""
    return list(session.exec(select(LetterItem).where(LetterItem.letter_id == letter_id).order_by(col(LetterItem.id))))


def open_draft(session: Session, unit_id: int, stage: str) -> Letter | None:
    """The unit's draft of `stage` still waiting for approval (new programs join it rather than a second letter)."""
    return session.exec(
        select(Letter)
        .where(Letter.unit_id == unit_id, Letter.stage == stage, Letter.status == LetterStatus.DRAFT.value)
        .where(col(Letter.restarted_at).is_(None))
        .order_by(col(Letter.id).desc())
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


def draft_letters(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    unit: Unit,
    standings: Sequence[Standing],
    stage: Stage,
    at: datetime,
    *,
    actor_id: int | None = None,
) -> list[Letter]:
    """Draft the warning letter(s) of `stage` for `unit` about `standings` (programs it is behind on).

    `letters.per = "unit"`: one letter per unit and stage; a program joins the unit's open draft of that stage.
    `"program"`: one letter per program. Programs that already have a letter of this stage are left alone.
    A draft has no number: it gets one when approved (`number_letter`), so a cancelled draft burns none.
    Returns the letters drafted or extended.
    """
    if stage.kind not in TEGURAN_KINDS:
        raise LetterError(f"tahap {stage.kind!r} bukan surat teguran")
    if "{nomor" not in pemda.letters.number_format:
        raise LetterError("letters.number_format harus memuat {nomor}, agar setiap surat bernomor unik")
    assert unit.id is not None
    fresh = [s for s in standings if find_letter(session, unit.id, s.program.key, s.period, stage.kind) is None]
    if not fresh:
        return []
    groups = [fresh] if pemda.letters.per == "unit" else [[s] for s in fresh]
    touched: list[Letter] = []
    for group in groups:
        letter = open_draft(session, unit.id, stage.kind) if pemda.letters.per == "unit" else None
        if letter is None:
            first = group[0]
            letter = Letter(
                unit_id=unit.id,
                program_key=first.program.key,
                period=first.period,
                stage=stage.kind,
                status=LetterStatus.DRAFT.value,
                created_at=at,
            )
            session.add(letter)
            session.flush()
            note = "dirancang"
        else:
            note = "program ditambahkan"
        for standing in group:
            session.add(
                LetterItem(
                    letter_id=letter.id or 0,
                    unit_id=unit.id,
                    program_key=standing.program.key,
                    period=standing.period,
                    stage=stage.kind,
                    summary=shortfall(session, unit, standing)[1][:500],
                )
            )
        session.flush()
        render_letter(session, pemda, calendar, letter, at)
        record_event(session, letter, LetterStatus.DRAFT.value, at, actor_id, f"{note}: {letter.summary}")
        touched.append(letter)
    session.flush()
    return touched


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
    """The letter of `stage` about one program of `unit`: drafted now, or the one already in the register."""
    assert unit.id is not None
    draft_letters(session, pemda, calendar, unit, [standing], stage, at, actor_id=actor_id)
    letter = find_letter(session, unit.id, standing.program.key, standing.period, stage.kind)
    assert letter is not None
    return letter


def item_standings(
    session: Session, pemda: PemdaConfig, unit: Unit, items: Sequence[LetterItem], today: date
) -> list[Standing]:
    """Where `unit` stands today on each program of a letter (in the letter's order; unknown programs left out)."""
    found: dict[tuple[str, str], Standing] = {}
    by_period: dict[str, list[ProgramConfig]] = {}
    for item in items:
        program = pemda.program(item.program_key)
        if program is not None:
            by_period.setdefault(item.period, []).append(program)
    for period, programs in by_period.items():
        loaded = load_standings(session, pemda, [unit], today, programs, {p.key: period for p in programs})
        for standing in loaded.values():
            found[(standing.program.key, standing.period)] = standing
    return [found[key] for item in items if (key := (item.program_key, item.period)) in found]


def render_letter(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letter: Letter, at: datetime
) -> None:
    """(Re)write the letter's PDF and DOCX from its programs as they stand now: a draft, or the numbered letter."""
    unit = session.get(Unit, letter.unit_id)
    assert unit is not None and letter.id is not None
    today = calendar.local_date(at)
    items = letter_items(session, letter.id)
    standings = item_standings(session, pemda, unit, items, today)
    draft = letter.number is None
    day = letter.letter_date or today
    deadline = letter.new_deadline or calendar.add_working_days(day, pemda.letters.new_deadline_working_days)
    wording = word_letter(
        session, pemda, calendar, unit, standings, letter.stage, day, letter.label_number, deadline, draft=draft
    )
    base = letter_filename(STAGE_LABELS[letter.stage], unit.code, letter)
    pdf_file = _store(session, f"{base}.pdf", PDF_MIME, render_pdf(wording.content), at)
    docx_file = _store(session, f"{base}.docx", DOCX_MIME, render_docx(wording.content), at)
    letter.pdf_id, letter.docx_id, letter.sha256 = pdf_file.id, docx_file.id, pdf_file.sha256
    letter.summary = wording.summary
    session.add(letter)
    session.flush()


def number_letter(session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letter: Letter, at: datetime) -> str:
    """Give an approved letter its agenda number, date and new deadline, and render the final PDF and DOCX.

    Runs in the approval's transaction: the number is issued there, so two approvals at once never share one,
    and a rolled-back approval burns none. Returns the number.
    """
    if letter.number is not None:
        return letter.number
    today = calendar.local_date(at)
    seq = issue_number(session, today.year)
    config = pemda.letters
    unit = session.get(Unit, letter.unit_id)
    assert unit is not None
    try:
        number = lc.letter_number(
            config.number_format,
            klasifikasi=config.klasifikasi,
            nomor=seq,
            kode_unit=config.unit_code,
            tahun=today.year,
            unit=unit.code,
            bulan=today.month,
        )
    except ValueError as exc:
        raise LetterError(f"letters.number_format tidak dapat diisi: {exc}") from exc
    letter.year, letter.seq, letter.number = today.year, seq, number
    letter.letter_date = today
    letter.new_deadline = calendar.add_working_days(today, config.new_deadline_working_days)
    render_letter(session, pemda, calendar, letter, at)
    return number


def _store(session: Session, filename: str, mime: str, content: bytes, at: datetime) -> StoredFile:
    row = StoredFile(
        filename=filename, mime=mime, sha256=hashlib.sha256(content).hexdigest(), content=content, created_at=at
    )
    session.add(row)
    session.flush()
    return row


def letter_filename(stage_label: str, unit_code: str, letter: Letter) -> str:
    """'Surat-Teguran-I-DINKES-2026-0012' for a numbered letter, 'Rancangan-Surat-Teguran-I-DINKES-12' for a draft."""
    if letter.number is not None and letter.seq is not None:
        raw = f"Surat-{stage_label}-{unit_code}-{letter.year}-{letter.seq:04d}"
    else:
        raw = f"Rancangan-Surat-{stage_label}-{unit_code}-{letter.id}"
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9._-]", "-", raw.replace(" ", "-")))


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
        if is_distrik(unit):  # Papua: a distrik is headed by a Kepala Distrik
            return "Kepala " + name
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


def shortfall(session: Session, unit: Unit, standing: Standing) -> tuple[lc.LetterSection, str]:
    """What the letter says about one program: its shortfall line with the open MCP indicators under it,
    and a one-line summary."""
    program = standing.program
    label = f" {program.unit_label}" if program.unit_label and program.measure != "percent" else ""
    value = standing.value
    points: list[str] = []
    if program.measure == "percent":
        minimum = f"{angka(standing.target)}\u00a0%"
        if value is None:
            heading = f"{program.title}: realisasi belum dilaporkan (ambang minimal {minimum})"
            summary = f"{program.label}: belum dilaporkan (minimal {minimum})"
        else:
            heading = f"{program.title}: realisasi {angka(value)}\u00a0%, di bawah ambang minimal {minimum}"
            summary = f"{program.label}: {angka(value)}\u00a0% (minimal {minimum})"
    elif program.measure == "checklist":
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
        heading = (
            f"{program.title}: {angka(value or 0)} dari {angka(standing.target)} indikator selesai; "
            "bukti dukung indikator berikut belum lengkap:"
        )
        reasons = rejections(session, unit.id or 0, program.key, standing.period) if standing.rejected_items else {}
        for code in standing.open_items:
            title, area = titles.get(code, ("", ""))
            point = f"Indikator {code} {title} ({area})".replace(" ()", "").strip()
            if code in standing.rejected_items:  # the verifier's reason, so the unit knows what to send
                point += f"; bukti dukung ditolak verifikator dengan alasan: {reasons.get(code) or '-'}"
            points.append(point)
        summary = f"{program.label}: {angka(value or 0)} dari {angka(standing.target)} indikator selesai"
    else:
        got = 0.0 if value is None else value
        missing = max(standing.target - got, 0)
        heading = f"{program.title}: {angka(got)} dari target {angka(standing.target)}{label}"
        if program.measure == "submission":
            heading += " diajukan"
        heading += f" (kurang {angka(missing)}{label})"
        summary = f"{program.label}: {angka(got)} dari target {angka(standing.target)}{label}"
    if program.measure != "checklist":
        rejected = rejections(session, unit.id or 0, program.key, standing.period).get(None)
        if rejected is not None:  # the latest evidence of the program was turned down: say why
            points.append(f"Bukti dukung terakhir ditolak verifikator dengan alasan: {rejected or '-'}")
    return lc.LetterSection(heading=heading, points=tuple(points)), summary


def _regions(info: PemdaInfo) -> tuple[str, ...]:
    """How an office may be followed by the region's name, lower case, longest first: 'pemerintah kabupaten
    teluk wondama', 'kabupaten teluk wondama', 'kab. teluk wondama', 'teluk wondama'."""
    region = " ".join(info.region.split()).lower()
    names = {" ".join(name.split()).lower() for name in (info.name, info.short_name)}
    names |= {f"{prefix} {region}" for prefix in ("kabupaten", "kab.", "kota", "provinsi")} | {region}
    return tuple(sorted((name for name in names if name), key=len, reverse=True))


def _office(entry: str, regions: Sequence[str] = ()) -> str:
    """A copy line or a signing office as an office to compare: case, spaces, commas, a note in brackets and a
    trailing region name left out ('Sekretaris  Daerah Kabupaten Teluk Wondama,' and 'Bupati Mambruk (sebagai
    laporan)' are 'sekretaris daerah' and 'bupati' when the regions name Teluk Wondama and Mambruk)."""
    plain = " ".join(re.sub(r"\(.*?\)", " ", entry).replace(",", " ").split()).lower().rstrip(" .")
    for name in regions:
        if plain.endswith(f" {name}"):
            return plain[: -len(name) - 1]
    return plain


def _signer(signatory_title: str, regions: Sequence[str] = ()) -> str:
    """The office that signs, from the signatory's title's last line ('a.n. BUPATI …\nSEKRETARIS DAERAH,')."""
    lines = [line for line in signatory_title.splitlines() if line.replace(",", " ").strip()]
    return _office(lines[-1], regions) if lines else ""


def _tembusan(entries: Sequence[str], signatory_title: str, regions: Sequence[str] = ()) -> tuple[str, ...]:
    """The copies, without the office that signs: a letter signed by the Sekda is not copied to the Sekda, however
    the Pemda file writes it ('Sekretaris Daerah Kabupaten Teluk Wondama')."""
    signer = _signer(signatory_title, regions)
    return tuple(entry for entry in entries if not signer or _office(entry, regions) != signer)


def _earlier_letters(session: Session, calendar: WorkingCalendar, unit: Unit, standings: Sequence[Standing]) -> str:
    """'Menindaklanjuti Surat Teguran I Nomor ... tanggal ..., ' for the numbered Teguran I of these programs."""
    cited: dict[int, Letter] = {}
    for standing in standings:
        first = find_letter(session, unit.id or 0, standing.program.key, standing.period, "teguran1")
        if first is not None and first.number and first.status != LetterStatus.CANCELLED.value and first.id:
            cited[first.id] = first
    if not cited:
        return ""
    parts = []
    for letter in sorted(cited.values(), key=lambda item: item.id or 0):
        dated = letter.letter_date or calendar.local_date(letter.created_at)
        parts.append(f"Nomor {letter.number} tanggal {lc.format_date_id(dated)}")
    return f"Menindaklanjuti Surat Teguran I {' dan '.join(parts)}, "


def word_letter(
    session: Session,
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    unit: Unit,
    standings: Sequence[Standing],
    stage: str,
    day: date,
    number: str,
    new_deadline: date,
    *,
    draft: bool = False,
) -> Wording:
    """The full content of the `stage` warning letter to `unit` about `standings`, dated `day`."""
    config = pemda.letters
    stage_label = STAGE_LABELS[stage]
    head = pemda.pemda.head
    sections: list[lc.LetterSection] = []
    summaries: list[str] = []
    dasar: list[str] = list(config.dasar)
    for standing in standings:
        section, summary = shortfall(session, unit, standing)
        late = max((day - standing.deadline).days, 0)
        last = (
            f"laporan terakhir tanggal {lc.format_date_id(calendar.local_date(standing.last_report_at))}"
            if standing.last_report_at is not None
            else "belum ada laporan yang masuk"
        )
        when = f"Batas waktu {lc.format_date_id(standing.deadline)}; terlambat {late} hari ({last})"
        sections.append(lc.LetterSection(heading=section.heading, points=(*section.points, when)))
        summaries.append(summary)
        dasar.extend(line for line in standing.program.dasar if line not in dasar)
    programs = [s.program for s in standings]
    periods = sorted({s.period for s in standings})
    if len(programs) == 1:
        subject = f"{programs[0].title} {periode(standings[0].period)}"
        duty = f"kewajiban {subject}"
    else:
        named = [periode(p) for p in periods]
        when = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} dan {named[-1]}"
        subject = f"{len(programs)} kewajiban program prioritas daerah ({when})"
        duty = f"{len(programs)} kewajiban program prioritas daerah"
    previous = _earlier_letters(session, calendar, unit, standings) if stage == "teguran2" else ""
    opening = (
        f"{previous}{'b' if previous else 'B'}erdasarkan hasil pemantauan sampai dengan tanggal "
        f"{lc.format_date_id(day)}, {unit.name} belum memenuhi {duty}, dengan rincian sebagai berikut:"
    )
    action = (
        "Sehubungan dengan hal tersebut, Saudara diminta segera memenuhi kekurangan di atas dan menyampaikan "
        "laporan pemenuhannya kepada kami"
    )
    regions = _regions(pemda.pemda)
    signed_by_head = _signer(pemda.signatory.title, regions) == _office(head, regions)  # no report to himself
    if stage == "teguran1":
        consequence = (
            "Apabila sampai dengan batas waktu tersebut kewajiban belum dipenuhi, akan diterbitkan Surat Teguran II"
            + ("." if signed_by_head else f" dengan tembusan kepada {head}.")
        )
        tembusan = pemda.tembusan_of("teguran1")
    else:
        consequence = (
            "Apabila sampai dengan batas waktu tersebut kewajiban belum dipenuhi, hal ini "
            + ("akan menjadi bahan" if signed_by_head else f"akan dilaporkan kepada {head} sebagai bahan")
            + " evaluasi kinerja dan pembinaan lebih lanjut sesuai ketentuan peraturan perundang-undangan."
        )
        tembusan = pemda.tembusan_of("teguran2")
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
        date=day,
        sifat="Penting",
        lampiran="-",
        perihal=f"{stage_label} atas keterlambatan {subject}",
        addressee_title=addressee(unit),
        addressee_place="di -\n Tempat",
        opening=opening,
        missing_items=tuple(sections),
        required_action=action,
        new_deadline=new_deadline,
        consequence=consequence,
        signatory=lc.Signatory(title=signatory.title, name=signatory.name, nip=signatory.nip, rank=signatory.rank),
        tembusan=_tembusan(tembusan, signatory.title, regions),
        stage_label=f"Surat {stage_label}",
        dasar=tuple(dasar),
        draft=draft,
    )
    return Wording(content=content, summary="; ".join(summaries))
