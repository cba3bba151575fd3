"""Letters that no longer need to go out: the unit has met, or been dispensed from, every program of a letter not yet
delivered (a draft, or an approved letter waiting to be handed over). The register (/teguran) says so and suggests
cancelling instead of delivering; nothing changes by itself (an admin decides).

Read for a page of letters at once: their programs, the standings of their few units (`models.standing`) and their
dispensations (`models.pauses`), one set of queries per period, never per letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session, col, select

from models.calendar import WorkingCalendar
from models.fmt import periode, tanggal_pendek
from models.pauses import marks_for
from models.pemda import PemdaConfig, ProgramConfig
from models.standing import Standing, load_standings
from models.tables import Letter, LetterItem, LetterStatus, Unit

Key = tuple[int, str, str]
"""(unit id, program key, period)."""


def settled_letters(
    session: Session, pemda: PemdaConfig, calendar: WorkingCalendar, letters: Sequence[Letter], today: date
) -> dict[int, str]:
    """Why each of `letters` no longer needs to go out, by letter id, for those whose unit has met or is dispensed
    from every program and period of the letter: 'Unit sudah memenuhi e-Katalog lokal tahun 2026 sejak 5 Jan 2027:
    surat tidak perlu diantar', 'Unit mendapat dispensasi P3DN/UMKK tahun 2026: surat tidak perlu dikirim' (a
    draft). Letters still owed something are left out."""
    ids = [letter.id for letter in letters if letter.id is not None]
    if not ids:
        return {}
    items = list(
        session.exec(select(LetterItem).where(col(LetterItem.letter_id).in_(ids)).order_by(col(LetterItem.id)))
    )
    unit_ids = {item.unit_id for item in items}
    units = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_(unit_ids))).all()}
    wanted: dict[str, tuple[dict[str, ProgramConfig], set[int]]] = {}
    for item in items:
        program = pemda.program(item.program_key)
        if program is not None and item.unit_id in units:
            programs, of_units = wanted.setdefault(item.period, ({}, set()))
            programs[program.key] = program
            of_units.add(item.unit_id)
    standings: dict[Key, Standing] = {}
    dispensed: set[Key] = set()
    for period, (programs, of_units) in wanted.items():
        loaded = load_standings(
            session,
            pemda,
            [units[u] for u in sorted(of_units)],
            today,
            programs.values(),
            dict.fromkeys(programs, period),
        )
        for (unit_id, key), mark in marks_for(session, pemda, calendar, today, loaded).items():
            if mark.exempts(loaded[(unit_id, key)]):
                dispensed.add((unit_id, key, period))
        standings.update({(unit_id, key, period): s for (unit_id, key), s in loaded.items()})
    by_letter: dict[int, list[LetterItem]] = {}
    for item in items:
        by_letter.setdefault(item.letter_id, []).append(item)
    drafts = {letter.id for letter in letters if letter.status == LetterStatus.DRAFT.value}
    found = {}
    for letter_id, its in by_letter.items():
        reason = _reason(pemda, calendar, its, standings, dispensed)
        if reason:
            found[letter_id] = f"{reason}: surat tidak perlu {'dikirim' if letter_id in drafts else 'diantar'}"
    return found


def _reason(
    pemda: PemdaConfig,
    calendar: WorkingCalendar,
    items: Sequence[LetterItem],
    standings: dict[Key, Standing],
    dispensed: set[Key],
) -> str:
    """'Unit sudah memenuhi … sejak … dan mendapat dispensasi …' when every item is met or dispensed, else ''."""
    met: list[str] = []
    exempt: list[str] = []
    times: list[datetime] = []
    for item in items:
        key = (item.unit_id, item.program_key, item.period)
        standing = standings.get(key)
        program = pemda.program(item.program_key)
        label = f"{program.label if program is not None else item.program_key} {periode(item.period)}"
        if standing is not None and standing.compliant:
            met.append(label)
            times.extend([standing.last_report_at] if standing.last_report_at is not None else [])
        elif key in dispensed:
            exempt.append(label)
        else:
            return ""
    parts = []
    if met:
        day = f" sejak {tanggal_pendek(calendar.local_date(max(times)))}" if times else ""
        parts.append(f"sudah memenuhi {', '.join(met)}{day}")
    if exempt:
        parts.append(f"mendapat dispensasi {', '.join(exempt)}")
    return f"Unit {' dan '.join(parts)}" if parts else ""
