"""Which unit a satker of an LKPP export is: a confirmed mapping by code or name, else a unit of the same name.

`SatkerMap` rows are written by an admin once (`map_satker`, from `sigap figures map` or `/angka petakan`): a satker
code or name to a unit, or to none ("not a unit of ours"). A satker without one is matched when its name, with the
Pemda's own name left off ('DINAS KESEHATAN KABUPATEN SUKAMAKMUR'), is exactly one active unit's name; any other is
unmatched and gets the closest unit as a suggestion (rapidfuzz).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import fuzz, process
from sqlmodel import Session, select

from models.app import UserError
from models.figure_read import Export, SatkerFigures, name_key, plain_name, satker_key
from models.pemda import PemdaConfig
from models.tables import SatkerMap, Unit

SUGGEST_SCORE = 70.0
"""The least similarity (rapidfuzz WRatio, 0-100) for suggesting a unit."""
WORD_SCORE = 80.0
"""How alike (rapidfuzz ratio) an acronym of the satker and a word of the unit must be (a typo passes)."""


@dataclass(frozen=True)
class Unmatched:
    """A satker no mapping names: its rows are left out until an admin maps it (or marks it not ours)."""

    key: str
    label: str
    code: str
    rows: int
    suggestion: tuple[str, str] | None
    """The closest unit (code, name), if any is close."""


@dataclass
class Matching:
    """The satkers of an export per unit id, and the ones left out."""

    per_unit: dict[int, list[SatkerFigures]] = field(default_factory=lambda: defaultdict(list))
    unmatched: list[Unmatched] = field(default_factory=list)
    ignored: list[Unmatched] = field(default_factory=list)
    """Satkers an admin marked as not a unit of ours."""
    automatic: list[tuple[str, str]] = field(default_factory=list)
    """(satker label, unit code) matched by their names."""


def match_satkers(session: Session, pemda: PemdaConfig, export: Export, units: Sequence[Unit]) -> Matching:
    """The export's satkers per unit id, and those unmatched, ignored or matched by their name."""
    maps = {m.satker_key: m for m in session.exec(select(SatkerMap)).all()}
    by_id = {u.id: u for u in units}
    drop = (pemda.pemda.name, pemda.pemda.short_name)
    same_name: dict[str, list[Unit]] = defaultdict(list)
    for each in units:
        same_name[plain_name(each.name, drop)].append(each)
    found = Matching()
    for satker in sorted(export.satkers.values(), key=lambda s: (-s.rows, s.key)):
        mapping = (maps.get(satker.code) if satker.code else None) or (
            maps.get(name_key(satker.name)) if satker.name else None
        )
        unit: Unit | None = None
        if mapping is not None:
            if mapping.unit_id is None:
                found.ignored.append(Unmatched(satker.key, satker.label, satker.code, satker.rows, None))
                continue
            unit = by_id.get(mapping.unit_id)
        elif satker.name and len(candidates := same_name.get(plain_name(satker.name, drop), [])) == 1:
            unit = candidates[0]
            found.automatic.append((satker.label, unit.code))
        if unit is not None and unit.id is not None:
            found.per_unit[unit.id].append(satker)
            continue
        found.unmatched.append(
            Unmatched(satker.key, satker.label, satker.code, satker.rows, closest_unit(satker.label, units, drop))
        )
    return found


def closest_unit(name: str, units: Sequence[Unit], drop: Sequence[str] = ()) -> tuple[str, str] | None:
    """The unit whose name, code or short name is closest to a satker's name (rapidfuzz WRatio), if any is close;
    between units as close, the one whose full name is closer ('RSUD SUKAMAKMUR': the RSUD, not the kecamatan
    whose short name is 'sukamakmur')."""
    query = plain_name(name, drop)
    choices: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        for text in dict.fromkeys((plain_name(unit.name, drop), unit.code.lower(), *unit.alias_list())):
            choices[text].append(unit)
    if not choices or not query:
        return None
    best: dict[int, tuple[float, Unit]] = {}
    acronyms = [word for word in query.split() if len(word) >= 3 and not set(word) & set("aeiou")]  # dprd, bpbd
    for text, score, _index in process.extract(
        query, list(choices), scorer=fuzz.WRatio, score_cutoff=SUGGEST_SCORE, limit=20
    ):
        words = text.split()
        if not all(any(fuzz.ratio(word, other) >= WORD_SCORE for other in words) for word in acronyms):
            continue  # an acronym names one body: 'sekretariat dprd' is not 'sekretariat daerah', however alike
        for unit in choices[text]:
            if id(unit) not in best or best[id(unit)][0] < score:
                best[id(unit)] = (float(score), unit)
    if not best:
        return None
    _score, _full, unit = max(
        ((score, fuzz.WRatio(query, plain_name(unit.name, drop)), unit) for score, unit in best.values()),
        key=lambda found: (found[0], found[1]),
    )
    return unit.code, unit.name


def map_satker(session: Session, text: str, unit: Unit | None, actor_id: int | None, now: datetime) -> SatkerMap:
    """Confirm that the satker named (or coded) `text` is `unit`, or with None not a unit of ours; replaces an earlier
    mapping of the same satker."""
    key = satker_key(text)
    label = " ".join(text.strip().strip("\"'“”").split())
    if not key:
        raise UserError("Nama atau kode satker belum diisi.")
    if len(key) > 200:
        raise UserError("Nama satker terlalu panjang (lebih dari 200 huruf). Mohon periksa kembali.")
    row = session.exec(select(SatkerMap).where(SatkerMap.satker_key == key)).first()
    if row is None:
        row = SatkerMap(satker_key=key, satker_label=label[:300])
    row.satker_label = label[:300]
    row.unit_id = unit.id if unit is not None else None
    row.confirmed_by_id = actor_id
    row.confirmed_at = now
    session.add(row)
    session.flush()
    return row
