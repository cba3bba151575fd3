"""/status, /rekap, /unit: each person sees what their role allows."""

from __future__ import annotations

from datetime import timedelta

from models.app import Deps
from models.clock import FakeClock
from models.tables import Unit
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, PIMPINAN, console_person


async def test_camat_sees_kecamatan_and_sub_units(deps: Deps) -> None:
    camat = console_person(deps, CAMAT_SUKAMAKMUR)
    status = await camat.text("/status")
    assert "Kecamatan Sukamakmur" in status
    assert "Kelurahan Sukamakmur Utara" in status
    assert "Kelurahan/desa di bawahnya" in status
    assert "Kelurahan Sukamakmur" in await camat.text("/status KEL-SUKAMA1")
    assert "hanya dapat melihat status kecamatan Anda" in await camat.text("/status dinkes")
    rekap = await camat.text("/rekap")
    assert "Rekap Kecamatan Sukamakmur" in rekap and "Dinas" not in rekap
    katalog = next(line for line in rekap.splitlines() if line.startswith("• e-Katalog lokal"))
    units = int(katalog.split(": ", 1)[1].split("/")[1].split(" ")[0])
    # the kecamatan's own units' targets (10 each), not the whole kabupaten's 500
    assert katalog.endswith(f"; total 0 dari {10 * units} produk") and "500" not in katalog


async def test_kepala_sees_only_own_unit(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    assert "hanya dapat melihat status unit Anda sendiri" in await kepala.text("/status disdik")
    assert "tidak tersedia untuk peran" in await kepala.text("/rekap")
    assert "Unit “planet” tidak ditemukan" in await kepala.text("/status planet")


async def test_admin_rekap_lists_units_behind_first(deps: Deps) -> None:
    await console_person(deps, KEPALA_DINKES).text("/lapor katalog 12")
    await console_person(deps, KEPALA_DINKES).text("/lapor p3dn 41")
    await console_person(deps, KEPALA_DINKES).text("/lapor inovasi Layanan Antar Obat Lansia")
    rekap = await console_person(deps, ADMIN).text("/rekap")
    lines = rekap.splitlines()
    assert "1 dari 72 unit memenuhi semua program." in rekap or "unit memenuhi semua program" in rekap
    assert "total 12 dari 500 produk" in rekap
    table = [line for line in lines if line.startswith(("✅", "⏳", "❌"))]
    assert table[0].startswith("⏳")  # behind, and the deadlines (15 December) still ahead on 23 November
    assert "Tanda: ❌ lewat batas waktu · ⏳ belum memenuhi, batas belum lewat · ✅ memenuhi semua" in lines
    dinkes = next(i for i, line in enumerate(table) if " DINKES " in line)
    assert table[dinkes].startswith("✅")
    assert all(line.startswith("✅") for line in table[dinkes:])


async def test_pimpinan_status_of_any_unit(deps: Deps) -> None:
    pimpinan = console_person(deps, PIMPINAN)
    assert "Dinas Pendidikan" in await pimpinan.text("/status disdik")
    assert "Sebutkan unitnya" in await pimpinan.text("/status")
    assert "/lapor" not in await pimpinan.text("/bantuan")


async def test_unit_list_shows_aliases(deps: Deps) -> None:
    units = await console_person(deps, KEPALA_DINKES).text("/unit")
    assert "DINKES — Dinas Kesehatan — dinkes, kesehatan" in units
    headings = {line for line in units.splitlines() if line.endswith(":") and "—" not in line}
    assert {"Dinas:", "RSUD:", "Satpol PP:"} <= headings and "Rsud:" not in headings


async def test_rekap_shows_a_dispensation_and_does_not_count_it_as_behind(deps: Deps) -> None:
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor p3dn 41")
    await kepala.text("/lapor inovasi Layanan Antar Obat Lansia")
    admin = console_person(deps, ADMIN)
    assert "Dispensasi" in await admin.text("/dispensasi dinkes katalog Sedang audit BPK")
    rekap = await admin.text("/rekap")
    dinkes = next(line for line in rekap.splitlines() if " DINKES " in line)
    assert dinkes.startswith("✅") and "katalog dispensasi" in dinkes
    assert "(1 dengan dispensasi)" in rekap


async def test_rekap_of_a_big_pemda_comes_by_pages_units_behind_first(deps: Deps) -> None:
    with deps.db.uow() as uow:
        for i in range(230):
            uow.session.add(Unit(code=f"DESA-{i:03d}", name=f"Desa Uji {i}", kind="dinas", parent_id=None))
        uow.commit()
    admin = console_person(deps, ADMIN)
    (first,) = await admin.say("/rekap")
    assert "Halaman 1 dari 3" in first.text and [b.payload for b in first.buttons] == ["/rekap 2", "/ekspor"]
    assert first.text.count("\n❌ ") + first.text.count("\n✅ ") <= 100
    (last,) = await admin.say("", payload="/rekap 3")
    assert "Halaman 3 dari 3" in last.text and [b.payload for b in last.buttons] == ["/rekap 2", "/ekspor"]
    assert "unit memenuhi semua program" in last.text and "• e-Katalog" not in last.text  # the summary: page 1 only


async def test_a_target_met_before_the_deadline_is_never_called_late_after_it(deps: Deps, clock: FakeClock) -> None:
    """'✅ … Batas: 15 Desember 2026 (terlambat 5 hari)' read as if a unit that met its target were late."""
    kepala = console_person(deps, KEPALA_DINKES)
    await kepala.text("/lapor katalog 12")
    clock.advance(timedelta(days=27))  # 20 December: the katalog deadline (15 December) has passed
    status = await kepala.text("/status")
    lines = status.splitlines()
    met = next(i for i, line in enumerate(lines) if line.startswith("✅ e-Katalog lokal"))
    assert lines[met + 1].strip() == "Batas: Selasa, 15 Desember 2026 (sudah terpenuhi)"
    assert "terlambat" in status  # (the programs it has not met still say so)
