"""What every dashboard page shares: the person's scope (the units they see), today, paging and the state words.

Scope is `models.scope.Viewer` (the one rule the chat uses too); the words for a unit's standing are /status's
(`handlers.status.state_of`), so a page and a chat reply never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from urllib.parse import urlencode

from sqlmodel import Session, col, select
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from models.app import Deps
from models.fmt import tanggal_pendek
from models.scope import Viewer
from models.tables import Unit

PAGE = 100
"""Rows per page of the long tables (league table, letter register)."""
LEADERS = frozenset({"admin", "pimpinan"})
STATE_WORDS = {
    "memenuhi": "memenuhi",
    "menunggu verifikasi": "menunggu verifikasi",
    "dispensasi": "dispensasi",
    "terlambat": "terlambat",
    "belum": "belum memenuhi",
}
"""`handlers.status.state_of` as a page shows it."""
STATE_TONES = {
    "memenuhi": "ok",
    "menunggu verifikasi": "wait",
    "dispensasi": "muted",
    "terlambat": "bad",
    "belum": "warn",
}
"""The colour class of each state (bot/web/static/sigap.css)."""
T = TypeVar("T")


@dataclass(frozen=True)
class Scope:
    """The units a person sees and what the group is called: the Pemda, a kecamatan, or one unit."""

    viewer: Viewer
    units: list[Unit]
    name: str
    whole: bool
    """Every active unit (admin, pimpinan): Pemda totals use the Pemda file's total targets."""

    def by_id(self) -> dict[int, Unit]:
        """The units by id."""
        return {u.id: u for u in self.units if u.id is not None}


def scope_of(session: Session, deps: Deps, viewer: Viewer) -> Scope:
    """The units `viewer` sees (`Viewer.units`), named as the chat names them (/rekap, /grafik)."""
    units = viewer.units(session)
    if viewer.whole_pemda:
        return Scope(viewer, units, deps.pemda.pemda.short_name, True)
    own = session.get(Unit, viewer.unit_id) if viewer.unit_id is not None else None
    return Scope(viewer, units, own.name if own is not None else "", False)


def today_of(deps: Deps) -> date:
    """Today in the Pemda's zone (the app's clock)."""
    return deps.calendar.local_date(deps.clock.now())


def local_day(deps: Deps, at: datetime | None) -> str:
    """'23 Nov 2026' in the Pemda's zone, or '–'."""
    return tanggal_pendek(deps.calendar.local_date(at)) if at is not None else "–"


def local_time(deps: Deps, at: datetime | None) -> str:
    """'23 Nov 2026 09.15' in the Pemda's zone, or '–'."""
    if at is None:
        return "–"
    local = at.astimezone(deps.calendar.zone)
    return f"{tanggal_pendek(local.date())} {local:%H.%M}"


def visible_unit(session: Session, viewer: Viewer, code: str) -> Unit:
    """The unit with `code` when `viewer` may see it; 404 otherwise (another kecamatan's unit does not exist)."""
    unit = session.exec(select(Unit).where(col(Unit.code) == code.strip().upper()[:32])).first()
    if unit is None or not viewer.sees(session, unit):
        raise HTTPException(404)
    return unit


def page_number(params: QueryParams, name: str = "halaman") -> int:
    """The page asked for (`?halaman=2`); 1 when missing or not a sensible number."""
    word = params.get(name, "")
    return int(word) if word.isascii() and word.isdigit() and 0 < len(word) < 6 and int(word) > 0 else 1


@dataclass(frozen=True)
class Pager:
    """One page of a long list: which page, how many, and the links to the neighbours (filters kept)."""

    page: int
    pages: int
    total: int
    previous: str | None
    following: str | None


def paginate(
    rows: list[T], page: int, params: QueryParams, size: int = PAGE, name: str = "halaman"
) -> tuple[list[T], Pager]:
    """The rows of `page` (clamped to the last page) and the pager whose links (`?<name>=N`) keep the other query
    parameters."""
    pages = max(1, -(-len(rows) // size))
    page = min(page, pages)

    def link(number: int) -> str:
        kept = [(k, v) for k, v in params.multi_items() if k != name and v]
        return "?" + urlencode([*kept, (name, str(number))])

    pager = Pager(
        page,
        pages,
        len(rows),
        link(page - 1) if page > 1 else None,
        link(page + 1) if page < pages else None,
    )
    return rows[(page - 1) * size : page * size], pager
