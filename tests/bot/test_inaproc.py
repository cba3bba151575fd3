"""The INAPROC connector against a fake gateway: three pages and a 429 give the file's figures, the same data
twice changes nothing, a refused token writes nothing and says what to do, the daily job tells the admins."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, func, select

from bot.inaproc import InaprocClient, feed_from_settings, run_daily
from bot.scheduler import start_scheduler
from bot.settings import Settings
from jobs.figures_sync import REFUSED, FeedFailed, FeedRefused, sync_figures
from models.app import Deps
from models.pemda import FiguresConfig
from models.tables import Contact, FigureImport, Outbox, Report, Role
from tests.fakes.inaproc import EPURCHASING, EXPECTED, KLPD, TOKEN, FakeInaproc, epurchasing_rows, export_csv
from tests.models.test_figure_import import apply, figures, map_once


@pytest.fixture
def ideps(sdeps: Deps) -> Deps:
    """The sample kabupaten with its LKPP code in the Pemda file and two satkers mapped once."""
    sdeps.pemda = sdeps.pemda.model_copy(update={"figures": FiguresConfig(kode_klpd=KLPD)})
    map_once(sdeps)
    return sdeps


def count(deps: Deps, table: type[Report] | type[FigureImport] | type[Outbox]) -> int:
    with deps.db.uow() as uow:
        return int(uow.session.exec(select(func.count()).select_from(table)).one())


async def test_three_pages_and_a_429_give_the_same_figures_as_the_file(ideps: Deps) -> None:
    async with FakeInaproc({EPURCHASING: epurchasing_rows()}, page_size=100) as api:
        api.rate_limit_once(after_pages=1)
        client = InaprocClient(api.url, TOKEN, clock=ideps.clock)
        text = await sync_figures(ideps, client)
    assert [(c.status, c.params.get("cursor")) for c in api.calls] == [
        (200, None),
        (429, "100"),
        (200, "100"),
        (200, "200"),
    ]
    assert {(c.params["kode_klpd"], c.params["tahun"], c.params["limit"]) for c in api.calls} == {
        (KLPD, "2026", "1000")
    }
    assert ideps.clock.sleeps == [2]  # Retry-After: 2
    assert figures(ideps) == EXPECTED
    assert text.startswith("Angka “INAPROC epurchasing” per 23 Nov 2026 diterapkan (impor #1): 10 angka dicatat.")
    assert "“RSUD SUKAMAKMUR” (kode 10006, 20 baris), mungkin RSUD" in text

    # the export file of the same data, and the API again: nothing changes
    assert apply(ideps, export_csv(epurchasing_rows())) is None
    async with FakeInaproc({EPURCHASING: epurchasing_rows()}) as api:
        again = await sync_figures(ideps, InaprocClient(api.url, TOKEN, clock=ideps.clock))
    assert again.startswith("Impor angka “INAPROC epurchasing”: tidak ada perubahan; semua angka sudah tercatat.")
    assert (count(ideps, FigureImport), count(ideps, Report)) == (1, 10)


async def test_a_preview_writes_nothing(ideps: Deps) -> None:
    async with FakeInaproc({EPURCHASING: epurchasing_rows()}) as api:
        text = await sync_figures(ideps, InaprocClient(api.url, TOKEN, clock=ideps.clock), apply=False)
    assert "- DINKES Dinas Kesehatan: katalog – → 25 (baru memenuhi) · p3dn – → 54,55 % (baru memenuhi)" in text
    assert (count(ideps, FigureImport), count(ideps, Report)) == (0, 0)


@pytest.mark.parametrize("token", ["salah", "dilarang"])
async def test_a_refused_token_writes_nothing_and_says_what_to_do(ideps: Deps, token: str) -> None:
    async with FakeInaproc({EPURCHASING: epurchasing_rows()}, forbidden_token="dilarang") as api:
        with pytest.raises(FeedRefused, match=r"^token ditolak: minta peran Data Integrator ke LKPP$"):
            await sync_figures(ideps, InaprocClient(api.url, token, clock=ideps.clock))
        assert [c.status for c in api.calls] == [401 if token == "salah" else 403]  # no retry
        await run_daily(ideps, InaprocClient(api.url, token, clock=ideps.clock))
        first = alerts(ideps)
        await run_daily(ideps, InaprocClient(api.url, token, clock=ideps.clock))
    assert (count(ideps, FigureImport), count(ideps, Report)) == (0, 0)
    assert len(first) == len(admins(ideps)) and alerts(ideps) == first  # every admin, once a day
    assert REFUSED in first[0].text and "INAPROC_TOKEN" in first[0].text


def alerts(deps: Deps) -> list[Outbox]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Outbox).where(col(Outbox.idem_key).startswith("angka:ditolak:"))).all())


def admins(deps: Deps) -> list[Contact]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(Contact).where(Contact.role == Role.ADMIN.value)).all())


async def test_server_errors_are_retried_with_back_off_then_given_up(ideps: Deps) -> None:
    async with FakeInaproc({EPURCHASING: epurchasing_rows()}) as api:
        api.fail_next(503, times=2)
        await sync_figures(ideps, InaprocClient(api.url, TOKEN, clock=ideps.clock), apply=False)
        assert ideps.clock.sleeps == [2, 4]
        api.fail_next(500, times=10)
        with pytest.raises(FeedFailed, match="setelah 3 percobaan \\(HTTP 500\\); tidak ada yang diubah"):
            await sync_figures(ideps, InaprocClient(api.url, TOKEN, clock=ideps.clock, attempts=3))
    assert count(ideps, Report) == 0


async def test_a_cursor_that_repeats_or_a_broken_envelope_writes_nothing(ideps: Deps) -> None:
    class Looping(FakeInaproc):
        def _answer(self, request, params):  # type: ignore[no-untyped-def]
            status, response = super()._answer(request, params)
            if status == 200:
                response.body = response.body.replace(b'"cursor":"200"', b'"cursor":"100"')
                response.headers["content-length"] = str(len(response.body))
            return status, response

    async with Looping({EPURCHASING: epurchasing_rows()}) as api:
        with pytest.raises(FeedFailed, match="cursor"):
            await sync_figures(ideps, InaprocClient(api.url, TOKEN, clock=ideps.clock))
    async with FakeInaproc({EPURCHASING: [{"nama_satker": "DINAS KESEHATAN", "total_harga": "banyak"}]}) as api:
        with pytest.raises(FeedFailed, match="tidak dapat dipakai"):
            await sync_figures(ideps, InaprocClient(api.url, TOKEN, clock=ideps.clock))
    assert count(ideps, Report) == 0


async def test_the_daily_import_tells_the_admins_once(ideps: Deps) -> None:
    async with FakeInaproc({EPURCHASING: epurchasing_rows()}) as api:
        await run_daily(ideps, InaprocClient(api.url, TOKEN, clock=ideps.clock))
        await run_daily(ideps, InaprocClient(api.url, TOKEN, clock=ideps.clock))
    with ideps.db.uow() as uow:
        told = uow.session.exec(select(Outbox).where(col(Outbox.idem_key).startswith("angka:"))).all()
    kinds = [row.idem_key.split(":")[1] for row in told]
    assert sorted(kinds) == sorted(["impor", "satker"] * len(admins(ideps)))
    changed = next(row.text for row in told if row.idem_key.startswith("angka:impor:"))
    unmapped = next(row.text for row in told if row.idem_key.startswith("angka:satker:"))
    assert changed.startswith("Angka “INAPROC epurchasing” per 23 Nov 2026 diterapkan (impor #1): 10 angka dicatat.")
    assert "Baru memenuhi target: BPKAD (katalog), DINKES (katalog, p3dn)," in changed
    assert "RSUD" not in changed
    assert (
        "“RSUD SUKAMAKMUR” (kode 10006, 20 baris), mungkin RSUD (Rumah Sakit Umum Daerah Sukamakmur): "
        "/angka petakan rsud RSUD SUKAMAKMUR" in unmapped
    )


async def test_the_scheduler_imports_daily_only_with_a_token(sdeps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INAPROC_TOKEN", raising=False)
    for token, expected in (("", False), (TOKEN, True)):
        monkeypatch.setenv("INAPROC_TOKEN", token)
        scheduler = start_scheduler(sdeps)
        try:
            job = scheduler.get_job("figures-inaproc")
            assert (job is not None) == expected
            if job is not None:
                assert "hour='6'" in str(job.trigger) and str(job.trigger.timezone) == "Asia/Jakarta"
        finally:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
    assert feed_from_settings(Settings(INAPROC_TOKEN="  ")) is None
