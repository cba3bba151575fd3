"""/jejak: admins and pimpinan read who did what, when and from where; nobody else can."""

from __future__ import annotations

from datetime import timedelta

from models.app import Deps
from models.clock import FakeClock
from models.tables import AuditLog
from tests.conftest import ADMIN, KEPALA_DINKES, OPERATOR_DINKES, PIMPINAN, console_person


async def test_the_trail_says_who_did_what_and_when_newest_first(deps: Deps, clock: FakeClock) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    admin = console_person(deps, ADMIN)
    assert "Tercatat" in await kepala.text("/lapor katalog 12")
    clock.advance(timedelta(minutes=5))
    assert "dicatat sebagai hari libur" in await admin.text("/libur tambah 2026-12-31 Cuti bersama")
    lines = (await admin.text("/jejak")).splitlines()
    assert lines == [
        "Jejak Kabupaten Sukamakmur, terbaru di atas (halaman 1):",
        "23/11 09.05 · Rina Marlina (Admin, konsol) · hari libur ditambah Kamis, 31 Desember 2026: Cuti bersama",
        "23/11 09.00 · Slamet Santoso (Kepala OPD, konsol) · laporan dicatat: DINKES katalog 12",
        "Waktu dalam WIB. Satu unit saja: /jejak <unit>, mis. /jejak dinkes.",
    ]
    assert "Jejak Kabupaten Sukamakmur" in await console_person(deps, PIMPINAN).text("/jejak")


async def test_one_unit_s_trail_has_what_names_the_unit_and_nothing_else(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    admin = console_person(deps, ADMIN)
    await kepala.text("/lapor katalog 12")
    await admin.text("/libur tambah 2026-12-31 Cuti bersama")
    with deps.db.uow() as uow:  # an entry that names the unit only in its details, and an action nobody words
        detail = '{"unit": "DINKES", "program": "katalog", "reason": "salah ketik"}'
        at = deps.clock.now()
        uow.session.add(AuditLog(at=at, channel="cli", action="report.withdrawn", target="1", detail=detail))
        uow.session.add(AuditLog(at=deps.clock.now(), channel="cli", action="sesuatu.baru", target="DINKES"))
        uow.commit()
    text = await admin.text("/jejak dinkes")
    assert text.startswith("Jejak Dinas Kesehatan (DINKES), terbaru di atas (halaman 1):")
    assert "laporan dicatat: DINKES katalog 12" in text
    assert "sistem (server) · laporan #1 ditarik (DINKES katalog): salah ketik" in text
    assert "sistem (server) · sesuatu.baru DINKES" in text
    assert "hari libur" not in text
    assert "Belum ada yang tercatat di jejak Dinas Pendidikan" in await admin.text("/jejak disdik")
    assert "tidak ditemukan" in await admin.text("/jejak planet")


async def test_long_trails_go_by_pages_with_buttons(deps: Deps, clock: FakeClock) -> None:
    admin = console_person(deps, ADMIN)
    with deps.db.uow() as uow:
        for day in range(1, 26):
            clock.advance(timedelta(minutes=1))
            uow.session.add(AuditLog(at=clock.now(), channel="web", action="dasbor_masuk", target=f"sesi:{day}"))
        uow.commit()
    [first] = await admin.say("/jejak")
    assert first.text.count("masuk ke dasbor web") == 20
    assert [(b.label, b.payload) for b in first.buttons] == [("Lebih lama ▶", "/jejak 2")]
    [second] = await admin.say("/jejak 2")
    assert second.text.count("masuk ke dasbor web") == 5 and "(halaman 2)" in second.text
    assert [(b.label, b.payload) for b in second.buttons] == [("◀ Lebih baru", "/jejak 1")]
    assert "tidak sampai halaman 9" in await admin.text("/jejak 9")


async def test_only_admins_and_pimpinan_read_the_trail(deps: Deps) -> None:
    for name in (KEPALA_DINKES, OPERATOR_DINKES):
        assert "tidak tersedia untuk peran" in await console_person(deps, name).text("/jejak")


def test_every_action_the_code_audits_is_worded_in_the_trail() -> None:
    import re
    from pathlib import Path

    from handlers.jejak import SAID

    root = Path(__file__).resolve().parents[2]
    written: set[str] = set()
    for folder in ("handlers", "jobs", "bot", "models"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            written |= set(re.findall(r"audit\(\s*(?:[\w.]+,\s*){0,2}\"([a-z_]+(?:\.[a-z_]+)?)\"", text))
            written |= set(re.findall(r"action=\"([a-z_]+\.[a-z_]+)\"", text))
            if re.search(r"\"evidence\.\"\s*\+", text):  # the verdict's action is put together
                written |= {"evidence.accepted", "evidence.rejected"}
    assert len(written) > 30
    assert sorted(written - set(SAID)) == []


async def test_a_page_word_that_is_no_page_number_is_read_as_a_unit_name(deps: Deps) -> None:
    admin = console_person(deps, ADMIN)
    assert "tidak ditemukan" in await admin.text("/jejak 99999999999999999999")  # not a page: no overflow, a unit
    assert "Belum ada yang tercatat" in await admin.text("/jejak 1")
