"""The leaders' view computed: Pemda figures, history over time, pace, ranking, and the picture."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image
from sqlmodel import select

from bot.settings import EXAMPLE_PEMDA
from models.app import Deps
from models.charts import MAX_BARS, OVERVIEW_BARS, overview_spec, program_spec, render
from models.history import end_of_day, load_history, spend_weights
from models.leaders import (
    active_units,
    figure_text,
    load_views,
    overall_scores,
    pace_text,
    pemda_figure,
    project,
    rank,
    unit_pace_text,
)
from models.pemda import PemdaConfig, load_pemda
from models.standing import load_standings
from models.tables import FigureImport, Report, Unit
from tests.conftest import unit_coded
from tests.seed_history import MONDAY, report, seed_sample_history

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def pemda() -> PemdaConfig:
    return load_pemda(EXAMPLE_PEMDA)


def test_pemda_figure_per_measure_and_what_the_text_says(pemda: PemdaConfig) -> None:
    katalog, p3dn, mcp, inovasi = (pemda.program(k) for k in ("katalog", "p3dn", "mcp", "inovasi"))
    assert katalog and p3dn and mcp and inovasi
    count = pemda_figure(katalog, {1: 3, 2: 5, 3: None})
    assert (count.value, count.goal) == (8, 500)
    assert figure_text(katalog, count) == "8 dari 500 produk"
    assert pemda_figure(katalog, {1: 3, 2: 5, 3: None}, whole_pemda=False).goal == 30  # a kecamatan: 3 x 10

    mean = pemda_figure(p3dn, {1: 40.0, 2: 20.0, 3: None})
    assert (mean.value, mean.reported, mean.weighted) == (30.0, 2, False)
    assert figure_text(p3dn, mean) == "30 % (rata-rata 2 unit yang melapor; minimal 40 %)"
    weighted = pemda_figure(p3dn, {1: 40.0, 2: 20.0, 3: None}, spend={1: 300.0, 2: 100.0})
    assert (weighted.value, weighted.weighted) == (35.0, True)  # (40 x 300 + 20 x 100) / 400
    assert "tertimbang belanja 2 unit" in figure_text(p3dn, weighted)
    assert not pemda_figure(p3dn, {1: 40.0, 2: 20.0}, spend={1: 300.0}).weighted  # a spend missing: the mean

    checklist = pemda_figure(mcp, {1: 2, 2: 1}, verified={1: 1}, items=5)
    assert figure_text(mcp, checklist) == "3 dari 5 indikator selesai (60 %), 1 terverifikasi"
    submitted = pemda_figure(inovasi, {1: 2, 2: 0, 3: 1})
    assert figure_text(inovasi, submitted) == "2 dari 3 unit memenuhi target (3 inovasi diajukan)"


def test_pace_projection_by_hand(pemda: PemdaConfig) -> None:
    katalog = pemda.program("katalog")
    assert katalog is not None
    # 30 products four weeks ago, 70 now: 10 a week; 22 days (22/7 weeks) to 15 December
    pace = project(70, 30, 4, TODAY, date(2026, 12, 15), 500)
    assert pace.per_week == 10
    assert pace.projected == pytest.approx(70 + 10 * 22 / 7)  # 101.43
    assert pace.needed_per_week == pytest.approx(430 / (22 / 7))  # 136.82
    assert pace.short
    assert pace_text(katalog, pace) == (
        "dengan laju sekarang: 101 dari 500 produk pada 15 Desember (kini 10 produk/minggu; perlu 136,9)"
    )
    mine = project(2, 0, 4, TODAY, date(2026, 12, 15), 10)
    assert unit_pace_text(katalog, mine) == "laju Anda 0,5 produk/minggu; perlu 2,6 produk/minggu"  # 8 / (22/7) = 2.55
    last_days = project(7, 5, 4, date(2026, 12, 11), date(2026, 12, 15), 10)
    assert unit_pace_text(katalog, last_days) == "laju Anda 0,5 produk/minggu; kurang 3 produk lagi"
    assert project(9, 9, 4, date(2026, 12, 20), date(2026, 12, 15), 10).needed_per_week is None


def test_equal_scores_share_a_rank() -> None:
    ranked = rank({1: 100.0, 2: 80.0, 3: 80.0, 4: 50.0, 5: 50.0, 6: 10.0})
    assert [(r.rank, r.unit_id) for r in ranked] == [(1, 1), (2, 2), (2, 3), (4, 4), (4, 5), (6, 6)]
    assert rank({7: 20.0, 8: 20.0}, lambda uid: {7: "ZZ", 8: "AA"}[uid])[0].unit_id == 8  # ties by code


def nov(day: int, hour: int = 3) -> datetime:
    """A November 2026 instant (03:00 UTC = 10:00 WIB)."""
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def _add(deps: Deps, *rows: Report) -> None:
    with deps.db.uow() as uow:
        uow.session.add_all(rows)
        uow.commit()


def test_history_follows_the_standing_rule(deps: Deps) -> None:
    dinkes = unit_coded(deps, "DINKES").id
    assert dinkes is not None
    _add(
        deps,
        report(dinkes, "katalog", nov(2), value=3),
        report(dinkes, "katalog", nov(9), value=50, withdrawn_at=nov(9, 5)),
        report(dinkes, "katalog", nov(10), value=60, verification="rejected"),
        report(dinkes, "katalog", nov(20), value=7, observed_at=nov(12), source="impor", verification="verified"),
        report(dinkes, "katalog", nov(11), value=6),
        report(dinkes, "katalog", nov(16, 18), value=9),  # 01:00 WIB on 17 November
    )
    zone = deps.calendar.zone
    with deps.db.uow() as uow:
        katalog = deps.pemda.program("katalog")
        assert katalog is not None
        history = load_history(uow.session, katalog, "2026", [dinkes])
        days = [date(2026, 11, d) for d in (1, 2, 9, 10, 11, 12, 16, 17)]
        values = [s.values[dinkes] for s in history.snapshots(end_of_day(d, zone) for d in days)]
        standing = load_standings(uow.session, deps.pemda, [uow.session.get(Unit, dinkes)], TODAY, [katalog])
    # withdrawn and rejected never count; an import counts on the day it describes, not the day it came
    assert values == [None, 3, 3, 3, 6, 7, 7, 9]
    assert standing[(dinkes, "katalog")].value == values[-1]


async def test_pace_of_a_seeded_history_matches_the_hand_computation(deps: Deps) -> None:
    dinkes, disdik = unit_coded(deps, "DINKES").id, unit_coded(deps, "DISDIK").id
    assert dinkes and disdik
    four_weeks_ago = MONDAY - timedelta(weeks=4, hours=1)
    _add(
        deps,
        report(dinkes, "katalog", four_weeks_ago, value=10),
        report(disdik, "katalog", four_weeks_ago, value=20),
        report(dinkes, "katalog", MONDAY - timedelta(days=2), value=30),
        report(disdik, "katalog", MONDAY - timedelta(days=10), value=40),
    )
    with deps.db.uow() as uow:
        katalog = [p for p in deps.pemda.programs if p.key == "katalog"]
        (view,) = load_views(uow.session, deps.pemda, active_units(uow.session), TODAY, programs=katalog)
    assert (view.now.value, view.week_ago.value, view.change) == (70, 50, 20)
    assert view.pace.per_week == 10  # (70 - 30) over 4 weeks
    assert view.pace.projected == pytest.approx(70 + 10 * 22 / 7)
    unit = view.unit_pace(dinkes)
    assert unit is not None and unit.per_week == 5 and unit.needed_per_week == 0  # 30 of 10: nothing more needed


def test_spend_weights_from_an_import_snapshot() -> None:
    snapshot = '{"unit": {"DINKES": {"p3dn": 42.5}}, "belanja": {"DINKES": 1250000000, "DISDIK": 0, "X": 5}}'
    assert spend_weights(snapshot, {"DINKES": 12, "DISDIK": 13}) == {12: 1250000000.0}
    assert spend_weights('{"unit": {}}', {"DINKES": 12}) == {}
    assert spend_weights("not json", {"DINKES": 12}) == {}


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as picture:
        return picture.size


def test_the_picture_is_a_phone_sized_png_with_the_best_and_worst_bars(sdeps: Deps) -> None:
    seed_sample_history(sdeps)
    with sdeps.db.uow() as uow:
        units = active_units(uow.session)
        views = load_views(uow.session, sdeps.pemda, units, TODAY)
        kecamatan = uow.session.exec(select(Unit).where(Unit.kind == "kecamatan").order_by(Unit.code)).all()
        few = load_views(uow.session, sdeps.pemda, list(kecamatan)[:3], TODAY, whole_pemda=False)
    by_id = {u.id: u for u in units}
    katalog = next(v for v in views if v.program.key == "katalog")
    assert len(katalog.standings) > MAX_BARS
    chart = render(program_spec(katalog, by_id, "Kabupaten Sukamakmur"))
    assert chart.bars == MAX_BARS  # the 10 best and the 10 worst of 52
    assert _png_size(chart.png) == (chart.width, chart.height)
    assert chart.width == 1080 and 1200 < chart.height < 2200
    overall = overall_scores(s for v in views for s in v.standings.values())
    overview = render(overview_spec(views, overall, by_id, "Kabupaten Sukamakmur", TODAY))
    assert overview.bars == OVERVIEW_BARS and overview.width == 1080 and overview.height < 2 * overview.width
    small = render(program_spec(next(v for v in few if v.program.key == "katalog"), by_id, "tiga kecamatan"))
    assert small.bars == 3 and _png_size(small.png)[1] < chart.height


def test_p3dn_is_weighted_by_spend_once_an_import_carries_it(sdeps: Deps) -> None:
    dinkes, disdik = unit_coded(sdeps, "DINKES").id or 0, unit_coded(sdeps, "DISDIK").id or 0
    _add(sdeps, report(dinkes, "p3dn", nov(20), value=40), report(disdik, "p3dn", nov(20), value=20))
    p3dn = [p for p in sdeps.pemda.programs if p.key == "p3dn"]
    with sdeps.db.uow() as uow:
        (mean,) = load_views(uow.session, sdeps.pemda, active_units(uow.session), TODAY, programs=p3dn)
        uow.session.add(
            FigureImport(
                source="ekatalog", sha256="0" * 64, as_of=nov(20), imported_at=nov(20),
                snapshot='{"unit": {}, "belanja": {"DINKES": 300000000, "DISDIK": 100000000}}',
            )
        )  # fmt: skip
        uow.session.flush()
        (weighted,) = load_views(uow.session, sdeps.pemda, active_units(uow.session), TODAY, programs=p3dn)
    assert (mean.now.value, mean.now.weighted) == (30, False)
    assert (weighted.now.value, weighted.now.weighted) == (35, True)
    assert figure_text(weighted.program, weighted.now).startswith("35 % (tertimbang belanja 2 unit yang melapor")


@pytest.mark.parametrize("weeks", [0, 6])
def test_a_trend_s_labels_stay_off_the_axis_labels_and_inside_the_picture(weeks: int) -> None:
    """The figure's value sat on the y-axis labels ("42,5 %" over "50 %") when the only point was at the left edge,
    and the deadline's date ran past the picture's right edge."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from models.charts import Trend, _draw_trend

    start = date(2026, 1, 5)
    points = tuple((start + timedelta(weeks=w), 42.5) for w in range(weeks + 1))
    trend = Trend("P3DN/UMKK", "42,5 %", points, 45.0, "Minimal 45 %", date(2026, 12, 15), 60.0, True)
    figure = Figure(figsize=(5.6, 3.7), dpi=100)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_axes((0.18, 0.12, 0.78, 0.6))
    _draw_trend(ax, trend)
    canvas.draw()
    renderer = canvas.get_renderer()
    value = next(t for t in ax.texts if t.get_text() == "42,5 %").get_window_extent(renderer)
    for label in ax.get_yticklabels():
        if label.get_text():
            assert not value.overlaps(label.get_window_extent(renderer)), label.get_text()
    last = ax.get_xticklabels()[-1].get_window_extent(renderer)
    assert last.x1 <= figure.bbox.x1
