"""`sigap import figures` previews and writes only with --apply; `sigap figures map` names a satker once;
`sigap figures fetch` needs a token and says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, func, select

from bot.cli import main
from bot.settings import EXAMPLE_PEMDA
from handlers.jejak import said
from models.app import Deps
from models.tables import AuditLog, FigureImport, Report, SatkerMap
from tests.fakes.inaproc import EPURCHASING, EXPECTED, KLPD, TOKEN, FakeInaproc, epurchasing_rows, export_csv
from tests.models.test_figure_import import figures


@pytest.fixture
def cli(sdeps: Deps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of `sigap` over the test database, with the Pemda's LKPP code; the export's path."""
    pemda = tmp_path / "sigap.toml"
    pemda.write_text(
        EXAMPLE_PEMDA.read_text(encoding="utf-8").replace('kode_klpd = ""', f'kode_klpd = "{KLPD}"'), encoding="utf-8"
    )
    monkeypatch.setenv("SIGAP_DATABASE_URL", sdeps.db.url)
    monkeypatch.setenv("SIGAP_PEMDA_FILE", str(pemda))
    monkeypatch.setenv("SIGAP_LOG_LEVEL", "WARNING")
    monkeypatch.delenv("INAPROC_TOKEN", raising=False)
    monkeypatch.setattr("bot.wiring.SystemClock", lambda: sdeps.clock)  # Monday 23 November 2026, 09:00 WIB
    export = tmp_path / "ekspor e-purchasing.csv"
    export.write_bytes(export_csv(epurchasing_rows()))
    return export


def count(deps: Deps, table: type[Report] | type[FigureImport] | type[SatkerMap]) -> int:
    with deps.db.uow() as uow:
        return int(uow.session.exec(select(func.count()).select_from(table)).one())


def test_import_previews_maps_once_and_applies(sdeps: Deps, cli: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import_args = ["import", "figures", str(cli), "--source", "ekatalog", "--as-of", "2026-11-20"]
    assert main(import_args) == 0
    out = capsys.readouterr().out
    assert out.startswith("Impor angka “ekatalog” per 20 Nov 2026: 291 baris paket e-purchasing (realisasi belanja).\n")
    assert "katalog = jumlah produk berbeda (kd_produk) per unit; P3DN = total_harga ke penyedia UKM" in out
    assert "Dilewati: 5 baris paket batal, 1 baris ganda (paket dan produk sama), 3 baris Pemda lain (kd_klpd)." in out
    assert 'sigap figures map "RSUD SUKAMAKMUR" RSUD' in out
    assert out.endswith(f"Untuk mencatat: sigap import figures '{cli}' --source ekatalog --as-of 2026-11-20 --apply\n")
    assert count(sdeps, Report) == 0

    assert main(["figures", "map", "DINAS PENDIDIKAN DAN KEBUDAYAAN", "disdik"]) == 0
    assert capsys.readouterr().out == (
        "Satker “DINAS PENDIDIKAN DAN KEBUDAYAAN” dipetakan ke DISDIK (Dinas Pendidikan). "
        "Impor berikutnya memakainya.\n"
    )
    assert main(["figures", "map", "DPRD KABUPATEN SUKAMAKMUR", "--ignore"]) == 0
    assert "ditandai bukan unit Pemda" in capsys.readouterr().out

    assert main([*import_args, "--apply"]) == 0
    done = capsys.readouterr().out
    assert done.startswith(
        "Angka “ekatalog” per 20 Nov 2026 diterapkan (impor #1): 10 angka dicatat.\nStatus berubah:\n"
    )
    assert "  - SETDA Sekretariat Daerah: katalog – → 12 (baru memenuhi) · p3dn – → 40 % (baru memenuhi)\n" in done
    assert "Satker belum dikenali (1 satker, 20 baris belum diimpor)." in done
    assert figures(sdeps) == EXPECTED

    assert main([*import_args, "--apply"]) == 0
    assert capsys.readouterr().out.startswith(
        "Impor angka “ekatalog”: tidak ada perubahan; semua angka sudah tercatat."
    )
    assert (count(sdeps, FigureImport), count(sdeps, Report)) == (1, 10)
    with sdeps.db.uow() as uow:  # the mappings and the import are in the audit log, as in chat
        trail = [
            (a.channel, said(a.action, a.target, a.detail))
            for a in uow.session.exec(select(AuditLog).order_by(col(AuditLog.id))).all()
        ]
    assert trail == [
        ("cli", "satker “DINAS PENDIDIKAN DAN KEBUDAYAAN” dipetakan ke DISDIK"),
        ("cli", "satker “DPRD KABUPATEN SUKAMAKMUR” ditandai bukan milik Pemda"),
        ("cli", f"angka LKPP {cli.name} diterapkan"),
    ]


def test_mistakes_are_explained_and_write_nothing(
    sdeps: Deps, cli: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["figures", "map", "DPRD", "setwan", "--ignore"]) == 2
    assert "atau --ignore bila satker itu bukan unit Pemda; tidak keduanya." in capsys.readouterr().err
    assert main(["figures", "map", "DPRD", "dinas entah"]) == 2
    assert "Unit “dinas entah” tidak ditemukan." in capsys.readouterr().err
    assert main(["import", "figures", str(cli), "--source", "x", "--as-of", "2999-01-01"]) == 2
    assert "Tanggal --as-of 2999-01-01 belum tiba" in capsys.readouterr().err
    assert main(["import", "figures", str(tmp_path / "tidak-ada.csv"), "--source", "x"]) == 1
    assert capsys.readouterr().err.endswith("  - Berkas tidak ditemukan. Periksa nama dan foldernya.\n")
    broken = tmp_path / "rusak.csv"
    broken.write_text("nama_satker,total_harga,penyedia_ukm\nDINKES,1.5E+08,Y\n", encoding="utf-8")
    assert main(["import", "figures", str(broken), "--source", "x", "--apply"]) == 1
    assert "baris 2, kolom total_harga: “1.5E+08” tertulis sebagai angka ilmiah" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["import", "figures", str(cli), "--source", "x", "--as-of", "20-11-2026"])
    assert "tanggal harus ditulis YYYY-MM-DD" in capsys.readouterr().err
    assert main(["figures", "fetch"]) == 2
    assert capsys.readouterr().err.startswith("INAPROC_TOKEN belum diisi. Minta token peran Data Integrator ke LKPP")
    assert (count(sdeps, Report), count(sdeps, SatkerMap)) == (0, 0)


async def test_fetch_previews_and_applies_from_the_gateway(
    sdeps: Deps, cli: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeInaproc({EPURCHASING: epurchasing_rows()}) as api:
        monkeypatch.setenv("INAPROC_BASE_URL", api.url)
        monkeypatch.setenv("INAPROC_TOKEN", "salah")
        code = await _in_thread(["figures", "fetch", "--apply"])
        assert code == 2
        assert capsys.readouterr().err == (
            "INAPROC: token ditolak: minta peran Data Integrator ke LKPP. Tidak ada yang ditulis.\n"
        )
        monkeypatch.setenv("INAPROC_TOKEN", TOKEN)
        assert await _in_thread(["figures", "fetch"]) == 0
        out = capsys.readouterr().out
        assert "Impor angka “INAPROC epurchasing”" in out and out.endswith("sigap figures fetch --apply\n")
        assert count(sdeps, Report) == 0
        assert await _in_thread(["figures", "fetch", "--apply"]) == 0
        assert "diterapkan (impor #1)" in capsys.readouterr().out
    assert count(sdeps, FigureImport) == 1


async def _in_thread(argv: list[str]) -> int:
    """`sigap` runs its own event loop: run it beside the test's (which serves the fake gateway)."""
    import asyncio

    return await asyncio.to_thread(main, argv)
