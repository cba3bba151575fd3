"""A Pemda-wide view reads each program's reports once: the standings it replays from the history are exactly those
`load_standings` reads, whatever counts (withdrawn, rejected, an import dated before a later chat report)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from models import standing
from models.app import Deps
from models.leaders import active_units, load_views
from models.standing import DONE, applicable_programs, load_standings
from models.tables import ChecklistItem, Report, ReportSource, Verification
from tests.conftest import MONDAY_0900, unit_coded


def report(unit_id: int, program: str, days_ago: float, **fields: object) -> Report:
    return Report(
        unit_id=unit_id,
        program_key=program,
        period="2026",
        channel="telegram",
        created_at=MONDAY_0900 - timedelta(days=days_ago),
        **fields,  # type: ignore[arg-type]
    )


def test_the_views_replay_the_same_standings_load_standings_reads(deps: Deps) -> None:
    dinkes, disdik, bappeda = (unit_coded(deps, code).id or 0 for code in ("DINKES", "DISDIK", "BAPPEDA"))
    with deps.db.uow() as uow:
        uow.session.add_all(
            [
                report(dinkes, "katalog", 9, value=5.0),
                # imported later, but describing a day before the chat report: the chat report stays the latest
                report(dinkes, "katalog", 1, value=7.0, source=ReportSource.IMPORT.value,
                       verification=Verification.VERIFIED.value, observed_at=MONDAY_0900 - timedelta(days=12)),
                report(disdik, "katalog", 8, value=4.0),
                report(disdik, "katalog", 2, value=9.0, withdrawn_at=MONDAY_0900),
                report(bappeda, "p3dn", 6, value=30.0),
                report(bappeda, "p3dn", 3, value=41.0, verification=Verification.REJECTED.value),
                report(dinkes, "inovasi", 5, title="Layanan antar obat"),
                report(dinkes, "inovasi", 4, title="Posyandu digital"),
                report(disdik, "inovasi", 4, title="Rapor daring", withdrawn_at=MONDAY_0900),
            ]
        )  # fmt: skip
        uow.commit()
    today = deps.calendar.local_date(MONDAY_0900)
    with deps.db.uow() as uow:
        units = active_units(uow.session)
        programs = [p for p in deps.pemda.programs if p.measure != "checklist"]
        views = load_views(uow.session, deps.pemda, units, today, programs=programs)
        read = load_standings(uow.session, deps.pemda, units, today, programs)

    replayed = {(uid, view.program.key): standing for view in views for uid, standing in view.standings.items()}
    assert replayed == read
    assert (read[(dinkes, "katalog")].value, read[(disdik, "katalog")].value) == (5.0, 4.0)
    assert (read[(bappeda, "p3dn")].value, read[(dinkes, "inovasi")].value, read[(disdik, "inovasi")].value) == (
        30.0,
        2.0,
        0.0,
    )


def test_applicable_programs_are_the_programs_load_standings_gives_each_unit(deps: Deps) -> None:
    """/lapor and /bukti ask which programs a unit reports on without reading its reports: the answer is the set of
    programs `load_standings` has a standing for, checklist programs only where the unit has items."""
    today = deps.calendar.local_date(MONDAY_0900)
    checklists = {p.key for p in deps.pemda.programs if p.measure == "checklist"}
    seen_with, seen_without = False, False
    with deps.db.uow() as uow:
        for unit in active_units(uow.session):
            read = load_standings(uow.session, deps.pemda, [unit], today)
            expected = [p.key for p in deps.pemda.programs if (unit.id, p.key) in read]
            assert [p.key for p in applicable_programs(uow.session, deps.pemda, unit, today)] == expected
            seen_with = seen_with or bool(checklists & set(expected))
            seen_without = seen_without or not (checklists & set(expected))
    assert checklists and seen_with and seen_without


def test_a_few_units_read_in_one_statement_per_kind_have_the_standings_of_the_whole_pemda_read(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /status reads the figure programs of its units in one union and the MCP checklist in another; the standings
    # must be those the Pemda-wide pass (one statement per reading and program) gives, moments as moments.
    dinkes, disdik = (unit_coded(deps, code).id or 0 for code in ("DINKES", "DISDIK"))
    today = deps.calendar.local_date(MONDAY_0900)
    mcp = next(p for p in deps.pemda.programs if p.measure == "checklist")
    with deps.db.uow() as uow:
        items = uow.session.exec(select(ChecklistItem).where(ChecklistItem.program_key == mcp.key)).all()
        counts = Counter(item.unit_id for item in items)
        owners = sorted(counts, key=lambda owner: -counts[owner])  # the unit with the most indicators first
        mine = [item for item in items if item.unit_id == owners[0]]
        assert len(mine) >= 2 and len(owners) >= 2  # one verified, one waiting; another unit's rejected
        period = mine[0].period
        done, waiting = mine[:2]
        turned_down = next(item for item in items if item.unit_id == owners[1])
        uow.session.add_all(
            [
                report(dinkes, "katalog", 9, value=5.0),
                report(disdik, "p3dn", 6, value=30.0),
                report(disdik, "p3dn", 3, value=41.0, verification=Verification.REJECTED.value),
                report(dinkes, "inovasi", 5, title="Layanan antar obat"),
                Report(unit_id=done.unit_id, program_key=mcp.key, period=period, channel="telegram",
                       created_at=MONDAY_0900 - timedelta(days=4), item_code=done.code, item_status=DONE,
                       verification=Verification.VERIFIED.value),
            ]
            + [
                Report(unit_id=item.unit_id, program_key=mcp.key, period=period, channel="telegram",
                       created_at=MONDAY_0900 - timedelta(days=2), item_code=item.code, item_status=DONE,
                       verification=verification.value)
                for item, verification in ((waiting, Verification.PENDING), (turned_down, Verification.REJECTED))
            ]
        )  # fmt: skip
        uow.commit()
    with deps.db.uow() as uow:
        units = [u for u in active_units(uow.session) if u.id in (dinkes, disdik, *owners[:2])]
        few = load_standings(uow.session, deps.pemda, units, today)
        monkeypatch.setattr(standing, "FEW_UNITS", 0)
        whole = load_standings(uow.session, deps.pemda, units, today)
    assert few == whole
    mine_now = few[(done.unit_id, mcp.key)]
    assert (mine_now.value, mine_now.waiting_items) == (1.0, (waiting.code,))
    assert few[(turned_down.unit_id, mcp.key)].rejected_items == (turned_down.code,)
    assert all(isinstance(s.last_report_at, datetime) for s in few.values() if s.last_report_at is not None)
    assert few[(dinkes, "katalog")].last_report_at is not None
