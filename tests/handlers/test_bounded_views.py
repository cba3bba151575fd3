"""Pemda-wide answers stay short in a big Pemda: /unit by pages or by search, /teguran a count and the newest few."""

from __future__ import annotations

from models.app import Deps
from models.tables import Letter, LetterItem, LetterStatus, Unit
from tests.conftest import ADMIN, KEPALA_DINKES, MONDAY_0900, console_person, unit_coded


def add_units(deps: Deps, count: int) -> None:
    with deps.db.uow() as uow:
        for i in range(count):
            uow.session.add(Unit(code=f"DESA-{i:03d}", name=f"Desa Sukamaju {i}", kind="desa", aliases=""))
        uow.commit()


async def test_unit_list_of_a_big_pemda_comes_by_pages_with_a_search(deps: Deps) -> None:
    add_units(deps, 230)  # 302 active units with the sample's
    kepala = console_person(deps, KEPALA_DINKES)

    (first,) = await kepala.say("/unit")
    assert "302 unit: " in first.text and "desa 230" in first.text
    assert len([line for line in first.text.splitlines() if line.split(" — ")[0].isupper()]) == 100  # one page
    assert "Halaman 1 dari 4. Cari unit: /unit <kata>" in first.text
    assert [b.payload for b in first.buttons] == ["/unit 2"]
    (last,) = await kepala.say("", payload="/unit 4")
    assert "Halaman 4 dari 4" in last.text and [b.payload for b in last.buttons] == ["/unit 3"]

    found = await kepala.text("/unit kesehatan")
    assert "DINKES — Dinas Kesehatan — dinkes, kesehatan" in found and "Desa" not in found
    many = await kepala.text("/unit sukamaju")
    assert "Desa Sukamaju 99" in many and "Hanya 100 yang pertama ditampilkan" in many
    assert "Tidak ada unit yang memuat “zzz”" in await kepala.text("/unit zzz")


async def test_a_small_pemda_lists_every_unit_at_once(deps: Deps) -> None:
    (reply,) = await console_person(deps, KEPALA_DINKES).say("/unit")
    assert "Halaman" not in reply.text and not reply.buttons
    assert "DINKES — Dinas Kesehatan — dinkes, kesehatan" in reply.text


async def test_the_letter_register_counts_every_letter_and_lists_the_newest(deps: Deps) -> None:
    dinkes = unit_coded(deps, "DINKES")
    with deps.db.uow() as uow:
        for n in range(40):
            letter = Letter(
                unit_id=dinkes.id or 0,
                program_key="katalog",
                period="2026",
                stage="teguran1",
                status=LetterStatus.DRAFT.value,
                created_at=MONDAY_0900,
            )
            uow.session.add(letter)
            uow.session.flush()
            uow.session.add(
                LetterItem(letter_id=letter.id or 0, unit_id=dinkes.id or 0, program_key="katalog", period=str(n),
                           stage="teguran1")
            )  # fmt: skip
        uow.commit()

    register = await console_person(deps, ADMIN).text("/teguran")

    assert "Register surat teguran (40 surat):" in register
    assert "Rancangan, menunggu persetujuan (40):" in register
    assert register.count("• [") == 15 and "… dan 25 lainnya" in register
    assert "• [40] Teguran I rancangan #40 · DINKES" in register  # the newest first, with its stage
