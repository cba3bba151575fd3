"""A unit behind on last month, warned after its deadline, reports late: the report counts for the month it is warned
about, /status shows that month beside the current one, and the sweep stops chasing it.

The Pemda of the trial: a monthly "inovasi" due 3 days after the month (November's deadline: Thursday 3 December),
two innovations a month; the ladder of the sample file (peringatan H+1, Teguran I H+7, Teguran II H+14).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.console import LocalFiles
from jobs.sweep import plan, sweep
from models.app import Deps
from models.clock import FakeClock
from models.ladder import stage_days
from models.messages import Channel
from models.pemda import PemdaConfig, Stage
from models.standing import Standing
from models.tables import Evidence, Letter, LetterItem, LetterStatus, Pause, Report, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, OPERATOR_DINKES, Person, console_person
from tests.fakes import evidence_files as files
from tests.jobs.test_sweep import for_unit, local


def monthly_inovasi(pemda: PemdaConfig, target: float = 2) -> PemdaConfig:
    """The sample Pemda with innovations due monthly, 3 days after each month, `target` a month (katalog too)."""
    monthly = {"period": "month", "deadline": "+3"}
    return pemda.model_copy(
        update={
            "programs": [
                p.model_copy(update={**monthly, "target": target})
                if p.key == "inovasi"
                else p.model_copy(update=monthly)
                if p.key == "katalog"
                else p
                for p in pemda.programs
            ]
        }
    )


def _trial(deps: Deps) -> Deps:
    return dataclasses.replace(deps, pemda=monthly_inovasi(deps.pemda))


def _person(trial: Deps, name: str) -> Person:
    return console_person(trial, name)


def _periods(deps: Deps, program: str = "inovasi") -> list[str]:
    with deps.db.uow() as uow:
        rows = uow.session.exec(
            select(Report)
            .where(Report.program_key == program, col(Report.withdrawn_at).is_(None))
            .order_by(col(Report.id))
        ).all()
        return [r.period for r in rows]


class _Hook:
    """A letter hook that records the (unit, stage) it was handed and drafts nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []

    def __call__(self, session: object, unit: Unit, standings: list[Standing], stage: Stage, at: datetime) -> bool:
        self.calls.append((unit.code, stage.kind, [f"{s.program.key}:{s.period}" for s in standings]))
        return True


def _chased(trial: Deps, at: datetime, code: str) -> set[tuple[str, str]]:
    """(period, stage label) of every inovasi stage the sweep plans or holds back for unit `code` at `at`."""
    waiting: list = []  # type: ignore[type-arg]
    with trial.db.uow() as uow:
        planned = plan(uow.session, trial.pemda, trial.calendar, at, waiting)
    found = {(p.period, p.label) for p in for_unit(planned, code, "inovasi")}
    found |= {
        (w.period, f"menunggu {w.stage.kind}") for w in waiting if w.unit.code == code and w.program_key == "inovasi"
    }
    return found


async def test_a_late_report_counts_for_the_month_warned_about_and_the_ladder_stops(
    deps: Deps, clock: FakeClock
) -> None:
    trial = _trial(deps)
    inovasi = trial.pemda.program("inovasi")
    assert inovasi is not None
    days = {s.kind: d for s, d in stage_days(trial.pemda, inovasi, trial.calendar, "2026-11")}
    assert days["peringatan"] == date(2026, 12, 4) and days["teguran1"] == date(2026, 12, 10)

    # Friday 4 December: DINKES and DISDIK are warned about November
    friday = local(trial, date(2026, 12, 4))
    clock.set(friday)
    sweep(trial.db, trial.pemda, trial.calendar, friday)
    assert ("2026-11", "H+1 peringatan") in _chased(trial, friday, "DINKES")
    assert ("2026-11", "H+1 peringatan") in _chased(trial, friday, "DISDIK")

    # the kepala reports an innovation: it counts for November, and the reply says so
    kepala = _person(trial, KEPALA_DINKES)
    clock.set(local(trial, date(2026, 12, 4), 10))
    replies = await kepala.say("/lapor inovasi Lumbung Pangan Kampung")
    reply = replies[0].text
    assert "Tercatat untuk Dinas Kesehatan – Inovasi daerah bulan November 2026 (yang terlambat)" in reply
    assert "“Lumbung Pangan Kampung”" in reply and "1 dari target 2 inovasi" in reply
    assert "Kamis, 3 Desember 2026 (terlambat 1 hari)" in reply
    assert "berikutnya juga dihitung untuk bulan November 2026" in reply
    assert [b.label for b in replies[0].buttons] == ["Pindahkan ke Desember 2026"]
    assert _periods(trial) == ["2026-11"]

    # /status shows November (still owed, being warned) next to December
    status = await kepala.text("/status")
    assert "❌ Inovasi daerah bulan November 2026: 1 dari target 2 inovasi" in status
    assert "(terlambat 1 hari), sedang diperingatkan" in status
    assert "Laporan inovasi berikutnya dihitung untuk bulan November 2026 dulu." in status
    assert "⏳ Inovasi daerah: 0 dari target 2 inovasi" in status  # December
    assert status.index("bulan November 2026") < status.index("⏳ Inovasi daerah:")

    # the second innovation meets November; the third is December's
    second = await kepala.text("/lapor inovasi Kebun Gizi Sekolah")
    assert "Inovasi daerah bulan November 2026 (yang terlambat)" in second and "✅ Target terpenuhi." in second
    assert "Tidak ada lagi peringatan atau surat teguran untuk periode itu." in second
    assert "Laporan berikutnya dihitung untuk bulan Desember 2026." in second
    status = await kepala.text("/status")
    assert "✅ Inovasi daerah bulan November 2026: 2 dari target 2 inovasi" in status
    assert "Terpenuhi setelah batas waktu (Kamis, 3 Desember 2026)" in status
    third = await kepala.text("/lapor inovasi Posyandu Remaja Desa")
    assert "Tercatat untuk Dinas Kesehatan – Inovasi daerah: “Posyandu Remaja Desa”." in third
    assert "November" not in third
    assert _periods(trial) == ["2026-11", "2026-11", "2026-12"]

    # the next sweeps plan nothing more about November for DINKES (DISDIK, still behind, is still chased)
    hook = _Hook()
    for day in (date(2026, 12, 10), date(2026, 12, 17)):
        at = local(trial, day)
        clock.set(at)
        assert not {c for c in _chased(trial, at, "DINKES") if c[0] == "2026-11"}
        assert {c for c in _chased(trial, at, "DISDIK") if c[0] == "2026-11"}
        sweep(trial.db, trial.pemda, trial.calendar, at, letter_hook=hook)
    assert not [c for c in hook.calls if c[0] == "DINKES" and any(s.startswith("inovasi:2026-11") for s in c[2])]
    clock.set(local(trial, date(2026, 12, 18)))
    assert "November" not in await kepala.text("/status")  # met, and its ladder is over


def _letter(trial: Deps, code: str, stage: str, status: str, at: datetime) -> None:
    """A letter of `stage` to unit `code` about inovasi November 2026."""
    with trial.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == code)).one()
        assert unit.id is not None
        letter = Letter(
            unit_id=unit.id, program_key="inovasi", period="2026-11", stage=stage, status=status, created_at=at
        )
        uow.session.add(letter)
        uow.session.flush()
        assert letter.id is not None
        uow.session.add(
            LetterItem(letter_id=letter.id, unit_id=unit.id, program_key="inovasi", period="2026-11", stage=stage)
        )
        uow.commit()


async def test_after_the_last_rung_only_a_unit_whose_letters_are_followed_up_still_owes_the_month(
    deps: Deps, clock: FakeClock
) -> None:
    trial = _trial(deps)
    monday = local(trial, date(2026, 12, 28))  # November's last rung (H+14, 17 December) is over
    clock.set(monday)
    _letter(trial, "DINKES", "teguran1", LetterStatus.SENT.value, monday)
    kepala = _person(trial, KEPALA_DINKES)
    reply = await kepala.text("/lapor inovasi Lumbung Pangan Kampung")
    assert "Inovasi daerah bulan November 2026 (yang terlambat)" in reply
    status = await kepala.text("/status")
    assert "terlambat 25 hari), sedang ditegur (Surat Teguran I)" in status
    # DISDIK has no letter: November is over for it, its report is December's
    admin = _person(trial, ADMIN)
    assert "Tercatat untuk Dinas Pendidikan – Inovasi daerah: “Kebun Sekolah Hijau”." in await admin.text(
        "/lapor disdik inovasi Kebun Sekolah Hijau"
    )
    assert _periods(trial) == ["2026-11", "2026-12"]


async def test_a_dispensed_month_takes_no_report(deps: Deps, clock: FakeClock) -> None:
    trial = _trial(deps)
    friday = local(trial, date(2026, 12, 4))
    clock.set(friday)
    admin = _person(trial, ADMIN)
    await admin.text("/dispensasi dinkes inovasi sedang audit")
    with trial.db.uow() as uow:
        pauses = uow.session.exec(select(Pause)).all()
    assert sorted(p.period for p in pauses) == ["2026-11", "2026-12"]  # every month being chased
    kepala = _person(trial, KEPALA_DINKES)
    assert "Tercatat untuk Dinas Kesehatan – Inovasi daerah: “Lumbung Pangan Kampung”." in await kepala.text(
        "/lapor inovasi Lumbung Pangan Kampung"
    )
    assert _periods(trial) == ["2026-12"]


async def test_a_late_report_can_be_moved_to_the_current_month(deps: Deps, clock: FakeClock) -> None:
    trial = _trial(deps)
    clock.set(local(trial, date(2026, 12, 7)))
    kepala = _person(trial, KEPALA_DINKES)
    replies = await kepala.say("/lapor inovasi Lumbung Pangan Kampung")
    (button,) = replies[0].buttons
    operator = _person(trial, OPERATOR_DINKES)
    assert "Hanya pelapornya atau admin" in await operator.text(button.payload)
    moved = await kepala.text(button.payload)
    assert "Dipindahkan dari bulan November 2026 ke bulan Desember 2026." in moved
    assert "Tercatat untuk Dinas Kesehatan – Inovasi daerah: “Lumbung Pangan Kampung”." in moved
    assert "Masih terbuka: Inovasi daerah bulan November 2026: 0 dari target 2 inovasi (terlambat 4 hari)." in moved
    assert "sudah tercatat untuk Inovasi daerah bulan Desember 2026" in await kepala.text(button.payload)
    assert _periods(trial) == ["2026-12"]
    # the next report still goes to November, which is owed; the guided flow says so before
    asked = await kepala.text("/lapor inovasi")
    assert "dihitung untuk Inovasi daerah bulan November 2026 (yang terlambat), yang belum terpenuhi" in asked
    await kepala.text("/batal")
    assert "bulan November 2026 (yang terlambat)" in await kepala.text("/lapor inovasi Kebun Gizi Sekolah")
    # the same title already in December is not moved there twice
    again = await kepala.say("/lapor inovasi lumbung pangan kampung")
    assert "bulan November 2026 (yang terlambat)" in again[0].text
    assert "sudah tercatat untuk bulan Desember 2026" in await kepala.text(again[0].buttons[0].payload)
    # a stale button months later moves nothing
    clock.set(local(trial, date(2027, 2, 1)))
    assert "tidak dapat dipindahkan lagi" in await kepala.text(again[0].buttons[0].payload)


async def test_a_late_figure_counts_for_the_month_and_says_so(deps: Deps, clock: FakeClock) -> None:
    trial = _trial(deps)
    clock.set(local(trial, date(2026, 12, 4), 10))
    kepala = _person(trial, KEPALA_DINKES)
    reply = await kepala.text("/lapor katalog 4")
    assert "e-Katalog lokal bulan November 2026 (yang terlambat): 4 produk." in reply
    assert "Belum memenuhi target" in reply
    reply = await kepala.text("/lapor katalog 12")
    assert "e-Katalog lokal bulan November 2026 (yang terlambat): 12 produk." in reply and "kini terpenuhi" in reply
    assert "e-Katalog lokal: 12 produk." in await kepala.text("/lapor katalog 12")
    assert _periods(trial, "katalog") == ["2026-11", "2026-11", "2026-12"]


@pytest.fixture
def folder(deps: Deps, tmp_path: Path) -> Path:
    deps.files[Channel.CONSOLE] = LocalFiles()
    return tmp_path


async def test_late_evidence_counts_for_the_month_and_moves_with_its_report(
    deps: Deps, clock: FakeClock, folder: Path
) -> None:
    trial = _trial(deps)
    clock.set(local(trial, date(2026, 12, 4), 10))
    path = folder / "rai.docx"
    path.write_bytes(files.docx())
    kepala = _person(trial, KEPALA_DINKES)
    replies = await kepala.say(f"/bukti inovasi Lumbung Pangan Kampung {path}")
    assert "Inovasi daerah “Lumbung Pangan Kampung” (bulan November 2026, yang terlambat)." in replies[0].text
    assert [b.label for b in replies[0].buttons] == ["Pindahkan ke Desember 2026"]
    assert "Dipindahkan dari bulan November 2026" in await kepala.text(replies[0].buttons[0].payload)
    with trial.db.uow() as uow:
        assert [e.period for e in uow.session.exec(select(Evidence)).all()] == ["2026-12"]
    assert _periods(trial) == ["2026-12"]
