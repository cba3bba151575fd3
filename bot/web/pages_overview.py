"""The overview (/dasbor/), a program's league table (/dasbor/program/{key}) and their charts (/dasbor/grafik/...).

The numbers are the chat's: the Pemda figure, weekly change and pace of /grafik (`models.leaders`), the counts of
/rekap (`handlers.status.tally`), the ranking rule and words of /peringkat (`handlers.pimpinan.league`), over the
units the person sees. Plain functions of a session: the routes run them in the threadpool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from bot.web.pages_common import STATE_TONES, STATE_WORDS, Pager, Scope, local_day, page_number, paginate
from handlers.pimpinan import RULE_PROGRAM, league, pace_line
from handlers.status import FILTERS, PauseMark, Tally, in_group, marks_for, state_of, tally
from models.app import Deps
from models.charts import ChartSpec, render, trend_of
from models.fmt import persen, tanggal
from models.ladder import PAUSE_PROSES
from models.leaders import ProgramView, figure_text, load_views, rank, short_value
from models.pemda import ProgramConfig
from models.standing import Standing
from models.tables import UNIT_KINDS, Unit

Key = tuple[int, str]


@dataclass(frozen=True)
class Marks:
    """The dispensations and pauses of a set of standings, and which of them exempt (`handlers.status`)."""

    marks: dict[Key, PauseMark]
    exempt: set[Key]
    paused: set[Key]


def marks_of(session: Session, deps: Deps, today: date, standings: Mapping[Key, Standing]) -> Marks:
    """The marks of `standings` as /rekap reads them."""
    marks = marks_for(session, deps.pemda, deps.calendar, today, standings)
    exempt = {key for key, mark in marks.items() if mark.exempts(standings[key])}
    paused = {key for key, mark in marks.items() if mark.kind == PAUSE_PROSES}
    return Marks(marks, exempt, paused)


def group_link(key: str, group: str) -> str:
    """The league table of `key` filtered to one group ('memenuhi', 'tertinggal', ...)."""
    return f"/dasbor/program/{key}?" + urlencode({"status": group})


@dataclass(frozen=True)
class ProgramCard:
    """One program on the overview."""

    key: str
    label: str
    figure: str
    change: str
    pace: str
    count: Tally
    deadline: str

    @property
    def groups(self) -> list[tuple[str, int, str, str]]:
        """(word, units, colour class, link) for the counts shown under the figure (those waiting for a verifier
        and those with a dispensation only when there are some, as /rekap says them)."""
        found = [
            ("memenuhi", self.count.compliant, "ok"),
            ("tertinggal", self.count.behind, "bad"),
            ("menunggu verifikasi", self.count.checking, "wait"),
            ("dispensasi", self.count.exempt, "muted"),
        ]
        return [(word, n, tone, group_link(self.key, word)) for word, n, tone in found if n or tone in ("ok", "bad")]


@dataclass(frozen=True)
class Overview:
    """Everything /dasbor/ shows."""

    scope: str
    today: str
    complete: int
    units: int
    cards: list[ProgramCard]


def overview(session: Session, deps: Deps, scope: Scope, today: date) -> Overview:
    """Each program's figure, change, pace and counts over the person's units; how many units meet every program."""
    views = load_views(session, deps.pemda, scope.units, today, whole_pemda=scope.whole)
    every = {(s.unit_id, v.program.key): s for v in views for s in v.standings.values()}
    marks = marks_of(session, deps, today, every)
    behind = {uid for (uid, key), s in every.items() if in_group("tertinggal", s, (uid, key) in marks.exempt)}
    counted = {uid for uid, _key in every}
    cards = [
        ProgramCard(
            view.program.key,
            view.program.label,
            figure_text(view.program, view.now),
            view.change_words(),
            pace_line(view),
            tally(list(view.standings.values()), marks.exempt, marks.paused),
            tanggal(view.deadline),
        )
        for view in views
    ]
    return Overview(scope.name, tanggal(today), len(counted - behind), len(counted), cards)


def program_of(deps: Deps, key: str) -> ProgramConfig:
    """The program with this key (or alias); 404 otherwise."""
    program = deps.pemda.program(key[:40])
    if program is None:
        raise HTTPException(404)
    return program


def program_view(session: Session, deps: Deps, scope: Scope, program: ProgramConfig, today: date) -> ProgramView:
    """The program's view over the person's units; 404 when it applies to none of them."""
    views = load_views(session, deps.pemda, scope.units, today, programs=[program], whole_pemda=scope.whole)
    if not views:
        raise HTTPException(404)
    return views[0]


def chart_png(session: Session, deps: Deps, scope: Scope, key: str, today: date) -> bytes:
    """The program's weekly total against its target, projected to the deadline (`models.charts`, as /grafik)."""
    view = program_view(session, deps, scope, program_of(deps, key), today)
    trend = trend_of(view, f"Total {scope.name}")
    spec = ChartSpec("", "", (trend,), None)  # the card around the picture names the program and the day
    return render(spec).png


# -- the league table -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One unit in a league table."""

    rank: int | None
    """None: not ranked (a dispensation)."""
    unit: Unit
    value: str
    """/peringkat's figure ('12/10', '35 %', 'belum lapor')."""
    score: str
    """/peringkat's score ('120 %'), or 'tidak diperingkat'."""
    state: str
    tone: str
    note: str
    last: str
    groups: frozenset[str]


@dataclass(frozen=True)
class Filters:
    """The table's filters as asked (only known values kept)."""

    kind: str
    kecamatan: str
    status: str

    @staticmethod
    def of(params: QueryParams, kecamatan: list[Unit]) -> Filters:
        """The filters of a query string; unknown values are ignored."""
        kind = params.get("jenis", "")
        kec = params.get("kecamatan", "").upper()
        status = params.get("status", "")
        return Filters(
            kind if kind in UNIT_KINDS else "",
            kec if kec in {u.code for u in kecamatan} else "",
            status if status in FILTERS else "",
        )


@dataclass(frozen=True)
class League:
    """Everything /dasbor/program/{key} shows."""

    program: ProgramConfig
    scope: str
    today: str
    figure: str
    change: str
    pace: str
    rule: str
    rows: list[Row]
    pager: Pager
    filters: Filters
    kinds: list[str]
    kecamatan: list[Unit]
    statuses: tuple[str, ...]
    unranked: int


def _row(
    deps: Deps, today: date, unit: Unit, place: int | None, standing: Standing, score: str, mark: PauseMark | None
) -> Row:
    state = state_of(standing, mark, today)
    exempt = mark is not None and mark.exempts(standing)
    groups = frozenset(g for g in FILTERS if in_group(g, standing, exempt))
    note = mark.text(standing) if mark is not None else ""
    last = local_day(deps, standing.last_report_at)
    return Row(place, unit, short_value(standing), score, STATE_WORDS[state], STATE_TONES[state], note, last, groups)


def league_table(session: Session, deps: Deps, scope: Scope, key: str, today: date, params: QueryParams) -> League:
    """The program's league table over the person's units: ranked as /peringkat (equal scores share a rank; units
    with a dispensation are not ranked and follow), filtered by unit kind, kecamatan and group, 100 to a page."""
    program = program_of(deps, key)
    view = program_view(session, deps, scope, program, today)
    standings = {(uid, program.key): s for uid, s in view.standings.items()}
    marks = marks_of(session, deps, today, standings)
    scores, _texts = league([view], program, marks.exempt)
    units = scope.by_id()
    ranked = rank(scores, lambda uid: units[uid].code if uid in units else "")
    freed = sorted((uid for uid in view.standings if uid not in scores and uid in units), key=lambda u: units[u].code)

    def row(uid: int, place: int | None) -> Row:
        score = persen(scores[uid]) if place is not None else "tidak diperingkat"
        mark = marks.marks.get((uid, program.key))
        return _row(deps, today, units[uid], place, view.standings[uid], score, mark)

    rows = [row(r.unit_id, r.rank) for r in ranked if r.unit_id in units] + [row(uid, None) for uid in freed]
    kecamatan = [u for u in scope.units if u.kind == "kecamatan"]
    chosen = Filters.of(params, kecamatan)
    kec_id = next((u.id for u in kecamatan if u.code == chosen.kecamatan), None)
    shown = [
        row
        for row in rows
        if (not chosen.kind or row.unit.kind == chosen.kind)
        and (kec_id is None or kec_id in (row.unit.id, row.unit.parent_id))
        and (not chosen.status or chosen.status in row.groups)
    ]
    page, pager = paginate(shown, page_number(params), params)
    kinds = [kind for kind in UNIT_KINDS if any(u.kind == kind for u in units.values() if u.id in view.standings)]
    return League(
        program, scope.name, tanggal(today), figure_text(program, view.now), view.change_words(),
        pace_line(view), RULE_PROGRAM, page, pager, chosen, kinds, kecamatan, FILTERS, len(freed),
    )  # fmt: skip
