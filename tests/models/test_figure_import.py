"""Figures from LKPP exports: read per satker, matched to units, compared with what counts, written once.

The export (tests.fakes.inaproc.epurchasing_rows) is invented but uses the real column names; the figures per unit
in `EXPECTED` are worked out by hand from its recipe.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlmodel import col, select

from models.app import Deps, UserError
from models.figure_plan import apply_figures, figure_sources, plan_figures
from models.figure_read import ExportError, amount, is_ukm, json_records, read_export, read_records
from models.pemda import FiguresConfig
from models.satkers import map_satker
from models.standing import load_standings
from models.tables import FigureImport, Report, Unit, Verification
from tests.conftest import ADMIN, console_person, unit_coded
from tests.fakes.inaproc import EXPECTED, KLPD, SATKERS, epurchasing_rows, export_csv


def hint(label: str, code: str | None) -> str:
    return f'sigap figures map "{label}" {code or "<KODE_UNIT>"}'


def plan_for(deps: Deps, content: bytes, name: str = "ekspor.csv", *, days_ago: int = 0):  # type: ignore[no-untyped-def]
    export = read_export(read_records(name, content), deps.pemda.figures.fields, KLPD)
    as_of = deps.clock.now() - timedelta(days=days_ago)
    with deps.db.uow() as uow:
        return plan_figures(uow.session, deps.pemda, export, source="ekatalog", as_of=as_of, zone=deps.calendar.zone)


def apply(deps: Deps, content: bytes, *, days_ago: int = 0) -> FigureImport | None:
    export = read_export(read_records("ekspor.csv", content), {}, KLPD)
    with deps.db.uow() as uow:
        plan = plan_figures(
            uow.session,
            deps.pemda,
            export,
            source="ekatalog",
            as_of=deps.clock.now() - timedelta(days=days_ago),
            zone=deps.calendar.zone,
        )
        record = apply_figures(uow.session, plan, deps.clock.now())
        uow.commit()
        return record


def map_once(deps: Deps) -> None:
    with deps.db.uow() as uow:
        map_satker(uow.session, "DINAS PENDIDIKAN DAN KEBUDAYAAN", unit_coded(deps, "DISDIK"), None, deps.clock.now())
        map_satker(uow.session, "DPRD KABUPATEN SUKAMAKMUR", None, None, deps.clock.now())
        uow.commit()


def figures(deps: Deps) -> dict[str, tuple[float | None, float | None]]:
    with deps.db.uow() as uow:
        units = list(uow.session.exec(select(Unit).where(col(Unit.code).in_(list(EXPECTED)))).all())
        standings = load_standings(uow.session, deps.pemda, units, deps.calendar.local_date(deps.clock.now()))
    return {u.code: (standings[(u.id or 0, "katalog")].value, standings[(u.id or 0, "p3dn")].value) for u in units}


def test_an_export_is_summed_per_satker() -> None:
    export = read_export(read_records("ekspor.csv", export_csv(epurchasing_rows())), {}, KLPD)
    assert (export.kind, export.counting, export.rows) == ("epurchasing", "produk", 291)
    assert (export.cancelled, export.duplicates, export.other_klpd) == (5, 1, 3)
    dinkes = export.satkers["10001"]
    assert (dinkes.rows, len(dinkes.products)) == (80, 25)
    assert (dinkes.ukm, dinkes.total) == (Decimal(120_000_000), Decimal(220_000_000))
    assert sum(s.rows for s in export.satkers.values()) == sum(
        g.packages * g.per_package for s in SATKERS for g in s.groups
    )


def test_the_same_data_reads_the_same_from_csv_xlsx_and_json() -> None:
    rows = epurchasing_rows()
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    columns = list(rows[0])
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(c) for c in columns])
    xlsx = io.BytesIO()
    workbook.save(xlsx)
    envelope = json.dumps({"success": True, "data": rows, "meta": {"has_more": False}}).encode()
    semicolons = export_csv(rows, delimiter=";")
    hashes = {
        read_export(read_records(name, content), {}, KLPD).sha256
        for name, content in (
            ("a.csv", export_csv(rows)),
            ("b.xlsx", xlsx.getvalue()),
            ("c.json", envelope),
            ("d.csv", semicolons),
        )
    }
    assert len(hashes) == 1


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1500000", 1_500_000),
        ("1.500.000", 1_500_000),
        ("Rp 1.500.000,50", Decimal("1500000.50")),
        ("1,500,000.50", Decimal("1500000.50")),
        ("150000000.00", 150_000_000),
        ("", 0),
        (2_000_000, 2_000_000),
        (1500000.0, 1_500_000),
    ],
)
def test_money_is_read_either_way(text: object, value: Decimal | int) -> None:
    assert amount(text) == value


@pytest.mark.parametrize("text", ["1.5E+08", "dua juta", "-5000", "12-3"])
def test_money_that_cannot_be_right_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        amount(text)


def test_small_business_flags() -> None:
    assert [is_ukm(v) for v in ("Y", "UKM", "ya", True, 1, "N", "Non UKM", "non-ukm", "Tidak", 0, "", None)] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        None,
        None,
    ]
    with pytest.raises(ValueError, match="tidak dikenali"):
        is_ukm("mungkin")


def test_unreadable_values_refuse_the_whole_file_with_their_lines() -> None:
    rows = epurchasing_rows()
    rows[9]["total_harga"] = "dua juta"
    rows[20]["penyedia_ukm"] = "entah"
    with pytest.raises(ExportError) as caught:
        read_export(read_records("ekspor.csv", export_csv(rows)), {}, KLPD)
    assert [str(p) for p in caught.value.problems] == [
        "baris 11, kolom total_harga: “dua juta” bukan angka",
        "baris 22, kolom penyedia_ukm: “entah” tidak dikenali sebagai UKM atau bukan (mis. Y/T, Y/N, UKM/Non UKM)",
    ]


def test_files_that_are_not_exports_get_one_plain_message() -> None:
    cases = {
        ("ekspor.pdf", b"%PDF-1.4"): "Jenis berkas .pdf tidak didukung; pakai .xlsx, .csv atau .json.",
        ("ekspor.csv", b""): "Berkas ekspor kosong.",
        ("ekspor.json", b'{"data": 5}'): "Berkas JSON harus berisi daftar paket",
        ("ekspor.json", b"[1, 2"): "Berkas JSON ini rusak",
        ("ekspor.csv", b"nama_satker,kuantitas\nDINKES,3\n"): "Kolom nilai tidak ditemukan: butuh total_harga",
        ("ekspor.xlsx", b"PK\x03\x04 not a zip"): "Berkas XLSX rusak",
        ("ekspor.json", b"[]"): "Ekspor ini tidak berisi satu paket pun.",
        ("ekspor.csv", b"nama_satker,total_harga\r\n"): "Ekspor ini tidak berisi satu paket pun.",
    }
    for (name, content), start in cases.items():
        with pytest.raises(ExportError) as caught:
            read_export(read_records(name, content), {}, KLPD)
        assert str(caught.value.problems[0]).startswith(start), (name, caught.value.problems)


def test_column_names_come_from_the_pemda_file_first() -> None:
    rows = [{"satuan": "DINAS KESEHATAN", "nilai": "1000", "ukm": "Y"}, {"satuan": "DINAS KESEHATAN", "nilai": "3000"}]
    content = json.dumps(rows).encode()
    fields = {"satker": ["satuan"], "belanja": ["nilai"], "penyedia_ukm": ["ukm"]}
    export = read_export(json_records(content), fields)
    dinkes = export.satkers["dinas kesehatan"]
    assert (dinkes.ukm, dinkes.total) == (1000, 4000)
    assert export.notes == [
        "Kolom kd_produk dan jml_jenis_produk tidak ada: angka katalog tidak dihitung.",
        "1 baris tanpa isi ukm dihitung bukan UKM.",
    ]
    with pytest.raises(ExportError, match="arti kolom nilai_ukm tidak dikenal"):
        read_export(json_records(content), {"nilai_ukm": ["x"]})


def test_import_gives_the_hand_worked_figures_once(deps: Deps) -> None:
    content = export_csv(epurchasing_rows())
    plan = plan_for(deps, content)
    assert [(u.label, u.rows, u.suggestion is not None) for u in plan.unmatched] == [
        ("DINAS PENDIDIKAN DAN KEBUDAYAAN", 90, True),
        ("RSUD SUKAMAKMUR", 20, True),
        ("DPRD KABUPATEN SUKAMAKMUR", 10, True),
    ]
    map_once(deps)
    plan = plan_for(deps, content)
    computed = {(c.unit_code, c.program.key): c.value for c in plan.changes}
    assert computed == {
        **{(code, "katalog"): katalog for code, (katalog, _share) in EXPECTED.items()},
        **{(code, "p3dn"): share for code, (_katalog, share) in EXPECTED.items()},
    }
    assert [(u.label, u.rows) for u in plan.unmatched] == [("RSUD SUKAMAKMUR", 20)]
    assert [(u.label, u.rows) for u in plan.ignored] == [("DPRD KABUPATEN SUKAMAKMUR", 10)]
    text = plan.describe(hint)
    assert "- DINKES Dinas Kesehatan: katalog – → 25 (baru memenuhi) · p3dn – → 54,55 % (baru memenuhi)" in text
    assert (
        "- BPKAD Badan Pengelolaan Keuangan dan Aset Daerah: katalog – → 30 (baru memenuhi) · p3dn – → 9,09 %" in text
    )
    assert (
        "“RSUD SUKAMAKMUR” (kode 10006, 20 baris), mungkin RSUD (Rumah Sakit Umum Daerah Sukamakmur): "
        'sigap figures map "RSUD SUKAMAKMUR" RSUD' in text
    )
    assert "Diabaikan (bukan unit Pemda): 10 baris dari 1 satker." in text
    assert figures(deps)["DINKES"] == (None, None)  # a plan writes nothing

    record = apply(deps, content)
    assert record is not None and record.rows == 291 and record.unmatched == 20
    assert figures(deps) == EXPECTED
    with deps.db.uow() as uow:
        reports = uow.session.exec(select(Report).where(Report.source == "impor")).all()
        assert {(r.verification, r.channel, r.observed_at) for r in reports} == {
            (Verification.VERIFIED.value, "impor", deps.clock.now())
        }
        snapshot = json.loads(uow.session.exec(select(FigureImport)).one().snapshot)
    assert snapshot["unit"]["DINKES"] == {"katalog": 25.0, "p3dn": 54.55}

    again = plan_for(deps, content)
    assert not again.changed
    assert "Tidak ada perubahan: semua angka dari ekspor ini sudah tercatat." in again.describe(hint)
    assert f"sudah pernah diimpor pada 23 Nov 2026 (impor #{record.id})" in again.describe(hint)
    assert apply(deps, content) is None
    with deps.db.uow() as uow:
        assert len(uow.session.exec(select(FigureImport)).all()) == 1


def test_without_product_codes_katalog_sums_products_per_package(sdeps: Deps) -> None:
    map_once(sdeps)
    plan = plan_for(sdeps, export_csv(epurchasing_rows(products=False)))
    katalog = {c.unit_code: c.value for c in plan.changes if c.program.key == "katalog"}
    assert katalog == {"DINKES": 80, "DISDIK": 90, "SETDA": 40, "KEC-SUKAMAKM": 10, "BPKAD": 32}
    assert "katalog = jumlah jml_jenis_produk per paket, dijumlah per unit" in plan.describe(hint)


async def test_a_newer_chat_report_outranks_an_older_import_and_admins_see_both(sdeps: Deps) -> None:
    map_once(sdeps)
    assert "Tercatat" in await console_person(sdeps, ADMIN).text("/lapor dinkes katalog 30")
    plan = plan_for(sdeps, export_csv(epurchasing_rows()), days_ago=3)
    dinkes = next(c for c in plan.changes if c.unit_code == "DINKES" and c.program.key == "katalog")
    assert (dinkes.written, dinkes.wins, dinkes.old, dinkes.value) == (True, False, 30, 25)
    assert "DINKES Dinas Kesehatan: katalog 25 (laporan unit 23 Nov 2026: 30 lebih baru, tetap berlaku)" in (
        plan.describe(hint)
    )
    apply(sdeps, export_csv(epurchasing_rows()), days_ago=3)
    assert figures(sdeps)["DINKES"] == (30, 54.55)
    program = sdeps.pemda.program("katalog")
    assert program is not None
    with sdeps.db.uow() as uow:
        both = figure_sources(uow.session, unit_coded(sdeps, "DINKES").id or 0, program, "2026", sdeps.calendar.zone)
        alone = figure_sources(uow.session, unit_coded(sdeps, "SETDA").id or 0, program, "2026", sdeps.calendar.zone)
    assert (both, alone) == ("impor 20 Nov: 25 · laporan unit 23 Nov: 30", None)
    # an import of today outranks the chat report; one older than the last import is skipped
    assert figures(sdeps)["DINKES"] == (30, 54.55)
    apply(sdeps, export_csv(epurchasing_rows()))
    assert figures(sdeps)["DINKES"] == (25, 54.55)
    older = plan_for(sdeps, export_csv(epurchasing_rows()), days_ago=5)
    assert {c.outcome for c in older.changes} == {"lama"}


def test_mapping_a_satker_names_it_once(sdeps: Deps) -> None:
    with sdeps.db.uow() as uow:
        first = map_satker(
            uow.session, "“Dinas  Pendidikan dan Kebudayaan”", unit_coded(sdeps, "DISDIK"), None, sdeps.clock.now()
        )
        again = map_satker(
            uow.session, "DINAS PENDIDIKAN DAN KEBUDAYAAN", unit_coded(sdeps, "DISBUD"), None, sdeps.clock.now()
        )
        by_code = map_satker(uow.session, " 10006 ", unit_coded(sdeps, "RSUD"), None, sdeps.clock.now())
        assert first.id == again.id and again.unit_id == unit_coded(sdeps, "DISBUD").id
        assert (first.satker_key, by_code.satker_key) == ("dinas pendidikan dan kebudayaan", "10006")
        with pytest.raises(UserError):
            map_satker(uow.session, "  ", None, None, sdeps.clock.now())


def test_planned_spend_from_rup_packages_only_when_the_pemda_file_says_so(sdeps: Deps) -> None:
    rows = [
        {"kd_rup": 1, "nama_satker": "DINAS KESEHATAN", "pagu": "300.000.000", "status_ukm": "UKM"},
        {"kd_rup": 2, "nama_satker": "DINAS KESEHATAN", "pagu": "700.000.000", "status_ukm": "Non UKM"},
        {"kd_rup": 2, "nama_satker": "DINAS KESEHATAN", "pagu": "700.000.000", "status_ukm": "Non UKM"},
    ]
    content = export_csv(rows)
    realised = plan_for(sdeps, content)
    assert (realised.export.kind, realised.changes) == ("rup", [])
    assert "Ekspor RUP berisi rencana belanja, sedangkan P3DN dihitung dari realisasi" in realised.describe(hint)
    sdeps.pemda = sdeps.pemda.model_copy(update={"figures": FiguresConfig(p3dn_spend="rencana")})
    planned = plan_for(sdeps, content)
    assert [(c.unit_code, c.program.key, c.value) for c in planned.changes] == [("DINKES", "p3dn", 30.0)]
    assert "P3DN = pagu ke penyedia UKM (status_ukm) ÷ seluruh pagu per unit." in planned.describe(hint)
    assert "1 baris ganda" in planned.describe(hint)


@pytest.mark.parametrize(
    ("flag", "ukm"),
    [
        ("Y", True),
        ("Ya", True),
        ("T", False),
        ("Tidak", False),
        ("N", False),
        ("Non UKM", False),
        ("bukan", False),
        ("", None),
    ],
)
def test_the_small_business_flag_reads_indonesian_and_english_forms(flag: str, ukm: bool | None) -> None:
    """LKPP exports write Y/T (Ya/Tidak); 'T' was refused."""
    assert is_ukm(flag) is ukm


def test_an_amount_saved_as_a_formula_without_its_value_is_named_in_the_preview() -> None:
    rows = epurchasing_rows()
    columns = list(rows[0])
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(c) for c in columns])
    money = columns.index("total_harga") + 1
    sheet.cell(row=2, column=money, value="=1000000*2")  # written by a program: no value saved with it
    xlsx = io.BytesIO()
    workbook.save(xlsx)
    export = read_export(read_records("ekspor.xlsx", xlsx.getvalue()), {}, KLPD)
    [note] = [n for n in export.notes if "rumus" in n]
    letter = sheet.cell(row=2, column=money).column_letter
    assert note.startswith(
        f"⚠️ 1 sel berisi rumus yang nilainya belum pernah dihitung ({letter}2), jadi terbaca kosong."
    )
    plain = io.BytesIO()
    sheet.cell(row=2, column=money, value=2_000_000)
    workbook.save(plain)
    assert not [n for n in read_export(read_records("ekspor.xlsx", plain.getvalue()), {}, KLPD).notes if "rumus" in n]
