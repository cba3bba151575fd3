"""The leaders' picture (PNG, matplotlib's Agg canvas, headless): each program's Pemda total over time against its
target line, and a ranked bar chart of units (the best and the worst, at most `MAX_BARS`).

Made for a phone: 1080 px wide, large type, Indonesian labels and dates. Pure and library-only (no database, no
channel), so the chat commands, the weekly digest and the spreadsheet export all draw it the same way. matplotlib is
used through `Figure` and its Agg canvas directly, never `pyplot`: no global state, safe in worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from models.fmt import angka, persen, tanggal
from models.leaders import (
    ProgramView,
    Ranked,
    UnitLike,
    pace_known,
    rank,
    score,
    short_value,
    tanggal_singkat,
)

if TYPE_CHECKING:  # matplotlib itself is imported when a picture is drawn (half a second): not at start-up
    from matplotlib.axes import Axes

MAX_BARS = 20
"""Bars in the ranking at most: the best half and the worst half when there are more units."""
OVERVIEW_BARS = 14
"""Bars under the four program lines of the overview (the picture stays within a phone screen's proportions)."""
WIDTH_IN = 10.8
HEADER_IN = 1.4
TREND_TOP_IN = 1.5
DPI = 100
INK = "#1f2933"
LINE = "#1565c0"
TARGET = "#c62828"
FORECAST = "#6b7280"
GOOD, MIDDLE, POOR = "#2e7d32", "#ef8f00", "#c62828"
LABEL_CHARS = 24
"""Unit names longer than this are shown by their code (BAPPEDA, DPMPTSP), as officials say them."""


@dataclass(frozen=True)
class Trend:
    """One program's Pemda figure over time."""

    title: str
    headline: str
    """The figure now and its weekly change: '320 dari 500 produk · +30 minggu ini'."""
    points: tuple[tuple[date, float], ...]
    goal: float
    goal_label: str
    deadline: date
    projected: float | None
    percent: bool


@dataclass(frozen=True)
class Bar:
    """One unit's bar: its score (percent of its target) and the figure written at its end."""

    label: str
    score: float
    text: str


@dataclass(frozen=True)
class Ranking:
    """The ranked bars, best first; `omitted` units sit between the best and the worst shown."""

    title: str
    bars: tuple[Bar, ...]
    omitted: int = 0
    best: int = 0
    """How many of `bars` are the best ones (the rest are the worst), when some are omitted."""
    target: float = 100.0
    """Where the target line is drawn: 100 (% of each unit's target), or a percent program's own threshold (40), the
    bars then showing each unit's share itself."""


@dataclass(frozen=True)
class ChartSpec:
    """Everything the picture shows."""

    title: str
    subtitle: str
    trends: tuple[Trend, ...]
    ranking: Ranking | None


class Chart(NamedTuple):
    """A rendered picture: the PNG, how many bars it has and its size in pixels."""

    png: bytes
    bars: int
    width: int
    height: int


# -- from views to what is drawn --------------------------------------------------------------------


def unit_label(unit: UnitLike | None) -> str:
    """A unit's name on the chart: the full name when short, else its code."""
    if unit is None:
        return "?"
    return unit.name if len(unit.name) <= LABEL_CHARS else unit.code


def trend_of(view: ProgramView, title: str | None = None) -> Trend:
    """A program's line: its weekly Pemda figure, target and projection."""
    program, now = view.program, view.now
    measure = program.measure
    percent = measure == "percent"
    if percent:
        figure = persen(round(now.value, 1)) if now.reported else "belum ada laporan"
        goal_label = f"Minimal {persen(now.goal)}"
    elif measure == "checklist":
        figure, goal_label = f"{angka(now.value)} dari {angka(now.goal)} indikator", f"Semua {angka(now.goal)}"
    elif measure == "submission":
        figure, goal_label = f"{angka(now.value)} dari {angka(now.goal)} unit", f"Semua {angka(now.goal)} unit"
    else:
        figure = f"{angka(now.value)} dari {angka(now.goal)} {program.unit_label}".rstrip()
        goal_label = f"Target {angka(now.goal)}"
    projected = view.pace.projected if pace_known(view) else None
    headline = figure if percent and not now.reported else f"{figure} · {view.change_words(short=True)}"
    return Trend(
        title or program.label,
        headline,
        tuple(view.series),
        now.goal,
        goal_label,
        view.deadline,
        projected,
        percent,
    )


def pick(ranked: Sequence[Ranked], limit: int = MAX_BARS) -> tuple[list[Ranked], int, int]:
    """The rows to draw (all, or the best and the worst halves), how many are left out, and how many are the best."""
    if len(ranked) <= limit:
        return list(ranked), 0, len(ranked)
    half = limit // 2
    return [*ranked[:half], *ranked[-(limit - half) :]], len(ranked) - limit, half


def ranking_of(
    scores: Mapping[int, float],
    units: Mapping[int, UnitLike],
    texts: Mapping[int, str],
    title: str,
    limit: int = MAX_BARS,
    target: float = 100.0,
) -> Ranking:
    """Bars for `scores` (percent of target, by unit id), ranked with ties, at most `limit`."""
    ranked = rank(scores, lambda uid: units[uid].code if uid in units else "")
    rows, omitted, best = pick(ranked, limit)
    bars = tuple(
        Bar(f"{row.rank}. {unit_label(units.get(row.unit_id))}", row.score, texts[row.unit_id]) for row in rows
    )
    return Ranking(title, bars, omitted, best, target)


def program_spec(view: ProgramView, units: Mapping[int, UnitLike], scope: str) -> ChartSpec:
    """The picture of one program: its line, and its units ranked by score."""
    scores = {uid: score(s) for uid, s in view.standings.items()}
    texts = {uid: short_value(s) for uid, s in view.standings.items()}
    if view.program.measure == "percent":  # the share itself against the threshold, as people know it
        target = view.program.target
        ranking = ranking_of(scores, units, texts, f"Peringkat unit (garis: minimal {persen(target)})", target=target)
    else:
        ranking = ranking_of(scores, units, texts, "Peringkat unit (% dari target unit)")
    trend = trend_of(view, f"Total {scope}")
    return ChartSpec(view.program.label, f"{scope}, keadaan {tanggal(view.today)}", (trend,), ranking)


def overview_spec(
    views: Sequence[ProgramView], overall: Mapping[int, float], units: Mapping[int, UnitLike], scope: str, today: date
) -> ChartSpec:
    """The picture of every program: one line each, and the units ranked by their overall score."""
    texts = {uid: persen(round(value)) for uid, value in overall.items()}
    title = "Peringkat unit (rata-rata capaian semua program)"
    ranking = ranking_of(overall, units, texts, title, OVERVIEW_BARS) if overall else None
    return ChartSpec(f"Capaian {scope}", f"Keadaan {tanggal(today)}", tuple(trend_of(v) for v in views), ranking)


# -- drawing ------------------------------------------------------------------------------------------


def _colour(value: float) -> str:
    return GOOD if value >= 100 else MIDDLE if value >= 50 else POOR


def _number(value: float, percent: bool) -> str:
    return persen(round(value, 1)) if percent else angka(round(value))


def _draw_trend(ax: Axes, trend: Trend) -> None:
    from matplotlib.ticker import MaxNLocator

    xs = [float(day.toordinal()) for day, _v in trend.points]
    ys = [value for _d, value in trend.points]
    deadline_x = float(trend.deadline.toordinal())
    right = max(deadline_x, *xs) if xs else deadline_x
    ax.axhline(trend.goal, color=TARGET, linestyle="--", linewidth=2.5, zorder=2)
    ax.annotate(
        trend.goal_label, (right, trend.goal), xytext=(0, 6), textcoords="offset points", ha="right", va="bottom",
        color=TARGET, fontsize=16, fontweight="bold",
    )  # fmt: skip
    if xs:
        ax.plot(xs, ys, color=LINE, linewidth=4, marker="o", markersize=8, zorder=3)
        # left of the last point, unless that is near the axis: then right of it (not over the tick labels)
        near_axis = xs[-1] - xs[0] < (right - xs[0]) / 3
        ax.annotate(
            _number(ys[-1], trend.percent), (xs[-1], ys[-1]), xytext=(10 if near_axis else -10, 10),
            textcoords="offset points", ha="left" if near_axis else "right", va="bottom", color=LINE, fontsize=19,
            fontweight="bold", zorder=4, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85},
        )  # fmt: skip
    lines = [(trend.title, 19, "bold", INK), (trend.headline, 16, "normal", INK)]
    if xs and trend.projected is not None and deadline_x > xs[-1]:
        ax.plot([xs[-1], deadline_x], [ys[-1], trend.projected], color=FORECAST, linestyle=":", linewidth=3.5)
        ax.plot([deadline_x], [trend.projected], color=FORECAST, marker="o", markersize=7)
        shown = _number(trend.projected, trend.percent)
        forecast = f"Dengan laju sekarang, {tanggal_singkat(trend.deadline)}: {shown}"
        lines.append((forecast, 15, "normal", FORECAST))
    ax.set_ylim(0, max([trend.goal, *ys, trend.projected or 0.0]) * 1.2 or 1.0)
    left = xs[0] if xs else right - 28
    ax.set_xlim(left - 3, right + 3)
    wanted = [right, *xs[-1:], left, *([xs[len(xs) // 3]] if len(xs) > 4 else [])]  # the deadline, today, the start
    kept: list[float] = []
    for tick in wanted:  # in that order, each at least 12 days from those kept: labels never overlap
        if all(abs(tick - other) >= 12 for other in kept):
            kept.append(tick)
    ticks = sorted(kept)
    ax.set_xticks(ticks, [tanggal_singkat(date.fromordinal(round(t))) for t in ticks], fontsize=15)
    if ticks and ticks[-1] == right:
        ax.get_xticklabels()[-1].set_horizontalalignment("right")  # the deadline's date ends at the edge, not past it
    ax.tick_params(axis="y", labelsize=15)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=not trend.percent))
    ax.yaxis.set_major_formatter(lambda value, _pos: persen(value) if trend.percent else angka(value))
    ax.grid(axis="y", color="#d5dbe1", linewidth=1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    rise = 8
    for text, size, weight, colour in reversed(lines):
        ax.annotate(
            text, (0, 1), xycoords="axes fraction", xytext=(0, rise), textcoords="offset points", fontsize=size,
            fontweight=weight, color=colour, va="bottom",
        )  # fmt: skip
        rise += size + 8


def _draw_ranking(ax: Axes, ranking: Ranking, shift: float) -> int:
    rows: list[Bar | None] = list(ranking.bars)
    if ranking.omitted:
        rows.insert(ranking.best, None)
    scale = ranking.target / 100  # from a score (percent of target) to the drawn width
    limit = max([110.0, *(min(bar.score, 200.0) for bar in ranking.bars)]) * 1.2 * scale
    ticks: list[float] = []
    labels: list[str] = []
    drawn = 0
    for y, row in zip(range(len(rows) - 1, -1, -1), rows, strict=True):
        if row is None:
            ax.text(
                limit / 2, y, f"… {ranking.omitted} unit lainnya …", ha="center", va="center", fontsize=16,
                color=FORECAST, style="italic", bbox={"facecolor": "white", "edgecolor": "none", "pad": 2}, zorder=4,
            )  # fmt: skip
            continue
        width = min(row.score, 200.0) * scale
        colour = _colour(row.score)
        ax.barh(y, width, color=colour, height=0.74)
        drawn += 1
        ax.text(
            width + limit * 0.012, y, row.text, va="center", fontsize=16, fontweight="bold", zorder=4,
            color=INK if row.score >= 100 else colour, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )  # fmt: skip
        ticks.append(y)
        labels.append(row.label)
    ax.set_yticks(ticks, labels, fontsize=17)
    ax.tick_params(axis="y", length=0)
    ax.axvline(ranking.target, color=TARGET, linestyle="--", linewidth=2, zorder=1)
    ax.set_xlim(0, limit)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.tick_params(axis="x", labelsize=14)
    ax.xaxis.set_major_formatter(lambda value, _pos: persen(value))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.annotate(
        ranking.title, (0, 1), xycoords="axes fraction", xytext=(-shift * 72, 14), textcoords="offset points",
        fontsize=19, fontweight="bold", color=INK, va="bottom",
    )  # fmt: skip
    return drawn


def render(spec: ChartSpec) -> Chart:
    """Draw `spec` as a PNG: a header, the program lines (one or two per row), then the ranking across the width."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    trends = len(spec.trends)
    columns = 1 if trends <= 1 else 2
    trend_rows = -(-trends // columns) if trends else 0
    bars = len(spec.ranking.bars) + (1 if spec.ranking.omitted else 0) if spec.ranking else 0
    trend_height = 5.0 if columns == 1 else 4.3
    ranking_height = 1.5 + 0.48 * bars if bars else 0.0
    header = HEADER_IN if spec.title else 0.1  # no title: no header (the dashboard's card already names it)
    height = header + trend_rows * trend_height + ranking_height
    figure = MplFigure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)

    def axes(left: float, top: float, width: float, tall: float) -> Axes:
        """Axes placed in inches from the figure's top-left corner."""
        return figure.add_axes((left / WIDTH_IN, 1 - (top + tall) / height, width / WIDTH_IN, tall / height))

    if spec.title:
        figure.text(0.3 / WIDTH_IN, 1 - 0.2 / height, spec.title, ha="left", va="top", fontsize=27, fontweight="bold")
        figure.text(0.3 / WIDTH_IN, 1 - 0.85 / height, spec.subtitle, ha="left", va="top", fontsize=17, color=FORECAST)
    cell = (WIDTH_IN - 0.2) / columns
    for index, trend in enumerate(spec.trends):
        row, column = divmod(index, columns)
        top = header + row * trend_height + TREND_TOP_IN
        _draw_trend(axes(0.2 + column * cell + 1.0, top, cell - 1.3, trend_height - TREND_TOP_IN - 0.6), trend)
    drawn = 0
    if spec.ranking is not None and bars:
        top = header + trend_rows * trend_height + 0.85
        left = 4.1
        box = axes(left, top, WIDTH_IN - left - 0.4, ranking_height - 0.85 - 0.55)
        drawn = _draw_ranking(box, spec.ranking, left - 0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    width_px, height_px = (round(v) for v in figure.get_size_inches() * DPI)
    return Chart(buffer.getvalue(), drawn, width_px, height_px)
